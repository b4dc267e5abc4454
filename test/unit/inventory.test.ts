import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Inventory, InventoryError, loadInventoryFile, validateInventory, type InventoryData } from '../../src/inventory/inventory.js';
import { cidrContains, ipFromRawLe, parseCidr, parseIpv4, swap16, swap32 } from '../../src/net/ipv4.js';

const DATA: InventoryData = {
  nodes: [
    { name: 'node-a', netns: 'hsn1', podCIDR: '10.244.1.0/24', internalIP: '192.168.254.1' },
    { name: 'node-b', podCIDR: '10.244.2.0/24', internalIP: '192.168.254.2' },
  ],
  pods: [
    { namespace: 'default', name: 'curl', node: 'node-a', ip: '10.244.1.10', netns: 'hsn1p1' },
    { namespace: 'web', name: 'nginx', node: 'node-b', ip: '10.244.2.10' },
  ],
};

type Doc = { nodes: unknown[]; pods: unknown[] };
type Change = (doc: Doc) => void;

/** A deep copy of DATA as untyped JSON, with one change applied. */
function json(change: Change = () => {}): unknown {
  const doc = JSON.parse(JSON.stringify(DATA)) as Doc;
  change(doc);
  return doc;
}

const setField =
  (list: keyof Doc, i: number, key: string, value: unknown): Change =>
  (doc) => {
    const item = doc[list][i] as Record<string, unknown>;
    if (value === undefined) delete item[key];
    else item[key] = value;
  };
const replaceItem =
  (list: keyof Doc, i: number, value: unknown): Change =>
  (doc) => {
    doc[list][i] = value;
  };

function errorOf(fn: () => unknown): InventoryError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InventoryError) return e;
    throw e;
  }
  throw new Error('expected an InventoryError');
}

describe('validateInventory', () => {
  it('accepts the DESIGN.md shape and keeps netns only where given', () => {
    const data = validateInventory(json());
    expect(data).toEqual(DATA);
    expect(data.nodes[1]).not.toHaveProperty('netns');
    expect(data.pods[1]).not.toHaveProperty('netns');
  });

  it('accepts a document without pods', () => {
    expect(validateInventory({ nodes: [] })).toEqual({ nodes: [], pods: [] });
  });

  it('drops fields it does not know', () => {
    const data = validateInventory(json(setField('nodes', 0, 'labels', { a: 'b' })));
    expect(data.nodes[0]).toEqual(DATA.nodes[0]);
  });

  it.each([
    ['not an object', 'x', 'inventory: the document must be an object with "nodes" and "pods"'],
    ['an array', [], 'inventory: the document must be an object with "nodes" and "pods"'],
    ['null', null, 'inventory: the document must be an object with "nodes" and "pods"'],
    ['no nodes', { pods: [] }, 'inventory: "nodes" must be an array'],
    ['nodes an object', { nodes: {} }, 'inventory: "nodes" must be an array'],
    ['pods a string', { nodes: [], pods: 'curl' }, 'inventory: "pods" must be an array'],
  ])('rejects a document that is %s', (_name, doc, message) => {
    expect(errorOf(() => validateInventory(doc)).message).toBe(message);
  });

  it.each<[string, Change]>([
    ['nodes[0]', replaceItem('nodes', 0, 'node-a')],
    ['nodes[1].name', setField('nodes', 1, 'name', undefined)],
    ['nodes[0].name', setField('nodes', 0, 'name', '')],
    ['nodes[0].podCIDR', setField('nodes', 0, 'podCIDR', '10.244.1.0')],
    ['nodes[0].podCIDR', setField('nodes', 0, 'podCIDR', '10.244.1.0/33')],
    ['nodes[1].podCIDR', setField('nodes', 1, 'podCIDR', 24)],
    ['nodes[0].internalIP', setField('nodes', 0, 'internalIP', '192.168.254.256')],
    ['nodes[0].internalIP', setField('nodes', 0, 'internalIP', undefined)],
    ['nodes[0].netns', setField('nodes', 0, 'netns', '')],
    ['nodes[0].netns', setField('nodes', 0, 'netns', 7)],
    ['pods[1]', replaceItem('pods', 1, null)],
    ['pods[0].namespace', setField('pods', 0, 'namespace', undefined)],
    ['pods[0].name', setField('pods', 0, 'name', ['curl'])],
    ['pods[1].node', setField('pods', 1, 'node', undefined)],
    ['pods[1].ip', setField('pods', 1, 'ip', '10.244.2')],
    ['pods[0].ip', setField('pods', 0, 'ip', 'fd00::1')],
    ['pods[0].netns', setField('pods', 0, 'netns', false)],
  ])('names %s when it is bad', (field, change) => {
    const e = errorOf(() => validateInventory(json(change), 'inv.json'));
    expect(e.name).toBe('InventoryError');
    expect(e.message.startsWith(`inv.json: ${field} `)).toBe(true);
  });

  it('quotes the bad CIDR and address', () => {
    expect(errorOf(() => validateInventory(json(setField('nodes', 0, 'podCIDR', '10.244.1.0/99')))).message).toBe(
      'inventory: nodes[0].podCIDR "10.244.1.0/99" is not an IPv4 CIDR such as 10.244.1.0/24',
    );
    expect(errorOf(() => validateInventory(json(setField('pods', 0, 'ip', '1.2.3.4.5')))).message).toBe(
      'inventory: pods[0].ip "1.2.3.4.5" is not an IPv4 address',
    );
  });
});

