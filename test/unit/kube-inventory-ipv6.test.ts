/**
 * `--kubernetes` with dual-stack objects, through the REAL @kubernetes/client-node client against the in-test API
 * server (test/fixtures/fake-kube-api.ts): IPv6 podIPs and podCIDRs reach the inventory (canonical text), pods
 * and nodes resolve by IPv6 address, and a deleted pod's IPv6 address is announced like its IPv4 one.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeInventory, type DeletedPod } from '../../src/kubernetes/kube-inventory.js';
import { startFakeKubeApi, type FakeKubeApi, type KubeObject } from '../fixtures/fake-kube-api.js';
import { until } from '../fixtures/until.js';

const TOKEN = 'kube-test-token-ipv6-0123456789';
let api: FakeKubeApi | undefined;
let inv: KubeInventory | undefined;

afterEach(async () => {
  await inv?.stop();
  await api?.close();
  inv = undefined;
  api = undefined;
});

const pod = (name: string, ips: string[]): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid: `uid-${name}` },
  spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'busybox' }] },
  status: { phase: 'Running', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
});
const node = (name: string, cidrs: string[], addresses: string[]): KubeObject => ({
  apiVersion: 'v1', kind: 'Node', metadata: { name, uid: `uid-${name}` },
  spec: { podCIDR: cidrs[0], podCIDRs: cidrs },
  status: { addresses: addresses.map((address) => ({ type: 'InternalIP', address })) },
});

describe('KubeInventory with dual-stack pods and nodes', () => {
  it('resolves pods and nodes by IPv6 address and announces a deleted pod\'s IPv6 address', async () => {
    api = await startFakeKubeApi({ token: TOKEN });
    api.set('nodes', node('node-1', ['10.244.1.0/24', 'fd00:10:244:1::/64'], ['192.168.1.1', 'fd00:192:168:254::1']));
    api.set('nodes', node('node-2', ['10.244.2.0/24', 'FD00:10:244:2:0::/64'], ['192.168.1.2']));
    api.set('pods', pod('dual', ['10.244.1.10', 'fd00:10:244:1::a']));
    api.set('pods', pod('v6only', ['fd00:10:244:1:0:0:0:b']));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 't', server: api.url, skipTLSVerify: true }], users: [{ name: 'a', token: TOKEN }],
      contexts: [{ name: 't', cluster: 't', user: 'a' }], currentContext: 't',
    });
    const deleted: DeletedPod[] = [];
    inv = new KubeInventory({ node: 'node-1', kubeConfig: kc, log: () => undefined, backoff: { initialMs: 20, maxMs: 100 } });
    inv.onPodDeleted((p) => deleted.push(p));
    inv.start();
    await inv.whenReady(5000);
    const cur = inv.current();
    expect(cur.podByIp('fd00:10:244:1::a')).toMatchObject({ name: 'dual', ip: '10.244.1.10', ips: ['10.244.1.10', 'fd00:10:244:1::a'] });
    expect(cur.podByIp('10.244.1.10')?.name).toBe('dual');
    expect(cur.podByIp('fd00:10:244:1::b')).toMatchObject({ name: 'v6only', ip: 'fd00:10:244:1::b' });
    expect(cur.nodeOwningIp('fd00:10:244:2::99')?.name).toBe('node-2');
    expect(cur.nodeOwningIp('fd00:192:168:254::1')?.name).toBe('node-1');
    expect(cur.nodeOwningIp('fd00:10:244:3::1')).toBeUndefined();
    api.remove('pods', 'dual', 'default');
    await until(() => deleted.length >= 2, 5000, 'deleted pod announcements');
    expect(deleted.map((d) => d.ip).sort()).toEqual(['10.244.1.10', 'fd00:10:244:1::a']);
    expect(inv.current().podByIp('fd00:10:244:1::a')).toBeUndefined();
  });
});
