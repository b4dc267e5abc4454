/**
 * @module The IPv6 lines of the probes -> the same typed events as IPv4 (HopEvent, DropEvent,
 * NeighFailureEvent), addresses as canonical IPv6 text (RFC 5952) so every stage downstream that treats an
 * address as a string works unchanged. Never throws. Line formats (see the probe files' headers):
 *   H6 <dir> <mono_ns> <netns> <ifindex> <ifname> <skb> <s0..s3> <d0..d3> <nexthdr> <vtcfl> <plen> <l4a> <l4b> <flags> <seq> <len> <cpu>
 *   D6 <mono_ns> <netns> <ifindex> <skb> <reason> <s0..s3> <d0..d3> <nexthdr> <vtcfl> <cpu> <fib_err>
 *   N6 <mono_ns> <dev> <family> <ipv6 text> <state>
 * Address words and vtcfl (version, traffic class, flow label) are raw network-order u32 read on a
 * little-endian CPU, as the IPv4 lines' addresses are.
 */
import { swap16, swap32 } from '../net/ipv4.js';
import { canonicalIpv6, ipv6FromRawLe } from '../net/ipv6.js';
import type { DecodeResult } from './decode-line.js';
import { escapeControl } from './escape-control.js';
import type { DropEvent, HopEvent, NeighFailureEvent } from './probe-event.js';

const U32 = 0xffffffff;
export const HOP6_FIELDS = 24;
export const DROP6_FIELDS = 18;
export const NEIGH6_FIELDS = 6;

export function decodeHop6(f: readonly string[]): DecodeResult {
  if (f.length !== HOP6_FIELDS) return fail(`IPv6 hop record has ${f.length} fields, expected ${HOP6_FIELDS}`);
  const dir = f[1];
  if (dir !== 'I' && dir !== 'E') return fail('IPv6 hop direction is neither I nor E');
  const n = numbers(f, [2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
  if (!n || !isSkbAddress(f[6])) return fail('IPv6 hop record has a non-numeric field');
  const [monoNs, netns, ifindex, s0, s1, s2, s3, d0, d1, d2, d3, nextHeader, vtcfl, plen, l4a, l4b, flags, seq, length, cpu] = n as Tuple<20>;
  if ([s0, s1, s2, s3, d0, d1, d2, d3, vtcfl, seq].some((x) => x > U32) || nextHeader > 255 || plen > 0xffff || l4a > 0xffff || l4b > 0xffff || flags > 255) {
    return fail('IPv6 hop record has a field out of range');
  }
  const first = swap32(vtcfl);
  if (first >>> 28 !== 6) return fail('IPv6 hop record has a header whose version is not 6');
  const ifname = f[5] as string;
  if (ifname.length === 0 || ifname.length > 15) return fail('IPv6 hop record has a bad interface name');
  const ported = nextHeader === 6 || nextHeader === 17;
  const icmp = nextHeader === 58;
  const event: HopEvent = {
    type: 'hop',
    direction: dir === 'I' ? 'ingress' : 'egress',
    monoNs,
    netns,
    ifindex,
    ifname: escapeControl(ifname),
    skb: f[6] as string,
    saddr: addressText(s0, s1, s2, s3),
    daddr: addressText(d0, d1, d2, d3),
    protocol: nextHeader,
    ipId: 0,
    srcPort: ported ? swap16(l4a) : 0,
    dstPort: ported ? swap16(l4b) : 0,
    tcpFlags: nextHeader === 6 ? flags : 0,
    seq: nextHeader === 6 || icmp ? swap32(seq) : 0,
    icmpType: icmp ? l4a & 0xff : 0,
    icmpCode: icmp ? (l4a >>> 8) & 0xff : 0,
    length,
    cpu,
    ipv6: { flowLabel: first & 0xfffff, trafficClass: (first >>> 20) & 0xff, payloadLength: swap16(plen) },
  };
  return { ok: true, event };
}

export function decodeDrop6(f: readonly string[]): DecodeResult {
  if (f.length !== DROP6_FIELDS) return fail(`IPv6 drop record has ${f.length} fields, expected ${DROP6_FIELDS}`);
  const n = numbers(f, [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  if (!n || !isSkbAddress(f[4])) return fail('IPv6 drop record has a non-numeric field');
  const [monoNs, netns, ifindex, reason, s0, s1, s2, s3, d0, d1, d2, d3, nextHeader, vtcfl, cpu] = n as Tuple<15>;
  const fibErr = /^-?\d{1,4}$/.test(f[17] ?? '') ? Number(f[17]) : NaN;
  if (Number.isNaN(fibErr)) return fail('IPv6 drop record has a bad route lookup error');
  if ([s0, s1, s2, s3, d0, d1, d2, d3, vtcfl, reason].some((x) => x > U32) || nextHeader > 255) return fail('IPv6 drop record has a field out of range');
  const first = swap32(vtcfl);
  if (first >>> 28 !== 6) return fail('IPv6 drop record has a header whose version is not 6');
  const event: DropEvent = {
    type: 'drop',
    monoNs,
    netns,
    ifindex,
    skb: f[4] as string,
    reason,
    saddr: addressText(s0, s1, s2, s3),
    daddr: addressText(d0, d1, d2, d3),
    protocol: nextHeader,
    ipId: 0,
    cpu,
    fibErr,
    ipv6: { flowLabel: first & 0xfffff },
  };
  return { ok: true, event };
}

export function decodeNeigh6(f: readonly string[]): DecodeResult {
  if (f.length !== NEIGH6_FIELDS) return fail(`IPv6 neighbour record has ${f.length} fields, expected ${NEIGH6_FIELDS}`);
  const n = numbers(f, [1, 3, 5]);
  if (!n) return fail('IPv6 neighbour record has a non-numeric field');
  const [monoNs, family, state] = n as Tuple<3>;
  const address = canonicalIpv6(f[4] as string);
  if (address === undefined) return fail('IPv6 neighbour record has a bad address');
  const device = f[2] as string;
  if (device.length === 0 || device.length > 15 || device.includes('/')) return fail('IPv6 neighbour record has a bad device name');
  const event: NeighFailureEvent = { type: 'neigh-failed', monoNs, device: escapeControl(device), family, address, state };
  return { ok: true, event };
}

/** Canonical text of recently seen addresses: the same few recur in nearly every line. */
const TEXT = new Map<string, string>();

function addressText(w0: number, w1: number, w2: number, w3: number): string {
  const key = `${w0},${w1},${w2},${w3}`;
  let s = TEXT.get(key);
  if (s === undefined) {
    if (TEXT.size >= 4096) TEXT.clear();
    s = ipv6FromRawLe(w0, w1, w2, w3);
    TEXT.set(key, s);
  }
  return s;
}

type Tuple<N extends number, T extends number[] = []> = T['length'] extends N ? T : Tuple<N, [...T, number]>;

function isSkbAddress(s: string | undefined): boolean {
  return s !== undefined && /^\d{1,20}$/.test(s);
}

function numbers(fields: readonly string[], indexes: readonly number[]): number[] | undefined {
  const out: number[] = [];
  for (const i of indexes) {
    const s = fields[i];
    if (s === undefined || !/^\d{1,20}$/.test(s)) return undefined;
    const v = Number(s);
    if (!Number.isSafeInteger(v)) return undefined;
    out.push(v);
  }
  return out;
}


function fail(error: string): DecodeResult {
  return { ok: false, error };
}
