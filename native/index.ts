// The one loader of the native addon (native/addon, built with `npm run build` there into
// native/addon/build/Release/tsor_native.node). Works from source (native/index.ts) and from the
// compiled tree (dist/native/index.js): the addon sits under the project root (native/root.ts), the
// directory holding native/addon/binding.gyp. TSOR_NATIVE_ADDON overrides the path.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { NativeError } from './errors.js';
import type { NativeBinding } from './native.js';
import { projectPath } from './root.js';

export { NativeError, isNotificationGone } from './errors.js';
export type * from './native.js';

/** The addon as callers see it (the loader has already registered NativeError). */
export type Native = Omit<NativeBinding, 'setErrorClass'>;

const ADDON_RELATIVE = join('native', 'addon', 'build', 'Release', 'tsor_native.node');

/** The path of the built addon, or where it would be (for the error message). */
export function addonPath(): string {
  return process.env.TSOR_NATIVE_ADDON || projectPath(ADDON_RELATIVE);
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
