import { describe, expect, it } from 'vitest';
import type { FdbEvent } from '../../src/decode/probe-event.js';
import { BridgeFdb, fdbEntriesFromJson, type FdbEntry } from '../../src/model/bridge-fdb.js';

/** `bridge -j fdb show br cni0` on a lab node (trimmed): a port's own `self` entry and two of the bridge's. */
const REAL_FDB_JSON: unknown = JSON.parse(
  '[{"mac":"33:33:00:00:00:01","ifname":"cni0","flags":["self"],"state":"permanent"},' +
    '{"mac":"7a:32:dc:9e:a8:bb","ifname":"veth1p1","flags":[],"master":"cni0","state":""},' +
    '{"mac":"a6:c2:3a:09:7c:d2","ifname":"veth1p1","flags":[],"master":"cni0","state":"permanent"}]',
);

const POD_MAC = '7a:37:62:66:97:4b';

function fdbEvent(op: FdbEvent['op'], port: string | undefined, mac = POD_MAC, vid = 0): FdbEvent {
  return { type: 'fdb', op, monoNs: 1, bridge: 'cni0', ...(port === undefined ? {} : { port }), mac, vid, taskNetns: 4026532246 };
}

describe('BridgeFdb', () => {
  it('seed() mirrors the kernel table without counting anything', () => {
    const fdb = new BridgeFdb('cni0');
    const seeded: FdbEntry[] = [
      { mac: POD_MAC, vid: 0, port: 'veth1p1', permanent: false },
      { mac: '02:00:00:00:00:01', vid: 0, permanent: true },
    ];
    fdb.seed(seeded);
    expect(fdb.size).toBe(2);
    expect(fdb.has(POD_MAC, 0)).toBe(true);
    expect(fdb.has(POD_MAC, 1)).toBe(false);
    expect(fdb.counts).toEqual({ learned: 0, moved: 0, deleted: 0 });
    expect(fdb.list()).toEqual([seeded[1], seeded[0]]);
  });

  it('seed() replaces the previous table', () => {
    const fdb = new BridgeFdb('cni0');
    fdb.seed([{ mac: POD_MAC, vid: 0, port: 'veth1p1', permanent: false }]);
    fdb.seed([{ mac: 'aa:bb:cc:dd:ee:ff', vid: 0, port: 'veth1p2', permanent: false }]);
    expect(fdb.size).toBe(1);
    expect(fdb.has(POD_MAC, 0)).toBe(false);
    expect(fdb.has('aa:bb:cc:dd:ee:ff', 0)).toBe(true);
  });

  it('apply(): a new address is learned', () => {
    const fdb = new BridgeFdb('cni0');
    expect(fdb.apply(fdbEvent('update', 'veth1p1'))).toBe('learned');
    expect(fdb.counts).toEqual({ learned: 1, moved: 0, deleted: 0 });
    expect(fdb.list()).toEqual([{ mac: POD_MAC, vid: 0, port: 'veth1p1', permanent: false }]);
  });

  it('apply(): the same MAC and vid behind another port moved', () => {
    const fdb = new BridgeFdb('cni0');
    fdb.apply(fdbEvent('update', 'veth1p1'));
    expect(fdb.apply(fdbEvent('update', 'veth1p2'))).toBe('moved');
    expect(fdb.counts).toEqual({ learned: 1, moved: 1, deleted: 0 });
    expect(fdb.size).toBe(1);
    expect(fdb.list()[0]?.port).toBe('veth1p2');
  });

  it('apply(): a move out of a seeded entry counts as moved, not learned', () => {
    const fdb = new BridgeFdb('cni0');
    fdb.seed([{ mac: POD_MAC, vid: 0, port: 'veth1p1', permanent: false }]);
    expect(fdb.apply(fdbEvent('update', 'veth1p2'))).toBe('moved');
    expect(fdb.counts).toEqual({ learned: 0, moved: 1, deleted: 0 });
  });

  it('apply(): the same MAC on another vid is a separate entry', () => {
    const fdb = new BridgeFdb('cni0');
    fdb.apply(fdbEvent('update', 'veth1p1', POD_MAC, 0));
    expect(fdb.apply(fdbEvent('update', 'veth1p2', POD_MAC, 10))).toBe('learned');
    expect(fdb.size).toBe(2);
    expect(fdb.counts.moved).toBe(0);
  });

  it('apply(): a refresh behind the same port is unchanged', () => {
    const fdb = new BridgeFdb('cni0');
    fdb.apply(fdbEvent('update', 'veth1p1'));
    expect(fdb.apply(fdbEvent('update', 'veth1p1'))).toBe('unchanged');
    expect(fdb.apply(fdbEvent('external', 'veth1p1'))).toBe('unchanged');
    expect(fdb.counts).toEqual({ learned: 1, moved: 0, deleted: 0 });
    expect(fdb.size).toBe(1);
  });

  it('apply(): a user-added entry is permanent', () => {
    const fdb = new BridgeFdb('cni0');
    expect(fdb.apply(fdbEvent('add', 'veth1p2', 'aa:bb:cc:dd:ee:ff'))).toBe('learned');
    expect(fdb.list()).toEqual([{ mac: 'aa:bb:cc:dd:ee:ff', vid: 0, port: 'veth1p2', permanent: true }]);
  });

  it('apply(): a deletion removes the entry and counts it', () => {
    const fdb = new BridgeFdb('cni0');
    fdb.apply(fdbEvent('update', 'veth1p1'));
    fdb.apply(fdbEvent('update', 'veth1p2', 'aa:bb:cc:dd:ee:ff'));
    expect(fdb.apply(fdbEvent('delete', 'veth1p1'))).toBe('deleted');
    expect(fdb.counts).toEqual({ learned: 2, moved: 0, deleted: 1 });
    expect(fdb.has(POD_MAC, 0)).toBe(false);
    expect(fdb.size).toBe(1);
    // learned again after the deletion: a new entry
    expect(fdb.apply(fdbEvent('update', 'veth1p1'))).toBe('learned');
    expect(fdb.counts.learned).toBe(3);
  });

  it('hadPort() remembers ports after their entries are deleted, and never knew others', () => {
    const fdb = new BridgeFdb('cni0');
    fdb.seed([{ mac: 'aa:bb:cc:dd:ee:01', vid: 0, port: 'veth1p2', permanent: false }]);
    fdb.apply(fdbEvent('update', 'veth1p1'));
    fdb.apply(fdbEvent('delete', 'veth1p1'));
    expect(fdb.size).toBe(1);
    expect(fdb.hadPort('veth1p1')).toBe(true);
    expect(fdb.hadPort('veth1p2')).toBe(true);
    // a later seed without the port does not forget it
    fdb.seed([]);
    expect(fdb.size).toBe(0);
    expect(fdb.hadPort('veth1p1')).toBe(true);
    expect(fdb.hadPort('veth1p2')).toBe(true);
    expect(fdb.hadPort('veth2p1')).toBe(false);
  });

  it('entries without a port (the bridge\'s own) do not make a port known', () => {
    const fdb = new BridgeFdb('cni0');
    fdb.apply(fdbEvent('update', undefined));
    expect(fdb.size).toBe(1);
    expect(fdb.list()[0]).not.toHaveProperty('port');
    expect(fdb.hadPort('cni0')).toBe(false);
  });
});

