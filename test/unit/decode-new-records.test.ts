import { describe, expect, it } from 'vitest';
import { decodeLine, type DecodeResult } from '../../src/decode/decode-line.js';

const FDB = 'B D 912334455667 cni0 veth1p3 7A:37:62:66:97:4B 0 4026532246';
const NEIGH = 'N 1200334455667 cni0 2 10.244.1.99 32';
const DROP = 'D 1488731365370 4026532246 3 18446612686551570944 2 184677386 184742922 1 37361 1 -113';

/** Replaces the field at `index` (0 = record type) of a space-separated record. */
function withField(line: string, index: number, value: string): string {
  const f = line.split(' ');
  f[index] = value;
  return f.join(' ');
}

function expectRejected(r: DecodeResult): void {
  expect(r.ok).toBe(false);
  expect(r.ok ? '' : r.error).not.toBe('');
}

describe('decodeLine: B (bridge FDB) records', () => {
  it('decodes a recorded delete field for field, MAC lowercased', () => {
    expect(decodeLine(FDB)).toEqual({
      ok: true,
      event: { type: 'fdb', op: 'delete', monoNs: 912334455667, bridge: 'cni0', port: 'veth1p3', mac: '7a:37:62:66:97:4b', vid: 0, taskNetns: 4026532246 },
    });
  });

  it.each([
    ['U', 'update'],
    ['A', 'add'],
    ['X', 'external'],
    ['D', 'delete'],
  ] as const)('maps op %s to %s', (letter, op) => {
    const r = decodeLine(withField(FDB, 1, letter));
    expect(r.ok && r.event.type === 'fdb' && r.event.op).toBe(op);
  });

  it('leaves out the bridge printed as "-" (br_fdb_add names only the device)', () => {
    const r = decodeLine('B A 5 - veth1p1 aa:bb:cc:dd:ee:ff 1 4026532246');
    expect(r).toEqual({ ok: true, event: { type: 'fdb', op: 'add', monoNs: 5, port: 'veth1p1', mac: 'aa:bb:cc:dd:ee:ff', vid: 1, taskNetns: 4026532246 } });
    expect(r.ok && 'bridge' in r.event).toBe(false);
  });

  it('leaves out the port printed as "null" (the bridge\'s own entries)', () => {
    const r = decodeLine('B D 7 cni0 null 02:00:00:00:00:01 4095 0');
    expect(r).toEqual({ ok: true, event: { type: 'fdb', op: 'delete', monoNs: 7, bridge: 'cni0', mac: '02:00:00:00:00:01', vid: 4095, taskNetns: 0 } });
    expect(r.ok && 'port' in r.event).toBe(false);
  });

  it('accepts a trailing newline or spaces', () => {
    expect(decodeLine(`${FDB}\n`)).toEqual(decodeLine(FDB));
    expect(decodeLine(`${FDB}  `).ok).toBe(true);
  });

  it('escapes control characters in device names', () => {
    const r = decodeLine(withField(FDB, 4, 'veth\u001b1'));
    expect(r.ok && r.event.type === 'fdb' && r.event.port).toBe('veth\\x1b1');
  });

  it.each([
    ['an unknown op', withField(FDB, 1, 'Q')],
    ['a lowercase op', withField(FDB, 1, 'd')],
    ['an op word', withField(FDB, 1, 'delete')],
    ['a MAC with 5 octets', withField(FDB, 5, '7A:37:62:66:97')],
    ['a MAC with 7 octets', withField(FDB, 5, '7A:37:62:66:97:4B:00')],
    ['a MAC with a non-hex digit', withField(FDB, 5, '7G:37:62:66:97:4B')],
    ['a MAC with dashes', withField(FDB, 5, '7A-37-62-66-97-4B')],
    ['a MAC without separators', withField(FDB, 5, '7A376266974B')],
    ['vid 4096', withField(FDB, 6, '4096')],
    ['a negative vid', withField(FDB, 6, '-1')],
    ['a non-numeric time', withField(FDB, 2, '91233445566x')],
    ['a non-numeric netns', withField(FDB, 7, 'abc')],
    ['a time beyond 2^53', withField(FDB, 2, '9'.repeat(20))],
    ['a 30-digit netns', withField(FDB, 7, '9'.repeat(30))],
    ['7 fields', FDB.split(' ').slice(0, 7).join(' ')],
    ['9 fields', `${FDB} 1`],
    ['an empty field (two spaces)', FDB.replace(' cni0 ', '  cni0 ')],
    ['a device name of 16 characters', withField(FDB, 4, 'v'.repeat(16))],
    ['a device name with a slash', withField(FDB, 3, 'cni/0')],
  ])('rejects %s without throwing', (_name, line) => {
    expectRejected(decodeLine(line));
  });
});

