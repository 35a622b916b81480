// Shared by the benchmarks that compare tsor with runc: the median of a round's samples, and the
// "metric / runc / tsor / tsor/runc" table they print.

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const num = (v: number | undefined): string => (v === undefined ? "-" : v.toFixed(0));

export const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || !b ? "-" : `${(a / b).toFixed(2)}x`);

/** A header and one row per [label, key]: `m`'s "runc.<key>" and "tsor.<key>", and their ratio. */
export function runcTsorRows(m: Map<string, number>, header: string, rows: readonly (readonly [string, string])[], width: number): string[] {
  const lines = [`${header.padEnd(width)}${"runc".padStart(10)}${"tsor".padStart(10)}${"tsor/runc".padStart(11)}`];
  for (const [label, key] of rows) {
    const rc = m.get(`runc.${key}`);
    const ts = m.get(`tsor.${key}`);
    lines.push(`${label.padEnd(width)}${num(rc).padStart(10)}${num(ts).padStart(10)}${ratio(ts, rc).padStart(11)}`);
  }
  return lines;
}
