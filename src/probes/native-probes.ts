/**
 * @module Which program runs each probe group that has a native form: hopscope-hops (probes/hops.bpf.c) for the
 * hops group and hopscope-drops (probes/drops.bpf.c) for the drops group, on BTF-typed raw tracepoints with
 * libbpf, or bpftrace running the group's script. A native probe takes the script's arguments and prints its
 * lines, so nothing after the child knows which one ran. The native forms exist for the groups whose
 * tracepoints fire on every packet (docs/performance.md); the others stay bpftrace scripts.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { packagePath } from '../package-root.js';
import { PROBE_GROUPS } from './probe-catalog.js';

/** --probes: `auto` prefers native and falls back per group; the others insist (native fails when it cannot run). */
export type ProbeChoice = 'auto' | 'native' | 'bpftrace';
export const PROBE_CHOICES: readonly ProbeChoice[] = ['auto', 'native', 'bpftrace'];

export interface NativeProbe {
  /** The loader's file name under build/native/. It attaches all of its group's tracepoints (PROBE_GROUPS) and
   * needs every one: no per-block composition as for scripts. */
  readonly binary: string;
  /** Placeholders of the group's real arguments, for `--check` (and the bench's `--floor`). */
  readonly placeholderArgs: readonly string[];
}

/** The groups with a native form, by group name. */
export const NATIVE_PROBES: Readonly<Record<string, NativeProbe>> = {
  hops: { binary: 'hopscope-hops', placeholderArgs: ['64', '0', '1'] },
  drops: { binary: 'hopscope-drops', placeholderArgs: ['2'] },
};

/** What runs one group: its native loader (path), or bpftrace; and why, for the log and `doctor`. */
export type GroupProgram =
  | { readonly group: string; readonly kind: 'native'; readonly loader: string; readonly why: string }
  | { readonly group: string; readonly kind: 'bpftrace'; readonly why: string };

/** The environment variable that sets the native loaders' ring buffer size (probes/loader-common.h reads it). */
export const RING_BYTES_ENV = 'HOPSCOPE_RING_BYTES';

/**
 * What is wrong with a HOPSCOPE_RING_BYTES value (the loaders' own rule: decimal digits, a power of two from 4096
 * to 1073741824), or undefined when the kernel will take it. Checked by the agent at start-up: under
 * `--probes auto` a loader that refused it would otherwise give way to the bpftrace scripts.
 */
export function ringBytesProblem(value: string): string | undefined {
  // digits only, leading zeros allowed, as the loaders' strtoull reads them
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  const ok = n >= 4096 && n <= 2 ** 30 && (n & (n - 1)) === 0;
  return ok ? undefined : `${RING_BYTES_ENV}=${value} is not a ring size: give a power of two from 4096 to 1073741824 (bytes)`;
}

/** build/native/ at the package root (scripts/build-native.sh). */
export function nativeDir(): string {
  return packagePath('build/native/');
}

/** Outcome of `LOADER --check ARGS`: the kernel loaded (verified) the programs, or why not. */
export type LoaderCheck = (loader: string, args: readonly string[]) => Promise<{ readonly ok: boolean; readonly detail: string }>;

export const runLoaderCheck: LoaderCheck = async (loader, args) => {
  const out = await execa(loader, ['--check', ...args], { reject: false, timeout: 30_000 });
  if (out.exitCode === 0 && out.stdout.trim() === 'ok') return { ok: true, detail: 'verified by the kernel' };
  const name = basename(loader);
  const stderr = `${out.stderr}`.split('\n');
  // the loader's own lines say what to do; libbpf's last line says what the kernel refused
  const libbpf = stderr.filter((l) => l.startsWith('libbpf:')).pop();
  const lines = [...(libbpf ? [libbpf.trim()] : []), ...stderr.filter((l) => l.startsWith(`${name}:`))];
  return { ok: false, detail: lines.join(' ') || out.shortMessage || `exit ${out.exitCode ?? '?'}` };
};

export class NativeProbeError extends Error {
  override readonly name = 'NativeProbeError';
}

/**
 * Picks the program of one group. `present`: which tracepoints exist here. With `native`, a group that has a
 * native form and cannot run it fails with what is missing; with `auto` it falls back to bpftrace and says why.
 * A group without a native form always runs bpftrace.
 */
export async function chooseGroupProgram(
  group: string,
  choice: ProbeChoice,
  present: ReadonlyMap<string, boolean>,
  dir: string = nativeDir(),
  check: LoaderCheck = runLoaderCheck,
): Promise<GroupProgram> {
  const native = NATIVE_PROBES[group];
  if (!native) return { group, kind: 'bpftrace', why: 'no native form' };
  if (choice === 'bpftrace') return { group, kind: 'bpftrace', why: 'chosen with --probes bpftrace' };
  const loader = `${dir.endsWith('/') ? dir : `${dir}/`}${native.binary}`;
  const refuse = (why: string): GroupProgram => {
    if (choice === 'native') throw new NativeProbeError(`--probes native: probe group ${group}: ${why}`);
    return { group, kind: 'bpftrace', why: `native probe unavailable (${why}); running the bpftrace script` };
  };
  if (!existsSync(loader)) return refuse(`${loader} is not built (bash scripts/build-native.sh; needs clang, bpftool, libbpf-dev)`);
  const tracepoints = PROBE_GROUPS.find((g) => g.name === group)?.tracepoints ?? [];
  const missing = tracepoints.filter((tp) => present.get(tp) !== true);
  if (missing.length > 0) return refuse(`tracepoint(s) ${missing.join(', ')} missing on this kernel`);
  const verdict = await check(loader, native.placeholderArgs);
  if (!verdict.ok) return refuse(verdict.detail);
  return { group, kind: 'native', loader, why: `${native.binary}: ${verdict.detail}` };
}
