/**
 * IPv6 dual-stack on the real kernel: a 2-node x 2-pod `--ipv6` lab of the project's own, one real
 * `hopscope agent` (real bpftrace) per node, real IPv6 traffic. IPv6 pings take exactly the hop sequences IPv4
 * pings take, with canonical IPv6 addresses and pod names; a TCP connection over IPv6 is traced on both nodes
 * with one identity (flow label, ports, sequence); IPv6 route misses and ND failures are counted exactly,
 * against the node whose IPv6 Pod CIDR holds the address.
 */
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { flowSampled6 } from '../../src/probes/sample-hash6.js';
import type { Trace } from '../../src/trace/trace.js';
import { metric, scrape } from './support/metrics-text.js';
import { hopSequence, nsExec, startAgentProcess, startLab, TCP_ECHO, traces, waitFor, waitForTraces, type AgentProcess, type TestLab, ip } from './support/lab-agents.js';

const PREFIX = 'hs6';
let lab: TestLab | undefined;
let a1: AgentProcess;
let a2: AgentProcess;
const helpers: ResultPromise[] = [];

const POD11 = { netns: `${PREFIX}n1p1`, ip: '10.244.1.11', ip6: 'fd00:10:244:1::11' };
const POD12 = { netns: `${PREFIX}n1p2`, ip: '10.244.1.12', ip6: 'fd00:10:244:1::12' };
const POD21 = { netns: `${PREFIX}n2p1`, ip: '10.244.2.11', ip6: 'fd00:10:244:2::11' };
const POD22 = { netns: `${PREFIX}n2p2`, ip: '10.244.2.12', ip6: 'fd00:10:244:2::12' };

const echo6 = (src: string, dst: string) => (t: Trace) => t.protocol === 'ICMPv6' && t.src.ip === src && t.dst.ip === dst && t.packet.icmp_type === 128;
const echo4 = (src: string, dst: string) => (t: Trace) => t.protocol === 'ICMP' && t.src.ip === src && t.dst.ip === dst && t.packet.icmp_type === 8;
const ping6 = (netns: string, dst: string, count = 1) => nsExec(netns, 'ping', ['-6', '-c', String(count), '-i', '0.2', '-W', '2', dst]);
const ping4 = (netns: string, dst: string) => nsExec(netns, 'ping', ['-c', '1', '-W', '2', dst]);
const settle = () => new Promise((r) => setTimeout(r, 2500));

/** Waits until `read` reaches at least `target`, then returns what it read. */
async function reaches(read: () => Promise<number>, target: number, what: string, timeoutMs = 8000): Promise<number> {
  let last = NaN;
  try {
    return await waitFor(async () => ((last = await read()) >= target ? last : undefined), timeoutMs, what);
  } catch {
    throw new Error(`${what}: wanted >= ${target}, last read ${last}`);
  }
}

beforeAll(async () => {
  lab = await startLab(PREFIX, 2, 2, 0, { ipv6: true });
  // neighbour discovery across the lab first: a first packet that waits ~1 s for ND would look in-flight
  for (const from of [POD11, POD12, POD21, POD22]) {
    for (const to of [POD11, POD12, POD21, POD22]) if (from !== to) await ping6(from.netns, to.ip6);
  }
  [a1, a2] = await Promise.all([
    startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath, ['--sample', '1']),
    startAgentProcess('node-2', `${PREFIX}n2`, lab.inventoryPath, ['--sample', '1']),
  ]);
});

afterAll(async () => {
  for (const h of helpers) h.kill('SIGKILL');
  await Promise.all([a1?.stop(), a2?.stop()]);
  await lab?.down();
});

