#!/usr/bin/env python3
"""A tiny fake sentry for tsor-init (native/PLAN.md), for developer tests.

Spawns native/build/tsor-init with fd 3 = one end of a socketpair (the sync socket), fd 4 = a
pipe carrying the plan, fds 5.. = --preserve files, speaks the sync protocol and waits for the
container process (our child too, thanks to CLONE_PARENT), then exits with its status.

The plan is written in a readable form: one directive per line, fields split like a shell
would (shlex), `#` comments and blank lines ignored; this script percent-encodes the fields.
`--raw` passes the plan through untouched (to test the parser itself).

Output: the app's stdio is ours. The protocol transcript goes to stderr as `sync< LINE` /
`sync> LINE`, then `status: exit N` or `status: signal S`. Exit status: the app's (128+S when
killed), or 125 when tsor-init reported an error.
"""
import argparse
import json
import os
import shlex
import signal
import socket
import sys
import threading
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INIT = os.environ.get("TSOR_INIT", os.path.join(ROOT, "native", "build", "tsor-init"))
SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/:=,+@~-")


def encode(field: str) -> str:
    if field == "":
        return "%-"
    return "".join(chr(b) if b in SAFE else "%%%02X" % b for b in field.encode())


def decode(field: str) -> str:
    return "" if field == "%-" else urllib.parse.unquote(field)


def build_plan(source: str, raw: bool) -> str:
    if raw:
        return source
    out = []
    for line in source.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(" ".join([words[0]] + [encode(w) for w in words[1:]]))
    return "\n".join(out) + "\n"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def console_receiver(path: str, input_text: str | None, output: list[bytes]) -> threading.Thread:
    """Listen on PATH like `runc --console-socket`'s peer: receive the pty master, print what
    the container writes on it (prefixed `console: `), optionally type input_text."""
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def run() -> None:
        conn, _ = listener.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
        log(f"console: got fd with message {msg.decode()!r}")
        if not fds:
            return
        master = fds[0]
        if input_text is not None:
            os.write(master, input_text.encode())
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the last slave fd is closed
                break
            if not data:
                break
            output.append(data)
        for line in b"".join(output).decode(errors="replace").splitlines():
            print("console: " + line, flush=True)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("plan", help="plan file, or - for stdin")
    ap.add_argument("--raw", action="store_true", help="the plan is already encoded")
    ap.add_argument("--preserve", action="append", default=[], help="file to pass as fd 5, 6, ...")
    ap.add_argument("--console", help="listen on this unix socket for the pty master")
    ap.add_argument("--console-input", help="text to type into the pty")
    ap.add_argument("--pid-file", help="write the container pid here")
    ap.add_argument("--no-start", action="store_true", help="stop after `ready` (kill the container)")
    ap.add_argument("--start-delay", type=float, default=0, help="seconds between ready and start")
    ap.add_argument("--signal-init", type=int, help="send this signal to tsor-init (P) 0.5 s after start")
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()

    source = sys.stdin.read() if args.plan == "-" else open(args.plan).read()
    plan = build_plan(source, args.raw)

    console_out: list[bytes] = []
    console_thread = console_receiver(args.console, args.console_input, console_out) if args.console else None

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    plan_r, plan_w = os.pipe()
    # Every source fd is first moved above 100, so no dup2 below overwrites a later source.
    import fcntl
    def high(fd: int) -> int:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
    sources = [high(theirs.fileno()), high(plan_r)]
    for p in args.preserve:
        fd = os.open(p, os.O_RDONLY)
        sources.append(high(fd))
        os.close(fd)
    actions = [(os.POSIX_SPAWN_DUP2, fd, 3 + i) for i, fd in enumerate(sources)]
    init_pid = os.posix_spawn(INIT, [INIT], {}, file_actions=actions)
    theirs.close()
    os.close(plan_r)
    for fd in sources:
        os.close(fd)
    os.write(plan_w, plan.encode())
    os.close(plan_w)

    def on_timeout(*_):
        log("status: timeout")
        for pid in (init_pid, container):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        os._exit(124)

    container = 0
    signal.signal(signal.SIGALRM, on_timeout)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)

    state = {"ociVersion": "1.0.2", "id": "tsor-test", "status": "creating", "pid": 0, "bundle": "/tmp"}
    failed = False
    exec_report = None
    f = ours.makefile("rwb", buffering=0)

    def send(line: str) -> None:
        log("sync> " + line)
        f.write((line + "\n").encode())

    for raw in f:
        line = raw.decode().rstrip("\n")
        log("sync< " + line)
        verb, _, rest = line.partition(" ")
        if verb == "hello":
            send("cgroup")
        elif verb == "pid":
            container = int(rest)
            state["pid"] = container
            if args.pid_file:
                with open(args.pid_file, "w") as pf:
                    pf.write(str(container))
        elif verb == "createRuntime":
            send("ok " + encode(json.dumps(state)))
        elif verb == "ready":
            if args.no_start:
                break
            if args.start_delay:
                signal.setitimer(signal.ITIMER_REAL, 0)
                import time
                time.sleep(args.start_delay)
                signal.setitimer(signal.ITIMER_REAL, args.timeout)
            state["status"] = "created"
            send("start " + encode(json.dumps(state)))
            if args.signal_init:
                threading.Timer(0.5, os.kill, (init_pid, args.signal_init)).start()
        elif verb == "error":
            failed = True
        elif verb == "exit":
            exec_report = rest
        else:
            log(f"status: unexpected message {line!r}")
            failed = True

    if args.no_start and container:
        os.kill(container, signal.SIGKILL)

    # tsor-init itself (P) exits first in create mode; in exec mode when the app does.
    _, init_status = os.waitpid(init_pid, 0)
    status = init_status
    # In create mode the container process is our child (CLONE_PARENT); in exec mode P reaped it.
    if container and exec_report is None:
        try:
            _, status = os.waitpid(container, 0)
        except ChildProcessError:
            pass
    signal.setitimer(signal.ITIMER_REAL, 0)
    if console_thread:
        console_thread.join(timeout=2)
    if exec_report is not None:
        log("status: exec reported " + exec_report)
    if os.WIFSIGNALED(status):
        log(f"status: signal {os.WTERMSIG(status)}")
        code = 128 + os.WTERMSIG(status)
    else:
        log(f"status: exit {os.WEXITSTATUS(status)}")
        code = os.WEXITSTATUS(status)
    return 125 if failed else code


if __name__ == "__main__":
    sys.exit(main())
