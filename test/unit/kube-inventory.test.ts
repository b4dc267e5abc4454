/**
 * Kubernetes enrichment (`--kubernetes`) through the REAL @kubernetes/client-node client, against an in-test
 * HTTP server on 127.0.0.1 that answers list and watch like the API server (test/fixtures/fake-kube-api.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { inClusterKubeConfig, SERVICE_ACCOUNT_DIR } from '../../src/kubernetes/in-cluster-config.js';
import { KubeAccessError } from '../../src/kubernetes/kube-access-error.js';
import { KubeInventory, type DeletedPod } from '../../src/kubernetes/kube-inventory.js';
import { startFakeKubeApi, type FakeKubeApi, type KubeObject } from '../fixtures/fake-kube-api.js';
import { until } from '../fixtures/until.js';

const TOKEN = 'kube-test-token-0123456789';
const NODE = 'node-1';

function pod(name: string, node: string, ip: string | undefined, extra: { namespace?: string; hostNetwork?: boolean; phase?: string; ips?: string[] } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: extra.namespace ?? 'default', uid: `uid-${name}` },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox' }], ...(extra.hostNetwork ? { hostNetwork: true } : {}) },
    status: {
      phase: extra.phase ?? 'Running',
      ...(ip !== undefined ? { podIP: ip, podIPs: (extra.ips ?? [ip]).map((x) => ({ ip: x })) } : {}),
    },
  };
}

function node(name: string, podCIDR: string | undefined, internalIP: string, conditions = 'Ready'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `uid-${name}` },
    spec: podCIDR === undefined ? {} : { podCIDR, podCIDRs: [podCIDR, 'fd00:10:244::/64'] },
    status: {
      addresses: [
        { type: 'Hostname', address: name },
        { type: 'InternalIP', address: 'fd00::1' },
        { type: 'InternalIP', address: internalIP },
      ],
      conditions: [{ type: conditions, status: 'True' }],
    },
  };
}

function kubeConfig(server: string, token = TOKEN): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'agent', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'agent' }],
    currentContext: 'test',
  });
  return kc;
}

let api: FakeKubeApi;
let inventory: KubeInventory | undefined;
let logs: string[];
let deleted: DeletedPod[];

function start(o: { token?: string; pageSize?: number } = {}): KubeInventory {
  inventory = new KubeInventory({
    node: NODE,
    kubeConfig: kubeConfig(api.url, o.token ?? TOKEN),
    log: (m) => logs.push(m),
    backoff: { initialMs: 20, maxMs: 100 },
    ...(o.pageSize !== undefined ? { pageSize: o.pageSize } : {}),
  });
  inventory.onPodDeleted((p) => deleted.push(p));
  inventory.start();
  return inventory;
}

/** What the inventory should hold, computed from the server's own objects: pods of NODE with an IP, nodes. */
function expectMatchesServer(inv: KubeInventory): void {
  const current = inv.current();
  const serverPods = api
    .objects('pods')
    .filter((p) => p['spec'].nodeName === NODE && !p['spec'].hostNetwork && p['status']?.podIP && !['Succeeded', 'Failed'].includes(p['status'].phase))
    .map((p) => `${p.metadata.namespace}/${p.metadata.name}@${p['status'].podIP as string}`)
    .sort();
  expect(current.data.pods.map((p) => `${p.namespace}/${p.name}@${p.ip}`).sort()).toEqual(serverPods);
  const serverNodes = api
    .objects('nodes')
    .map((n) => `${n.metadata.name}:${(n['spec'].podCIDR as string | undefined) ?? ''}`)
    .sort();
  expect(current.data.nodes.map((n) => `${n.name}:${n.podCIDR}`).sort()).toEqual(serverNodes);
}