describe('IPv6 hop traces in a dual-stack 2x2 lab', () => {
  it('the lab is dual-stack: the inventory lists IPv6 Pod CIDRs and pod addresses beside the IPv4 ones', async () => {
    const inv = JSON.parse((await execa('cat', [lab!.inventoryPath])).stdout) as {
      nodes: { name: string; podCIDR: string; podCIDRs: string[] }[];
      pods: { name: string; ip: string; ips: string[] }[];
    };
    expect(inv.nodes.map((n) => [n.name, n.podCIDR, n.podCIDRs])).toEqual([
      ['node-1', '10.244.1.0/24', ['10.244.1.0/24', 'fd00:10:244:1::/64']],
      ['node-2', '10.244.2.0/24', ['10.244.2.0/24', 'fd00:10:244:2::/64']],
    ]);
    expect(inv.pods.find((p) => p.name === 'pod-1-1')).toMatchObject({ ip: POD11.ip, ips: [POD11.ip, POD11.ip6] });
    // IPv6 forwarding is on in the node namespaces only
    expect((await nsExec(`${PREFIX}n1`, 'sysctl', ['-n', 'net.ipv6.conf.all.forwarding'])).stdout.trim()).toBe('1');
    expect((await nsExec(POD11.netns, 'sysctl', ['-n', 'net.ipv6.conf.all.forwarding'])).stdout.trim()).toBe('0');
  });

  it('same-node IPv6 ping: pod eth0 -> veth -> other veth -> pod eth0, the same hops as IPv4', async () => {
    expect((await ping6(POD11.netns, POD12.ip6)).exitCode).toBe(0);
    expect((await ping4(POD11.netns, POD12.ip)).exitCode).toBe(0);
    const [t] = await waitForTraces(a1.url, echo6(POD11.ip6, POD12.ip6), 'same-node IPv6 echo request on node-1');
    const [t4] = await waitForTraces(a1.url, echo4(POD11.ip, POD12.ip), 'same-node IPv4 echo request on node-1');
    expect(hopSequence(t!)).toEqual(['pod:egress', 'veth:ingress', 'veth:egress', 'pod:ingress']);
    expect(t!.hops.map((h) => h.interface)).toEqual(['eth0', 'veth1p1', 'veth1p2', 'eth0']);
    expect(hopSequence(t4!)).toEqual(hopSequence(t!));
    expect(t!.hops.map((h) => h.interface)).toEqual(t4!.hops.map((h) => h.interface));
    expect(t).toMatchObject({
      node: 'node-1', protocol: 'ICMPv6', path: 'same-node', outcome: 'delivered',
      src: { ip: POD11.ip6, pod: 'pod-1-1', namespace: 'default', node: 'node-1' },
      dst: { ip: POD12.ip6, pod: 'pod-1-2', namespace: 'default', node: 'node-1' },
      packet: { ip_id: 0, icmp_type: 128, icmp_code: 0, payload_length: 64 },
    });
    expect(t!.packet.flow_label).toEqual(expect.any(Number));
    expect(t!.packet.icmp_echo).toEqual({ id: expect.any(Number), seq: 1 });
    for (const h of t!.hops) expect(h.delta_ns).toBeGreaterThanOrEqual(0);
    // the reply is traced too
    await waitForTraces(a1.url, (r) => r.protocol === 'ICMPv6' && r.src.ip === POD12.ip6 && r.dst.ip === POD11.ip6 && r.packet.icmp_type === 129 && r.outcome === 'delivered', 'IPv6 echo reply');
  });

  it('cross-node IPv6 ping: node 1 up to its uplink (forwarded), node 2 from its uplink (delivered), one packet identity', async () => {
    expect((await ping6(POD11.netns, POD21.ip6)).exitCode).toBe(0);
    expect((await ping4(POD11.netns, POD21.ip)).exitCode).toBe(0);
    const [out] = await waitForTraces(a1.url, echo6(POD11.ip6, POD21.ip6), 'cross-node IPv6 request on node-1');
    const [inb] = await waitForTraces(a2.url, echo6(POD11.ip6, POD21.ip6), 'cross-node IPv6 request on node-2');
    const [out4] = await waitForTraces(a1.url, echo4(POD11.ip, POD21.ip), 'cross-node IPv4 request on node-1');
    const [inb4] = await waitForTraces(a2.url, echo4(POD11.ip, POD21.ip), 'cross-node IPv4 request on node-2');
    expect(hopSequence(out!)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress', 'uplink:egress']);
    expect(out!.hops.map((h) => h.interface)).toEqual(['eth0', 'veth1p1', 'cni0', 'eth0']);
    expect(hopSequence(inb!)).toEqual(['uplink:ingress', 'bridge:egress', 'veth:egress', 'pod:ingress']);
    expect(inb!.hops.map((h) => h.interface)).toEqual(['eth0', 'cni0', 'veth2p1', 'eth0']);
    expect(hopSequence(out4!)).toEqual(hopSequence(out!));
    // the receiving half may already be stitched with the sender's (the agents do not peer here: it is not)
    expect(hopSequence(inb4!)).toEqual(hopSequence(inb!));
    expect(out).toMatchObject({ node: 'node-1', protocol: 'ICMPv6', path: 'cross-node', outcome: 'forwarded', dst: { ip: POD21.ip6, pod: 'pod-2-1', node: 'node-2' } });
    expect(inb).toMatchObject({ node: 'node-2', protocol: 'ICMPv6', path: 'cross-node', outcome: 'delivered', src: { ip: POD11.ip6, pod: 'pod-1-1', node: 'node-1' } });
    // the two halves are the same packet: flow label and echo id/seq
    expect(inb!.packet.flow_label).toBe(out!.packet.flow_label);
    expect(inb!.packet.icmp_echo).toEqual(out!.packet.icmp_echo);
  });

  it('a TCP connection over IPv6 across nodes: SYN and data traced on both nodes with the same identity', async () => {
    const server = execa('ip', ['netns', 'exec', POD22.netns, process.execPath, TCP_ECHO, 'server', '8086', '::'], { reject: false, buffer: false });
    helpers.push(server);
    await waitFor(async () => (await nsExec(POD12.netns, process.execPath, [TCP_ECHO, 'client', POD22.ip6, '8086'])).exitCode === 0, 10_000, 'TCP echo over IPv6 across nodes');
    const syn = (t: Trace) => t.protocol === 'TCP' && t.src.ip === POD12.ip6 && t.dst.ip === POD22.ip6 && t.dst.port === 8086 && t.packet.tcp_flags === 'SYN';
    const [syn1] = await waitForTraces(a1.url, syn, 'IPv6 SYN on node-1');
    // the same SYN on node-2, by its sequence number: a retried connect leaves older SYNs, and the newest one's
    // node-2 trace may close after this read
    const [syn2] = await waitForTraces(a2.url, (t) => syn(t) && t.packet.tcp_seq === syn1!.packet.tcp_seq, 'the same IPv6 SYN on node-2');
    expect(hopSequence(syn1!)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress', 'uplink:egress']);
    expect(hopSequence(syn2!)).toEqual(['uplink:ingress', 'bridge:egress', 'veth:egress', 'pod:ingress']);
    expect(syn1).toMatchObject({ path: 'cross-node', outcome: 'forwarded', src: { pod: 'pod-1-2' }, dst: { pod: 'pod-2-2', port: 8086 } });
    expect(syn2!.packet.tcp_seq).toBe(syn1!.packet.tcp_seq);
    expect(syn2!.packet.flow_label).toBe(syn1!.packet.flow_label);
    const data = (t: Trace) => t.protocol === 'TCP' && t.src.ip === POD12.ip6 && t.dst.port === 8086 && (t.packet.tcp_flags ?? '').includes('PSH');
    const [d1] = await waitForTraces(a1.url, data, 'IPv6 data on node-1');
    expect(d1!.packet.payload_length).toBeGreaterThan(400);
    server.kill('SIGKILL');
  });
});

describe('IPv6 kernel-side sampling', () => {
  it('the default 1-in-64 flow sampling takes an IPv6 flow in both directions or not at all (symmetric hash); SYNs always', async () => {
    const sampler = await startAgentProcess('node-1', `${PREFIX}n1`, lab!.inventoryPath); // default --sample 64
    const server = execa('ip', ['netns', 'exec', POD22.netns, process.execPath, TCP_ECHO, 'server', '8087', '::'], { reject: false, buffer: false });
    helpers.push(server);
    try {
      const ports = Array.from({ length: 2000 }, (_, i) => 41000 + i);
      const inPort = ports.find((p) => flowSampled6(POD12.ip6, POD22.ip6, p, 8087, 6, 64))!;
      const outPort = ports.find((p) => !flowSampled6(POD12.ip6, POD22.ip6, p, 8087, 6, 64))!;
      // the same decision from the other direction's point of view
      expect(flowSampled6(POD22.ip6, POD12.ip6, 8087, inPort, 6, 64)).toBe(true);
      for (const port of [inPort, outPort]) {
        await waitFor(async () => (await nsExec(POD12.netns, process.execPath, [TCP_ECHO, 'client', POD22.ip6, '8087', '0', String(port)])).exitCode === 0, 10_000, `TCP echo from port ${port}`);
      }
      const of = (port: number) => (t: Trace) => t.protocol === 'TCP' && ((t.src.port === port && t.dst.port === 8087) || (t.src.port === 8087 && t.dst.port === port));
      const data = (t: Trace) => (t.packet.tcp_flags ?? '').includes('PSH');
      const sampled = await waitFor(async () => {
        const found = (await traces(sampler.url)).filter(of(inPort)).filter(data);
        return found.some((t) => t.src.port === inPort) && found.some((t) => t.src.port === 8087) ? found : undefined;
      }, 10_000, 'data of the sampled IPv6 flow in both directions');
      expect(sampled.every((t) => t.src.ip === POD12.ip6 || t.src.ip === POD22.ip6)).toBe(true);
      await settle();
      const other = (await traces(sampler.url)).filter(of(outPort));
      expect(other.filter(data)).toEqual([]);
      expect(other.some((t) => t.packet.tcp_flags === 'SYN')).toBe(true);
    } finally {
      server.kill('SIGKILL');
      await sampler.stop();
    }
  });
});

describe('IPv6 trace on demand', () => {
  it('trace_all for a dual-stack pod widens IPv6 too: every packet of an unsampled IPv6 flow while it lasts, none after', async () => {
    const sampler = await startAgentProcess('node-1', `${PREFIX}n1`, lab!.inventoryPath); // default --sample 64
    const server = execa('ip', ['netns', 'exec', POD22.netns, process.execPath, TCP_ECHO, 'server', '8088', '::'], { reject: false, buffer: false });
    helpers.push(server);
    const ws = new WebSocket(`${sampler.url.replace('http', 'ws')}/api/v1/stream`);
    try {
      const [during, after] = Array.from({ length: 2000 }, (_, i) => 42000 + i).filter((p) => !flowSampled6(POD12.ip6, POD22.ip6, p, 8088, 6, 64));
      const of = (port: number) => (t: Trace) => t.protocol === 'TCP' && ((t.src.port === port && t.dst.port === 8088) || (t.src.port === 8088 && t.dst.port === port));
      const data = (t: Trace) => (t.packet.tcp_flags ?? '').includes('PSH');
      const exchange = (port: number) => waitFor(async () => (await nsExec(POD12.netns, process.execPath, [TCP_ECHO, 'client', POD22.ip6, '8088', '0', String(port)])).exitCode === 0, 10_000, `TCP echo from port ${port}`);

      const answers: Record<string, unknown>[] = [];
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as Record<string, unknown>;
        if (m['type'] === 'subscribed') answers.push(m);
      });
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ filter: {}, trace_all: { pod: 'default/pod-1-2', seconds: 4 } }));
      await waitFor(async () => answers.length > 0, 5000, 'the subscription answer');
      expect(answers[0]).toMatchObject({ granted: { ip: POD12.ip, ips: [POD12.ip, POD12.ip6] } });
      await exchange(during!);
      const widened = await waitFor(async () => {
        const found = (await traces(sampler.url)).filter(of(during!)).filter(data);
        return found.some((t) => t.src.port === during) && found.some((t) => t.src.port === 8088) ? found : undefined;
      }, 10_000, 'data of the unsampled IPv6 flow while widened');
      // IPv6 traces (a flow label, the pods' IPv6 addresses), both ways
      expect(widened.every((t) => typeof t.packet.flow_label === 'number' && [POD12.ip6, POD22.ip6].includes(t.src.ip))).toBe(true);
      expect(new Set(widened.map((t) => t.src.ip)).size).toBe(2);

      await new Promise((r) => setTimeout(r, 4500)); // the widening ends
      await exchange(after!);
      await settle();
      const seenAfter = (await traces(sampler.url)).filter(of(after!));
      expect(seenAfter.some((t) => t.packet.tcp_flags === 'SYN')).toBe(true);
      expect(seenAfter.filter(data)).toEqual([]);
    } finally {
      ws.close();
      server.kill('SIGKILL');
      await sampler.stop();
    }
  });
});

