/**
 * IPv6 text and CIDRs (src/net/ipv6.ts): RFC 5952 canonical text, checked against the WHATWG URL parser's own
 * IPv6 serializer as an independent oracle, the probes' raw little-endian words, and CIDR matching.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flowSampled6, rawWords6 } from '../../src/probes/sample-hash6.js';
import { canonicalIpv6, cidr6Contains, formatIpv6, groupsFromRawLe, ipv6FromRawLe, isIpv6, parseCidr6, parseIpv6 } from '../../src/net/ipv6.js';

const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
/** The URL standard serializes IPv6 hosts with RFC 5952's compression rules (but IPv4-mapped ones in hex). */
const byUrl = (text: string) => new URL(`http://[${text}]/`).hostname.slice(1, -1);
const isMapped = (g: readonly number[]) => g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;

describe('formatIpv6 (RFC 5952)', () => {
  it.each([
    [[0xfd00, 0x10, 0x244, 1, 0, 0, 0, 0x11], 'fd00:10:244:1::11'],
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], '2001:db8::'],
    // a single zero group is not compressed; the longest run wins; the first of equal runs wins
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'],
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
    [[0xfe80, 0, 0, 0, 0xabcd, 0xef, 0x1, 0xffff], 'fe80::abcd:ef:1:ffff'],
    [[0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001], '::ffff:10.0.0.1'],
  ])('%j -> %s', (g, text) => {
    expect(formatIpv6(g)).toBe(text);
  });

  it('agrees with the URL standard\'s serializer on 10,000 addresses (not IPv4-mapped)', () => {
    fc.assert(
      fc.property(groups, (g) => {
        fc.pre(!isMapped(g));
        const text = formatIpv6(g);
        expect(text).toBe(byUrl(text));
        expect(parseIpv6(text)).toEqual(g);
      }),
      { numRuns: 10_000 },
    );
  });

  it('canonicalIpv6 of any spelling of an address is its canonical text', () => {
    fc.assert(
      fc.property(groups, fc.boolean(), (g, upper) => {
        const long = g.map((x) => x.toString(16).padStart(4, '0')).join(':');
        const spelled = upper ? long.toUpperCase() : long;
        expect(canonicalIpv6(spelled)).toBe(formatIpv6(g));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('parseIpv6', () => {
  it.each(['fd00:10:244:1::11', '::', '::1', '1::', '1:2:3:4:5:6:7:8', '::ffff:10.0.0.1', '64:ff9b::192.0.2.33', 'FD00::A'])('accepts %s', (t) => {
    expect(isIpv6(t)).toBe(true);
  });

  it.each(['', ':', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', '::1.2.3', '::1.2.3.256', '1.2.3.4', 'fe80::1%eth0', ':1::', '1:2:3:4:5:6:7::8'])(
    'rejects %j',
    (t) => {
      expect(parseIpv6(t)).toBeUndefined();
    },
  );

  it('never throws on any text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => void parseIpv6(s)), { numRuns: 5_000 });
  });
});

describe('raw words as the probes print them', () => {
  it('reads network-order bytes from little-endian u32 words (recorded from the lab)', () => {
    // H6 line of a ping from pod-1-1 to pod-2-1: s0..s3 and d0..d3
    expect(ipv6FromRawLe(268435709, 16794626, 0, 285212672)).toBe('fd00:10:244:1::11');
    expect(ipv6FromRawLe(268435709, 33571842, 0, 285212672)).toBe('fd00:10:244:2::11');
    expect(groupsFromRawLe(0x04030201, 0, 0, 0)).toEqual([0x0102, 0x0304, 0, 0, 0, 0, 0, 0]);
  });
});

describe('IPv6 CIDRs', () => {
  it('parses and matches prefixes of any length', () => {
    const c = parseCidr6('fd00:10:244:1::/64');
    expect(c).toMatchObject({ prefixLength: 64, base: [0xfd00, 0x10, 0x244, 1, 0, 0, 0, 0] });
    expect(cidr6Contains(c!, 'fd00:10:244:1::11')).toBe(true);
    expect(cidr6Contains(c!, 'FD00:0010:0244:0001:ffff:ffff:ffff:ffff')).toBe(true);
    expect(cidr6Contains(c!, 'fd00:10:244:2::11')).toBe(false);
    expect(cidr6Contains(c!, '10.244.1.11')).toBe(false);
    const odd = parseCidr6('fd00:10:244:100::/57')!;
    expect(cidr6Contains(odd, 'fd00:10:244:17f::1')).toBe(true);
    expect(cidr6Contains(odd, 'fd00:10:244:180::1')).toBe(false);
    expect(cidr6Contains(parseCidr6('::/0')!, '2001:db8::1')).toBe(true);
    expect(cidr6Contains(parseCidr6('2001:db8::1/128')!, '2001:db8::1')).toBe(true);
    expect(cidr6Contains(parseCidr6('2001:db8::1/128')!, '2001:db8::2')).toBe(false);
  });

  it.each(['fd00::', 'fd00::/129', 'fd00::/x', 'fd00::/64/1', '10.0.0.0/8', 'zz::/64'])('rejects %j', (t) => {
    expect(parseCidr6(t)).toBeUndefined();
  });

  it('an address is in a CIDR exactly when its first n bits equal the network\'s', () => {
    fc.assert(
      fc.property(groups, groups, fc.integer({ min: 0, max: 128 }), (net, addr, len) => {
        const c = parseCidr6(`${formatIpv6(net)}/${len}`)!;
        const bits = (g: readonly number[]) => g.map((x) => x.toString(2).padStart(16, '0')).join('').slice(0, len);
        expect(cidr6Contains(c, formatIpv6(addr))).toBe(bits(net) === bits(addr));
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('the IPv6 sampling hash (mirror of probes/hops.bt)', () => {
  it('reads addresses as the probe does, and decides alike for both directions of a flow', () => {
    expect(rawWords6('fd00:10:244:1::11')).toEqual([268435709, 16794626, 0, 285212672]);
    fc.assert(
      fc.property(groups, groups, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(6, 17), fc.integer({ min: 1, max: 256 }), (a, b, p, q, proto, n) => {
        const [x, y] = [formatIpv6(a), formatIpv6(b)];
        expect(flowSampled6(x, y, p, q, proto, n)).toBe(flowSampled6(y, x, q, p, proto, n));
      }),
      { numRuns: 2_000 },
    );
    // about 1 in 64 flows
    const picked = Array.from({ length: 6400 }, (_, i) => flowSampled6('fd00:10:244:1::12', 'fd00:10:244:2::12', 30000 + i, 8080, 6, 64)).filter(Boolean).length;
    expect(picked).toBeGreaterThan(50);
    expect(picked).toBeLessThan(150);
  });
});