beforeEach(async () => {
  logs = [];
  deleted = [];
  api = await startFakeKubeApi({ token: TOKEN });
  api.set('nodes', node('node-1', '10.244.1.0/24', '192.168.1.1'));
  api.set('nodes', node('node-2', '10.244.2.0/24', '192.168.1.2'));
  api.set('pods', pod('web-a', 'node-1', '10.244.1.10'));
  api.set('pods', pod('web-b', 'node-1', '10.244.1.11', { namespace: 'shop' }));
  api.set('pods', pod('db-0', 'node-1', '10.244.1.12'));
  api.set('pods', pod('remote', 'node-2', '10.244.2.10'));
  api.set('pods', pod('kube-proxy-x', 'node-1', '192.168.1.1', { namespace: 'kube-system', hostNetwork: true }));
  api.set('pods', pod('job-done', 'node-1', '10.244.1.99', { phase: 'Succeeded' }));
});

afterEach(async () => {
  await inventory?.stop();
  inventory = undefined;
  await api.close();
  vi.unstubAllEnvs();
});

describe('KubeInventory: list', () => {
  it('lists the pods of its node (paged) and all nodes, and answers podByIp and nodeOwningIp', async () => {
    const inv = start({ pageSize: 2 });
    expect(inv.ready()).toBe(false);
    await inv.whenReady(5000);
    expect(inv.ready()).toBe(true);
    const current = inv.current();

    expect(current.podByIp('10.244.1.10')).toEqual({ namespace: 'default', name: 'web-a', node: 'node-1', ip: '10.244.1.10' });
    expect(current.podByIp('10.244.1.11')).toEqual({ namespace: 'shop', name: 'web-b', node: 'node-1', ip: '10.244.1.11' });
    // another node's pod is not watched; its address still resolves to its node by the Pod CIDR
    expect(current.podByIp('10.244.2.10')).toBeUndefined();
    expect(current.nodeOwningIp('10.244.2.10')?.name).toBe('node-2');
    expect(current.nodeOwningIp('10.244.1.200')?.name).toBe('node-1');
    // dual-stack nodes: every Pod CIDR and InternalIP too (IPv6 ones canonical)
    expect(current.nodeOwningIp('192.168.1.2')).toEqual({
      name: 'node-2', podCIDR: '10.244.2.0/24', internalIP: '192.168.1.2',
      podCIDRs: ['10.244.2.0/24', 'fd00:10:244::/64'], internalIPs: ['fd00::1', '192.168.1.2'],
    });
    expect(current.nodeOwningIp('10.245.0.1')).toBeUndefined();
    // a host-network pod's address is the node's; a finished pod has given its address back
    expect(current.podByIp('192.168.1.1')).toBeUndefined();
    expect(current.podByIp('10.244.1.99')).toBeUndefined();
    expectMatchesServer(inv);
    expect(inv.status()).toEqual({ ready: true, reasons: [] });

    // paged: 5 pods of node-1 at 2 a page = 3 requests, the later ones with the server's continue token
    const podLists = api.requests.filter((r) => r.kind === 'pods' && !r.watch);
    expect(podLists.map((r) => r.query.get('limit'))).toEqual(['2', '2', '2']);
    expect(podLists.map((r) => r.query.get('continue'))).toEqual([null, expect.stringMatching(/^\d+:2$/), expect.stringMatching(/^\d+:4$/)]);
  });

  it('sends the field selector spec.nodeName=<node> on every pod request and the token on every request', async () => {
    const inv = start();
    await inv.whenReady(5000);
    await until(() => api.openWatches('pods') === 1 && api.openWatches('nodes') === 1, 5000, 'both watches open');
    const pods = api.requests.filter((r) => r.kind === 'pods');
    expect(pods.filter((r) => r.watch)).toHaveLength(1);
    expect(pods.filter((r) => !r.watch)).toHaveLength(1);
    for (const r of pods) expect(r.query.get('fieldSelector')).toBe('spec.nodeName=node-1');
    for (const r of api.requests.filter((x) => x.kind === 'nodes')) expect(r.query.get('fieldSelector')).toBeNull();
    expect(api.requests.length).toBeGreaterThanOrEqual(4);
    for (const r of api.requests) expect(r.authorization).toBe(`Bearer ${TOKEN}`);
    // the watch starts from the list's resourceVersion
    const list = pods.find((r) => !r.watch);
    const watch = pods.find((r) => r.watch);
    expect(watch?.query.get('resourceVersion')).toMatch(/^\d+$/);
    expect(list?.status).toBe(200);
  });
});

