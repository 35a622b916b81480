// Where a JSON text goes wrong. JSON.parse in Node 20 sometimes names no position ("Unexpected
// token 'x', ... is not valid JSON"), so on failure this small scanner walks the text again and
// returns the offset and a short reason, which validate.ts turns into "line L column C".

export interface JsonSyntaxError {
  /** Offset (UTF-16 units) of the first character that cannot be part of valid JSON. */
  offset: number;
  line: number;
  column: number;
  reason: string;
}

class Stop {
  constructor(readonly offset: number, readonly reason: string) {}
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);

/** The first syntax error of `text`, or undefined if it is valid JSON. */
export function findJsonError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const fail = (reason: string): never => {
    throw new Stop(i, i >= text.length ? "unexpected end of input" : reason);
  };
  const show = (): string => JSON.stringify(text[i]);
  const ws = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };

  const string = (): void => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail("unterminated string");
      const c = text[i]!;
      if (c === '"') {
        i++;
        return;
      }
      if (c === "\\") {
        i++;
        if (text[i] === "u") {
          HEX4.lastIndex = i + 1;
          if (!HEX4.test(text)) fail("invalid \\u escape in string");
          i += 5;
        } else if (text[i] !== undefined && ESCAPES.has(text[i]!)) {
          i++;
        } else {
          fail(`invalid escape ${show()} in string`);
        }
        continue;
      }
      if (c.charCodeAt(0) < 0x20) fail("control character in string");
      i++;
    }
  };

  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) fail(`unexpected character ${show()}`);
      i++;
    }
  };

  const value = (): void => {
    ws();
    if (i >= text.length) fail("");
    const c = text[i]!;
    if (c === "{") return object();
    if (c === "[") return array();
    if (c === '"') return string();
    if (c === "t") return literal("true");
    if (c === "f") return literal("false");
    if (c === "n") return literal("null");
    if (c === "-" || (c >= "0" && c <= "9")) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) fail("invalid number");
      i += m![0].length;
      return;
    }
    fail(`unexpected character ${show()}`);
  };

  /** `{...}` or `[...]`: elements separated by commas up to `close`. */
  const sequence = (close: string, element: () => void, expected: string): void => {
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      element();
      ws();
      if (text[i] === ",") {
        i++;
      } else if (text[i] === close) {
        i++;
        return;
      } else {
        fail(expected);
      }
    }
  };

  const member = (): void => {
    ws();
    if (text[i] !== '"') fail("expected a double-quoted property name");
    string();
    ws();
    if (text[i] !== ":") fail("expected ':' after property name");
    i++;
    value();
  };

  const object = (): void => sequence("}", member, "expected ',' or '}' after property value");
  const array = (): void => sequence("]", value, "expected ',' or ']' after array element");

  try {
    value();
    ws();
    if (i < text.length) fail("unexpected data after the JSON value");
    return undefined;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    const before = text.slice(0, e.offset);
    const line = before.split("\n").length;
    const column = e.offset - (before.lastIndexOf("\n") + 1) + 1;
    return { offset: e.offset, line, column, reason: e.reason };
  }
}
