// The sentry's control socket (<root>/<id>/sentry.sock): how one-shot CLI verbs talk to the
// long-lived sentry. One JSON object per line each way; one request per connection.
import * as net from "node:net";
import { withSocketPath } from "./sockpath.js";

export type ControlRequest = { op: "start" } | { op: "wait" } | { op: "ping" };

export interface ExitStatus {
  code: number | null;
  signal: number | null;
}

export type ControlResponse =
  | { ok: true; exit?: ExitStatus; pid?: number }
  | { ok: false; error: string };

/** Longest control message we accept: requests are tiny; a bigger one is a confused peer. */
const MAX_MESSAGE = 64 * 1024;

/** Read one newline-terminated JSON value from a socket. */
function readMessage(sock: net.Socket): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        cleanup();
        try {
          resolve(JSON.parse(buf.slice(0, nl)));
        } catch (e) {
          reject(new Error(`malformed control message: ${(e as Error).message}`));
        }
      } else if (buf.length > MAX_MESSAGE) {
        cleanup();
        reject(new Error("control message too long"));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error("control connection closed before a message"));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      sock.off("data", onData);
      sock.off("end", onEnd);
      sock.off("error", onError);
    };
    sock.on("data", onData);
    sock.on("end", onEnd);
    sock.on("error", onError);
  });
}

function isRequest(v: unknown): v is ControlRequest {
  if (typeof v !== "object" || v === null) return false;
  const op = (v as { op?: unknown }).op;
  return op === "start" || op === "wait" || op === "ping";
}

/** Serve control requests; `handle` answers each (it may take as long as it needs: wait does). */
export function serveControl(socketPath: string, handle: (req: ControlRequest) => Promise<ControlResponse>): Promise<net.Server> {
  const server = net.createServer((sock) => {
    sock.on("error", () => sock.destroy());
    readMessage(sock)
      .then((msg) => (isRequest(msg) ? handle(msg) : ({ ok: false, error: "unknown control request" } as ControlResponse)))
      .catch((e: Error): ControlResponse => ({ ok: false, error: e.message }))
      .then((res) => {
        if (!sock.destroyed) sock.end(JSON.stringify(res) + "\n");
      });
  });
  return withSocketPath(
    socketPath,
    (usable) =>
      new Promise<net.Server>((resolve, reject) => {
        server.once("error", reject);
        server.listen(usable, () => {
          server.off("error", reject);
          resolve(server);
        });
      }),
  );
}

/** Send one request to a container's sentry and wait for its answer. */
export async function controlRequest(socketPath: string, req: ControlRequest): Promise<ControlResponse> {
  let sock!: net.Socket;
  await withSocketPath(socketPath, (usable) => {
    sock = net.createConnection(usable);
    return new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", reject);
    });
  });
  try {
    const answer = readMessage(sock);
    sock.write(JSON.stringify(req) + "\n");
    return (await answer) as ControlResponse;
  } finally {
    sock.destroy();
  }
}