describe('KubeInventory: watch events', () => {
  it('applies ADDED, MODIFIED and DELETED for pods and nodes and announces each deleted pod address', async () => {
    const inv = start();
    await inv.whenReady(5000);
    await until(() => api.openWatches('pods') === 1 && api.openWatches('nodes') === 1, 5000, 'watches open');

    api.set('pods', pod('new-1', 'node-1', '10.244.1.30'));
    api.set('pods', pod('elsewhere', 'node-2', '10.244.2.30')); // not this node's: never sent to this agent
    await until(() => inv.current().podByIp('10.244.1.30') !== undefined, 5000, 'ADDED pod');
    expect(inv.current().podByIp('10.244.1.30')?.name).toBe('new-1');
    expect(inv.current().podByIp('10.244.2.30')).toBeUndefined();

    api.set('pods', pod('web-a', 'node-1', '10.244.1.20')); // MODIFIED: a new address
    await until(() => inv.current().podByIp('10.244.1.20') !== undefined, 5000, 'MODIFIED pod');
    expect(inv.current().podByIp('10.244.1.20')?.name).toBe('web-a');
    expect(inv.current().podByIp('10.244.1.10')).toBeUndefined();

    api.set('nodes', node('node-3', '10.244.3.0/24', '192.168.1.3'));
    await until(() => inv.current().nodeOwningIp('10.244.3.7')?.name === 'node-3', 5000, 'ADDED node');
    api.set('nodes', node('node-3', '10.244.30.0/24', '192.168.1.3')); // MODIFIED: a new Pod CIDR
    await until(() => inv.current().nodeOwningIp('10.244.30.7')?.name === 'node-3', 5000, 'MODIFIED node');
    expect(inv.current().nodeOwningIp('10.244.3.7')).toBeUndefined();

    expect(deleted).toEqual([]);
    api.remove('pods', 'web-b', 'shop');
    await until(() => inv.current().podByIp('10.244.1.11') === undefined, 5000, 'DELETED pod');
    expect(deleted).toEqual([{ namespace: 'shop', name: 'web-b', ip: '10.244.1.11' }]);

    // a deleted pod announces every address it held, including one it had before a change
    api.remove('pods', 'web-a', 'default');
    await until(() => deleted.length >= 3, 5000, 'DELETED web-a');
    expect(deleted.slice(1)).toEqual([
      { namespace: 'default', name: 'web-a', ip: '10.244.1.10' },
      { namespace: 'default', name: 'web-a', ip: '10.244.1.20' },
    ]);

    api.remove('nodes', 'node-2');
    await until(() => inv.current().nodeOwningIp('10.244.2.10') === undefined, 5000, 'DELETED node');
    expectMatchesServer(inv);
  });

  it('keeps the same Inventory object across changes that do not matter (a node status heartbeat)', async () => {
    const inv = start();
    await inv.whenReady(5000);
    await until(() => api.openWatches('nodes') === 1, 5000, 'watches open');
    const before = inv.current();
    api.set('nodes', node('node-2', '10.244.2.0/24', '192.168.1.2', 'MemoryPressure'));
    api.set('pods', pod('marker', 'node-1', '10.244.1.77'));
    await until(() => inv.current().podByIp('10.244.1.77') !== undefined, 5000, 'marker pod');
    const after = inv.current();
    expect(after).not.toBe(before);
    api.set('nodes', node('node-2', '10.244.2.0/24', '192.168.1.2', 'DiskPressure'));
    api.set('nodes', node('node-ping', '10.244.9.0/24', '192.168.1.9'));
    await until(() => inv.current().node('node-ping') !== undefined, 5000, 'node-ping');
    const third = inv.current();
    api.set('nodes', node('node-ping', '10.244.9.0/24', '192.168.1.9', 'PIDPressure'));
    api.set('pods', pod('marker', 'node-1', '10.244.1.77')); // MODIFIED with the same address
    await new Promise((r) => setTimeout(r, 200));
    expect(inv.current()).toBe(third);
  });

  it('does not let a malformed event or a failing listener break the watch', async () => {
    const inv = start();
    inv.onPodDeleted(() => {
      throw new Error('listener bug');
    });
    await inv.whenReady(5000);
    await until(() => api.openWatches('pods') === 1, 5000, 'watches open');
    api.sendRaw('pods', '{"type":"ADDED","object":null}');
    api.sendRaw('pods', '{"type":"ADDED","object":{"kind":"Pod"}}');
    api.sendRaw('pods', '{"type":"MODIFIED","object":{"metadata":{"name":"x"},"status":{"podIPs":"not-an-array","podIP":7}}}');
    api.sendRaw('pods', 'this is not json');
    api.sendRaw('pods', '{"type":"SURPRISE","object":{"metadata":{"name":"y"}}}');
    api.remove('pods', 'db-0', 'default');
    api.set('pods', pod('after', 'node-1', '10.244.1.40'));
    await until(() => inv.current().podByIp('10.244.1.40') !== undefined, 5000, 'event after the junk');
    expect(inv.current().podByIp('10.244.1.12')).toBeUndefined();
    expect(deleted).toEqual([{ namespace: 'default', name: 'db-0', ip: '10.244.1.12' }]);
    expect(logs.some((l) => l.includes('pod-deleted listener failed') && l.includes('listener bug'))).toBe(true);
    expect(api.openWatches('pods')).toBe(1);
  });
});

