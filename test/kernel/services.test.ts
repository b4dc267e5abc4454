/**
 * Services on the real kernel: a 2-node lab with ClusterIP Services implemented as kube-proxy's nftables mode
 * does (DNAT in the node namespaces' nat hooks, masquerade for hairpin), one agent per node linked as peers,
 * tcp-echo backends on 8080. A TCP connection to a Service from a pod on another node gives one stitched trace
 * per packet naming the Service and the backend, with the DNAT visible between two hops; the reply is
 * reverse-translated at the client's node; a pod reaching itself through its Service shows DNAT and masquerade
 * in one step.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKubeApi } from '../fixtures/fake-kube-api.js';
import type { ResultPromise } from 'execa';
import { execa } from 'execa';
import type { Trace } from '../../src/trace/trace.js';
import { freePort, nsExec, spawnAgent, startAgentProcess, startLab, TCP_ECHO, traces, UDP_ECHO, waitFor, waitForPeerLinks, type AgentProcess, type TestLab } from './support/lab-agents.js';
import { flowSampled } from '../../src/probes/sample-hash.js';
import { metric } from './support/metrics-text.js';

const PREFIX = 'hssk';
let lab: TestLab | undefined;
let a1: AgentProcess | undefined;
let a2: AgentProcess | undefined;
const servers: ResultPromise[] = [];

beforeAll(async () => {
  lab = await startLab(PREFIX, 2, 2, 0, { services: true });
  const [p1, p2] = [await freePort(), await freePort()];
  [a1, a2] = await Promise.all([
    startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath, ['--listen', `127.0.0.1:${p1}`, '--peer', `node-2=http://127.0.0.1:${p2}`]),
    startAgentProcess('node-2', `${PREFIX}n2`, lab.inventoryPath, ['--listen', `127.0.0.1:${p2}`, '--peer', `node-1=http://127.0.0.1:${p1}`]),
  ]);
  await waitForPeerLinks([a1!, a2!], 'both peer links');
  for (const pod of lab.plan.nodes.flatMap((n) => n.pods)) {
    servers.push(execa('ip', ['netns', 'exec', pod.netns, process.execPath, TCP_ECHO, 'server', '8080'], { reject: false, buffer: false }));
  }
}, 90_000);

afterAll(async () => {
  for (const s of servers) s.kill('SIGKILL');
  await Promise.all([a1?.stop(), a2?.stop()]);
  await lab?.down();
});

const seq = (t: Trace) => t.hops.map((h) => `${h.node}:${h.kind}:${h.direction}(${h.interface})`);
/** Per hop: the addresses it carries where they differ from the trace's, and the NAT marker. */
const addrs = (t: Trace) => t.hops.map((h) => [h.saddr, h.sport, h.daddr, h.dport, h.nat].map((v) => v ?? '-').join(' '));

async function connect(netns: string, host: string, localPort: number): Promise<void> {
  await waitFor(async () => (await nsExec(netns, process.execPath, [TCP_ECHO, 'client', host, '80', '0', String(localPort)])).exitCode === 0, 10_000, `TCP echo to ${host}:80 from ${netns}`);
}

async function waitForTrace(url: string, match: (t: Trace) => boolean, what: string): Promise<Trace> {
  return waitFor(async () => (await traces(url)).find(match), 10_000, what);
}

