// The sync channel with tsor-init: text lines over a unix socket (native/PLAN.md, "Sync
// messages"). tsor-init's messages arrive in a fixed order, so the sentry reads them one at a
// time with `expect`, and any `error ...` line becomes an InitError at the point it arrives.
import type { Duplex } from "node:stream";

/** tsor-init reported a failure (`error STAGE: MESSAGE`), or went away mid-protocol. */
export class InitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InitError";
  }
}

export class SyncChannel {
  private buffered = "";
  private lines: string[] = [];
  private waiting: ((line: string | null) => void) | undefined;
  private ended = false;

  constructor(private readonly sock: Duplex) {
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf("\n")) >= 0) {
        this.push(this.buffered.slice(0, nl));
        this.buffered = this.buffered.slice(nl + 1);
      }
    });
    const finish = () => {
      if (this.ended) return;
      this.ended = true;
      if (this.buffered) this.push(this.buffered);
      this.buffered = "";
      this.deliver();
    };
    sock.on("end", finish);
    sock.on("close", finish);
    // A reset from a dying tsor-init is the same as EOF here: the caller learns it from `next`.
    sock.on("error", finish);
  }

  private push(line: string): void {
    this.lines.push(line);
    this.deliver();
  }

  private deliver(): void {
    if (!this.waiting) return;
    if (this.lines.length > 0) {
      const w = this.waiting;
      this.waiting = undefined;
      w(this.lines.shift()!);
    } else if (this.ended) {
      const w = this.waiting;
      this.waiting = undefined;
      w(null);
    }
  }

  /** The next line, or null at EOF. */
  next(): Promise<string | null> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.deliver();
    });
  }

  /** Wait for a message whose first word is `verb`; returns the rest of the line. */
  async expect(verb: string): Promise<string> {
    const line = await this.next();
    if (line === null) throw new InitError(`tsor-init exited before sending "${verb}"`);
    const sp = line.indexOf(" ");
    const head = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? "" : line.slice(sp + 1);
    if (head === "error") throw new InitError(rest);
    if (head !== verb) throw new InitError(`tsor-init sent "${line}" where "${verb}" was expected`);
    return rest;
  }

  /** Wait for EOF (tsor-init's socket is CLOEXEC: EOF means execve succeeded). */
  async expectEof(): Promise<void> {
    const line = await this.next();
    if (line === null) return;
    if (line.startsWith("error ")) throw new InitError(line.slice(6));
    throw new InitError(`tsor-init sent "${line}" where exec was expected`);
  }

  send(line: string): void {
    this.sock.write(line + "\n");
  }

  close(): void {
    this.sock.destroy();
  }
}
