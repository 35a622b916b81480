// The receiving half of a session socket (api.ts: one SOCK_SEQPACKET message per packet), for
// both ends: the daemon reads each sentry's requests, a sentry the daemon's replies and events.
// Messages are read on the event loop when the socket is readable (recvmsg with MSG_DONTWAIT),
// not by a thread per message: a connect() to another pod crosses three of them (request,
// hand-over event, reply), and a thread made and woken for each cost ~100 µs on a small VM.
import { native, type RecvResult } from "../native/index.js";
import { MAX_MESSAGE_BYTES } from "./api.js";

/**
 * Calls `onMessage` for each message `fd` receives (its fds are the handler's) and `onEnd` once
 * when the session ends: EOF (also after shutdown(2) of the socket, which is how either side
 * drops one), or a receive error. Returns a function that stops receiving (no call after it
 * returns); the caller closes `fd` after the end or the stop.
 */
export function receiveMessages(fd: number, maxFds: number, onMessage: (m: RecvResult) => void, onEnd: (err?: Error) => void): () => void {
  const watcher = new native.ReadableWatcher(fd);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    watcher.stop();
  };
  const end = (err?: Error): void => {
    stop();
    onEnd(err);
  };
  watcher.start((err) => {
    if (stopped) return;
    if (err) return end(err);
    // Level-triggered: what waits now is read now; the loop calls again when more comes.
    while (!stopped) {
      let m: RecvResult | null;
      try {
        m = native.recvFdsNow(fd, MAX_MESSAGE_BYTES, maxFds);
      } catch (e) {
        return end(e as Error);
      }
      if (m === null) return;
      if (m.data.length === 0) {
        for (const f of m.fds) native.closeFd(f);
        return end();
      }
      onMessage(m);
    }
  });
  return stop;
}