describe('IPv6 route misses and neighbour failures, counted on the right node', () => {
  const miss = (reason: string, destination: string) => metric(a1.url, 'hopscope_route_misses_total', { node: 'node-1', reason, destination_node: destination });

  it('5 pings with node 1\'s route to node 2\'s IPv6 Pod CIDR removed: exactly +5 against node-2, route-miss traces', async () => {
    const before = await miss('no-route', 'node-2');
    const other = await metric(a2.url, 'hopscope_route_misses_total', { node: 'node-2', reason: 'no-route', destination_node: 'node-2' });
    const drops0 = await metric(a1.url, 'hopscope_drops_total', { node: 'node-1', reason: 'IP_INNOROUTES' });
    await ip(`${PREFIX}n1`, '-6', 'route', 'del', 'fd00:10:244:2::/64');
    try {
      expect((await ping6(POD11.netns, POD21.ip6, 5)).exitCode).not.toBe(0);
    } finally {
      await ip(`${PREFIX}n1`, '-6', 'route', 'add', 'fd00:10:244:2::/64', 'via', 'fd00:192:168:254::2', 'dev', 'eth0');
    }
    await reaches(() => miss('no-route', 'node-2'), before + 5, 'IPv6 route misses toward node-2');
    const found = await waitFor(async () => {
      const t = (await traces(a1.url, '&outcome=route-miss')).filter((x) => x.dst.ip === POD21.ip6);
      return t.length >= 5 ? t : undefined;
    }, 5000, '5 IPv6 route-miss traces');
    for (const t of found) {
      expect(hopSequence(t)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress']);
      expect(t).toMatchObject({ protocol: 'ICMPv6', path: 'unrouted', outcome: 'route-miss', reason: 'IP_INNOROUTES', dst: { ip: POD21.ip6, node: 'node-2' } });
    }
    // restored: growth stops
    expect((await ping6(POD11.netns, POD21.ip6, 3)).exitCode).toBe(0);
    await settle();
    expect(await miss('no-route', 'node-2')).toBe(before + 5);
    expect(await metric(a1.url, 'hopscope_drops_total', { node: 'node-1', reason: 'IP_INNOROUTES' })).toBe(drops0 + 5);
    expect(await metric(a2.url, 'hopscope_route_misses_total', { node: 'node-2', reason: 'no-route', destination_node: 'node-2' })).toBe(other);
  });

  it('a prohibit route counts as prohibit; an address in no IPv6 Pod CIDR counts against none', async () => {
    const p0 = await miss('prohibit', 'node-2');
    const n0 = await miss('no-route', 'node-2');
    const none0 = await miss('no-route', 'none');
    try {
      await ip(`${PREFIX}n1`, '-6', 'route', 'replace', 'prohibit', 'fd00:10:244:2::/64');
      await ping6(POD11.netns, POD21.ip6, 3);
    } finally {
      await ip(`${PREFIX}n1`, '-6', 'route', 'replace', 'fd00:10:244:2::/64', 'via', 'fd00:192:168:254::2', 'dev', 'eth0');
    }
    await ping6(POD12.netns, 'fd00:99::1', 2);
    await reaches(() => miss('prohibit', 'node-2'), p0 + 3, 'IPv6 prohibit misses');
    await reaches(() => miss('no-route', 'none'), none0 + 2, 'IPv6 misses to no node');
    await settle();
    expect(await miss('prohibit', 'node-2')).toBe(p0 + 3);
    expect(await miss('no-route', 'node-2')).toBe(n0);
    expect(await miss('no-route', 'none')).toBe(none0 + 2);
  });

  it('ND for an absent address in node 1\'s IPv6 Pod CIDR fails on node 1\'s bridge, counted once, on node 1 only', async () => {
    const nf = (url: string, node: string) => metric(url, 'hopscope_neighbor_failures_total', { node, interface_kind: 'bridge' });
    const n1 = await nf(a1.url, 'node-1');
    const n2 = await nf(a2.url, 'node-2');
    await ping6(POD21.netns, 'fd00:10:244:1::77');
    await reaches(() => nf(a1.url, 'node-1'), n1 + 1, 'node-1 IPv6 neighbour failure', 10_000);
    await settle();
    expect(await nf(a1.url, 'node-1')).toBe(n1 + 1);
    expect(await nf(a2.url, 'node-2')).toBe(n2);
  });

  it('exposes the IPv6 traffic in the metrics, without decode errors', async () => {
    const text = await scrape(a1.url);
    expect(Number(/hopscope_traced_packets_total\{node="node-1",path="same-node"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/hopscope_traced_packets_total\{node="node-1",path="unrouted"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(5);
    const errors = await Promise.all(['hops', 'drops', 'neigh'].map(async (probe) => [probe, await metric(a1.url, 'hopscope_decode_errors_total', { probe })] as const));
    // none: not even bpftrace 0.17's own "Attaching N probes..." banner, which it prints on stdout at start
    for (const [probe, n] of errors) expect([probe, n]).toEqual([probe, 0]);
    expect(await metric(a1.url, 'hopscope_probe_up', { probe: 'drops' })).toBe(1);
    const ipv6Flows = (await (await fetch(`${a1.url}/api/v1/flows`)).json()) as { flows: { src: { ip: string }; protocol: string }[] };
    expect(ipv6Flows.flows.some((f) => f.protocol === 'ICMPv6' && f.src.ip === POD11.ip6)).toBe(true);
  });
});
