/**
 * @module Bench arms a (packet-path cost) and d (packet-to-stream delay), in a lab of the bench's own: iperf3
 * between a pod on node-1 and a pod on node-2, without agents, with both agents in their default configuration
 * (real `hopscope agent` processes), and with the agents' tracepoints attached to empty bpftrace programs (the
 * floor: the cost of attachment alone). Every process started here is tracked by PID and stopped by PID.
 */
import { execa, type ResultPromise } from 'execa';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { LabPlan } from '../../src/lab/lab-plan.js';
import { chooseGroupProgram, NATIVE_PROBES } from '../../src/probes/native-probes.js';
import { PROBE_GROUPS } from '../../src/probes/probe-catalog.js';
import type { Trace } from '../../src/trace/trace.js';
import { untilListening } from '../fixtures/agent-listening.js';
import { untilReadyLine } from '../fixtures/ready-line.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = `${ROOT}bin/hopscope.js`;

/** Every child the bench started and has not stopped yet: stopped by PID on exit, normal or not. */
const started = new Set<ResultPromise>();

export async function stopChild(child: ResultPromise, signal: NodeJS.Signals = 'SIGTERM', graceMs = 8000): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(killer);
  }
  started.delete(child);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((c) => stopChild(c)));
}

function track(child: ResultPromise): ResultPromise {
  started.add(child);
  child.catch(() => undefined);
  return child;
}

export interface Agent {
  readonly node: string;
  readonly url: string;
  readonly child: ResultPromise;
}

/** `extra`: more agent options (`--probes bpftrace` for the bpftrace arm). */
export async function startAgent(node: string, netns: string, inventoryPath: string, extra: readonly string[] = []): Promise<Agent> {
  const child = track(
    execa(process.execPath, [CLI, 'agent', '--node', node, '--netns', netns, '--inventory', inventoryPath, '--listen', '127.0.0.1:0', ...extra], {
      reject: false,
      buffer: false,
      stdin: 'ignore',
    }),
  );
  const log: string[] = [];
  const url = await untilListening(child, `agent ${node}`, log);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`agent ${node} not ready: ${log.join('\n')}`);
    await sleep(100);
  }
  return { node, url, child };
}

/**
 * The floor: the agent's tracepoints attached the way the agent attaches them, with programs that do nothing:
 * a group's by its native loader (`--floor`: tp_btf programs that return at once) when the agent runs it, the
 * rest by one bpftrace with an empty program per tracepoint.
 */
export async function startFloor(): Promise<{ readonly children: readonly ResultPromise[] }> {
  const listed = await execa('bpftrace', ['-l', 'tracepoint:*'], { reject: false });
  const exists = new Set(listed.stdout.split('\n').map((l) => l.trim().replace(/^tracepoint:/, '')));
  const present = new Map([...exists].map((tp) => [tp, true]));
  const programs = await Promise.all(PROBE_GROUPS.map((g) => chooseGroupProgram(g.name, 'auto', present)));
  const natives = programs.flatMap((p) => (p.kind === 'native' ? [{ loader: p.loader, args: NATIVE_PROBES[p.group]?.placeholderArgs ?? [], ready: `HOPSCOPE_READY ${p.group}` }] : []));
  const tps = PROBE_GROUPS.filter((g) => programs.some((p) => p.group === g.name && p.kind === 'bpftrace'))
    .flatMap((g) => g.tracepoints)
    .filter((tp) => exists.has(tp));
  const script = `BEGIN { printf("HOPSCOPE_READY floor\\n"); } ${tps.map((tp) => `tracepoint:${tp} {}`).join(' ')}`;
  const children = [track(execa('setpriv', ['--pdeathsig', 'KILL', '--', 'bpftrace', '-e', script], { reject: false, buffer: false, stdin: 'ignore', env: { BPFTRACE_PERF_RB_PAGES: '64' } }))];
  await untilReadyLine(children[0] as ResultPromise, 'HOPSCOPE_READY floor', { what: 'floor bpftrace' });
  for (const n of natives) {
    const child = track(execa('setpriv', ['--pdeathsig', 'KILL', '--', n.loader, '--floor', ...n.args], { reject: false, buffer: false, stdin: 'ignore' }));
    children.push(child);
    await untilReadyLine(child, n.ready, { what: `floor ${n.loader}` });
  }
  return { children };
}

export function startIperfServer(plan: LabPlan): ResultPromise {
  const pod = plan.nodes[1]?.pods[0];
  if (!pod) throw new Error('the bench lab needs a pod on node 2');
  return track(execa('ip', ['netns', 'exec', pod.netns, 'iperf3', '-s', '-p', '5201'], { reject: false, buffer: false, stdin: 'ignore' }));
}

export interface IperfResult {
  /** TCP: received bits/s; UDP: received packets/s. */
  readonly value: number;
  /** UDP: packets sent. */
  readonly packets?: number;
  readonly lossPercent?: number;
}

