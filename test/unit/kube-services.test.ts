/**
 * Services and EndpointSlices from Kubernetes (`--kubernetes`): the pure reduction of the API's objects, and the
 * REAL @kubernetes/client-node client listing and watching them from the in-test API server
 * (test/fixtures/fake-kube-api.ts) into the inventory the trace stages read.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeInventory } from '../../src/kubernetes/kube-inventory.js';
import { inventoryServices, serviceRecord, sliceRecord } from '../../src/kubernetes/kube-services.js';
import { startFakeKubeApi, type FakeKubeApi, type KubeObject } from '../fixtures/fake-kube-api.js';
import { until } from '../fixtures/until.js';

const TOKEN = 'kube-services-token-0123456789';

function service(name: string, clusterIP: string, ports: object[], extra: { namespace?: string; type?: string } = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: extra.namespace ?? 'default' }, spec: { type: extra.type ?? 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports } };
}

function slice(name: string, svc: string, addresses: { ip: string; ready?: boolean }[], ports: object[], namespace = 'default'): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: addresses.map((a) => ({ addresses: [a.ip], conditions: { ready: a.ready ?? true } })),
    ports,
  };
}

describe('Service and EndpointSlice objects -> inventory services', () => {
  it('a ClusterIP Service with a numeric and a named targetPort, backends from its ready endpoints', () => {
    const svc = serviceRecord(service('web', '10.96.0.10', [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9100, targetPort: 'metrics' }]));
    const a = sliceRecord(slice('web-abc', 'web', [{ ip: '10.244.2.11' }, { ip: '10.244.2.12', ready: false }], [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9999, protocol: 'TCP' }]));
    const b = sliceRecord(slice('web-def', 'web', [{ ip: '10.244.1.11' }], [{ name: 'http', port: 8080, protocol: 'TCP' }]));
    const other = sliceRecord(slice('api-x', 'api', [{ ip: '10.244.3.3' }], []));
    expect(inventoryServices([svc!], [a!, b!, other!])).toEqual([
      { namespace: 'default', name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }, { port: 9100, targetPort: 9999, protocol: 'TCP' }], backends: ['10.244.1.11', '10.244.2.11'] },
    ]);
  });

  it('headless, ExternalName, IPv6-only and nameless objects give nothing; a numeric string targetPort is a number', () => {
    expect(serviceRecord(service('h', 'None', [{ port: 80 }]))).toBeUndefined();
    expect(serviceRecord(service('x', '10.96.0.1', [], { type: 'ExternalName' }))).toBeUndefined();
    expect(serviceRecord(service('v6', 'fd00::1', [{ port: 80 }]))).toBeUndefined();
    expect(serviceRecord({ metadata: {}, spec: { clusterIP: '10.96.0.1' } })).toBeUndefined();
    expect(serviceRecord(service('s', '10.96.0.2', [{ port: 53, targetPort: '5353', protocol: 'UDP' }, { port: 0 }, { port: 1, protocol: 'XX' }]))?.ports).toEqual([
      { name: '', port: 53, targetPort: 5353, protocol: 'UDP' },
    ]);
    expect(sliceRecord({ ...slice('s6', 'web', [{ ip: 'fd00::2' }], []), addressType: 'IPv6' })).toBeUndefined();
    expect(sliceRecord({ metadata: { name: 'orphan' }, endpoints: [] })).toBeUndefined();
    expect(sliceRecord(null)).toBeUndefined();
  });
});

let api: FakeKubeApi;
let inventory: KubeInventory | undefined;
let logs: string[];

function kubeConfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'agent', token: TOKEN }],
    contexts: [{ name: 'test', cluster: 'test', user: 'agent' }],
    currentContext: 'test',
  });
  return kc;
}

beforeEach(async () => {
  logs = [];
  api = await startFakeKubeApi({ token: TOKEN });
  api.set('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: { podCIDR: '10.244.1.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.1.1' }] } });
  api.set('services', service('web', '10.96.0.10', [{ name: 'http', port: 80, targetPort: 'http' }]));
  api.set('endpointslices', slice('web-1', 'web', [{ ip: '10.244.2.11' }], [{ name: 'http', port: 8080, protocol: 'TCP' }]));
});

afterEach(async () => {
  await inventory?.stop();
  inventory = undefined;
  await api.close();
});

function start(): KubeInventory {
  inventory = new KubeInventory({ node: 'node-1', kubeConfig: kubeConfig(api.url), log: (m) => logs.push(m), backoff: { initialMs: 20, maxMs: 100 } });
  inventory.start();
  return inventory;
}

describe('KubeInventory: Services through the real client', () => {
  it('lists Services and EndpointSlices (all namespaces) and follows their watch events', async () => {
    const inv = start();
    await until(() => inv.servicesSynced() && inv.current().serviceByIp('10.96.0.10') !== undefined, 5000, 'services listed');
    expect(inv.current().serviceByIp('10.96.0.10')).toEqual({ namespace: 'default', name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }], backends: ['10.244.2.11'] });
    await until(() => api.requests.some((r) => r.path === '/apis/discovery.k8s.io/v1/endpointslices' && r.watch), 5000, 'the slices watched');
    expect(api.requests.some((r) => r.path === '/api/v1/services' && !r.watch && r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    // a second backend comes up in a new slice; then the Service goes
    api.set('endpointslices', slice('web-2', 'web', [{ ip: '10.244.1.20' }], [{ name: 'http', port: 8080, protocol: 'TCP' }]));
    await until(() => inv.current().serviceByIp('10.96.0.10')?.backends.length === 2, 5000, 'second backend');
    expect(inv.current().serviceByIp('10.96.0.10')?.backends).toEqual(['10.244.1.20', '10.244.2.11']);
    api.set('services', service('api', '10.96.0.20', [{ port: 443, targetPort: 8443 }], { namespace: 'shop' }));
    await until(() => inv.current().serviceByIp('10.96.0.20') !== undefined, 5000, 'second service');
    expect(inv.current().serviceByIp('10.96.0.20')).toMatchObject({ namespace: 'shop', name: 'api', backends: [] });
    api.remove('services', 'web', 'default');
    await until(() => inv.current().serviceByIp('10.96.0.10') === undefined, 5000, 'web gone');
    // a Service turned headless is gone too
    api.set('services', service('api', 'None', [{ port: 443 }], { namespace: 'shop' }));
    await until(() => !inv.current().hasServices, 5000, 'api headless');
  });

  it('without RBAC on services the agent is still ready, and says why Services are not named', async () => {
    api.deny('services', 403);
    const inv = start();
    await inv.whenReady(5000);
    expect(inv.ready()).toBe(true);
    await until(() => inv.status().reasons.some((r) => r.includes('services')), 5000, 'a reason');
    expect(inv.status()).toMatchObject({ ready: true });
    expect(inv.status().reasons.find((r) => r.includes('services'))).toMatch(/not listed \(traces will not name Services\).*403|forbidden/i);
    expect(inv.current().hasServices).toBe(false);
    api.deny('services', undefined);
    await until(() => inv.current().serviceByIp('10.96.0.10') !== undefined, 10_000, 'services after RBAC allows it');
  });
});
