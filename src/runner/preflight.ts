/**
 * @module What this machine offers the probes: root, bpftrace and its version, BTF, tracefs, and each
 * tracepoint (checked with `bpftrace -l`). Used by the agent before it starts and by `hopscope doctor`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { runCommand } from './run-command.js';

export const TRACEFS = '/sys/kernel/tracing';
export const BTF_VMLINUX = '/sys/kernel/btf/vmlinux';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** What to do when it is not ok. */
  readonly fix?: string;
}

export function checkRoot(): Check {
  const root = process.getuid?.() === 0;
  return root
    ? { name: 'root', ok: true, detail: 'running as root' }
    : { name: 'root', ok: false, detail: 'not root', fix: 'run as root (bpftrace refuses to load programs otherwise)' };
}

export function checkBtf(): Check {
  return existsSync(BTF_VMLINUX)
    ? { name: 'btf', ok: true, detail: BTF_VMLINUX }
    : { name: 'btf', ok: false, detail: `${BTF_VMLINUX} missing`, fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y' };
}

/** tracefs must be mounted for tracepoints; as root it is mounted when missing. */
export async function ensureTracefs(mountIfMissing: boolean): Promise<Check> {
  const mounted = () => existsSync(`${TRACEFS}/events`) && safeList(`${TRACEFS}/events`).length > 0;
  if (mounted()) return { name: 'tracefs', ok: true, detail: `${TRACEFS} mounted` };
  if (mountIfMissing && process.getuid?.() === 0) {
    try {
      await runCommand('mount', ['-t', 'tracefs', 'nodev', TRACEFS]);
      if (mounted()) return { name: 'tracefs', ok: true, detail: `${TRACEFS} mounted by hopscope` };
    } catch {
      // reported below
    }
  }
  return {
    name: 'tracefs',
    ok: false,
    detail: `${TRACEFS}/events is empty`,
    fix: `mount tracefs: mount -t tracefs nodev ${TRACEFS} (in Kubernetes: hostPath /sys/kernel/tracing)`,
  };
}

export async function checkBpftrace(bpftrace: string): Promise<Check & { version?: string }> {
  try {
    const out = (await runCommand(bpftrace, ['--version'], { timeoutMs: 10_000 })).trim();
    const version = /v?(\d+\.\d+\.\d+)/.exec(out)?.[1];
    return { name: 'bpftrace', ok: true, detail: out, ...(version ? { version } : {}) };
  } catch {
    return { name: 'bpftrace', ok: false, detail: `${bpftrace} not found or not runnable`, fix: 'install it: apt-get install -y bpftrace (0.17 or newer)' };
  }
}

/** Tracepoint presence as bpftrace sees it; checked concurrently. */
export async function listTracepoints(bpftrace: string, tracepoints: readonly string[]): Promise<Map<string, boolean>> {
  const results = await Promise.all(
    tracepoints.map(async (tp) => {
      try {
        const out = await runCommand(bpftrace, ['-l', `tracepoint:${tp}`], { timeoutMs: 20_000 });
        return [tp, out.split('\n').some((l) => l.trim() === `tracepoint:${tp}`)] as const;
      } catch {
        return [tp, existsSync(`${TRACEFS}/events/${tp.replace(':', '/')}`)] as const;
      }
    }),
  );
  return new Map(results);
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
