// esbuild --inject for the CommonJS bundles (Makefile build-ts): import.meta.url as an ES module
// would see it, for the code that finds files beside itself (native/root.ts, native/index.ts).
export const import_meta_url = require("node:url").pathToFileURL(__filename).href;
