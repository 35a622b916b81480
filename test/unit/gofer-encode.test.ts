import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeField, decodePlan, encodeField, encodePlan } from "../../gofer/encode.js";

describe("gofer plan encoding", () => {
  it("leaves the safe set as is", () => {
    assert.equal(encodeField("PATH=/usr/bin:/bin"), "PATH=/usr/bin:/bin");
    assert.equal(encodeField("a-b_c.d,e+f@g~h"), "a-b_c.d,e+f@g~h");
    assert.equal(encodeField("a*b#c"), "a%2Ab%23c");
  });

  it("writes the empty field as %-", () => {
    assert.equal(encodeField(""), "%-");
    assert.equal(decodeField("%-"), "");
  });

  it("escapes space, percent, newline and UTF-8 bytes in uppercase hex", () => {
    assert.equal(encodeField("a b"), "a%20b");
    assert.equal(encodeField("100%"), "100%25");
    assert.equal(encodeField("x\ny"), "x%0Ay");
    assert.equal(encodeField("é"), "%C3%A9");
    assert.equal(encodeField("-"), "-");
    assert.equal(encodeField("%-"), "%25-");
  });

  it("round-trips any string", () => {
    const samples = ["", " ", "%", "%-", "-", "a=b c", "tab\there", "\u0000\u007f", "日本語", "emoji 🙂", "x%41y", "/proc/self/fd", "$HOME;`rm`"];
    for (const s of samples) {
      const enc = encodeField(s);
      assert.match(enc, /^(%-|([A-Za-z0-9._/:=,+@~-]|%[0-9A-F]{2})+)$/, `encoding of ${JSON.stringify(s)}`);
      assert.equal(decodeField(enc), s);
    }
  });

  it("rejects malformed fields", () => {
    assert.throws(() => decodeField(""), /empty field/);
    assert.throws(() => decodeField("%4"), /bad escape/);
    assert.throws(() => decodeField("%zz"), /bad escape/);
    assert.throws(() => decodeField("a b"), /unencoded/);
  });

  it("round-trips a plan", () => {
    const plan = [["version", "1"], ["env", "A=b c"], ["groups", ""], ["ptmx"], ["end"]] as const;
    const text = encodePlan(plan);
    assert.equal(text, "version 1\nenv A=b%20c\ngroups %-\nptmx\nend\n");
    assert.deepEqual(decodePlan(text), plan);
  });
});
