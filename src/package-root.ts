/**
 * @module Where the package's own files are (probes/, build/native/, src/web/, src/lab/): every module runs
 * either from the sources (src/..., under vitest and tsx) or compiled (dist/src/...), one level deeper. The
 * package root is the first of the two candidates above this file that holds package.json.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CANDIDATES = ['../', '../../'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));

/** The package root, with a trailing slash. */
export const PACKAGE_ROOT: string = CANDIDATES.find((dir) => existsSync(`${dir}package.json`)) ?? (CANDIDATES[0] as string);

/** A path inside the package: `packagePath('probes/')` is probes/ at the root, from src or dist alike. */
export function packagePath(relative: string): string {
  return PACKAGE_ROOT + relative;
}