describe('a pod on node-1 reaching the Service web (backends on node-2)', () => {
  const CLIENT_PORT = 41001;
  let syn: Trace;

  it('the SYN is one stitched trace naming the Service and the backend, the DNAT between veth:ingress and bridge:ingress', async () => {
    await connect(`${PREFIX}n1p1`, '10.96.0.10', CLIENT_PORT);
    // a retried connect leaves older SYNs (maybe to the other backend, answered with RST), and the newest
    // SYN's trace may close after a read: the attempt that connected is the one its backend answered with
    // SYN|ACK; take the newest stitched SYN to that backend
    const isSyn = (t: Trace) => t.src.port === CLIENT_PORT && t.packet.tcp_flags === 'SYN';
    syn = await waitFor(async () => {
      const onNode2 = await traces(a2!.url);
      const answered = onNode2.find((t) => t.dst.port === CLIENT_PORT && t.packet.tcp_flags === 'SYN|ACK');
      const stitched = onNode2.filter((t) => isSyn(t) && t.hops.length === 8 && t.dst.ip === answered?.src.ip);
      if (stitched.length === 0) return undefined;
      return stitched.reduce((a, b) => (BigInt(a.hops[0]!.t) >= BigInt(b.hops[0]!.t) ? a : b));
    }, 10_000, 'the stitched SYN of the attempt that connected');
    const backend = syn.dst.pod === 'pod-2-1' ? 'veth2p1' : 'veth2p2';
    expect(['pod-2-1', 'pod-2-2']).toContain(syn.dst.pod);
    expect(seq(syn)).toEqual([
      'node-1:pod:egress(eth0)', 'node-1:veth:ingress(veth1p1)', 'node-1:bridge:ingress(cni0)', 'node-1:uplink:egress(eth0)',
      'node-2:uplink:ingress(eth0)', 'node-2:bridge:egress(cni0)', `node-2:veth:egress(${backend})`, 'node-2:pod:ingress(eth0)',
    ]);
    expect(syn).toMatchObject({
      node: 'node-2', path: 'cross-node', outcome: 'delivered', protocol: 'TCP',
      src: { ip: '10.244.1.11', port: CLIENT_PORT, pod: 'pod-1-1', namespace: 'default', node: 'node-1' },
      dst: { port: 8080, namespace: 'default', node: 'node-2' },
      service: { namespace: 'default', name: 'web', ip: '10.96.0.10', port: 80 },
    });
    // before the DNAT the packet went to the Service; from bridge:ingress on to the backend (the trace's dst)
    expect(addrs(syn)).toEqual([
      '- - 10.96.0.10 80 -', '- - 10.96.0.10 80 -', '- - - - dnat', '- - - - -',
      '- - - - -', '- - - - -', '- - - - -', '- - - - -',
    ]);
    console.log(`stitched SYN through web:\n${JSON.stringify(syn)}`);
  });

  it('the SYN|ACK is reverse-translated at node-1 (between uplink:ingress and bridge:egress) and names the Service', async () => {
    const synAck = await waitForTrace(a1!.url, (t) => t.dst.port === CLIENT_PORT && t.packet.tcp_flags === 'SYN|ACK' && t.hops.length === 8 && t.src.ip === syn.dst.ip, 'the stitched SYN|ACK');
    const backend = synAck.src.pod === 'pod-2-1' ? 'veth2p1' : 'veth2p2';
    expect(synAck.src.pod).toBe(syn.dst.pod);
    expect(seq(synAck)).toEqual([
      'node-2:pod:egress(eth0)', `node-2:veth:ingress(${backend})`, 'node-2:bridge:ingress(cni0)', 'node-2:uplink:egress(eth0)',
      'node-1:uplink:ingress(eth0)', 'node-1:bridge:egress(cni0)', 'node-1:veth:egress(veth1p1)', 'node-1:pod:ingress(eth0)',
    ]);
    expect(synAck).toMatchObject({
      node: 'node-1', path: 'cross-node', outcome: 'delivered',
      src: { ip: syn.dst.ip, port: 8080 }, dst: { ip: '10.244.1.11', port: CLIENT_PORT, pod: 'pod-1-1' },
      service: { namespace: 'default', name: 'web', ip: '10.96.0.10', port: 80 },
    });
    expect(addrs(synAck)).toEqual([
      '- - - - -', '- - - - -', '- - - - -', '- - - - -',
      '- - - - -', '10.96.0.10 80 - - snat', '10.96.0.10 80 - - -', '10.96.0.10 80 - - -',
    ]);
    console.log(`stitched SYN|ACK from web:\n${JSON.stringify(synAck)}`);
  });

  it('filters find the Service trace by client pod, backend pod and Service', async () => {
    // the client retries until the backends listen: count this connection's SYNs first
    const list = async (query: string) => (await traces(a2!.url, query)).filter((t) => t.src.port === CLIENT_PORT && t.packet.tcp_flags === 'SYN' && t.hops.length === 8);
    const q = async (query: string) => (await list(query)).length;
    const everySyn = await list('');
    const all = everySyn.length;
    expect(all).toBeGreaterThanOrEqual(1);
    expect(await q('&pod=default/pod-1-1')).toBe(all);
    // each attempt picked its backend at random
    expect(await q(`&pod=default/${syn.dst.pod}`)).toBe(everySyn.filter((t) => t.dst.pod === syn.dst.pod).length);
    expect(await q('&service=default/web')).toBe(all);
    expect(await q('&service=default/echo-2-1')).toBe(0);
  });
});

