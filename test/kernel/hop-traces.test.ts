/**
 * Hop traces on the real kernel: a 2-node x 2-pod lab of the project's own, one real `hopscope agent` (real
 * bpftrace) per node, real traffic, exact hop sequences.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultPromise } from 'execa';
import type { Trace } from '../../src/trace/trace.js';
import {
  bpfProgramIds, bpfPrograms, childPids, hopSequence, isAlive, nsExec, startAgentProcess, startLab, TCP_ECHO, tracepointPrograms, traces, waitFor, waitForTraces,
  type AgentProcess, type TestLab,
} from './support/lab-agents.js';
import { execa } from 'execa';
import { PROBE_GROUPS } from '../../src/probes/probe-catalog.js';

const PREFIX = 'hk';
let lab: TestLab | undefined;
let agent1: AgentProcess;
let agent2: AgentProcess;
const helpers: ResultPromise[] = [];

const POD11 = { netns: `${PREFIX}n1p1`, ip: '10.244.1.11' };
const POD12 = { netns: `${PREFIX}n1p2`, ip: '10.244.1.12' };
const POD21 = { netns: `${PREFIX}n2p1`, ip: '10.244.2.11' };
const POD22 = { netns: `${PREFIX}n2p2`, ip: '10.244.2.12' };

const isEchoRequest = (src: string, dst: string) => (t: Trace) =>
  t.protocol === 'ICMP' && t.src.ip === src && t.dst.ip === dst && t.packet.icmp_type === 8;

beforeAll(async () => {
  lab = await startLab(PREFIX);
  [agent1, agent2] = await Promise.all([
    startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath, ['--sample', '1']),
    startAgentProcess('node-2', `${PREFIX}n2`, lab.inventoryPath, ['--sample', '1']),
  ]);
});

afterAll(async () => {
  for (const h of helpers) h.kill('SIGKILL');
  await Promise.all([agent1?.stop(), agent2?.stop()]);
  await lab?.down();
});

describe('hop traces in a 2x2 lab', () => {
  it('same-node ping: pod eth0 -> veth -> other veth -> pod eth0, delivered, pods named', async () => {
    const ping = await nsExec(POD11.netns, 'ping', ['-c', '1', '-W', '2', POD12.ip]);
    expect(ping.exitCode).toBe(0);
    const [t] = await waitForTraces(agent1.url, isEchoRequest(POD11.ip, POD12.ip), 'same-node echo request on node-1');
    expect(hopSequence(t!)).toEqual(['pod:egress', 'veth:ingress', 'veth:egress', 'pod:ingress']);
    expect(t!.hops.map((h) => h.interface)).toEqual(['eth0', 'veth1p1', 'veth1p2', 'eth0']);
    expect(t).toMatchObject({
      node: 'node-1', path: 'same-node', outcome: 'delivered',
      src: { pod: 'pod-1-1', namespace: 'default', node: 'node-1' }, dst: { pod: 'pod-1-2', namespace: 'default', node: 'node-1' },
    });
    for (const h of t!.hops) {
      expect(h.delta_ns).toBeGreaterThanOrEqual(0);
      expect(h.node).toBe('node-1');
    }
    expect(t!.latency_ns).toBe(t!.hops.reduce((s, h) => s + h.delta_ns, 0));
    // wall-clock times: within a minute of now
    expect(Math.abs(Number(BigInt(t!.hops[0]!.t) / 1_000_000n) - Date.now())).toBeLessThan(60_000);
    // the reply is traced too
    await waitForTraces(agent1.url, (r) => r.src.ip === POD12.ip && r.dst.ip === POD11.ip && r.packet.icmp_type === 0 && r.outcome === 'delivered', 'echo reply');
  });

  it('cross-node ping: node 1 up to its uplink (forwarded), node 2 from its uplink (delivered)', async () => {
    const ping = await nsExec(POD11.netns, 'ping', ['-c', '1', '-W', '2', POD21.ip]);
    expect(ping.exitCode).toBe(0);
    const [out] = await waitForTraces(agent1.url, isEchoRequest(POD11.ip, POD21.ip), 'cross-node request on node-1');
    const [inb] = await waitForTraces(agent2.url, isEchoRequest(POD11.ip, POD21.ip), 'cross-node request on node-2');
    expect(hopSequence(out!)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress', 'uplink:egress']);
    expect(out!.hops.map((h) => h.interface)).toEqual(['eth0', 'veth1p1', 'cni0', 'eth0']);
    expect(out).toMatchObject({ node: 'node-1', path: 'cross-node', outcome: 'forwarded', dst: { pod: 'pod-2-1', node: 'node-2' } });
    expect(hopSequence(inb!)).toEqual(['uplink:ingress', 'bridge:egress', 'veth:egress', 'pod:ingress']);
    expect(inb!.hops.map((h) => h.interface)).toEqual(['eth0', 'cni0', 'veth2p1', 'eth0']);
    expect(inb).toMatchObject({ node: 'node-2', path: 'cross-node', outcome: 'delivered', src: { pod: 'pod-1-1', node: 'node-1' } });
    // the two halves are the same packet
    expect(inb!.packet.ip_id).toBe(out!.packet.ip_id);
    expect(inb!.packet.icmp_echo).toEqual(out!.packet.icmp_echo);
    for (const h of [...out!.hops, ...inb!.hops]) expect(h.delta_ns).toBeGreaterThanOrEqual(0);
  });

  it('neither agent records a hop in the other node\'s namespaces', async () => {
    const ping = await nsExec(POD21.netns, 'ping', ['-c', '1', '-W', '2', POD22.ip]);
    expect(ping.exitCode).toBe(0);
    await waitForTraces(agent2.url, isEchoRequest(POD21.ip, POD22.ip), 'same-node ping on node-2');
    const all1 = await traces(agent1.url);
    expect(all1.filter((t) => t.src.ip === POD21.ip && t.dst.ip === POD22.ip)).toEqual([]);
    const all2 = await traces(agent2.url);
    const names1 = new Set(all1.flatMap((t) => t.hops.map((h) => h.interface)));
    const names2 = new Set(all2.flatMap((t) => t.hops.map((h) => h.interface)));
    expect([...names1].filter((n) => n.startsWith('veth2') || /^n\d$/.test(n))).toEqual([]);
    expect([...names2].filter((n) => n.startsWith('veth1') || /^n\d$/.test(n))).toEqual([]);
    expect(all1.every((t) => t.hops.every((h) => h.node === 'node-1'))).toBe(true);
  });

  it('same-pod: two endpoints on 127.0.0.1 inside one pod give path same-pod over lo', async () => {
    const server = execa('ip', ['netns', 'exec', POD12.netns, process.execPath, TCP_ECHO, 'server', '7000'], { reject: false, buffer: false });
    helpers.push(server);
    await waitFor(async () => (await nsExec(POD12.netns, process.execPath, [TCP_ECHO, 'client', '127.0.0.1', '7000'])).exitCode === 0, 10_000, 'echo over lo');
    const overLo = (t: Trace) => t.protocol === 'TCP' && t.dst.ip === '127.0.0.1' && t.dst.port === 7000;
    // the SYN's trace can close after a later segment's (a retried connect): wait for it rather than read once
    await waitForTraces(agent1.url, (t) => overLo(t) && t.packet.tcp_flags === 'SYN', 'the SYN over lo');
    const found = (await traces(agent1.url)).filter(overLo);
    expect(found.some((t) => t.packet.tcp_flags === 'SYN')).toBe(true);
    for (const t of found) {
      expect(t.hops.map((h) => `${h.kind}:${h.direction}:${h.interface}`)).toEqual(['pod:egress:lo', 'pod:ingress:lo']);
      expect(t).toMatchObject({ path: 'same-pod', outcome: 'delivered' });
    }
    server.kill('SIGKILL');
  });

  it('a real TCP connection with payload across nodes is traced in both directions on both nodes', async () => {
    const server = execa('ip', ['netns', 'exec', POD22.netns, process.execPath, TCP_ECHO, 'server', '8080'], { reject: false, buffer: false });
    helpers.push(server);
    await waitFor(async () => (await nsExec(POD12.netns, process.execPath, [TCP_ECHO, 'client', POD22.ip, '8080'])).exitCode === 0, 10_000, 'TCP echo across nodes');
    const request = (t: Trace) => t.protocol === 'TCP' && t.src.ip === POD12.ip && t.dst.ip === POD22.ip && t.dst.port === 8080 && (t.packet.tcp_flags ?? '').includes('PSH');
    const response = (t: Trace) => t.protocol === 'TCP' && t.src.ip === POD22.ip && t.src.port === 8080 && t.dst.ip === POD12.ip && (t.packet.tcp_flags ?? '').includes('PSH');
    const [req1] = await waitForTraces(agent1.url, request, 'request data on node-1');
    const [resp1] = await waitForTraces(agent1.url, response, 'response data on node-1');
    const [req2] = await waitForTraces(agent2.url, request, 'request data on node-2');
    const [resp2] = await waitForTraces(agent2.url, response, 'response data on node-2');
    expect(hopSequence(req1!)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress', 'uplink:egress']);
    expect(hopSequence(resp1!)).toEqual(['uplink:ingress', 'bridge:egress', 'veth:egress', 'pod:ingress']);
    expect(hopSequence(req2!)).toEqual(['uplink:ingress', 'bridge:egress', 'veth:egress', 'pod:ingress']);
    expect(hopSequence(resp2!)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress', 'uplink:egress']);
    expect(req1).toMatchObject({ path: 'cross-node', outcome: 'forwarded', src: { pod: 'pod-1-2' }, dst: { pod: 'pod-2-2', port: 8080 } });
    expect(resp1).toMatchObject({ path: 'cross-node', outcome: 'delivered' });
    expect(req2!.packet.tcp_seq).toBe(req1!.packet.tcp_seq);
    // the SYN's trace can close after the data's (the first packet of a flow may wait for ARP at the uplink)
    const syns = await waitForTraces(agent1.url, (t) => t.src.ip === POD12.ip && t.dst.port === 8080 && t.packet.tcp_flags === 'SYN', 'the SYN on node-1');
    expect(syns.length).toBeGreaterThanOrEqual(1);
    server.kill('SIGKILL');
  });

  it('a ping to an address in no Pod CIDR is unrouted, route-miss, with the kernel reason name', async () => {
    const ping = await nsExec(POD11.netns, 'ping', ['-c', '1', '-W', '1', '10.99.0.1']);
    expect(ping.exitCode).not.toBe(0);
    const [t] = await waitForTraces(agent1.url, isEchoRequest(POD11.ip, '10.99.0.1'), 'route-miss trace');
    expect(hopSequence(t!)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress']);
    expect(t).toMatchObject({ path: 'unrouted', outcome: 'route-miss', reason: 'IP_INNOROUTES' });
    const filtered = await traces(agent1.url, '&path=unrouted&outcome=route-miss');
    expect(filtered.map((x) => x.id)).toContain(t!.id);
  });

  it('serves flows and metrics for what it traced', async () => {
    const flows = (await (await fetch(`${agent1.url}/api/v1/flows?path=same-node`)).json()) as { flows: { hop_sequence: string; packets: number; path: string }[] };
    expect(flows.flows.length).toBeGreaterThan(0);
    expect(flows.flows.every((f) => f.path === 'same-node')).toBe(true);
    expect(flows.flows.map((f) => f.hop_sequence)).toContain('pod:egress>veth:ingress>veth:egress>pod:ingress');
    const metrics = await (await fetch(`${agent1.url}/metrics`)).text();
    const sameNode = Number(/hopscope_traced_packets_total\{node="node-1",path="same-node"\} (\d+)/.exec(metrics)?.[1]);
    expect(sameNode).toBeGreaterThanOrEqual(2);
    expect(metrics).toMatch(/hopscope_probe_up\{probe="hops"\} 1/);
    const bad = await fetch(`${agent1.url}/api/v1/traces?path=sideways`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('path');
  });

  it('SIGKILL of the agent takes its bpftrace children and their BPF programs with it', async () => {
    const before = await bpfPrograms();
    const idsBefore = await bpfProgramIds();
    const doomed = await startAgentProcess('node-1', `${PREFIX}n1`, lab!.inventoryPath);
    const children = await childPids(doomed.pid);
    expect(children).toHaveLength(PROBE_GROUPS.length);
    const tracepoints = PROBE_GROUPS.reduce((n, g) => n + g.tracepoints.length, 0);
    // programs that appeared with this agent (ids, so others' programs do not count): one per tracepoint at least
    const theirs = [...(await bpfProgramIds())].filter((id) => !idsBefore.has(id));
    const newTracepoints = (await tracepointPrograms()).length - before.filter((p) => p.startsWith('tracepoint:') || p.startsWith('tracing:')).length;
    expect(newTracepoints).toBeGreaterThanOrEqual(tracepoints);
    expect(theirs.length).toBeGreaterThanOrEqual(tracepoints);
    process.kill(doomed.pid, 'SIGKILL');
    await waitFor(async () => children.every((pid) => !isAlive(pid)), 5000, 'bpftrace children to exit');
    // every program of theirs (tracepoints, the interval timer, BEGIN/END) is gone
    await waitFor(async () => {
      const now = await bpfProgramIds();
      return theirs.every((id) => !now.has(id));
    }, 5000, 'BPF programs to be unloaded');
  });
});