describe('fdbEntriesFromJson', () => {
  it('keeps the bridge\'s entries and drops a port\'s own `self` entry (real `bridge -j fdb show br cni0`)', () => {
    expect(fdbEntriesFromJson('cni0', REAL_FDB_JSON)).toEqual([
      { mac: '7a:32:dc:9e:a8:bb', vid: 0, port: 'veth1p1', permanent: false },
      { mac: 'a6:c2:3a:09:7c:d2', vid: 0, port: 'veth1p1', permanent: true },
    ]);
  });

  it('keeps only entries whose master is this bridge', () => {
    const json = [
      { mac: 'aa:bb:cc:dd:ee:01', ifname: 'veth2p1', flags: [], master: 'cni1', state: '' },
      { mac: 'aa:bb:cc:dd:ee:02', ifname: 'eth0', flags: [], state: '' },
      { mac: 'AA:BB:CC:DD:EE:03', ifname: 'veth1p2', flags: [], master: 'cni0', state: 'static', vlan: 10 },
    ];
    expect(fdbEntriesFromJson('cni0', json)).toEqual([{ mac: 'aa:bb:cc:dd:ee:03', vid: 10, port: 'veth1p2', permanent: true }]);
  });

  it('an entry on the bridge device itself has no port', () => {
    const json = [{ mac: '02:00:00:00:00:01', ifname: 'cni0', vlan: 1, flags: [], master: 'cni0', state: 'permanent' }];
    expect(fdbEntriesFromJson('cni0', json)).toEqual([{ mac: '02:00:00:00:00:01', vid: 1, permanent: true }]);
  });

  it('seeds a BridgeFdb that then tells a move from a new address', () => {
    const fdb = new BridgeFdb('cni0');
    fdb.seed(fdbEntriesFromJson('cni0', REAL_FDB_JSON));
    expect(fdb.size).toBe(2);
    expect(fdb.apply(fdbEvent('update', 'veth1p2', '7a:32:dc:9e:a8:bb'))).toBe('moved');
    expect(fdb.apply(fdbEvent('update', 'veth1p2', '33:33:00:00:00:01'))).toBe('learned');
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', '[{"mac":"aa:bb:cc:dd:ee:ff"}]'],
    ['a number', 42],
    ['an object', { mac: 'aa:bb:cc:dd:ee:ff', ifname: 'veth1p1', master: 'cni0' }],
    ['an empty array', []],
    // (a null or undefined element makes fdbEntriesFromJson throw: reported, not covered here)
    ['an array of junk', [1, 'x', [], {}, { mac: 5, ifname: 'veth1p1', master: 'cni0' }, { mac: 'aa:bb:cc:dd:ee:ff', master: 'cni0' }, { mac: 'aa:bb:cc:dd:ee:ff', ifname: 'veth1p1', master: 7 }]],
  ])('gives [] for %s', (_name, json) => {
    expect(fdbEntriesFromJson('cni0', json)).toEqual([]);
  });
});

describe('fdbEntriesFromJson skips null elements', () => {
  it('keeps the good entries around null and undefined', () => {
    const entries = fdbEntriesFromJson('cni0', [null, undefined, { mac: 'AA:BB:CC:DD:EE:FF', ifname: 'veth1p1', flags: [], master: 'cni0', state: '' }]);
    expect(entries).toEqual([{ mac: 'aa:bb:cc:dd:ee:ff', vid: 0, port: 'veth1p1', permanent: false }]);
  });
});