describe('per-Service metrics', () => {
  it('both agents count the SYNs to web: forwarded at the client\'s node, delivered (stitched) at the backend\'s, with latency', async () => {
    const labels = (node: string, outcome: string) => ({ node, service: 'default/web', outcome });
    const counts = async () => ({
      forwarded: await metric(a1!.url, 'hopscope_service_packets_total', labels('node-1', 'forwarded')),
      delivered: await metric(a2!.url, 'hopscope_service_packets_total', labels('node-2', 'delivered')),
      timed: await metric(a2!.url, 'hopscope_service_latency_seconds_count', { node: 'node-2', service: 'default/web' }),
    });
    const before = await counts();
    // a connection of its own (its own client port): the counters must grow by its SYNs
    const METRICS_CLIENT_PORT = 41007;
    await connect(`${PREFIX}n1p1`, '10.96.0.10', METRICS_CLIENT_PORT);
    const isStitchedSyn = (t: Trace) => t.src.port === METRICS_CLIENT_PORT && t.packet.tcp_flags === 'SYN' && t.hops.length === 8;
    const syns = await waitFor(async () => {
      const found = (await traces(a2!.url)).filter(isStitchedSyn);
      return found.length > 0 ? found : undefined;
    }, 10_000, 'the stitched SYN on node-2');
    await waitFor(async () => (await counts()).forwarded - before.forwarded >= syns.length, 5000, 'node-1 counting the forwarded SYNs');
    const after = await counts();
    expect(after.delivered - before.delivered).toBeGreaterThanOrEqual(syns.length);
    expect(after.timed - before.timed).toBeGreaterThanOrEqual(syns.length);
    expect(await metric(a2!.url, 'hopscope_service_packets_total', { node: 'node-2', service: 'default/echo-2-1', outcome: 'delivered' })).toBe(0);
  });
});

