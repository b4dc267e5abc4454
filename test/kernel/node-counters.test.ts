/**
 * Bridge learning, bridge misses, route misses, neighbour failures and drops, counted on the right node, on the
 * real kernel: a 2-node x 3-pod lab (three ports on each cni0, so a flood leaves two ports), one real agent per
 * node, real traffic.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric } from './support/metrics-text.js';
import { nsExec, startAgentProcess, startLab, traces, waitFor, type AgentProcess, type TestLab, ip } from './support/lab-agents.js';

const PREFIX = 'hc';
let lab: TestLab | undefined;
let a1: AgentProcess;
let a2: AgentProcess;
const NODE1 = { node: 'node-1', bridge: 'cni0' };
const NODE2 = { node: 'node-2', bridge: 'cni0' };

beforeAll(async () => {
  lab = await startLab(PREFIX, 2, 3);
  [a1, a2] = await Promise.all([
    startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath),
    startAgentProcess('node-2', `${PREFIX}n2`, lab.inventoryPath),
  ]);
});

afterAll(async () => {
  await Promise.all([a1?.stop(), a2?.stop()]);
  await execa('ip', ['netns', 'del', `${PREFIX}n1p9`], { reject: false });
  await lab?.down();
});

async function macOf(netns: string, dev: string): Promise<string> {
  const out = await execa('ip', ['-n', netns, '-j', 'link', 'show', dev]);
  return (JSON.parse(out.stdout) as { address: string }[])[0]!.address;
}

/** Waits until `read` reaches at least `target`, then returns what it read. */
async function reaches(read: () => Promise<number>, target: number, what: string, timeoutMs = 8000): Promise<number> {
  let last = NaN;
  try {
    return await waitFor(async () => ((last = await read()) >= target ? last : undefined), timeoutMs, what);
  } catch {
    throw new Error(`${what}: wanted >= ${target}, last read ${last}`);
  }
}

/** Gives the agents time to read what the kernel counted (maps print every second). */
const settle = () => new Promise((r) => setTimeout(r, 2500));

describe('bridge FDB learning', () => {
  it('a new pod is learned on its node only; the same MAC behind another port is a move; deleting the pod deletes', async () => {
    const learned = (url: string, l: Record<string, string>) => metric(url, 'hopscope_bridge_fdb_learned_total', l);
    const before = { l1: await learned(a1.url, NODE1), l2: await learned(a2.url, NODE2), entries: await metric(a1.url, 'hopscope_bridge_fdb_entries', NODE1) };
    const pod = `${PREFIX}n1p9`;
    await execa('ip', ['netns', 'add', pod]);
    await ip(`${PREFIX}n1`, 'link', 'add', 'veth1p9', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod);
    await ip(`${PREFIX}n1`, 'link', 'set', 'veth1p9', 'master', 'cni0', 'up');
    await ip(pod, 'addr', 'add', '10.244.1.99/24', 'dev', 'eth0');
    await ip(pod, 'link', 'set', 'eth0', 'up');
    expect((await nsExec(pod, 'ping', ['-c', '1', '-W', '2', '10.244.1.11'])).exitCode).toBe(0);

    const l1 = await reaches(() => learned(a1.url, NODE1), before.l1 + 1, 'node-1 learned the new pod');
    expect(l1 - before.l1).toBeLessThanOrEqual(2);
    expect(await metric(a1.url, 'hopscope_bridge_fdb_entries', NODE1)).toBeGreaterThan(before.entries);
    const bridges = (await (await fetch(`${a1.url}/api/v1/bridges`)).json()) as { bridges: { entries: { mac: string; port?: string }[] }[] };
    const podMac = await macOf(pod, 'eth0');
    expect(bridges.bridges[0]!.entries).toContainEqual(expect.objectContaining({ mac: podMac, port: 'veth1p9' }));

    // the MAC of pod-1-3 now speaks from the new pod's port
    const moved0 = await metric(a1.url, 'hopscope_bridge_fdb_moved_total', NODE1);
    const mac13 = await macOf(`${PREFIX}n1p3`, 'eth0');
    await ip(pod, 'link', 'set', 'eth0', 'address', mac13);
    await nsExec(pod, 'ping', ['-c', '1', '-W', '1', '10.244.1.11']);
    await reaches(() => metric(a1.url, 'hopscope_bridge_fdb_moved_total', NODE1), moved0 + 1, 'node-1 saw the MAC move');

    const deleted0 = await metric(a1.url, 'hopscope_bridge_fdb_deleted_total', NODE1);
    await execa('ip', ['netns', 'del', pod]);
    await reaches(() => metric(a1.url, 'hopscope_bridge_fdb_deleted_total', NODE1), deleted0 + 1, 'node-1 deleted the pod\'s entries');

    // pod-1-3's MAC went with the deleted port: let the bridge learn it again behind its own port
    expect((await nsExec(`${PREFIX}n1p3`, 'ping', ['-c', '1', '-W', '2', '10.244.1.11'])).exitCode).toBe(0);
    await settle();
    expect(await learned(a2.url, NODE2)).toBe(before.l2);
    expect(await metric(a2.url, 'hopscope_bridge_fdb_moved_total', NODE2)).toBe(0);
  });
});