describe('Inventory lookups', () => {
  const inv = new Inventory(DATA);

  it('podByIp finds a pod by its exact IP only', () => {
    expect(inv.podByIp('10.244.1.10')).toMatchObject({ namespace: 'default', name: 'curl', node: 'node-a' });
    expect(inv.podByIp('10.244.2.10')?.name).toBe('nginx');
    expect(inv.podByIp('10.244.1.11')).toBeUndefined();
    expect(inv.podByIp('10.244.1.1')).toBeUndefined();
    expect(inv.podByIp('192.168.254.1')).toBeUndefined();
  });

  it('nodeOwningIp finds the node by Pod CIDR', () => {
    expect(inv.nodeOwningIp('10.244.1.10')?.name).toBe('node-a');
    expect(inv.nodeOwningIp('10.244.1.0')?.name).toBe('node-a');
    expect(inv.nodeOwningIp('10.244.1.255')?.name).toBe('node-a');
    expect(inv.nodeOwningIp('10.244.2.99')?.name).toBe('node-b');
  });

  it('nodeOwningIp finds the node by its internalIP', () => {
    expect(inv.nodeOwningIp('192.168.254.1')?.name).toBe('node-a');
    expect(inv.nodeOwningIp('192.168.254.2')?.name).toBe('node-b');
  });

  it('nodeOwningIp gives undefined outside every Pod CIDR and node address', () => {
    expect(inv.nodeOwningIp('10.244.3.1')).toBeUndefined();
    expect(inv.nodeOwningIp('10.244.0.255')).toBeUndefined();
    expect(inv.nodeOwningIp('192.168.254.3')).toBeUndefined();
    expect(inv.nodeOwningIp('not an ip')).toBeUndefined();
  });

  it('node() finds by name', () => {
    expect(inv.node('node-b')?.internalIP).toBe('192.168.254.2');
    expect(inv.node('node-c')).toBeUndefined();
  });

  it('an empty inventory knows nothing', () => {
    const empty = Inventory.empty();
    expect(empty.data).toEqual({ nodes: [], pods: [] });
    expect(empty.podByIp('10.244.1.10')).toBeUndefined();
    expect(empty.nodeOwningIp('10.244.1.10')).toBeUndefined();
  });
});

describe('loadInventoryFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hopscope-inventory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a valid file', () => {
    const path = join(dir, 'good.json');
    writeFileSync(path, JSON.stringify(DATA));
    const inv = loadInventoryFile(path);
    expect(inv.data).toEqual(DATA);
    expect(inv.nodeOwningIp('10.244.2.7')?.name).toBe('node-b');
  });

  it('names --inventory and the path for a missing file', () => {
    const path = join(dir, 'missing.json');
    const e = errorOf(() => loadInventoryFile(path));
    expect(e.message).toContain(`--inventory ${path}: cannot read the file`);
    expect(e.message).toContain('ENOENT');
  });

  it('names --inventory and the path for bad JSON', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{"nodes": [');
    expect(errorOf(() => loadInventoryFile(path)).message).toContain(`--inventory ${path}: not valid JSON`);
  });

  it('names the file and the field for a bad field', () => {
    const path = join(dir, 'bad-field.json');
    writeFileSync(path, JSON.stringify(json(setField('nodes', 0, 'podCIDR', 'ten'))));
    expect(errorOf(() => loadInventoryFile(path)).message).toBe(`${path}: nodes[0].podCIDR "ten" is not an IPv4 CIDR such as 10.244.1.0/24`);
  });
});