describe('a UDP datagram through a Service (53/UDP, as kube-dns serves it)', () => {
  it('request and reply are each one stitched trace naming the Service, DNAT and reverse translation as for TCP', async () => {
    // default sampling picks a UDP flow by its addresses and ports, which the DNAT changes: no client port of
    // this lab has its flow picked on both sides of the rewrite (checked with flowSampled), so agents that trace
    // every packet, peers of each other
    expect(Array.from({ length: 60_000 }, (_, i) => 1025 + i).some((p) => flowSampled('10.244.1.11', '10.96.2.11', p, 53, 17, 64) && flowSampled('10.244.1.11', '10.244.2.11', p, 5353, 17, 64))).toBe(false);
    const [p1, p2] = [await freePort(), await freePort()];
    const [u1, u2] = await Promise.all([
      startAgentProcess('node-1', `${PREFIX}n1`, lab!.inventoryPath, ['--sample', '1', '--listen', `127.0.0.1:${p1}`, '--peer', `node-2=http://127.0.0.1:${p2}`]),
      startAgentProcess('node-2', `${PREFIX}n2`, lab!.inventoryPath, ['--sample', '1', '--listen', `127.0.0.1:${p2}`, '--peer', `node-1=http://127.0.0.1:${p1}`]),
    ]);
    const server = execa('ip', ['netns', 'exec', `${PREFIX}n2p1`, process.execPath, UDP_ECHO, 'server', '5353'], { reject: false, buffer: false });
    servers.push(server);
    try {
      await waitForPeerLinks([u1, u2], 'both peer links');
      const port = 43_053;
      await waitFor(async () => (await nsExec(`${PREFIX}n1p1`, process.execPath, [UDP_ECHO, 'client', '10.96.2.11', '53', String(port)])).exitCode === 0, 10_000, 'a UDP echo through 10.96.2.11:53');
      const service = { namespace: 'default', name: 'echo-2-1', ip: '10.96.2.11', port: 53 };
      const request = await waitForTrace(u2.url, (t) => t.protocol === 'UDP' && t.src.port === port && t.hops.length === 8, 'the stitched request');
      expect(seq(request)).toEqual([
        'node-1:pod:egress(eth0)', 'node-1:veth:ingress(veth1p1)', 'node-1:bridge:ingress(cni0)', 'node-1:uplink:egress(eth0)',
        'node-2:uplink:ingress(eth0)', 'node-2:bridge:egress(cni0)', 'node-2:veth:egress(veth2p1)', 'node-2:pod:ingress(eth0)',
      ]);
      expect(addrs(request).slice(0, 4)).toEqual(['- - 10.96.2.11 53 -', '- - 10.96.2.11 53 -', '- - - - dnat', '- - - - -']);
      expect(request).toMatchObject({ outcome: 'delivered', service, src: { pod: 'pod-1-1', port }, dst: { pod: 'pod-2-1', port: 5353 } });
      const reply = await waitForTrace(u1.url, (t) => t.protocol === 'UDP' && t.dst.port === port && t.hops.length === 8, 'the stitched reply');
      expect(addrs(reply).slice(4)).toEqual(['- - - - -', '10.96.2.11 53 - - snat', '10.96.2.11 53 - - -', '10.96.2.11 53 - - -']);
      expect(reply).toMatchObject({ outcome: 'delivered', service, src: { pod: 'pod-2-1', port: 5353 }, dst: { pod: 'pod-1-1', port } });
      console.log(`stitched UDP request through echo-2-1:53:\n${JSON.stringify(request)}`);
    } finally {
      server.kill('SIGKILL');
      await Promise.all([u1.stop(), u2.stop()]);
    }
  });
});

describe('a node without bridge netfilter (bridge-nf-call-iptables=0 in node-1\'s namespace)', () => {
  it('the DNAT moves to the IP stack\'s prerouting: between bridge:ingress and uplink:egress; still one trace', async () => {
    const CLIENT_PORT = 41005;
    await nsExec(`${PREFIX}n1`, 'sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=0']);
    try {
      await connect(`${PREFIX}n1p1`, '10.96.2.12', CLIENT_PORT);
    } finally {
      await nsExec(`${PREFIX}n1`, 'sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=1']);
    }
    const syn = await waitForTrace(a2!.url, (t) => t.src.port === CLIENT_PORT && t.packet.tcp_flags === 'SYN' && t.hops.length === 8, 'the stitched SYN');
    expect(seq(syn)).toEqual([
      'node-1:pod:egress(eth0)', 'node-1:veth:ingress(veth1p1)', 'node-1:bridge:ingress(cni0)', 'node-1:uplink:egress(eth0)',
      'node-2:uplink:ingress(eth0)', 'node-2:bridge:egress(cni0)', 'node-2:veth:egress(veth2p2)', 'node-2:pod:ingress(eth0)',
    ]);
    expect(addrs(syn).slice(0, 4)).toEqual(['- - 10.96.2.12 80 -', '- - 10.96.2.12 80 -', '- - 10.96.2.12 80 -', '- - - - dnat']);
    expect(syn).toMatchObject({ service: { name: 'echo-2-2', ip: '10.96.2.12', port: 80 }, dst: { pod: 'pod-2-2', port: 8080 } });
  });
});