describe('KubeInventory: expired resourceVersion (410 Gone)', () => {
  it('relists after a watch ERROR event with code 410, and then matches the server', async () => {
    const inv = start();
    await inv.whenReady(5000);
    await until(() => api.openWatches('pods') === 1 && api.openWatches('nodes') === 1, 5000, 'watches open');
    expect(inv.relists).toEqual({ pods: 1, nodes: 1 });

    // changes the agent never hears of by watch: only a relist can find them
    api.remove('pods', 'web-a', 'default', { deliver: false });
    api.set('pods', pod('missed', 'node-1', '10.244.1.50'), { deliver: false });
    api.set('pods', pod('db-0', 'node-1', '10.244.1.13'), { deliver: false });
    api.set('nodes', node('node-2', '10.244.22.0/24', '192.168.1.2'), { deliver: false });
    expect(inv.current().podByIp('10.244.1.50')).toBeUndefined();

    const listsBefore = api.requests.filter((r) => !r.watch).length;
    api.expire('pods', 'event');
    api.expire('nodes', 'event');
    await until(() => inv.relists.pods === 2 && inv.relists.nodes === 2, 5000, 'relisted');
    expect(api.requests.filter((r) => !r.watch).length).toBe(listsBefore + 2);
    // straight from the ERROR event to the relist: no watch was tried (and refused) in between
    expect(api.requests.filter((r) => r.watch && r.status === 410)).toEqual([]);
    // the relist is a fresh list: no resourceVersion, no continue
    const relist = api.requests.filter((r) => r.kind === 'pods' && !r.watch).at(-1);
    expect(relist?.query.get('resourceVersion')).toBeNull();
    expect(relist?.query.get('fieldSelector')).toBe('spec.nodeName=node-1');

    expectMatchesServer(inv);
    expect(inv.current().podByIp('10.244.1.50')?.name).toBe('missed');
    expect(inv.current().podByIp('10.244.1.13')?.name).toBe('db-0');
    expect(inv.current().nodeOwningIp('10.244.22.5')?.name).toBe('node-2');
    // a pod that vanished between watches is deleted as far as the agent can tell
    expect(deleted).toEqual([{ namespace: 'default', name: 'web-a', ip: '10.244.1.10' }]);
    expect(logs.some((l) => l.includes('410'))).toBe(true);
    await until(() => api.openWatches('pods') === 1 && api.openWatches('nodes') === 1, 5000, 'watching again');

    api.set('pods', pod('later', 'node-1', '10.244.1.60'));
    await until(() => inv.current().podByIp('10.244.1.60') !== undefined, 5000, 'events after the relist');
  });

  it('relists after a watch answered HTTP 410, and then matches the server', async () => {
    const inv = start();
    await inv.whenReady(5000);
    await until(() => api.openWatches('pods') === 1, 5000, 'watches open');
    api.remove('pods', 'web-b', 'shop', { deliver: false });
    api.set('pods', pod('missed', 'node-1', '10.244.1.51'), { deliver: false });
    // history compacted and the watch closed: the client re-watches from its old resourceVersion and gets 410
    api.expire('pods', 'http');
    await until(() => inv.relists.pods === 2, 5000, 'relisted');
    const gone = api.requests.filter((r) => r.kind === 'pods' && r.watch && r.status === 410);
    expect(gone.length).toBeGreaterThanOrEqual(1);
    const afterGone = api.requests.slice(api.requests.indexOf(gone[0]!) + 1).filter((r) => r.kind === 'pods');
    expect(afterGone[0]?.watch).toBe(false); // the next pod request is the relist
    expectMatchesServer(inv);
    expect(deleted).toEqual([{ namespace: 'shop', name: 'web-b', ip: '10.244.1.11' }]);
    expect(inv.status().reasons).toEqual([]);
  });

  it('re-watches from the last resourceVersion, without relisting, when a watch just ends', async () => {
    const inv = start();
    await inv.whenReady(5000);
    await until(() => api.openWatches('pods') === 1, 5000, 'watches open');
    api.set('pods', pod('seen', 'node-1', '10.244.1.70'));
    await until(() => inv.current().podByIp('10.244.1.70') !== undefined, 5000, 'seen');
    const watchesBefore = api.requests.filter((r) => r.kind === 'pods' && r.watch).length;
    // the server ends the watch (its timeout); a change made meanwhile comes from the history on re-watch
    api.set('pods', pod('while-away', 'node-1', '10.244.1.71'), { deliver: false });
    api.endWatches('pods');
    await until(() => api.requests.filter((r) => r.kind === 'pods' && r.watch).length === watchesBefore + 1, 5000, 're-watched');
    await until(() => inv.current().podByIp('10.244.1.71') !== undefined, 5000, 'replayed from history');
    expect(inv.relists.pods).toBe(1);
    const rewatch = api.requests.filter((r) => r.kind === 'pods' && r.watch).at(-1);
    expect(Number(rewatch?.query.get('resourceVersion'))).toBeGreaterThan(0);
  });
});

