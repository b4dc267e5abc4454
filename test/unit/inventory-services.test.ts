import { describe, expect, it } from 'vitest';
import { Inventory, InventoryError, validateInventory } from '../../src/inventory/inventory.js';

const base = { nodes: [{ name: 'node-1', podCIDR: '10.244.1.0/24', internalIP: '192.168.254.1' }], pods: [] };
const web = { namespace: 'default', name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }], backends: ['10.244.2.11'] };

function message(json: unknown): string {
  try {
    validateInventory(json, 'inv.json');
  } catch (e) {
    if (e instanceof InventoryError) return e.message;
    throw e;
  }
  throw new Error('expected an InventoryError');
}

describe('inventory services (DESIGN.md format)', () => {
  it('reads services and finds them by cluster IP', () => {
    const data = validateInventory({ ...base, services: [web] });
    expect(data.services).toEqual([web]);
    const inv = new Inventory(data);
    expect(inv.hasServices).toBe(true);
    expect(inv.serviceByIp('10.96.0.10')?.name).toBe('web');
    expect(inv.serviceByIp('10.244.2.11')).toBeUndefined();
  });

  it('without "services": none, and no lookup finds one', () => {
    const data = validateInventory(base);
    expect(data.services).toBeUndefined();
    expect(new Inventory(data).hasServices).toBe(false);
    expect(new Inventory(data).serviceByIp('10.96.0.10')).toBeUndefined();
  });

  it('defaults: targetPort is the port, protocol TCP, no ports or backends is allowed', () => {
    const data = validateInventory({ ...base, services: [{ namespace: 'a', name: 'b', clusterIP: '10.96.0.1', ports: [{ port: 443 }] }, { namespace: 'a', name: 'c', clusterIP: '10.96.0.2' }] });
    expect(data.services?.[0]).toEqual({ namespace: 'a', name: 'b', clusterIP: '10.96.0.1', ports: [{ port: 443, targetPort: 443, protocol: 'TCP' }], backends: [] });
    expect(data.services?.[1]).toMatchObject({ ports: [], backends: [] });
  });

  it('names the bad field', () => {
    expect(message({ ...base, services: {} })).toBe('inv.json: "services" must be an array');
    expect(message({ ...base, services: [{ ...web, clusterIP: 'x' }] })).toBe('inv.json: services[0].clusterIP "x" is not an IPv4 address');
    expect(message({ ...base, services: [{ ...web, name: '' }] })).toBe('inv.json: services[0].name must be a non-empty string');
    expect(message({ ...base, services: [{ ...web, ports: [{ port: 0 }] }] })).toBe('inv.json: services[0].ports[0].port must be an integer from 1 to 65535');
    expect(message({ ...base, services: [{ ...web, ports: [{ port: 80, targetPort: 'http' }] }] })).toBe('inv.json: services[0].ports[0].targetPort must be an integer from 1 to 65535');
    expect(message({ ...base, services: [{ ...web, ports: [{ port: 80, protocol: 'ICMP' }] }] })).toBe('inv.json: services[0].ports[0].protocol must be one of TCP, UDP, SCTP');
    expect(message({ ...base, services: [{ ...web, backends: ['10.244.2.11', 7] }] })).toBe('inv.json: services[0].backends[1] 7 is not an IPv4 address');
  });
});