describe('masquerade: a pod reaching itself through its own Service (hairpin)', () => {
  it('DNAT and masquerade in one step between veth:ingress and veth:egress of the same port', async () => {
    const CLIENT_PORT = 41002;
    // a resolved neighbour with its cached header: br_netfilter bridges the DNATed frame straight to the port
    // (without it the frame goes out through cni0's own transmit: see the next test)
    expect((await nsExec(`${PREFIX}n2`, 'ping', ['-c', '1', '-W', '2', '10.244.2.11'])).exitCode).toBe(0);
    await connect(`${PREFIX}n2p1`, '10.96.2.11', CLIENT_PORT);
    const syn = await waitForTrace(a2!.url, (t) => t.src.port === CLIENT_PORT && t.packet.tcp_flags === 'SYN', 'the hairpin SYN');
    expect(seq(syn)).toEqual(['node-2:pod:egress(eth0)', 'node-2:veth:ingress(veth2p1)', 'node-2:veth:egress(veth2p1)', 'node-2:pod:ingress(eth0)']);
    expect(syn).toMatchObject({
      path: 'same-node', outcome: 'delivered',
      src: { ip: '10.244.2.11', port: CLIENT_PORT, pod: 'pod-2-1' }, dst: { ip: '10.244.2.11', port: 8080, pod: 'pod-2-1' },
      service: { namespace: 'default', name: 'echo-2-1', ip: '10.96.2.11', port: 80 },
    });
    // the masqueraded source is the bridge's address (cni0 on node-2); the masqueraded port is the kernel's choice
    const [h0, h1, h2, h3] = syn.hops;
    expect([h0?.daddr, h0?.dport, h1?.daddr, h1?.dport]).toEqual(['10.96.2.11', 80, '10.96.2.11', 80]);
    expect([h2?.nat, h2?.saddr, h3?.saddr, h2?.daddr, h3?.daddr]).toEqual(['dnat+snat', '10.244.2.1', '10.244.2.1', undefined, undefined]);
    const synAck = await waitForTrace(a2!.url, (t) => t.dst.port === CLIENT_PORT && t.packet.tcp_flags === 'SYN|ACK', 'the hairpin SYN|ACK');
    expect(seq(synAck)).toEqual(['node-2:pod:egress(eth0)', 'node-2:veth:ingress(veth2p1)', 'node-2:veth:egress(veth2p1)', 'node-2:pod:ingress(eth0)']);
    expect(synAck).toMatchObject({ src: { port: 8080, pod: 'pod-2-1' }, dst: { port: CLIENT_PORT, pod: 'pod-2-1' }, service: { name: 'echo-2-1' } });
    expect(synAck.hops.map((h) => h.daddr)).toEqual(['10.244.2.1', '10.244.2.1', undefined, undefined]);
    expect(synAck.hops[2]).toMatchObject({ nat: 'dnat+snat', saddr: '10.96.2.11', sport: 80 });
    console.log(`hairpin SYN:\n${JSON.stringify(syn)}`);
  });

  it('with the backend\'s neighbour entry flushed, the bridged DNAT goes out through cni0 (bridge:egress)', async () => {
    const CLIENT_PORT = 41004;
    await nsExec(`${PREFIX}n2`, 'ip', ['neigh', 'flush', 'dev', 'cni0']);
    await connect(`${PREFIX}n2p1`, '10.96.2.11', CLIENT_PORT);
    const syn = await waitForTrace(a2!.url, (t) => t.src.port === CLIENT_PORT && t.packet.tcp_flags === 'SYN', 'the hairpin SYN');
    expect(seq(syn)).toEqual([
      'node-2:pod:egress(eth0)', 'node-2:veth:ingress(veth2p1)', 'node-2:bridge:egress(cni0)', 'node-2:veth:egress(veth2p1)', 'node-2:pod:ingress(eth0)',
    ]);
    // the DNAT in the bridge's prerouting, the masquerade only in its postrouting after cni0 handed the frame on
    expect(addrs(syn).map((a) => a.replace(/ 4100\d /, ' PORT '))).toEqual([
      '- - 10.96.2.11 80 -', '- - 10.96.2.11 80 -', '- - - - dnat', '10.244.2.1 PORT - - snat', '10.244.2.1 PORT - - -',
    ]);
    expect(syn).toMatchObject({ path: 'same-node', service: { name: 'echo-2-1' }, dst: { pod: 'pod-2-1', port: 8080 } });
  });

  it('node-1 itself reaching web: masqueraded to its uplink address, rewritten before its first hop', async () => {
    const CLIENT_PORT = 41003;
    await connect(`${PREFIX}n1`, '10.96.0.10', CLIENT_PORT);
    const syn = await waitForTrace(a2!.url, (t) => t.src.port === CLIENT_PORT && t.packet.tcp_flags === 'SYN' && t.hops.length === 5, 'the node-originated SYN');
    expect(seq(syn).slice(0, 2)).toEqual(['node-1:uplink:egress(eth0)', 'node-2:uplink:ingress(eth0)']);
    expect(syn).toMatchObject({ src: { ip: '192.168.254.1', node: 'node-1' }, dst: { port: 8080, node: 'node-2' }, outcome: 'delivered' });
    expect(['pod-2-1', 'pod-2-2']).toContain(syn.dst.pod);
  });
});