describe('KubeInventory: access errors', () => {
  it('is not ready on 403 and says which ClusterRole is missing, once, then recovers when RBAC allows it', async () => {
    api.deny('nodes', 403);
    const inv = start();
    await expect(inv.whenReady(400)).rejects.toSatisfy((e: unknown) => e instanceof KubeAccessError && e.forbidden);
    expect(inv.ready()).toBe(false);
    const status = inv.status();
    expect(status.ready).toBe(false);
    const reason = status.reasons.find((r) => r.includes('nodes'));
    expect(reason).toMatch(/HTTP 403/);
    expect(reason).toMatch(/ClusterRole hopscope-agent/);
    expect(reason).toMatch(/ClusterRoleBinding hopscope-agent/);
    expect(reason).toMatch(/cannot list resource "nodes"/); // the API server's own words
    // retried with backoff, reported once
    await until(() => api.requests.filter((r) => r.kind === 'nodes' && r.status === 403).length >= 3, 5000, 'a retry');
    expect(logs.filter((l) => l.includes('HTTP 403')).length).toBe(1);

    api.deny('nodes', undefined);
    await inv.whenReady(5000);
    expect(inv.status()).toEqual({ ready: true, reasons: [] });
    expect(logs.some((l) => l.includes('nodes listed again'))).toBe(true);
    expectMatchesServer(inv);
  });

  it('names the token on 401', async () => {
    const inv = start({ token: 'wrong-token-wrong-token' });
    await expect(inv.whenReady(300)).rejects.toThrow(/HTTP 401.*service account token/);
    expect(api.requests.every((r) => r.status === 401)).toBe(true);
  });

  it('says the API server cannot be reached when nothing listens', async () => {
    const url = api.url;
    await api.close();
    inventory = new KubeInventory({ node: NODE, kubeConfig: kubeConfig(url), log: (m) => logs.push(m), backoff: { initialMs: 20, maxMs: 50 } });
    inventory.start();
    await expect(inventory.whenReady(300)).rejects.toThrow(new RegExp(`cannot reach the Kubernetes API server at ${url.replace(/\./g, '\\.')}.*ECONNREFUSED`));
    api = await startFakeKubeApi({ token: TOKEN }); // for afterEach
  });

  it('stops: closes its watches and makes no more requests', async () => {
    const inv = start();
    await inv.whenReady(5000);
    await until(() => api.openWatches('pods') === 1 && api.openWatches('nodes') === 1, 5000, 'watches open');
    await inv.stop();
    await until(() => api.openWatches('pods') === 0 && api.openWatches('nodes') === 0, 5000, 'watches closed');
    const count = api.requests.length;
    api.set('pods', pod('after-stop', 'node-1', '10.244.1.90'));
    await new Promise((r) => setTimeout(r, 150));
    expect(api.requests.length).toBe(count);
    expect(inv.current().podByIp('10.244.1.90')).toBeUndefined();
  });
});

