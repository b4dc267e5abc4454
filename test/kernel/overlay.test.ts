/**
 * The VXLAN overlay on the real kernel: a 2x2 lab built with `--overlay vxlan` (flannel.1 on every node, as
 * flannel's vxlan backend builds it on k3s), real agents with real bpftrace. node-1's agent peers with node-2's
 * (it stitches packets that arrive at node-1); node-2's agent has no peer, so it reports its own half as it is.
 * Cross-node packets show the encapsulation hops on both nodes, joined by the inner packet's identity; same-node
 * packets are unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultPromise } from 'execa';
import { execa } from 'execa';
import { flowSampled } from '../../src/probes/sample-hash.js';
import type { Trace } from '../../src/trace/trace.js';
import { freePort, hopSequence, nsExec, traces, startAgentProcess, startLab, TCP_ECHO, waitFor, waitForTraces, waitForPeerLinks, type AgentProcess, type TestLab } from './support/lab-agents.js';

const PREFIX = 'hsxk';
let lab: TestLab | undefined;
let a1: AgentProcess;
let a2: AgentProcess;
let server: ResultPromise | undefined;

const POD11 = '10.244.1.11';
const POD12 = '10.244.1.12';
const POD21 = '10.244.2.11';
const POD22 = '10.244.2.12';

const SENDER = ['pod:egress', 'veth:ingress', 'bridge:ingress', 'overlay:egress', 'uplink:egress'];
const RECEIVER = ['uplink:ingress', 'overlay:ingress', 'bridge:egress', 'veth:egress', 'pod:ingress'];
const nodeSeq = (t: Trace) => t.hops.map((h) => `${h.node}:${h.kind}:${h.direction}`);
const encapAt = (t: Trace) => t.hops.map((h) => h.encap ?? '-');
const echo = (type: number, src: string, dst: string) => (t: Trace) => t.protocol === 'ICMP' && t.packet.icmp_type === type && t.src.ip === src && t.dst.ip === dst;

beforeAll(async () => {
  lab = await startLab(PREFIX, 2, 2, 0, { overlay: 'vxlan' });
  const [p1, p2] = [await freePort(), await freePort()];
  [a1, a2] = await Promise.all([
    startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath, ['--listen', `127.0.0.1:${p1}`, '--sample', '1', '--peer', `node-2=http://127.0.0.1:${p2}`]),
    startAgentProcess('node-2', `${PREFIX}n2`, lab.inventoryPath, ['--listen', `127.0.0.1:${p2}`, '--sample', '1']),
  ]);
  await waitForPeerLinks([a1], 'node-1 linked to node-2');
  server = execa('ip', ['netns', 'exec', `${PREFIX}n2p2`, process.execPath, TCP_ECHO, 'server', '8080'], { reject: false, buffer: false });
}, 90_000);

afterAll(async () => {
  server?.kill('SIGKILL');
  await Promise.all([a1?.stop(), a2?.stop()]);
  await lab?.down();
});

describe('a lab with --overlay vxlan', () => {
  it('is flannel\'s VXLAN: flannel.1 with VNI 1, UDP 8472, nolearning, MTU 1450, pods at MTU 1450', async () => {
    const link = JSON.parse((await execa('ip', ['-n', `${PREFIX}n1`, '-j', '-d', 'link', 'show', 'flannel.1'])).stdout)[0];
    expect(link).toMatchObject({ mtu: 1450, address: '0e:f1:00:00:00:01', linkinfo: { info_kind: 'vxlan', info_data: { id: 1, port: 8472, local: '192.168.254.1', learning: false } } });
    const routes = (await execa('ip', ['-n', `${PREFIX}n1`, 'route', 'show', '10.244.2.0/24'])).stdout.trim();
    expect(routes).toBe('10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink');
    const pod = JSON.parse((await execa('ip', ['-n', `${PREFIX}n1p1`, '-j', 'link', 'show', 'eth0'])).stdout)[0];
    expect(pod.mtu).toBe(1450);
  });

  it('cross-node ping: node-1\'s half encapsulates at flannel.1 and leaves by the uplink (forwarded)', async () => {
    expect((await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '1', '-W', '2', POD21])).exitCode).toBe(0);
    const [out] = await waitForTraces(a1.url, (t) => echo(8, POD11, POD21)(t) && t.outcome === 'forwarded', 'the request\'s half on node-1');
    expect(hopSequence(out!)).toEqual(SENDER);
    expect(out!.hops.map((h) => h.interface)).toEqual(['eth0', 'veth1p1', 'cni0', 'flannel.1', 'eth0']);
    expect(encapAt(out!)).toEqual(['-', '-', '-', '-', 'vxlan']);
    expect(out).toMatchObject({ node: 'node-1', path: 'cross-node', outcome: 'forwarded', src: { pod: 'pod-1-1' }, dst: { pod: 'pod-2-1', node: 'node-2' } });
    // the outer packet at the uplink is 50 bytes (outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14) longer; the
    // identity is the inner packet's
    expect(out!.packet.length).toBe(98);
    for (const h of out!.hops) expect(h.delta_ns).toBeGreaterThanOrEqual(0);

    // node-2 (no peer) reports its half: from the uplink, decapsulated at flannel.1, delivered; same inner packet
    const [inb] = await waitForTraces(a2.url, echo(8, POD11, POD21), 'the request\'s half on node-2');
    expect(hopSequence(inb!)).toEqual(RECEIVER);
    expect(inb!.hops.map((h) => h.interface)).toEqual(['eth0', 'flannel.1', 'cni0', 'veth2p1', 'eth0']);
    expect(encapAt(inb!)).toEqual(['vxlan', '-', '-', '-', '-']);
    expect(inb).toMatchObject({ node: 'node-2', path: 'cross-node', outcome: 'delivered', src: { pod: 'pod-1-1', node: 'node-1' } });
    expect(inb!.packet.ip_id).toBe(out!.packet.ip_id);
    expect(inb!.packet.icmp_echo).toEqual(out!.packet.icmp_echo);
    expect(inb!.packet.length).toBe(84); // the inner packet's (the outer one is 134 bytes at this uplink)
  });

  it('the reply, stitched by node-1\'s agent: every hop of both nodes, encapsulation on both, one trace', async () => {
    expect((await nsExec(`${PREFIX}n1p2`, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', POD22])).exitCode).toBe(0);
    const [reply] = await waitForTraces(a1.url, (t) => echo(0, POD22, POD12)(t) && t.hops.length === 10, 'a stitched reply on node-1');
    expect(nodeSeq(reply!)).toEqual([...SENDER.map((s) => `node-2:${s}`), ...RECEIVER.map((s) => `node-1:${s}`)]);
    expect(reply!.hops.map((h) => h.interface)).toEqual(['eth0', 'veth2p2', 'cni0', 'flannel.1', 'eth0', 'eth0', 'flannel.1', 'cni0', 'veth1p2', 'eth0']);
    expect(encapAt(reply!)).toEqual(['-', '-', '-', '-', 'vxlan', 'vxlan', '-', '-', '-', '-']);
    expect(reply).toMatchObject({ node: 'node-1', path: 'cross-node', outcome: 'delivered', src: { pod: 'pod-2-2', node: 'node-2' }, dst: { pod: 'pod-1-2' } });
    expect(reply!.cross_node).toMatchObject({ source_node: 'node-2', destination_node: 'node-1' });
    for (const h of reply!.hops) expect(h.delta_ns).toBeGreaterThanOrEqual(0);
    expect(reply!.latency_ns).toBe(reply!.hops.reduce((s, h) => s + h.delta_ns, 0));
    console.log(`stitched overlay reply: ${JSON.stringify(reply)}`);
  });

  it('TCP with payload over the overlay: the SYN on node-2 and the stitched SYN|ACK on node-1 carry the encapsulation hops', async () => {
    await waitFor(async () => (await nsExec(`${PREFIX}n1p1`, process.execPath, [TCP_ECHO, 'client', POD22, '8080'])).exitCode === 0, 10_000, 'TCP echo over the overlay');
    const [syn] = await waitForTraces(a2.url, (t) => t.protocol === 'TCP' && t.dst.port === 8080 && t.packet.tcp_flags === 'SYN', 'the SYN on node-2');
    expect(hopSequence(syn!)).toEqual(RECEIVER);
    expect(encapAt(syn!)[0]).toBe('vxlan');
    const [synAck] = await waitForTraces(a1.url, (t) => t.protocol === 'TCP' && t.src.port === 8080 && t.packet.tcp_flags === 'SYN|ACK' && t.hops.length === 10, 'the stitched SYN|ACK on node-1');
    expect(nodeSeq(synAck!)).toEqual([...SENDER.map((s) => `node-2:${s}`), ...RECEIVER.map((s) => `node-1:${s}`)]);
    // every data packet node-1 sent (its forwarded halves) arrived in a node-2 trace of the same inner packet
    const flow = (t: Trace) => t.protocol === 'TCP' && t.dst.port === 8080 && t.src.ip === POD11;
    const sent = await waitForTraces(a1.url, (t) => flow(t) && t.outcome === 'forwarded' && t.packet.tcp_flags?.includes('PSH') === true, 'a data segment leaving node-1');
    const arrived = await waitForTraces(a2.url, (t) => flow(t) && t.packet.tcp_flags?.includes('PSH') === true, 'the data segment on node-2');
    expect(arrived.map((t) => t.packet.tcp_seq).sort()).toEqual(sent.map((t) => t.packet.tcp_seq).sort());
    for (const t of arrived) expect(hopSequence(t)).toEqual(RECEIVER);
  });

  it('default sampling selects by the inner flow: a sampled UDP flow has every hop on both nodes, uplinks included; an unsampled one none', async () => {
    // two more agents with the default 1-in-64 flow sampling (no peers): each node's own view
    const [d1, d2] = await Promise.all([startAgentProcess('node-1', `${PREFIX}n1`, lab!.inventoryPath), startAgentProcess('node-2', `${PREFIX}n2`, lab!.inventoryPath)]);
    try {
      const ports = Array.from({ length: 2000 }, (_, i) => 40000 + i);
      const inSample = ports.find((p) => flowSampled(POD11, POD21, p, 7000, 17, 64))!;
      const outOfSample = ports.find((p) => !flowSampled(POD11, POD21, p, 7000, 17, 64))!;
      for (const sport of [inSample, outOfSample]) {
        const send = `import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('${POD11}',${sport}))\nfor i in range(5):\n  s.sendto(b'x'*100,('${POD21}',7000)); time.sleep(0.05)`;
        expect((await nsExec(`${PREFIX}n1p1`, 'python3', ['-c', send])).exitCode).toBe(0);
      }
      const udp = (sport: number) => (t: Trace) => t.protocol === 'UDP' && t.src.port === sport && t.dst.port === 7000;
      const out = await waitFor(async () => {
        const found = (await traces(d1.url)).filter(udp(inSample));
        return found.length === 5 ? found : undefined;
      }, 10_000, 'the 5 sampled datagrams on node-1');
      const inb = await waitFor(async () => {
        const found = (await traces(d2.url)).filter(udp(inSample));
        return found.length === 5 ? found : undefined;
      }, 10_000, 'the 5 sampled datagrams on node-2');
      for (const t of out) expect([hopSequence(t), encapAt(t)[4]]).toEqual([SENDER, 'vxlan']);
      for (const t of inb) expect([hopSequence(t), encapAt(t)[0]]).toEqual([RECEIVER, 'vxlan']);
      expect(inb.map((t) => t.packet.ip_id).sort()).toEqual(out.map((t) => t.packet.ip_id).sort());
      // the unsampled flow: nothing, neither its inner hops nor its outer (VXLAN) packets at the uplinks
      await new Promise((r) => setTimeout(r, 500));
      for (const url of [d1.url, d2.url]) {
        const all = await traces(url);
        expect(all.filter(udp(outOfSample))).toEqual([]);
        expect(all.filter((t) => t.dst.port === 8472 || t.hops.every((h) => h.kind === 'uplink'))).toEqual([]);
      }
    } finally {
      await Promise.all([d1.stop(), d2.stop()]);
    }
  }, 60_000);

  it('same-node ping is unchanged: pod eth0 -> veth -> other veth -> pod eth0, no overlay hop', async () => {
    expect((await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '1', '-W', '2', POD12])).exitCode).toBe(0);
    const [t] = await waitForTraces(a1.url, echo(8, POD11, POD12), 'same-node request');
    expect(hopSequence(t!)).toEqual(['pod:egress', 'veth:ingress', 'veth:egress', 'pod:ingress']);
    expect(t!.hops.map((h) => h.interface)).toEqual(['eth0', 'veth1p1', 'veth1p2', 'eth0']);
    expect(encapAt(t!)).toEqual(['-', '-', '-', '-']);
    expect(t).toMatchObject({ path: 'same-node', outcome: 'delivered' });
  });

  it('a packet dropped inside the tunnel (node-2 drops UDP 8472 at input) ends its inner trace: dropped, NETFILTER_DROP', async () => {
    const table = 'hopscope_test_vxlan_drop';
    const add = await nsExec(`${PREFIX}n2`, 'nft', [`add table inet ${table}; add chain inet ${table} in { type filter hook input priority 0; policy accept; }; add rule inet ${table} in udp dport 8472 drop`]);
    expect(add.exitCode, add.stderr).toBe(0);
    try {
      expect((await nsExec(`${PREFIX}n1p2`, 'ping', ['-c', '1', '-W', '1', POD22])).exitCode).not.toBe(0);
      // node-2 saw the packet arrive at its uplink, still encapsulated, and freed it there: by its inner identity
      const [t] = await waitForTraces(a2.url, (x) => echo(8, POD12, POD22)(x) && x.outcome === 'dropped', 'the dropped request on node-2');
      expect(nodeSeq(t!)).toEqual(['node-2:uplink:ingress']);
      expect(encapAt(t!)).toEqual(['vxlan']);
      expect(t).toMatchObject({ outcome: 'dropped', reason: 'NETFILTER_DROP', src: { pod: 'pod-1-2' }, dst: { pod: 'pod-2-2' } });
    } finally {
      await nsExec(`${PREFIX}n2`, 'nft', ['delete', 'table', 'inet', table]);
    }
  });
});
