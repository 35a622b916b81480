// tsor-netd's API: the messages between a sentry (NetdClient) and the node daemon (NetDaemon),
// their zod schemas, and the framing.
//
// Framing: one AF_UNIX SOCK_SEQPACKET connection per sentry. A message is one packet: its bytes
// are the UTF-8 JSON of the message, and the fds that go with it (the client's end of a virtual
// connection) ride in the same packet as SCM_RIGHTS. SEQPACKET keeps packet boundaries and ties
// the fds to their packet, so there is no length prefix and no fd/message matching to get wrong;
// the kernel also reports EOF when the peer dies, which ends the session (its listeners vanish).
//
// Requests carry a client-chosen `id`; the daemon answers each with exactly one reply of the same
// id: `{id, ok: true, ...}` or `{id, ok: false, error: CODE, message}` (but a connect sent with
// `noreply`, below). The daemon also sends `incoming` events (no id) to the sentry that owns a
// listener, with the connection's fd, and `listeners-changed` to sentries that keep hints.
import { isIPv4, isIPv6 } from "node:net";
import * as z from "zod";

/** Largest message either side sends or reads (a status reply of a busy node fits). */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Fds one message may carry: connect has one; anything beyond is refused (and closed). */
export const MAX_MESSAGE_FDS = 1;
/**
 * What this daemon takes beyond the first protocol, named in its hello reply (`features`); a
 * sentry sends the fields of a feature only to a daemon that names it (an older daemon's strict
 * schemas refuse unknown fields).
 * - "queued-mark": listen's `queuedMark` (this listener's sentry takes QUEUED_MARK, one byte the
 *   client's sentry sends first, off each connection at accept: sentry/vsock/stack.ts) and
 *   connect's `queuedMark` (the end holds one). The daemon takes the mark off an end for a
 *   listener that does not take marks, and `incoming` says whether the end still holds it.
 * - "listener-hints": connect's `hint` and `noreply`, and the `listeners-changed` event. A sentry
 *   that sends `hint` remembers each destination the reply says a listener took as is (`hinted`:
 *   a pod's address, not a Service's), and from then on gets `listeners-changed` whenever such an
 *   answer may have gone stale (a listener or a session went, a pod's addresses changed). Its next
 *   connect to a remembered destination is sent with `noreply` and the sentry answers the app at
 *   once, without a round trip through netd: no reply when the end is handed over; when it cannot
 *   be, the end is closed (its client reads ECONNRESET, as from a listener that closed with the
 *   connection still queued) and the sender gets `listeners-changed`.
 */
export const FEATURES = ["queued-mark", "listener-hints"] as const;
export type Feature = (typeof FEATURES)[number];

/** A container id as runc accepts it, bounded. */
const CONTAINER_ID = /^[\w+\-.]{1,1024}$/;

/**
 * Error codes of replies. Errno names keep their Linux meaning for the sentry to return to the app;
 * ENOTLOCAL and EPROTO are netd's own.
 */
export const ERROR_CODES = [
  "EINVAL", // malformed message (the message names the field)
  "EPROTO", // a request out of order (e.g. before hello)
  "EPERM", // the peer is not uid 0
  "EEXIST", // hello for a container that already has a session
  "EADDRINUSE", // listen: same pod, same port
  "EADDRNOTAVAIL", // listen: a specific address that is not one of the pod's
  "ENOENT", // unlisten: no such listener
  "ECONNREFUSED", // connect: a TSoR pod on this node, nothing listening on the port
  "ENOTLOCAL", // connect: not a TSoR pod on this node; take the kernel path
  "EAGAIN", // connect: the listener's sentry did not take the connection (its socket is full or gone)
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An IP address in canonical text: dotted IPv4, or RFC 5952 IPv6; a v4-mapped IPv6 becomes IPv4. */
export function canonicalIp(text: string): string | undefined {
  if (isIPv4(text)) return text.split(".").map((p) => String(Number(p))).join(".");
  if (!isIPv6(text)) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1], 16);
    const lo = parseInt(mapped[2], 16);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
  }
  return host;
}

/** 0.0.0.0 and ::, the "any address of this pod" of a listener. */
export function isWildcard(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::";
}

export function isLoopbackIp(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1";
}