describe('decodeLine: N (neighbour failure) records', () => {
  it('decodes a recorded failure field for field', () => {
    expect(decodeLine(NEIGH)).toEqual({
      ok: true,
      event: { type: 'neigh-failed', monoNs: 1200334455667, device: 'cni0', family: 2, address: '10.244.1.99', state: 32 },
    });
  });

  it('accepts the edge addresses 0.0.0.0 and 255.255.255.255', () => {
    for (const a of ['0.0.0.0', '255.255.255.255']) {
      const r = decodeLine(withField(NEIGH, 4, a));
      expect(r.ok && r.event.type === 'neigh-failed' && r.event.address).toBe(a);
    }
  });

  it.each([
    ['an octet of 256', withField(NEIGH, 4, '10.244.1.256')],
    ['an octet of 999', withField(NEIGH, 4, '999.244.1.9')],
    ['three octets', withField(NEIGH, 4, '10.244.1')],
    ['five octets', withField(NEIGH, 4, '10.244.1.9.9')],
    ['a four-digit octet', withField(NEIGH, 4, '10.2440.1.9')],
    ['an IPv6 address', withField(NEIGH, 4, 'fe80::1')],
    ['a non-numeric octet', withField(NEIGH, 4, '10.244.a.9')],
    ['a non-numeric time', withField(NEIGH, 1, 'x')],
    ['a non-numeric family', withField(NEIGH, 3, 'inet')],
    ['a negative state', withField(NEIGH, 5, '-32')],
    ['a huge time', withField(NEIGH, 1, '9'.repeat(25))],
    ['5 fields', NEIGH.split(' ').slice(0, 5).join(' ')],
    ['7 fields', `${NEIGH} 0`],
    ['a device name of 16 characters', withField(NEIGH, 2, 'c'.repeat(16))],
  ])('rejects %s without throwing', (_name, line) => {
    expectRejected(decodeLine(line));
  });
});

describe('decodeLine: bpftrace map lines', () => {
  it('decodes a keyed map entry', () => {
    expect(decodeLine('@unknown_unicast[4026532246, 6]: 5')).toEqual({
      ok: true,
      event: { type: 'counter', name: 'unknown_unicast', keys: [4026532246, 6], value: 5 },
    });
  });

  it('decodes a map without keys', () => {
    expect(decodeLine('@x: 3')).toEqual({ ok: true, event: { type: 'counter', name: 'x', keys: [], value: 3 } });
  });

  it('decodes a zero value and a single key', () => {
    expect(decodeLine('@to_host[4026532246]: 0')).toEqual({ ok: true, event: { type: 'counter', name: 'to_host', keys: [4026532246], value: 0 } });
  });

  it.each([
    ['a negative value', '@x: -3'],
    ['a negative key', '@bridged[-1, 4]: 3'],
    ['a 20-digit value', `@x: ${'9'.repeat(20)}`],
    ['a value beyond 2^53', '@x: 9999999999999999999'],
    ['a key beyond 2^53', '@x[99999999999999999999, 4]: 1'],
    ['a non-numeric value', '@x: many'],
    ['a fractional value', '@x: 1.5'],
    ['a missing value', '@x:'],
    ['a missing colon', '@x 3'],
    ['an empty key list', '@x[]: 3'],
    ['keys without the space', '@x[1,2]: 3'],
    ['an uppercase name', '@X: 3'],
    ['no name', '@: 3'],
    ['a string key', '@x[eth0]: 3'],
    ['trailing text', '@x: 3 extra'],
  ])('rejects %s without throwing', (_name, line) => {
    expectRejected(decodeLine(line));
  });
});

describe('decodeLine: the 12-field D record with a route lookup error', () => {
  it('decodes a recorded drop field for field, the last field signed', () => {
    expect(decodeLine(DROP)).toEqual({
      ok: true,
      event: {
        type: 'drop', monoNs: 1488731365370, netns: 4026532246, ifindex: 3, skb: '18446612686551570944', reason: 2,
        saddr: '10.244.1.11', daddr: '10.244.2.11', protocol: 1, ipId: 0xf191, cpu: 1, fibErr: -113,
      },
    });
  });

  it.each([
    ['0', 0],
    ['-13', -13],
    ['-101', -101],
    ['-9999', -9999],
  ])('reads route lookup error %s', (text, value) => {
    const r = decodeLine(withField(DROP, 11, text));
    expect(r.ok && r.event.type === 'drop' && r.event.fibErr).toBe(value);
  });

  it.each([
    ['11 fields (the record without a route lookup error)', DROP.split(' ').slice(0, 11).join(' ')],
    ['13 fields', `${DROP} 0`],
    ['a non-numeric route lookup error', withField(DROP, 11, 'EHOSTUNREACH')],
    ['a five-digit route lookup error', withField(DROP, 11, '-11300')],
    ['a route lookup error with two signs', withField(DROP, 11, '--113')],
    ['a route lookup error with a plus sign', withField(DROP, 11, '+113')],
    ['a negative reason', withField(DROP, 5, '-2')],
    ['a non-numeric netns', withField(DROP, 2, 'net')],
    ['a non-numeric skb address', withField(DROP, 4, '0xffff8880')],
    ['a 21-digit skb address', withField(DROP, 4, '1'.repeat(21))],
    ['an address beyond 32 bits', withField(DROP, 6, '4294967296')],
    ['a protocol beyond 255', withField(DROP, 8, '256')],
    ['an IP id beyond 16 bits', withField(DROP, 9, '65536')],
    ['a huge time', withField(DROP, 1, '9'.repeat(20))],
  ])('rejects %s without throwing', (_name, line) => {
    expectRejected(decodeLine(line));
  });

  it('keeps decoding valid records after rejected ones', () => {
    for (const bad of ['B Q 1 cni0 veth1p1 aa:bb:cc:dd:ee:ff 0 0', 'N 1 cni0 2 1.2.3.256 1', '@x: -1', `${DROP} 0`]) expect(decodeLine(bad).ok).toBe(false);
    expect([FDB, NEIGH, DROP, '@x: 3'].map((l) => decodeLine(l).ok)).toEqual([true, true, true, true]);
  });
});
