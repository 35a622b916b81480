// App: a static Go program (test/apps/go-http: net/http server and client, then a raw TCP
// exchange with a half-close), built here with the host's Go and run natively in a fresh netns
// and in a busybox container. Go drives sockets without libc: non-blocking fds registered with
// epoll before connect (the registration must follow the socketpair end that replaces the fd),
// accept4, TCP_NODELAY and keep-alive options on every connection. Its report must match the
// native run; the socket it names is TCP natively and under runc, a socketpair end under tsor.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Harness } from "./harness.js";
import { platformRuns, requireHostBinary } from "../apps/apps.js";
import { repoRoot } from "../lib/bundle.js";
import { allowNetAdmin, progCommand } from "../syscalls/runner.js";

const h = new Harness("apps-go");
after(() => h.cleanup());

const SRC = path.join(repoRoot(), "test", "apps", "go-http");
const BIN = path.join(SRC, "build", "gohttp");

/** go build, static (no cgo), offline (the program uses the standard library only). */
function build(): void {
  const env = {
    ...process.env,
    CGO_ENABLED: "0",
    GOFLAGS: "-mod=mod",
    GOPROXY: "off",
    GOCACHE: path.join(os.tmpdir(), "tsor-test-gocache"),
    GOPATH: path.join(os.tmpdir(), "tsor-test-gopath"),
  };
  const r = spawnSync("go", ["build", "-o", BIN, "."], { cwd: SRC, env, encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, `go build failed:\n${r.stdout}${r.stderr}${r.error?.message ?? ""}`);
}

/** The report without its transport line, and that line's protocol name. */
function split(out: string): { report: string; transport: string | undefined } {
  const lines = out.trimEnd().split("\n");
  const t = lines.find((l) => l.startsWith("transport: "));
  return { report: lines.filter((l) => l !== t).join("\n"), transport: t?.slice("transport: ".length) };
}

test(`a Go net/http server and client under ${h.rtm.name} report what they do natively`, () => {
  requireHostBinary("/usr/bin/go", "golang-go");
  build();
  const native = spawnSync("unshare", ["--net", "sh", "-c", progCommand(BIN)], { encoding: "utf8", timeout: 60_000 });
  assert.equal(native.status, 0, `native run: ${native.stderr}`);
  const want = split(native.stdout);
  assert.equal(want.transport, "TCP", native.stdout);
  assert.match(want.report, /^keep-alive true: 50\/50 bodies intact/m);

  const b = h.bundle({ args: ["sh", "-c", progCommand("/bin/gohttp")], mutate: allowNetAdmin });
  fs.copyFileSync(BIN, path.join(b.rootfs, "bin", "gohttp"));
  fs.chmodSync(path.join(b.rootfs, "bin", "gohttp"), 0o755);
  for (const { flags, where } of platformRuns(h)) {
    const r = h.run(b, "go", flags);
    assert.equal(r.code, 0, `${where}: ${r.stdout}${r.stderr}`);
    const got = split(r.stdout);
    assert.equal(got.report, want.report, `${where}: the report differs from the native run`);
    // An AF_UNIX stream socket is "UNIX" or, since unix_stream_proto (Linux 5.15), "UNIX-STREAM".
    if (h.rtm.isRunc) assert.equal(got.transport, "TCP");
    else assert.match(got.transport ?? "", /^UNIX/, `${where}: the connection is a socketpair end`);
  }
});