describe('ipv4', () => {
  it('ipFromRawLe reads the first octet from the low byte', () => {
    expect(ipFromRawLe(184677386)).toBe('10.244.1.11');
    expect(ipFromRawLe(0)).toBe('0.0.0.0');
    expect(ipFromRawLe(0xffffffff)).toBe('255.255.255.255');
    expect(ipFromRawLe(0x0100007f)).toBe('127.0.0.1');
    expect(ipFromRawLe(0x80000001)).toBe('1.0.0.128');
  });

  it('swap16 swaps the two bytes and ignores higher bits', () => {
    expect(swap16(0x0102)).toBe(0x0201);
    expect(swap16(0x5000)).toBe(80);
    expect(swap16(0)).toBe(0);
    expect(swap16(0xffff)).toBe(0xffff);
    expect(swap16(0x12345678)).toBe(0x7856);
  });

  it('swap32 reverses the four bytes and stays unsigned', () => {
    expect(swap32(0x01020304)).toBe(0x04030201);
    expect(swap32(0x000000ff)).toBe(0xff000000);
    expect(swap32(0xff000000)).toBe(0x000000ff);
    expect(swap32(0xffffffff)).toBe(0xffffffff);
    expect(swap32(0x80)).toBe(0x80000000);
    expect(swap32(swap32(0xdeadbeef))).toBe(0xdeadbeef);
  });

  it('parseIpv4 reads dotted quads, first octet most significant', () => {
    expect(parseIpv4('10.244.1.11')).toBe(0x0af4010b);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '1.2.3.256', '1.2.3.-1', '1.2.3.x', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.0x1', '1.2.3.1000']) {
      expect(parseIpv4(bad), bad).toBeUndefined();
    }
  });

  it('parseCidr masks host bits and rejects malformed text', () => {
    expect(parseCidr('10.244.1.0/24')).toEqual({ text: '10.244.1.0/24', base: 0x0af40100, prefixLength: 24 });
    expect(parseCidr('10.244.1.77/24')?.base).toBe(0x0af40100);
    expect(parseCidr('10.244.1.77/32')?.base).toBe(0x0af4014d);
    expect(parseCidr('255.255.255.255/1')?.base).toBe(0x80000000);
    expect(parseCidr('10.1.2.3/0')).toMatchObject({ base: 0, prefixLength: 0 });
    for (const bad of ['10.244.1.0', '10.244.1.0/', '10.244.1.0/33', '10.244.1.0/100', '10.244.1.0/24/1', '10.244.1/24', '/24', '10.244.1.0/-1', '10.244.1.0/2a']) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });

  it('cidrContains at the edges of a prefix', () => {
    const cidr = parseCidr('10.244.1.0/24');
    if (!cidr) throw new Error('parseCidr failed');
    expect(cidrContains(cidr, '10.244.1.0')).toBe(true);
    expect(cidrContains(cidr, '10.244.1.255')).toBe(true);
    expect(cidrContains(cidr, '10.244.0.255')).toBe(false);
    expect(cidrContains(cidr, '10.244.2.0')).toBe(false);
    expect(cidrContains(cidr, 'garbage')).toBe(false);
  });

  it('cidrContains for /0, /32 and the top of the address space', () => {
    const all = parseCidr('0.0.0.0/0');
    const one = parseCidr('192.168.254.1/32');
    const top = parseCidr('255.255.255.0/24');
    if (!all || !one || !top) throw new Error('parseCidr failed');
    expect(cidrContains(all, '255.255.255.255')).toBe(true);
    expect(cidrContains(all, '0.0.0.0')).toBe(true);
    expect(cidrContains(one, '192.168.254.1')).toBe(true);
    expect(cidrContains(one, '192.168.254.2')).toBe(false);
    expect(cidrContains(top, '255.255.255.255')).toBe(true);
    expect(cidrContains(top, '255.255.254.255')).toBe(false);
  });
});
