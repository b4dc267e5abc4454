/**
 * The live stream on the real kernel: trace on demand widens the kernel's selection for one TCP flow that the
 * default sampling skips, delivers every packet of it to the subscriber, and the selection is back to the
 * default afterwards; `hopscope watch` prints a ping's trace as it happens.
 */
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { flowSampled } from '../../src/probes/sample-hash.js';
import type { Trace } from '../../src/trace/trace.js';
import { CLI, nsExec, startAgentProcess, startLab, TCP_ECHO, traces, waitFor, type AgentProcess, type TestLab } from './support/lab-agents.js';

const PREFIX = 'ht';
const CLIENT = { netns: `${PREFIX}n1p2`, ip: '10.244.1.12' };
const SERVER = { netns: `${PREFIX}n2p2`, ip: '10.244.2.12', port: 8080 };
let lab: TestLab | undefined;
let agent: AgentProcess;
/** Traces every packet (--sample 1): what "every packet of the flow" is. */
let reference: AgentProcess;
let server: ResultPromise | undefined;

beforeAll(async () => {
  lab = await startLab(PREFIX);
  [agent, reference] = await Promise.all([
    startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath),
    startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath, ['--sample', '1']),
  ]);
  server = execa('ip', ['netns', 'exec', SERVER.netns, process.execPath, TCP_ECHO, 'server', String(SERVER.port)], { reject: false, buffer: false });
  await waitFor(async () => (await nsExec(CLIENT.netns, process.execPath, [TCP_ECHO, 'client', SERVER.ip, String(SERVER.port)])).exitCode === 0, 10_000, 'echo server');
});

afterAll(async () => {
  server?.kill('SIGKILL');
  await Promise.all([agent?.stop(), reference?.stop()]);
  await lab?.down();
});

/** Local ports whose flow to the server the default sampling (1 in 64) does not select. */
function unsampledPorts(count: number, from: number): number[] {
  const out: number[] = [];
  for (let p = from; out.length < count; p++) if (!flowSampled(CLIENT.ip, SERVER.ip, p, SERVER.port, 6, 64)) out.push(p);
  return out;
}

const ofFlow = (port: number) => (t: Trace) =>
  t.protocol === 'TCP' && ((t.src.port === port && t.dst.port === SERVER.port) || (t.src.port === SERVER.port && t.dst.port === port));
/** A segment only sampling or a widening selects: no SYN, FIN or RST. */
const plain = (t: Trace) => !/SYN|FIN|RST/.test(t.packet.tcp_flags ?? '');