describe('in-cluster configuration', () => {
  it('outside a pod: fails naming KUBERNETES_SERVICE_HOST and the alternative', () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', undefined);
    vi.stubEnv('KUBERNETES_SERVICE_PORT', undefined);
    expect(() => inClusterKubeConfig()).toThrow(/no in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set.*--inventory FILE/);
    expect(() => new KubeInventory({ node: NODE })).toThrow(KubeAccessError);
  });

  it('without the service account token: names the file and the ServiceAccount', () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '10.96.0.1');
    vi.stubEnv('KUBERNETES_SERVICE_PORT', '443');
    const root = mkdtempSync(join(tmpdir(), 'hopscope-sa-'));
    try {
      expect(() => inClusterKubeConfig(root)).toThrow(new RegExp(`${root}${SERVICE_ACCOUNT_DIR}/token is missing.*serviceAccountName: hopscope-agent`));
      mkdirSync(`${root}${SERVICE_ACCOUNT_DIR}`, { recursive: true });
      writeFileSync(`${root}${SERVICE_ACCOUNT_DIR}/token`, 'sa-token');
      expect(() => inClusterKubeConfig(root)).toThrow(/ca\.crt is missing/);
      writeFileSync(`${root}${SERVICE_ACCOUNT_DIR}/ca.crt`, 'not really a certificate');
      writeFileSync(`${root}${SERVICE_ACCOUNT_DIR}/namespace`, 'hopscope');
      const kc = inClusterKubeConfig(root);
      expect(kc.getCurrentCluster()?.server).toBe('https://10.96.0.1:443');
      expect(kc.getCurrentUser()?.authProvider?.config?.tokenFile).toBe(`${root}${SERVICE_ACCOUNT_DIR}/token`);
      expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('hopscope');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
