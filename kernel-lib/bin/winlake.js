#!/usr/bin/env node
/**
 * The `winlake` command without a build step: in a clone (kernel-lib/src and the tsx dev dependency
 * present) it runs the TypeScript sources through tsx, so it works straight after `npm ci` and never
 * runs a stale build; an installed package (no sources) runs the compiled kernel-lib/dist.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const src = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const dist = new URL('../dist/cli/main.js', import.meta.url);

function hasTsx() {
  try {
    createRequire(import.meta.url).resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

if (existsSync(src) && hasTsx()) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(src).href);
} else if (existsSync(fileURLToPath(dist))) {
  await import(dist.href);
} else {
  console.error('winlake: neither kernel-lib/src with tsx (npm ci) nor a build (npm run build) is present');
  process.exitCode = 1;
}
