// The one loader of the native addon (native/addon, built with `npm run build` there into
// native/addon/build/Release/tsor_native.node). Works from source (native/index.ts) and from the
// compiled tree (dist/native/index.js): it walks up from this file to the repo root, the first
// directory holding native/addon/binding.gyp. TSOR_NATIVE_ADDON overrides the path.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NativeError } from './errors.js';
import type { NativeBinding } from './native.js';

export { NativeError, isNotificationGone } from './errors.js';
export type * from './native.js';

/** The addon as callers see it (the loader has already registered NativeError). */
export type Native = Omit<NativeBinding, 'setErrorClass'>;

const ADDON_RELATIVE = join('native', 'addon', 'build', 'Release', 'tsor_native.node');

/** The path of the built addon, or where it would be (for the error message). */
export function addonPath(): string {
  const override = process.env.TSOR_NATIVE_ADDON;
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'native', 'addon', 'binding.gyp'))) return join(dir, ADDON_RELATIVE);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`tsor_native: no native/addon/binding.gyp above ${fileURLToPath(import.meta.url)}`);
}

let loaded: Native | undefined;

/** Loads the addon once and returns it; throws with the build command if it is not built. */
export function loadNative(): Native {
  if (loaded) return loaded;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new Error(`tsor_native: ${path} is not built (run: cd native/addon && npm run build)`);
  }
  const binding = createRequire(import.meta.url)(path) as NativeBinding;
  binding.setErrorClass(NativeError);
  loaded = binding;
  return binding;
}

/**
 * The addon, loaded on first use (importing this module never loads it, so code that imports
 * `native` but does not call it runs where the addon is not built).
 */
export const native: Native = new Proxy({} as Native, {
  get: (_target, key) => Reflect.get(loadNative(), key),
  has: (_target, key) => Reflect.has(loadNative(), key),
  ownKeys: () => Reflect.ownKeys(loadNative()),
  getOwnPropertyDescriptor: (_target, key) => {
    const d = Reflect.getOwnPropertyDescriptor(loadNative(), key);
    return d && { ...d, configurable: true };
  },
});
