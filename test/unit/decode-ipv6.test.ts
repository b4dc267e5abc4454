/**
 * The IPv6 lines (`H6`, `D6`, `N6`) through decodeLine: recorded lab lines decode to canonical IPv6 text and the
 * right header fields; malformed lines are errors, never throws; property tests (fast-check) as for IPv4: a
 * valid record re-encoded as the probe prints it decodes to the same event, anything accepted is well-formed,
 * and mutated records never throw.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLine } from '../../src/decode/decode-line.js';
import type { HopEvent, ProbeEvent } from '../../src/decode/probe-event.js';
import { swap16, swap32 } from '../../src/net/ipv4.js';
import { formatIpv6, parseIpv6 } from '../../src/net/ipv6.js';

const RECORDED = readFileSync(new URL('../fixtures/recorded/lab-2x2-ipv6.txt', import.meta.url), 'utf8').trimEnd().split('\n');
const H6 = RECORDED.find((l) => l.startsWith('H6 E ') && l.includes(' eth0 ')) as string;
const D6 = RECORDED.find((l) => l.startsWith('D6 ') && l.includes(' 88 ')) as string;
const N6 = 'N6 11501440137932 cni0 10 fd00:10:244:1::78 32';

function ok(line: string): ProbeEvent {
  const r = decodeLine(line);
  if (!r.ok) throw new Error(`${r.error}: ${line}`);
  return r.event;
}
const withField = (line: string, i: number, v: string) => line.split(' ').map((f, k) => (k === i ? v : f)).join(' ');

describe('H6: IPv6 hops', () => {
  it('decodes a recorded echo request at pod-1-1\'s eth0', () => {
    expect(H6).toMatch(/^H6 E /);
    expect(ok(H6)).toEqual({
      type: 'hop', direction: 'egress', monoNs: 11232104800319, netns: 4026532315, ifindex: 2, ifname: 'eth0', skb: '18446612687837998336',
      saddr: 'fd00:10:244:1::11', daddr: 'fd00:10:244:1::12', protocol: 58, ipId: 0, srcPort: 0, dstPort: 0, tcpFlags: 0,
      seq: swap32(16816485), icmpType: 128, icmpCode: 0, length: 118, cpu: 1,
      ipv6: { flowLabel: swap32(3616474976) & 0xfffff, trafficClass: 0, payloadLength: 64 },
    });
    const e = ok(H6) as HopEvent;
    expect({ id: e.seq >>> 16, seq: e.seq & 0xffff }).toEqual({ id: 0x6599, seq: 1 });
  });

  it('every recorded line decodes; all hops of one packet carry one flow label', () => {
    const hops = RECORDED.map(ok).filter((e): e is HopEvent => e.type === 'hop');
    expect(hops).toHaveLength(RECORDED.filter((l) => l.startsWith('H6 ')).length);
    const bySkbAndType = new Map<string, Set<number>>();
    for (const h of hops) {
      const key = `${h.skb}/${h.icmpType}`;
      bySkbAndType.set(key, (bySkbAndType.get(key) ?? new Set()).add(h.ipv6!.flowLabel));
    }
    for (const labels of bySkbAndType.values()) expect(labels.size).toBe(1);
    expect(new Set(hops.map((h) => h.saddr))).toEqual(new Set(['fd00:10:244:1::11', 'fd00:10:244:1::12', 'fd00:10:244:2::11', 'fd00:10:244:1::1']));
  });

  it('decodes TCP ports, flags and sequence, and UDP ports', () => {
    // a SYN from [fd00:10:244:1::12]:40000 to [fd00:10:244:2::12]:8086, seq 1000
    const tcp = ['H6', 'I', '5', '6', '7', 'veth1p2', '8', '268435709', '16794626', '0', '301989888', '268435709', '33571842', '0', '301989888', '6', String(swap32(0x6000_0000 | 0x12345)), String(swap16(40)), String(swap16(40000)), String(swap16(8086)), '2', String(swap32(1000)), '94', '0'].join(' ');
    expect(ok(tcp)).toMatchObject({ saddr: 'fd00:10:244:1::12', daddr: 'fd00:10:244:2::12', protocol: 6, srcPort: 40000, dstPort: 8086, tcpFlags: 2, seq: 1000, icmpType: 0, ipv6: { flowLabel: 0x12345, payloadLength: 40 } });
    const udp = withField(withField(tcp, 15, '17'), 20, '255');
    expect(ok(udp)).toMatchObject({ protocol: 17, srcPort: 40000, dstPort: 8086, tcpFlags: 0, seq: 0 });
  });

  it.each([
    ['23 fields', H6.split(' ').slice(0, 23).join(' ')],
    ['25 fields', `${H6} 1`],
    ['direction X', withField(H6, 1, 'X')],
    ['an address word above 2^32', withField(H6, 7, '4294967296')],
    ['a next header of 256', withField(H6, 15, '256')],
    ['version 4 in the first word', withField(H6, 16, String(swap32(0x4000_0000)))],
    ['a payload length above 65535', withField(H6, 17, '65536')],
    ['a port above 65535', withField(H6, 18, '65536')],
    ['flags above 255', withField(H6, 20, '256')],
    ['a negative word', withField(H6, 9, '-1')],
    ['a non-numeric skb', withField(H6, 6, 'ffff')],
    ['an empty interface name', withField(H6, 5, '')],
    ['an interface name of 16 characters', withField(H6, 5, 'x'.repeat(16))],
  ])('rejects %s without throwing', (_n, line) => {
    const r = decodeLine(line);
    expect(r.ok).toBe(false);
  });

  it('escapes control characters in the interface name', () => {
    expect((ok(withField(H6, 5, 'et\x1bh0')) as HopEvent).ifname).toBe('et\\x1bh0');
  });
});

describe('D6: IPv6 drops', () => {
  it('decodes the recorded route miss (IP_INNOROUTES on node 1\'s cni0)', () => {
    expect(ok(D6)).toEqual({
      type: 'drop', monoNs: 11232728212277, netns: 4026532246, ifindex: 3, skb: '18446612687837995264', reason: 88,
      saddr: 'fd00:10:244:1::11', daddr: 'fd00:10:244:2::12', protocol: 58, ipId: 0, cpu: 1, fibErr: 0,
      ipv6: { flowLabel: swap32(3078750560) & 0xfffff },
    });
    expect(ok(withField(D6, 17, '-13'))).toMatchObject({ fibErr: -13 });
  });

  it.each([
    ['17 fields', D6.split(' ').slice(0, 17).join(' ')],
    ['a bad route lookup error', withField(D6, 17, '-x')],
    ['a reason above 2^32', withField(D6, 5, '4294967296')],
    ['version 0', withField(D6, 15, '0')],
    ['a non-numeric netns', withField(D6, 2, 'n')],
  ])('rejects %s', (_n, line) => {
    expect(decodeLine(line).ok).toBe(false);
  });
});

describe('N6: IPv6 neighbour (ND) failures', () => {
  it('decodes to a neighbour failure with the canonical address', () => {
    expect(ok(N6)).toEqual({ type: 'neigh-failed', monoNs: 11501440137932, device: 'cni0', family: 10, address: 'fd00:10:244:1::78', state: 32 });
    expect(ok(withField(N6, 4, 'FD00:0010:0244:0001:0000:0000:0000:0078'))).toMatchObject({ address: 'fd00:10:244:1::78' });
  });

  it.each([
    ['an IPv4 address', withField(N6, 4, '10.244.1.78')],
    ['a bad address', withField(N6, 4, 'fd00::1::2')],
    ['5 fields', N6.split(' ').slice(0, 5).join(' ')],
    ['a device with a slash', withField(N6, 2, 'a/b')],
  ])('rejects %s', (_n, line) => {
    expect(decodeLine(line).ok).toBe(false);
  });
});

describe('properties (fast-check)', () => {
  const u = (max: number) => fc.integer({ min: 0, max });
  const word = u(0xffffffff);
  const group = fc.oneof(fc.constant(0), u(0xffff));
  const addr = fc.array(group, { minLength: 8, maxLength: 8 });
  /** Groups -> the four raw little-endian words the probe prints. */
  const words = (g: number[]) => [0, 2, 4, 6].map((i) => ((g[i]! >>> 8) | ((g[i]! & 0xff) << 8) | ((g[i + 1]! >>> 8) << 16) | ((g[i + 1]! & 0xff) << 24)) >>> 0);

  it('an H6 line re-encoded from its fields decodes to exactly those fields (10,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.record({ dir: fc.constantFrom('I', 'E'), mono: u(2 ** 50), netns: word, ifindex: u(65535), ifname: fc.stringMatching(/^[a-z0-9.-]{1,15}$/), skb: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), s: addr, d: addr, nh: fc.constantFrom(6, 17, 58, 0, 43, 44), tc: u(255), fl: u(0xfffff), plen: u(0xffff), a: u(0xffff), b: u(0xffff), flags: u(255), seq: word, len: u(65535), cpu: u(255) }),
        (r) => {
          const vtcfl = swap32(((6 << 28) | (r.tc << 20) | r.fl) >>> 0);
          const line = ['H6', r.dir, r.mono, r.netns, r.ifindex, r.ifname, r.skb, ...words(r.s), ...words(r.d), r.nh, vtcfl, swap16(r.plen), r.a, r.b, r.flags, r.seq, r.len, r.cpu].join(' ');
          const e = ok(line) as HopEvent;
          expect(e.saddr).toBe(formatIpv6(r.s));
          expect(e.daddr).toBe(formatIpv6(r.d));
          expect(parseIpv6(e.saddr)).toEqual(r.s);
          expect(e.ipv6).toEqual({ flowLabel: r.fl, trafficClass: r.tc, payloadLength: r.plen });
          expect(e.protocol).toBe(r.nh);
          expect(e.srcPort).toBe(r.nh === 6 || r.nh === 17 ? swap16(r.a) : 0);
          expect(e.seq).toBe(r.nh === 6 || r.nh === 58 ? swap32(r.seq) : 0);
          expect(e.icmpType).toBe(r.nh === 58 ? r.a & 0xff : 0);
          expect(e.tcpFlags).toBe(r.nh === 6 ? r.flags : 0);
          expect([e.direction, e.monoNs, e.netns, e.ifindex, e.ifname, e.skb, e.length, e.cpu, e.ipId]).toEqual([r.dir === 'I' ? 'ingress' : 'egress', r.mono, r.netns, r.ifindex, r.ifname, String(r.skb), r.len, r.cpu, 0]);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('mutated IPv6 records never throw, and whatever is accepted is well-formed (10,000 runs)', () => {
    const mutated = fc.tuple(fc.constantFrom(H6, D6, N6, ...RECORDED), fc.array(fc.tuple(fc.nat(), fc.string({ unit: 'binary', maxLength: 3 }), fc.nat(3)), { maxLength: 4 })).map(([rec, edits]) => {
      let s = rec;
      for (const [at, text, del] of edits) {
        const i = at % (s.length + 1);
        s = s.slice(0, i) + text + s.slice(i + del);
      }
      return s;
    });
    fc.assert(
      fc.property(mutated, (line) => {
        const r = decodeLine(line);
        if (!r.ok) return;
        const e = r.event;
        if (e.type === 'hop' || e.type === 'drop') {
          for (const a of [e.saddr, e.daddr]) expect(formatIpv6(parseIpv6(a) ?? [])).toBe(a);
          expect(e.ipv6?.flowLabel ?? 0).toBeLessThanOrEqual(0xfffff);
          expect(e.skb).toMatch(/^\d{1,20}$/);
        }
        if (e.type === 'hop') {
          // printable whatever bytes it held (escaped, so it may be longer than the 15 bytes of a device name)
          expect(e.ifname).toMatch(/^[\x20-\x7e]+$/);
          expect(e.protocol).toBeLessThanOrEqual(255);
          expect(Math.max(e.srcPort, e.dstPort)).toBeLessThanOrEqual(0xffff);
        }
        if (e.type === 'neigh-failed') expect(formatIpv6(parseIpv6(e.address) ?? [])).toBe(e.address);
      }),
      { numRuns: 10_000 },
    );
  });
});
