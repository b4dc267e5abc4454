/**
 * Kernel-test helpers: a lab of the project's own, agents as real `hopscope agent` child processes, commands
 * inside lab namespaces, and polling of the agents' APIs.
 */
import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { labDown, labUp } from '../../../src/lab/lab.js';
import type { LabOverlay, LabPlan } from '../../../src/lab/lab-plan.js';
import type { Trace } from '../../../src/trace/trace.js';
import { untilListening } from '../../fixtures/agent-listening.js';

export const CLI = fileURLToPath(new URL('../../../bin/hopscope.js', import.meta.url));
export const TCP_ECHO = fileURLToPath(new URL('../../../dist/src/lab/tcp-echo.js', import.meta.url));
export const UDP_ECHO = fileURLToPath(new URL('../../../dist/src/lab/udp-echo.js', import.meta.url));

export interface TestLab {
  readonly plan: LabPlan;
  readonly inventoryPath: string;
  down(): Promise<void>;
}

export interface LabExtras {
  readonly overlay?: LabOverlay;
  readonly ipv6?: boolean;
  readonly services?: boolean;
}

export async function startLab(prefix: string, nodes = 2, pods = 2, delayMs = 0, extras: LabExtras = {}): Promise<TestLab> {
  await labDown(prefix, `/run/hopscope/test-${prefix}.json`); // leftovers of a killed run
  const { plan, inventoryPath } = await labUp({ prefix, nodes, podsPerNode: pods, delayMs, ...extras }, `/run/hopscope/test-${prefix}.json`);
  return { plan, inventoryPath, down: async () => void (await labDown(prefix, inventoryPath)) };
}

export interface AgentProcess {
  readonly url: string;
  readonly pid: number;
  readonly child: ResultPromise;
  readonly log: string[];
  stop(): Promise<void>;
}

/** A free loopback port (for agents that must know each other's address before they start: --peer). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A `hopscope agent` for a lab node, resolved once ready; `env` adds to its environment (its probes inherit it). */
export async function startAgentProcess(node: string, netns: string, inventoryPath: string, extra: string[] = [], env: Record<string, string> = {}): Promise<AgentProcess> {
  const listen = extra.includes('--listen') ? [] : ['--listen', '127.0.0.1:0'];
  const agent = await spawnAgent(['--node', node, '--netns', netns, '--inventory', inventoryPath, ...listen, ...extra], env, `agent ${node}`);
  await waitFor(async () => (await fetch(`${agent.url}/readyz`)).ok, 30_000, `agent ${node} ready`);
  return agent;
}

/**
 * A `hopscope agent ARGS` child, resolved once it listens (not once ready: some tests start agents that are
 * meant never to be ready). stop() sends SIGTERM to this PID and waits for its exit.
 */
export async function spawnAgent(args: string[], env: Record<string, string> = {}, what = 'agent'): Promise<AgentProcess> {
  const child = execa(process.execPath, [CLI, 'agent', ...args], { reject: false, buffer: false, stdin: 'ignore', env });
  const log: string[] = [];
  const url = await untilListening(child, what, log);
  return {
    url,
    pid: child.pid as number,
    child,
    log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await child;
      }
    },
  };
}

/** `ip -n NETNS ARGS`, failing with ip's own message. */
export async function ip(netns: string, ...args: string[]): Promise<void> {
  const r = await execa('ip', ['-n', netns, ...args], { reject: false });
  if (r.exitCode !== 0) throw new Error(`ip -n ${netns} ${args.join(' ')}: ${r.stderr}`);
}

export async function nsExec(netns: string, command: string, args: string[], timeoutMs = 15_000) {
  return execa('ip', ['netns', 'exec', netns, command, ...args], { reject: false, timeout: timeoutMs });
}

/** Waits until every agent's first peer link is connected (agents started with --peer). */
export async function waitForPeerLinks(agents: readonly { readonly url: string }[], what = 'the peer links'): Promise<void> {
  await waitFor(async () => {
    const peers = await Promise.all(agents.map(async (a) => ((await (await fetch(`${a.url}/api/v1/peers`)).json()) as { peers: { connected: boolean }[] }).peers));
    return peers.every((p) => p[0]?.connected === true);
  }, 15_000, what);
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function traces(url: string, query = ''): Promise<Trace[]> {
  const res = await fetch(`${url}/api/v1/traces?limit=10000${query}`);
  if (!res.ok) throw new Error(`${url}/api/v1/traces: HTTP ${res.status}`);
  return ((await res.json()) as { traces: Trace[] }).traces;
}

/** Waits until the agent reports a trace matching `match`, and returns all matching ones. */
export async function waitForTraces(url: string, match: (t: Trace) => boolean, what: string, timeoutMs = 10_000): Promise<Trace[]> {
  return waitFor(async () => {
    const found = (await traces(url)).filter(match);
    return found.length > 0 ? found : undefined;
  }, timeoutMs, what);
}

export const hopSequence = (t: Trace) => t.hops.map((h) => `${h.kind}:${h.direction}`);

/** PIDs of the direct children of a process (its bpftrace probes). */
export async function childPids(pid: number): Promise<number[]> {
  const out = await execa('ps', ['-o', 'pid=', '--ppid', String(pid)], { reject: false });
  return out.stdout.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
}

/** The loaded BPF programs as `type:name` (bpftool shows a tracepoint program by the probe's function name). */
export async function bpfPrograms(): Promise<string[]> {
  const out = await execa('bpftool', ['prog', 'show', '-j']);
  return (JSON.parse(out.stdout || '[]') as { type: string; name?: string }[]).map((p) => `${p.type}:${p.name ?? ''}`);
}

/** IDs of the loaded BPF programs: compare sets, so programs others load meanwhile do not matter. */
export async function bpfProgramIds(): Promise<Set<number>> {
  const out = await execa('bpftool', ['prog', 'show', '-j']);
  return new Set((JSON.parse(out.stdout || '[]') as { id: number }[]).map((p) => p.id));
}

/** The loaded BPF programs on tracepoints: bpftrace's, and the native hop probe's BTF-typed ones (`tracing`). */
export async function tracepointPrograms(): Promise<string[]> {
  return (await bpfPrograms()).filter((p) => p.startsWith('tracepoint:') || p.startsWith('tracing:'));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
