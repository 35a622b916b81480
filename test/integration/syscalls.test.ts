// The syscall suite (issue 4's acceptance test, DESIGN.md "Virtual sockets", STYLE.md item 8):
// every C program of test/syscalls runs natively in a fresh network namespace first, then in a
// busybox container under the runtime ($TSOR_RUNTIME: runc or tsor), once per platform named in
// $TSOR_PLATFORMS when the runtime is tsor; the two outputs must be identical.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Harness, type Bundle } from "./harness.js";
import {
  allowNetAdmin, buildPrograms, containerArgs, describeRun, installPrograms, programs,
  requestedPlatforms, runHasPlatformFlag, runNative, type ProgResult,
} from "../syscalls/runner.js";

const h = new Harness("sys");
const PROGS = programs();
const requested = h.rtm.isRunc ? [] : requestedPlatforms();
const platformFlag = requested.length > 0 && runHasPlatformFlag(h.rtm.bin);
/** undefined: the runtime's default platform, without --platform. */
const platforms: (string | undefined)[] = platformFlag ? requested : [undefined];

const native = new Map<string, ProgResult>();
let bundle: Bundle;

before(() => {
  buildPrograms();
  bundle = h.bundle({ args: ["true"], mutate: allowNetAdmin });
  installPrograms(bundle.rootfs, PROGS);
});
after(() => h.cleanup());

/** The native output of `prog`, which must itself be a clean run (else the program is wrong). */
function nativeRun(prog: string): ProgResult {
  let r = native.get(prog);
  if (!r) {
    r = runNative(prog);
    assert.equal(r.code, 0, `${prog} fails natively, fix the program: ${describeRun(r)}`);
    native.set(prog, r);
  }
  return r;
}

/**
 * Behaviours where tsor's virtual sockets still differ from Linux TCP, each with the reason. Under
 * tsor these programs run and report as `todo` (their diff is printed, the run is not failed);
 * everywhere else, and for every program not listed, the outputs must match. Remove an entry
 * when the sentry learns the behaviour: the list only shrinks.
 */
const KNOWN_DIVERGENCES: Record<string, string> = {
  sockopt_cork:
    "setsockopt(TCP_CORK) is answered 0 by the trap filter without running it, whatever the fd (a bad optlen, a bad fd or a UDP socket get 0 too), so getsockopt(TCP_CORK) reads 0 after setting 1: a deliberate trade (sentry/syscalls/numbers.ts UNTRAPPED_ARGS), since trapped, nginx serving files with sendfile and tcp_nopush (Debian's default) ran at 0.14x runc",
  close_linger_reset:
    "a close with SO_LINGER {1, 0} is seen by the peer as EOF, not ECONNRESET (getpeername's ENOTCONN does match). unix_release_sock sets the peer's ECONNRESET only when the closing end still has unread data. The sentry could queue some when SO_LINGER {1, 0} is set (an MSG_OOB byte from the peer's end, which reads skip), but the app would see it for as long as its end stays open (POLLPRI and POLLIN, FIONREAD one too high for good, a short read), and the close that follows is not trapped",
  scm_rights_over_tcp:
    "sendmsg with an SCM_RIGHTS fd on a connection fails EPERM (TCP sends the byte and drops the fd). A connection is an AF_UNIX socketpair, which would hand the fd to the peer; the sentry makes both ends refuse fds (SO_PASSRIGHTS 0, Linux 6.16) so that no fd crosses between apps or pods, and unix_stream_sendmsg then refuses the whole message. On an older kernel the peer receives the fd",
  zerocopy_after_connect:
    "setsockopt(SO_ZEROCOPY) on an established connection fails EOPNOTSUPP (TCP takes it). MSG_ZEROCOPY reports each send's completion on the socket's error queue, which a socketpair end never fills; taking the option would leave an app waiting for completions that never come, so the sentry refuses it as Linux does for an AF_UNIX socket and the app sends with copies. A socket that enables it before connect, or a listener before its connections arrive, keeps the kernel's TCP and matches (zerocopy_before_connect)",
  shutdown_rd_peer_send:
    "after the peer's shutdown(SHUT_RD), a send fails EPIPE (TCP takes the bytes, acknowledges and drops them). unix_shutdown shuts the peer's sending side together with this end's receiving side, and the end must show RCV_SHUTDOWN itself (its reads see EOF at once), which no other call sets",
  write_after_peer_close:
    "the first write after the peer closed fails EPIPE at once (TCP: it succeeds, the peer answers with a reset), and poll shows POLLHUP beside the peer's FIN (TCP: POLLIN and POLLRDHUP only, the sending side still open). unix_release_sock shuts the survivor's both directions when the peer's last reference goes; keeping the peer's end open until the survivor writes would need the app's file reference count, which Linux does not expose (close/exit/exec/SCM_RIGHTS would all have to be tracked)",
};

/** Why a platform cannot run at all (its programs are then skipped), from its probe test. */
const brokenPlatform = new Map<string, string>();

describe(`syscall suite under ${h.rtm.name}`, () => {
  if (requested.length > 0 && !platformFlag) {
    for (const p of requested) {
      test(`platform ${p}`, { skip: `${h.rtm.name} run --help does not list --platform; only the default platform runs` }, () => {});
    }
  }
  for (const p of platformFlag ? requested : []) {
    test(`platform ${p} runs a container`, () => {
      bundle.config.process.args = ["true"];
      bundle.write();
      const r = h.run(bundle, `probe-${p}`, ["--platform", p]);
      if (r.code !== 0) brokenPlatform.set(p, `--platform ${p} does not run a container: ${r.stderr.trim()}`);
      assert.equal(r.code, 0, `${h.rtm.name} run --platform ${p} true: ${r.stderr}`);
    });
  }
  for (const prog of PROGS) {
    for (const platform of platforms) {
      const divergence = h.rtm.isRunc ? undefined : KNOWN_DIVERGENCES[prog];
      test(platform ? `${prog} [${platform}]` : prog, divergence ? { todo: `known divergence: ${divergence}` } : {}, (t) => {
        const broken = platform && brokenPlatform.get(platform);
        if (broken) return t.skip(broken);
        const want = nativeRun(prog);
        bundle.config.process.args = containerArgs(prog);
        bundle.write();
        const got = h.run(bundle, prog.replace(/_/g, "-").slice(0, 24), platform ? ["--platform", platform] : []);
        const where = `${prog} under ${h.rtm.name}${platform ? ` --platform ${platform}` : ""}`;
        assert.equal(got.code, 0, `${where} did not exit 0: ${describeRun(got)}\nnative:\n${want.stdout}`);
        assert.equal(got.stdout, want.stdout, `${where}: output differs from the native run`);
      });
    }
  }
});