async function exchange(localPort: number): Promise<void> {
  const r = await nsExec(CLIENT.netns, process.execPath, [TCP_ECHO, 'client', SERVER.ip, String(SERVER.port), '0', String(localPort)]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
}

describe('trace on demand', () => {
  it('widens the selection to every packet of one flow for a while, then restores the default', async () => {
    const [before, during, after] = unsampledPorts(3, 41000);
    // default: only the handshake and teardown of an unsampled flow are traced
    await exchange(before!);
    await new Promise((r) => setTimeout(r, 1500));
    const seenBefore = (await traces(agent.url)).filter(ofFlow(before!));
    expect(seenBefore.some((t) => t.packet.tcp_flags === 'SYN')).toBe(true);
    expect(seenBefore.filter(plain)).toEqual([]);

    const ws = new WebSocket(`${agent.url.replace('http', 'ws')}/api/v1/stream`);
    const received: Trace[] = [];
    const answers: Record<string, unknown>[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Record<string, unknown>;
      if (m['type'] === 'trace') received.push(m['trace'] as Trace);
      if (m['type'] === 'subscribed') answers.push(m);
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ filter: { protocol: 'TCP' }, trace_all: { ip: SERVER.ip, port: SERVER.port, seconds: 4 } }));
    await waitFor(async () => answers.length > 0, 5000, 'the subscription answer');
    expect(answers[0]).toMatchObject({ granted: { ip: SERVER.ip, port: SERVER.port, budget_events_per_s: 5000 } });

    await exchange(during!);
    await waitFor(async () => received.filter(ofFlow(during!)).length >= 10, 5000, 'every packet of the widened flow');
    await new Promise((r) => setTimeout(r, 500));
    const flow = received.filter(ofFlow(during!));
    const kinds = (from: number) => flow.filter((t) => t.src.port === from).map((t) => t.packet.tcp_flags);
    // the client's side: SYN, ACK, data, ACKs, FIN; the server's: SYN|ACK, data, ACK, FIN
    expect(kinds(during!)).toContain('SYN');
    expect(kinds(during!).some((f) => f === 'ACK|PSH')).toBe(true);
    expect(kinds(SERVER.port)).toContain('SYN|ACK');
    expect(kinds(SERVER.port).some((f) => f === 'ACK|PSH')).toBe(true);
    expect(flow.filter(plain).length).toBeGreaterThanOrEqual(4);
    // every packet: exactly the packets the --sample 1 agent saw of this flow, each crossing node-1's 4 hops
    const id = (t: Trace) => `${t.src.port}>${t.dst.port}#${t.packet.ip_id}`;
    const all = (await traces(reference.url)).filter(ofFlow(during!));
    expect(flow.map(id).sort()).toEqual(all.map(id).sort());
    for (const t of flow) expect(t.hops.length).toBe(4);
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toMatch(/hopscope_events_lost_total\{probe="hops"\} 0/);

    // the widening ends: back to the default selection
    await new Promise((r) => setTimeout(r, 4500));
    await exchange(after!);
    await new Promise((r) => setTimeout(r, 1500));
    const seenAfter = (await traces(agent.url)).filter(ofFlow(after!));
    expect(seenAfter.some((t) => t.packet.tcp_flags === 'SYN')).toBe(true);
    expect(seenAfter.filter(plain)).toEqual([]);
    ws.close();
  });

  it('refuses a second client while one widening is active', async () => {
    const open = async () => {
      const ws = new WebSocket(`${agent.url.replace('http', 'ws')}/api/v1/stream`);
      const answers: Record<string, unknown>[] = [];
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as Record<string, unknown>;
        if (m['type'] === 'subscribed') answers.push(m);
      });
      await new Promise((r) => ws.once('open', r));
      return { ws, answers };
    };
    const a = await open();
    const b = await open();
    a.ws.send(JSON.stringify({ filter: {}, trace_all: { pod: 'default/pod-1-1', seconds: 2 } }));
    await waitFor(async () => a.answers.length > 0, 5000, 'first answer');
    expect(a.answers[0]).toMatchObject({ granted: { ip: '10.244.1.11' } });
    b.ws.send(JSON.stringify({ filter: {}, trace_all: { ip: '10.244.1.12', seconds: 2 } }));
    await waitFor(async () => b.answers.length > 0, 5000, 'second answer');
    expect(String(b.answers[0]!['refused'])).toContain('another client');
    a.ws.close();
    b.ws.close();
  });
});

describe('hopscope watch', () => {
  it('prints a ping\'s trace as JSON within 2 s of the ping', async () => {
    const watch = execa(process.execPath, [CLI, 'watch', '--agent', agent.url, '--pod', 'default/pod-1-1', '--json', '--count', '2'], { reject: false, buffer: false });
    let stdout = '';
    let stderr = '';
    watch.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    watch.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await waitFor(async () => stderr.includes('connected to'), 10_000, 'watch to connect');
      const pingedAt = Date.now();
      const ping = nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '1', '-W', '2', '10.244.1.12']);
      await waitFor(async () => stdout.includes('\n'), 2000, 'the first trace line within 2 s');
      const delayMs = Date.now() - pingedAt;
      expect((await ping).exitCode).toBe(0);
      const first = JSON.parse(stdout.split('\n')[0]!) as Trace;
      expect(first).toMatchObject({ protocol: 'ICMP', path: 'same-node', outcome: 'delivered', src: { pod: 'pod-1-1' }, dst: { pod: 'pod-1-2' } });
      expect(first.hops.map((h) => `${h.kind}:${h.direction}`)).toEqual(['pod:egress', 'veth:ingress', 'veth:egress', 'pod:ingress']);
      console.log(`watch: ping to printed trace in ${delayMs} ms`);
      const result = await watch;
      expect(result.exitCode).toBe(0);
      const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Trace);
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatchObject({ src: { pod: 'pod-1-2' }, dst: { pod: 'pod-1-1' } });
    } finally {
      if (watch.exitCode === null) watch.kill('SIGKILL');
    }
  });
});