const Ip = z.string().max(64).transform((s, ctx) => {
  const ip = canonicalIp(s);
  if (ip === undefined) {
    ctx.addIssue({ code: "custom", message: `not an IP address: ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return ip;
});
const Port = z.number().int().min(0).max(65535);
const Endpoint = z.object({ ip: Ip, port: Port }).strict();
export type Endpoint = z.infer<typeof Endpoint>;
const RequestId = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const HelloRequest = z
  .object({
    op: z.literal("hello"),
    id: RequestId,
    containerId: z.string().regex(CONTAINER_ID, "a container id ([A-Za-z0-9_+.-], at most 1024)"),
    /** The pod's addresses; empty: netd learns them from `pid`'s network namespace. */
    podIps: z.array(Ip).max(64),
    /** The pod's network namespace (e.g. /proc/PID/ns/net): containers of one pod share it. */
    netns: z.string().max(4096),
    /** The container's init pid (host pid namespace), to read its addresses from /proc. */
    pid: z.number().int().min(1).optional(),
  })
  .strict();
export const ListenRequest = z
  .object({ op: z.literal("listen"), id: RequestId, ip: Ip, port: Port.min(1), reuseport: z.boolean().default(false), queuedMark: z.boolean().default(false) })
  .strict();
export const UnlistenRequest = z.object({ op: z.literal("unlisten"), id: RequestId, ip: Ip, port: Port.min(1) }).strict();
/** Arrives with exactly one fd: the sentry's end of the client's socketpair. */
export const ConnectRequest = z
  .object({
    op: z.literal("connect"),
    id: RequestId,
    dst: Endpoint,
    src: Endpoint,
    queuedMark: z.boolean().default(false),
    /** "listener-hints": the reply says whether `dst` may be remembered (`hinted`). */
    hint: z.boolean().default(false),
    /** "listener-hints": no reply on success; a failure closes the end and sends `listeners-changed`. */
    noreply: z.boolean().default(false),
  })
  .strict();
/** Connections the sentry sent to the kernel without asking netd (e.g. while netd was down), by reason. */
export const ReportRequest = z
  .object({ op: z.literal("report"), id: RequestId, fallbacks: z.record(z.string().regex(/^[a-z_]{1,32}$/), z.number().int().min(0)) })
  .strict();
export const StatusRequest = z.object({ op: z.literal("status"), id: RequestId }).strict();

export const Request = z.discriminatedUnion("op", [
  HelloRequest,
  ListenRequest,
  UnlistenRequest,
  ConnectRequest,
  ReportRequest,
  StatusRequest,
]);
export type Request = z.infer<typeof Request>;
export type RequestOp = Request["op"];
/** A request as a client writes it (before the schema fills defaults). */
export type RequestInput = z.input<typeof Request>;

/** Daemon -> listener's sentry, with the server end's fd: install it as accept()'s result. */
export interface IncomingEvent {
  op: "incoming";
  /** The listener's registered address (may be a wildcard) and the address the client dialled. */
  listener: Endpoint;
  dst: Endpoint;
  /** The client's address (its getpeername from the server's side). */
  peer: Endpoint;
  /** The connecting container. */
  from: string;
  /** The end holds QUEUED_MARK for the listener's sentry to take at accept ("queued-mark"). */
  queuedMark: boolean;
}

/** Daemon -> a sentry that keeps hints ("listener-hints"): forget them all. */
export interface ListenersChangedEvent {
  op: "listeners-changed";
}

export interface PodStatus {
  containerId: string;
  podIps: string[];
  netns: string;
  /** The cluster's name for the pod, when it knows it. */
  pod?: string;
  listeners: number;
  connections: { outgoing: number; incoming: number };
}
export interface ListenerStatus {
  ip: string;
  port: number;
  containerId: string;
  reuseport: boolean;
  accepted: number;
}
export interface StatusReply {
  name: string;
  pid: number;
  socket: string;
  uptimeSeconds: number;
  pods: PodStatus[];
  listeners: ListenerStatus[];
  connections: { local: number; kernel: number; refused: number; failed: number };
}

export type Reply =
  | ({ id: number; ok: true } & Record<string, unknown>)
  | { id?: number; ok: false; error: ErrorCode; message: string };

/** A reply or event as the client parses it (the daemon is trusted to be well-formed, but still checked). */
export const IncomingMessage = z.union([
  z.object({ id: z.number(), ok: z.literal(true) }).passthrough(),
  z.object({ id: z.number().optional(), ok: z.literal(false), error: z.string(), message: z.string() }).passthrough(),
  z
    .object({ op: z.literal("incoming"), listener: Endpoint, dst: Endpoint, peer: Endpoint, from: z.string(), queuedMark: z.boolean().default(false) })
    .passthrough(),
  z.object({ op: z.literal("listeners-changed") }).passthrough(),
]);

export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly id?: number,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** `path.to.field: problem` for each zod issue (the first three). */
export function describeIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join(".") : "message"}: ${i.message}`)
    .join("; ");
}

/**
 * Parses and validates one packet as a request. Throws ProtocolError(EINVAL) naming the problem,
 * with the request id when one could be read (so the reply can carry it).
 */
export function decodeRequest(data: Buffer, fds: number): Request {
  if (data.length > MAX_MESSAGE_BYTES) throw new ProtocolError("EINVAL", `message larger than ${MAX_MESSAGE_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString("utf8"));
  } catch (e) {
    throw new ProtocolError("EINVAL", `not JSON: ${(e as Error).message}`);
  }
  const rawId = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
  const id = RequestId.safeParse(rawId).success ? (rawId as number) : undefined;
  const parsed = Request.safeParse(raw);
  if (!parsed.success) throw new ProtocolError("EINVAL", describeIssues(parsed.error), id);
  const want = parsed.data.op === "connect" ? 1 : 0;
  if (fds !== want) throw new ProtocolError("EINVAL", `${parsed.data.op}: carries ${fds} fds, expected ${want}`, id);
  return parsed.data;
}

export function encode(message: object): Buffer {
  return Buffer.from(JSON.stringify(message), "utf8");
}
