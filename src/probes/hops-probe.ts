/**
 * @module Which program runs the hops group: the native loader `hopscope-hops` (probes/hops.bpf.c on BTF-typed
 * raw tracepoints, a quarter of hops.bt's cost per packet, docs/performance.md) when it is built and the kernel
 * verifies it, else bpftrace running probes/hops.bt. Both take the same arguments and print the same lines,
 * so nothing after the child knows which one ran.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** --hops-probe: `auto` prefers native and falls back; the others insist (and fail when they cannot run). */
export type HopsProbeChoice = 'auto' | 'native' | 'bpftrace';
export const HOPS_PROBE_CHOICES: readonly HopsProbeChoice[] = ['auto', 'native', 'bpftrace'];

export type HopsProbe =
  | { readonly kind: 'native'; readonly loader: string; readonly why: string }
  | { readonly kind: 'bpftrace'; readonly why: string };

/** The tracepoints the native loader attaches: it needs all of them (no per-probe composition as for scripts). */
export const NATIVE_TRACEPOINTS = ['syscalls:sys_enter_kill', 'net:netif_receive_skb', 'net:net_dev_queue'] as const;

/** build/native/hopscope-hops at the package root (scripts/build-native.sh), from src/probes or dist/src/probes. */
export function defaultLoaderPath(): string {
  const candidates = ['../../build/native/hopscope-hops', '../../../build/native/hopscope-hops'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

/** Outcome of `hopscope-hops --check`: the kernel loaded (verified) the programs, or why not. */
export type LoaderCheck = (loader: string) => Promise<{ readonly ok: boolean; readonly detail: string }>;

export const runLoaderCheck: LoaderCheck = async (loader) => {
  const out = await execa(loader, ['--check', '64', '0', '1'], { reject: false, timeout: 30_000 });
  if (out.exitCode === 0 && out.stdout.trim() === 'ok') return { ok: true, detail: 'verified by the kernel' };
  const lines = `${out.stderr}`.split('\n').filter((l) => l.startsWith('hopscope-hops:'));
  return { ok: false, detail: lines.join(' ') || out.shortMessage || `exit ${out.exitCode ?? '?'}` };
};

export class HopsProbeError extends Error {
  override readonly name = 'HopsProbeError';
}

/**
 * Picks the hops group's program. `present`: which tracepoints exist here. `native` fails with what is
 * missing; `auto` says why it fell back.
 */
export async function chooseHopsProbe(
  choice: HopsProbeChoice,
  present: ReadonlyMap<string, boolean>,
  loader: string = defaultLoaderPath(),
  check: LoaderCheck = runLoaderCheck,
): Promise<HopsProbe> {
  if (choice === 'bpftrace') return { kind: 'bpftrace', why: 'chosen with --hops-probe bpftrace' };
  const refuse = (why: string): HopsProbe => {
    if (choice === 'native') throw new HopsProbeError(`--hops-probe native: ${why}`);
    return { kind: 'bpftrace', why: `native hop probe unavailable (${why}); running probes/hops.bt` };
  };
  if (!existsSync(loader)) return refuse(`${loader} is not built (bash scripts/build-native.sh; needs clang, bpftool, libbpf-dev)`);
  const missing = NATIVE_TRACEPOINTS.filter((tp) => present.get(tp) !== true);
  if (missing.length > 0) return refuse(`tracepoint(s) ${missing.join(', ')} missing on this kernel`);
  const verdict = await check(loader);
  if (!verdict.ok) return refuse(verdict.detail);
  return { kind: 'native', loader, why: `${loader}: ${verdict.detail}` };
}