export async function iperf(plan: LabPlan, mode: 'tcp' | 'udp', seconds: number): Promise<IperfResult> {
  const client = plan.nodes[0]?.pods[0];
  const server = plan.nodes[1]?.pods[0];
  if (!client || !server) throw new Error('the bench lab needs a pod on each node');
  const args = ['netns', 'exec', client.netns, 'iperf3', '-c', server.ip, '-p', '5201', '-t', String(seconds), '-J'];
  if (mode === 'udp') args.push('-u', '-l', '64', '-b', '0');
  const out = await execa('ip', args, { reject: false, timeout: (seconds + 30) * 1000 });
  let j: IperfJson;
  try {
    j = JSON.parse(out.stdout) as IperfJson;
  } catch {
    throw new Error(`iperf3 ${mode}: no JSON (${out.stderr || out.stdout.slice(0, 300)})`);
  }
  if (j.error) throw new Error(`iperf3 ${mode}: ${j.error}`);
  if (mode === 'tcp') {
    const bps = j.end?.sum_received?.bits_per_second;
    if (typeof bps !== 'number') throw new Error('iperf3 tcp: no sum_received');
    return { value: bps };
  }
  const s = j.end?.sum;
  if (!s || typeof s.packets !== 'number' || typeof s.seconds !== 'number') throw new Error('iperf3 udp: no sum');
  return { value: (s.packets - (s.lost_packets ?? 0)) / s.seconds, lossPercent: s.lost_percent ?? 0, packets: s.packets };
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { bits_per_second?: number };
    sum?: { packets?: number; lost_packets?: number; seconds?: number; lost_percent?: number };
  };
}

/** CPU seconds (user + system) used so far by a process and its direct children (the agent's bpftrace). */
export async function cpuSeconds(pid: number): Promise<number> {
  const kids = await execa('ps', ['-o', 'pid=', '--ppid', String(pid)], { reject: false });
  const pids = [pid, ...kids.stdout.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0)];
  let ticks = 0;
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100;
}

/** hopscope_events_total and hopscope_events_lost_total summed over probes. */
export async function eventCounts(url: string): Promise<{ events: number; lost: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`))
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { events: sum('hopscope_events_total'), lost: sum('hopscope_events_lost_total') };
}

/** Commands whose BPF programs run on hopscope's tracepoints: bpftrace and the native loaders. */
const PROBE_COMMANDS = new Set(['bpftrace', ...Object.values(NATIVE_PROBES).map((p) => p.binary)]);

/**
 * Probe processes (bpftrace, the native loaders) this bench did not start (another agent or test on this kernel):
 * their programs run on the same tracepoints and would make every arm slower. `mine`: PIDs of the bench's
 * agents and floor children.
 */
export async function foreignBpftrace(mine: readonly number[]): Promise<number> {
  const out = await execa('ps', ['-eo', 'pid=,ppid=,comm='], { reject: false });
  return out.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([pid, ppid, comm]) => PROBE_COMMANDS.has(comm ?? '') && !mine.includes(Number(pid)) && !mine.includes(Number(ppid))).length;
}

/** Waits (up to `maxMs`) until no foreign bpftrace runs; returns how many still do. */
export async function waitQuiet(mine: readonly number[], maxMs: number, log: (m: string) => void): Promise<number> {
  const deadline = Date.now() + maxMs;
  let n = await foreignBpftrace(mine);
  if (n > 0) log(`${n} bpftrace process(es) of others attached to this kernel; waiting up to ${Math.round(maxMs / 1000)} s for them to end`);
  while (n > 0 && Date.now() < deadline) {
    await sleep(2000);
    n = await foreignBpftrace(mine);
  }
  return n;
}

export interface DelayResult {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly pingsSent: number;
}

/**
 * Pings from a pod on node-1 to a pod on node-2 while a stream client listens on node-1's agent; the delay of
 * each trace is its receipt time minus the wall-clock time of its first hop (the packet leaving the pod, or
 * arriving at the node for a reply), both on this machine's clock.
 */
export async function streamDelay(plan: LabPlan, agent: Agent, pings: number, intervalS: number): Promise<DelayResult> {
  const src = plan.nodes[0]?.pods[0];
  const dst = plan.nodes[1]?.pods[0];
  if (!src || !dst) throw new Error('the bench lab needs a pod on each node');
  const ws = new WebSocket(`${agent.url.replace(/^http/, 'ws')}/api/v1/stream`);
  const delays: number[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let subscribed!: () => void;
  const ready = new Promise<void>((r) => (subscribed = r));
  ws.on('message', (data) => {
    const now = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
    const msg = JSON.parse(data.toString()) as { type: string; trace?: Trace };
    if (msg.type === 'subscribed') subscribed();
    const t = msg.trace;
    if (msg.type !== 'trace' || !t || t.protocol !== 'ICMP') return;
    if (!((t.src.ip === src.ip && t.dst.ip === dst.ip) || (t.src.ip === dst.ip && t.dst.ip === src.ip))) return;
    const first = t.hops[0];
    if (first) delays.push(Number(now - BigInt(first.t)) / 1e6);
  });
  ws.send(JSON.stringify({ filter: { protocol: 'ICMP' } }));
  await ready;
  await execa('ip', ['netns', 'exec', src.netns, 'ping', '-q', '-c', String(pings), '-i', String(intervalS), dst.ip], { reject: false, timeout: (pings * intervalS + 30) * 1000 });
  await sleep(2000); // the last traces close after their grace (or the 1 s timeout)
  ws.close();
  delays.sort((a, b) => a - b);
  const q = (p: number) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))] ?? NaN;
  return { samples: delays.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: delays[delays.length - 1] ?? NaN, pingsSent: pings };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
