// The plan's field encoding (native/PLAN.md "Plan format"): fields separated by one space, every
// byte outside [A-Za-z0-9._/:=,+@~-] written as %XX (uppercase hex), the empty field as `%-`.
// Encoding works on UTF-8 bytes, so any string round-trips.

const SAFE = /^[A-Za-z0-9._/:=,+@~-]$/;
const EMPTY = "%-";

export function encodeField(value: string): string {
  if (value === "") return EMPTY;
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE.test(ch) ? ch : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

export function decodeField(field: string): string {
  if (field === EMPTY) return "";
  if (field === "") throw new Error("plan: empty field (an empty value is written %-)");
  const bytes: number[] = [];
  for (let i = 0; i < field.length; i++) {
    const ch = field[i]!;
    if (ch === "%") {
      const hex = field.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error(`plan: bad escape at ${i} in ${JSON.stringify(field)}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (SAFE.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      throw new Error(`plan: unencoded byte ${JSON.stringify(ch)} in ${JSON.stringify(field)}`);
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** One directive: its name and its (unencoded) fields. */
export type Directive = readonly [name: string, ...fields: string[]];

/** One plan line, without the newline. */
export function encodeDirective([name, ...fields]: Directive): string {
  return [name, ...fields.map(encodeField)].join(" ");
}

export function encodePlan(directives: readonly Directive[]): string {
  return directives.map((d) => encodeDirective(d) + "\n").join("");
}

/** The inverse of encodePlan (for tests and for reading a plan back in diagnostics). */
export function decodePlan(text: string): Directive[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line) => {
    const [name, ...fields] = line.split(" ");
    return [name!, ...fields.map(decodeField)] as const;
  });
}
