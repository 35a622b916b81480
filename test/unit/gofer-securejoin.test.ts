import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { MAX_SYMLINKS, SecureJoinError, resolveInRoot, secureJoin, type JoinFS } from "../../gofer/securejoin.js";

describe("gofer securejoin", () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "tsor-securejoin-"));
    fs.mkdirSync(path.join(root, "etc"));
    fs.mkdirSync(path.join(root, "sub/deep"), { recursive: true });
    fs.symlinkSync("/etc", path.join(root, "abs"));
    fs.symlinkSync("../../../../../etc", path.join(root, "sub/up"));
    fs.symlinkSync("../../../x", path.join(root, "sub/deep/upx"));
    fs.symlinkSync("sub/deep", path.join(root, "rel"));
    fs.symlinkSync("abs", path.join(root, "chain"));
    fs.symlinkSync("loop2", path.join(root, "loop1"));
    fs.symlinkSync("loop1", path.join(root, "loop2"));
    fs.symlinkSync("/", path.join(root, "slash"));
    fs.writeFileSync(path.join(root, "file"), "");
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it("keeps plain paths and clamps leading ..", () => {
    assert.equal(resolveInRoot(root, "/etc/passwd"), "/etc/passwd");
    assert.equal(resolveInRoot(root, "../../etc/passwd"), "/etc/passwd");
    assert.equal(resolveInRoot(root, "/"), "/");
    assert.equal(resolveInRoot(root, ""), "/");
    assert.equal(secureJoin(root, "/../.."), root);
  });

  it("resolves an absolute symlink at the root, not the host", () => {
    assert.equal(resolveInRoot(root, "/abs/passwd"), "/etc/passwd");
    assert.equal(secureJoin(root, "/chain/passwd"), path.join(root, "etc/passwd"));
    assert.equal(resolveInRoot(root, "/slash/../../abs"), "/etc");
  });

  it("clamps ../../ chains in link targets", () => {
    assert.equal(resolveInRoot(root, "/sub/up/shadow"), "/etc/shadow");
    assert.equal(resolveInRoot(root, "/sub/deep/upx/y"), "/x/y");
  });

  it("follows relative links from the link's directory", () => {
    assert.equal(resolveInRoot(root, "/rel/upx"), "/x");
    assert.equal(resolveInRoot(root, "/rel/../deep"), "/sub/deep");
  });

  it("takes missing components and non-directories lexically", () => {
    assert.equal(resolveInRoot(root, "/nope/../etc/x"), "/etc/x");
    assert.equal(resolveInRoot(root, "/file/child"), "/file/child");
  });

  it("fails with ELOOP on a symlink loop", () => {
    assert.throws(() => resolveInRoot(root, "/loop1/x"), (err: unknown) => err instanceof SecureJoinError && err.code === "ELOOP" && /too many levels/.test(err.message));
  });

  it("allows up to MAX_SYMLINKS links", () => {
    // A fake tree: /l0 -> l1 -> ... -> lN -> /target
    const fakeFS = (n: number): JoinFS => ({
      isSymlink: (p) => (/\/l\d+$/.test(p) ? true : null),
      readlink: (p) => {
        const i = Number(/l(\d+)$/.exec(p)![1]);
        return i + 1 < n ? `l${i + 1}` : "/target";
      },
    });
    assert.equal(resolveInRoot("/r", "/l0", fakeFS(MAX_SYMLINKS)), "/target");
    assert.throws(() => resolveInRoot("/r", "/l0", fakeFS(MAX_SYMLINKS + 1)), SecureJoinError);
  });
});