describe('bridge misses', () => {
  it('frames to a MAC no FDB entry knows are counted once per frame, on that node', async () => {
    const pod = `${PREFIX}n1p1`;
    await execa('ip', ['netns', 'exec', pod, 'ip', 'neigh', 'replace', '10.244.1.12', 'lladdr', '02:00:5e:10:00:99', 'dev', 'eth0', 'nud', 'permanent']);
    const uu = (url: string, l: Record<string, string>) => metric(url, 'hopscope_bridge_unknown_unicast_total', l);
    // every pod speaks first, so the bridge knows every MAC: the only unknown destination is the made-up one
    for (const p of [1, 2, 3]) await nsExec(`${PREFIX}n1p${p}`, 'ping', ['-c', '1', '-W', '1', '10.244.1.1']);
    await settle();
    const b1 = await uu(a1.url, NODE1);
    const b2 = await uu(a2.url, NODE2);
    const other0 = await metric(a1.url, 'hopscope_drops_total', { node: 'node-1', reason: 'OTHERHOST' });
    await nsExec(pod, 'ping', ['-c', '5', '-i', '0.2', '-W', '1', '10.244.1.12']);
    await reaches(() => uu(a1.url, NODE1), b1 + 5, 'node-1 unknown unicast');
    await settle();
    expect(await uu(a1.url, NODE1)).toBe(b1 + 5);
    expect(await uu(a2.url, NODE2)).toBe(b2);
    // the flooded frames reach two pods whose MAC they do not carry: the kernel drops them with its reason
    expect(await metric(a1.url, 'hopscope_drops_total', { node: 'node-1', reason: 'OTHERHOST' })).toBe(other0 + 10);
    await execa('ip', ['netns', 'exec', pod, 'ip', 'neigh', 'del', '10.244.1.12', 'dev', 'eth0']);
  });
});

describe('route misses keyed to the cluster routing table', () => {
  const miss = (reason: string, destination: string) => metric(a1.url, 'hopscope_route_misses_total', { node: 'node-1', reason, destination_node: destination });

  it('5 pings with node 1\'s route to node 2\'s Pod CIDR removed: exactly 5, route-miss traces; restored: growth stops', async () => {
    const before = await miss('no-route', 'node-2');
    const drops0 = await metric(a1.url, 'hopscope_drops_total', { node: 'node-1', reason: 'IP_INNOROUTES' });
    await ip(`${PREFIX}n1`, 'route', 'del', '10.244.2.0/24');
    try {
      await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '5', '-i', '0.2', '-W', '1', '10.244.2.11']);
    } finally {
      await ip(`${PREFIX}n1`, 'route', 'add', '10.244.2.0/24', 'via', '192.168.254.2', 'dev', 'eth0');
    }
    await reaches(() => miss('no-route', 'node-2'), before + 5, 'route misses toward node-2');
    const found = await waitFor(async () => {
      const t = (await traces(a1.url, '&outcome=route-miss')).filter((x) => x.dst.ip === '10.244.2.11');
      return t.length >= 5 ? t : undefined;
    }, 5000, '5 route-miss traces');
    for (const t of found) expect(t).toMatchObject({ path: 'unrouted', outcome: 'route-miss', reason: 'IP_INNOROUTES', dst: { node: 'node-2' } });
    expect(await metric(a1.url, 'hopscope_drops_total', { node: 'node-1', reason: 'IP_INNOROUTES' })).toBe(drops0 + 5);

    expect((await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', '10.244.2.11'])).exitCode).toBe(0);
    await settle();
    expect(await miss('no-route', 'node-2')).toBe(before + 5);
    expect(await metric(a2.url, 'hopscope_route_misses_total', { node: 'node-2', reason: 'no-route', destination_node: 'node-2' })).toBe(0);
  });

  it('unreachable and prohibit routes count with their own reason', async () => {
    const u0 = await miss('unreachable', 'node-2');
    const p0 = await miss('prohibit', 'node-2');
    try {
      await ip(`${PREFIX}n1`, 'route', 'replace', 'unreachable', '10.244.2.0/24');
      await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', '10.244.2.11']);
      await ip(`${PREFIX}n1`, 'route', 'replace', 'prohibit', '10.244.2.0/24');
      await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', '10.244.2.11']);
    } finally {
      await ip(`${PREFIX}n1`, 'route', 'replace', '10.244.2.0/24', 'via', '192.168.254.2', 'dev', 'eth0');
    }
    await reaches(() => miss('prohibit', 'node-2'), p0 + 3, 'prohibit misses');
    await settle();
    expect(await miss('unreachable', 'node-2')).toBe(u0 + 2);
    expect(await miss('prohibit', 'node-2')).toBe(p0 + 3);
  });

  it('a ping to an address in no node\'s Pod CIDR counts with destination_node none', async () => {
    const before = await miss('no-route', 'none');
    await nsExec(`${PREFIX}n1p2`, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', '10.99.0.1']);
    await reaches(() => miss('no-route', 'none'), before + 2, 'misses to no node');
    await settle();
    expect(await miss('no-route', 'none')).toBe(before + 2);
  });
});

describe('neighbour failures', () => {
  it('ARP for an absent address in node 1\'s Pod CIDR fails on node 1\'s bridge', async () => {
    const nf = (url: string, node: string) => metric(url, 'hopscope_neighbor_failures_total', { node, interface_kind: 'bridge' });
    const n1 = await nf(a1.url, 'node-1');
    const n2 = await nf(a2.url, 'node-2');
    const m0 = await metric(a1.url, 'hopscope_route_misses_total', { node: 'node-1', reason: 'neighbor-failed', destination_node: 'node-1' });
    await nsExec(`${PREFIX}n2p1`, 'ping', ['-c', '1', '-W', '5', '10.244.1.77']);
    await reaches(() => nf(a1.url, 'node-1'), n1 + 1, 'node-1 neighbour failure', 10_000);
    await reaches(
      () => metric(a1.url, 'hopscope_route_misses_total', { node: 'node-1', reason: 'neighbor-failed', destination_node: 'node-1' }),
      m0 + 1,
      'neighbour-failed route miss',
    );
    await settle();
    expect(await nf(a1.url, 'node-1')).toBe(n1 + 1);
    expect(await nf(a2.url, 'node-2')).toBe(n2);
  });
});
