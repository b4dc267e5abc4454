/**
 * Across nodes on the real kernel: a 2-node lab whose underlay delays every frame by 10 ms one way, one agent
 * per node linked as peers. Stitched traces hold every hop of both nodes in order; the one-way latency between
 * the nodes is measured from real traffic, also when one node's clock is 300 ms off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultPromise } from 'execa';
import { execa } from 'execa';
import type { Trace } from '../../src/trace/trace.js';
import { metric, scrape } from './support/metrics-text.js';
import { freePort, nsExec, startAgentProcess, startLab, TCP_ECHO, traces, waitFor, waitForPeerLinks, type AgentProcess, type TestLab } from './support/lab-agents.js';

const PREFIX = 'hx';
const DELAY_MS = 10;
let lab: TestLab | undefined;
let a1: AgentProcess;
let a2: AgentProcess;
let server: ResultPromise | undefined;
const SKEW_MS = 300;

beforeAll(async () => {
  lab = await startLab(PREFIX, 2, 2, DELAY_MS);
  const [p1, p2] = [await freePort(), await freePort()];
  [a1, a2] = await Promise.all([
    startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath, ['--listen', `127.0.0.1:${p1}`, '--peer', `node-2=http://127.0.0.1:${p2}`]),
    // node-2's clock is off by 300 ms: the estimate must not move
    startAgentProcess('node-2', `${PREFIX}n2`, lab.inventoryPath, ['--listen', `127.0.0.1:${p2}`, '--peer', `node-1=http://127.0.0.1:${p1}`, '--test-clock-offset-ms', String(SKEW_MS)]),
  ]);
  await waitForPeerLinks([a1, a2], 'both peer links');
  server = execa('ip', ['netns', 'exec', `${PREFIX}n2p2`, process.execPath, TCP_ECHO, 'server', '8080'], { reject: false, buffer: false });
});

afterAll(async () => {
  server?.kill('SIGKILL');
  await Promise.all([a1?.stop(), a2?.stop()]);
  await lab?.down();
});

const seq = (t: Trace) => t.hops.map((h) => `${h.node}:${h.kind}:${h.direction}`);

describe('stitched cross-node traces', () => {
  it('an ICMP echo and its reply each give one trace with every hop of both nodes, in order', async () => {
    expect((await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '5', '-i', '0.2', '10.244.2.11'])).exitCode).toBe(0);
    const [req] = await waitForStitched(a2.url, (t) => t.src.ip === '10.244.1.11' && t.packet.icmp_type === 8);
    expect(seq(req!)).toEqual([
      'node-1:pod:egress', 'node-1:veth:ingress', 'node-1:bridge:ingress', 'node-1:uplink:egress',
      'node-2:uplink:ingress', 'node-2:bridge:egress', 'node-2:veth:egress', 'node-2:pod:ingress',
    ]);
    expect(req).toMatchObject({ node: 'node-2', path: 'cross-node', outcome: 'delivered', src: { pod: 'pod-1-1', node: 'node-1' }, dst: { pod: 'pod-2-1', node: 'node-2' } });
    const [reply] = await waitForStitched(a1.url, (t) => t.src.ip === '10.244.2.11' && t.packet.icmp_type === 0);
    expect(seq(reply!)).toEqual([
      'node-2:pod:egress', 'node-2:veth:ingress', 'node-2:bridge:ingress', 'node-2:uplink:egress',
      'node-1:uplink:ingress', 'node-1:bridge:egress', 'node-1:veth:egress', 'node-1:pod:ingress',
    ]);
    for (const t of [req!, reply!]) {
      for (const h of t.hops) expect(h.delta_ns).toBeGreaterThanOrEqual(0);
      expect(t.latency_ns).toBe(t.hops.reduce((s, h) => s + h.delta_ns, 0));
    }
  });

  it('a TCP connection with payload is stitched in both directions', async () => {
    await waitFor(async () => (await nsExec(`${PREFIX}n1p2`, process.execPath, [TCP_ECHO, 'client', '10.244.2.12', '8080'])).exitCode === 0, 10_000, 'TCP echo across the delayed underlay');
    const [syn] = await waitForStitched(a2.url, (t) => t.protocol === 'TCP' && t.dst.port === 8080 && t.packet.tcp_flags === 'SYN');
    expect(syn!.hops).toHaveLength(8);
    const [synAck] = await waitForStitched(a1.url, (t) => t.protocol === 'TCP' && t.src.port === 8080 && t.packet.tcp_flags === 'SYN|ACK');
    expect(synAck!.hops.map((h) => h.node)).toEqual(['node-2', 'node-2', 'node-2', 'node-2', 'node-1', 'node-1', 'node-1', 'node-1']);
  });
});

describe('cross-node latency', () => {
  it('one-way median within 10 % of the 10 ms delay, although node-2\'s clock is 300 ms off; the offset is found', async () => {
    // traffic both ways for a few seconds
    await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '15', '-i', '0.2', '10.244.2.11']);
    await nsExec(`${PREFIX}n2p1`, 'ping', ['-c', '15', '-i', '0.2', '10.244.1.11']);
    for (const [url, source, destination] of [[a2.url, 'node-1', 'node-2'], [a1.url, 'node-2', 'node-1']] as const) {
      const stitched = (await traces(url, '&path=cross-node')).filter((t) => t.cross_node?.method === 'one-way' && t.cross_node.source_node === source);
      expect(stitched.length).toBeGreaterThanOrEqual(10);
      const transits = stitched.map((t) => t.cross_node!.transit_ns).sort((x, y) => x - y);
      const median = transits[Math.floor(transits.length / 2)]!;
      expect(Math.abs(median - DELAY_MS * 1e6) / (DELAY_MS * 1e6)).toBeLessThan(0.1);
      // the exported histogram says the same: its median, from the buckets, within 10 %
      const text = await scrape(url);
      const count = await metric(url, 'hopscope_cross_node_latency_seconds_count', { source_node: source, destination_node: destination, method: 'one-way' });
      expect(count).toBeGreaterThanOrEqual(10);
      const p50 = histogramQuantile(0.5, text, { source_node: source, destination_node: destination, method: 'one-way' });
      expect(Math.abs(p50 - DELAY_MS / 1000) / (DELAY_MS / 1000)).toBeLessThan(0.1);
      // the error bound is stated, and the offset is what was injected
      const t = stitched[0]!;
      expect(t.cross_node!.error_ns).toBeGreaterThan(0);
      expect(t.hops.find((h, i) => i > 0 && h.node !== t.hops[i - 1]!.node)?.delta_error_ns).toBe(t.cross_node!.error_ns);
    }
    const peers = ((await (await fetch(`${a1.url}/api/v1/peers`)).json()) as { peers: { offsetNs: number; errorNs: number }[] }).peers;
    // node-2's clock minus node-1's: the injected 300 ms, within the stated bound (+ the bound of the clocks' own reading)
    expect(Math.abs(peers[0]!.offsetNs - SKEW_MS * 1e6)).toBeLessThanOrEqual(peers[0]!.errorNs + 1e6);
    console.log(`offset estimate ${(peers[0]!.offsetNs / 1e6).toFixed(3)} ms +/- ${(peers[0]!.errorNs / 1e6).toFixed(3)} ms`);
  });
});

async function waitForStitched(url: string, match: (t: Trace) => boolean): Promise<Trace[]> {
  return waitFor(async () => {
    const found = (await traces(url, '&path=cross-node')).filter((t) => t.hops.length === 8 && match(t));
    return found.length > 0 ? found : undefined;
  }, 10_000, 'a stitched trace');
}

/** histogram_quantile as Prometheus computes it, over one series' buckets in an exposition. */
function histogramQuantile(q: number, text: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const buckets: [number, number][] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('hopscope_cross_node_latency_seconds_bucket{') || !want.every((w) => line.includes(w))) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    buckets.push([le === '+Inf' ? Infinity : Number(le), Number(line.split(' ').pop())]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const total = buckets[buckets.length - 1]![1];
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) return le === Infinity ? prevLe : prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    prevLe = le;
    prevCount = count;
  }
  return NaN;
}