describe('--kubernetes: the Service from the API server (Services and EndpointSlices through the real client)', () => {
  it('node-1\'s agent names shop/storefront (named targetPort) and its backend from the EndpointSlice', async () => {
    const TOKEN = 'kube-services-kernel-token';
    const api = await startFakeKubeApi({ token: TOKEN });
    const dir = mkdtempSync(join(tmpdir(), 'hopscope-kube-svc-'));
    let agent: AgentProcess | undefined;
    try {
      for (const n of [1, 2]) api.set('nodes', { metadata: { name: `node-${n}` }, spec: { podCIDR: `10.244.${n}.0/24` }, status: { addresses: [{ type: 'InternalIP', address: `192.168.254.${n}` }] } });
      api.set('pods', { metadata: { name: 'frontend', namespace: 'shop' }, spec: { nodeName: 'node-1' }, status: { phase: 'Running', podIP: '10.244.1.11' } });
      // the lab's kube-proxy rules have web at 10.96.0.10 -> node-2's pods:8080; the API calls it shop/storefront
      api.set('services', { metadata: { name: 'storefront', namespace: 'shop' }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] } });
      api.set('endpointslices', {
        metadata: { name: 'storefront-x1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'storefront' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.244.2.11'], conditions: { ready: true } }, { addresses: ['10.244.2.12'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      });
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, JSON.stringify({
        apiVersion: 'v1', kind: 'Config',
        clusters: [{ name: 'lab', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'agent', user: { token: TOKEN } }],
        contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'agent' } }],
        'current-context': 'lab',
      }));
      agent = await startKubeAgent(kubeconfig);
      const CLIENT_PORT = 41006;
      await waitFor(async () => api.requests.some((r) => r.path === '/apis/discovery.k8s.io/v1/endpointslices' && r.status === 200), 10_000, 'the slices listed');
      await connect(`${PREFIX}n1p1`, '10.96.0.10', CLIENT_PORT);
      const syn = await waitForTrace(agent.url, (t) => t.src.port === CLIENT_PORT && t.packet.tcp_flags === 'SYN', 'the SYN on the --kubernetes agent');
      expect(seq(syn)).toEqual(['node-1:pod:egress(eth0)', 'node-1:veth:ingress(veth1p1)', 'node-1:bridge:ingress(cni0)', 'node-1:uplink:egress(eth0)']);
      expect(syn).toMatchObject({
        outcome: 'forwarded',
        src: { pod: 'frontend', namespace: 'shop', port: CLIENT_PORT },
        dst: { port: 8080, node: 'node-2' },
        service: { namespace: 'shop', name: 'storefront', ip: '10.96.0.10', port: 80 },
      });
      expect(['10.244.2.11', '10.244.2.12']).toContain(syn.dst.ip);
      expect(syn.hops[2]?.nat).toBe('dnat');
    } finally {
      await agent?.stop();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** node-1's agent with --kubernetes (no inventory file), as a child process; stopped by the caller. */
async function startKubeAgent(kubeconfig: string): Promise<AgentProcess> {
  const agent = await spawnAgent(['--node', 'node-1', '--netns', `${PREFIX}n1`, '--kubernetes', '--kubeconfig', kubeconfig, '--listen', '127.0.0.1:0'], {}, 'agent node-1 --kubernetes');
  await waitFor(async () => (await fetch(`${agent.url}/readyz`)).ok, 30_000, 'the --kubernetes agent ready');
  return agent;
}
