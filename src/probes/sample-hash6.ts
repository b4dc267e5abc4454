/**
 * @module The kernel-side sampling decision of probes/hops.bt for IPv6 flows, computed the same way in
 * userspace (as sample-hash.ts does for IPv4): the eight raw address words of both addresses xor-folded, so the
 * hash is the same in both directions and on every node.
 */
import { parseIpv6 } from '../net/ipv6.js';

/** The address as probes/hops.bt reads it: four u32 words of network-order bytes on a little-endian CPU. */
export function rawWords6(ip: string): number[] {
  const g = parseIpv6(ip);
  if (!g) throw new RangeError(`not an IPv6 address: ${ip}`);
  return [0, 2, 4, 6].map((i) => ((g[i]! >>> 8) | ((g[i]! & 0xff) << 8) | ((g[i + 1]! >>> 8) << 16) | ((g[i + 1]! & 0xff) << 24)) >>> 0);
}

/** Whether probes/hops.bt with sample modulus `n` selects packets of this IPv6 TCP/UDP flow (flags aside). */
export function flowSampled6(saddr: string, daddr: string, sport: number, dport: number, protocol: number, n: number): boolean {
  const fold = [...rawWords6(saddr), ...rawWords6(daddr)].reduce((a, w) => (a ^ w) >>> 0, 0);
  const sp = BigInt(((sport & 0xff) << 8) | (sport >>> 8));
  const dp = BigInt(((dport & 0xff) << 8) | (dport >>> 8));
  const mask = (1n << 64n) - 1n;
  const hash = ((BigInt(fold) * 2654435761n) + ((sp ^ dp) * 40503n) + BigInt(protocol)) & mask;
  return (hash >> 7n) % BigInt(n) === 0n;
}
