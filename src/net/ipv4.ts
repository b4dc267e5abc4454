/**
 * @module IPv4 addresses as the probes report them (raw network-order u32 read on a little-endian CPU)
 * and as people write them (dotted quads and CIDRs).
 */

/** Dotted quad of an address read from packet memory as a little-endian u32 (first octet in the low byte). */
export function ipFromRawLe(raw: number): string {
  return `${raw & 0xff}.${(raw >>> 8) & 0xff}.${(raw >>> 16) & 0xff}.${(raw >>> 24) & 0xff}`;
}

/** Host-order value of a 16-bit network-order field read as a little-endian u16 (ports, IP id). */
export function swap16(raw: number): number {
  return ((raw & 0xff) << 8) | ((raw >>> 8) & 0xff);
}

/** Host-order value of a 32-bit network-order field read as a little-endian u32 (TCP sequence). */
export function swap32(raw: number): number {
  return (((raw & 0xff) << 24) | ((raw & 0xff00) << 8) | ((raw >>> 8) & 0xff00) | ((raw >>> 24) & 0xff)) >>> 0;
}

/** Parses a dotted quad to its numeric value (first octet most significant), or undefined. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export interface Ipv4Cidr {
  readonly text: string;
  readonly base: number;
  readonly prefixLength: number;
}

/** Parses `a.b.c.d/n`; undefined when malformed. */
export function parseCidr(text: string): Ipv4Cidr | undefined {
  const [addr, len, extra] = text.split('/');
  if (addr === undefined || len === undefined || extra !== undefined || !/^\d{1,2}$/.test(len)) return undefined;
  const base = parseIpv4(addr);
  const prefixLength = Number(len);
  if (base === undefined || prefixLength > 32) return undefined;
  return { text, base: maskedBase(base, prefixLength), prefixLength };
}

function maskedBase(addr: number, prefixLength: number): number {
  if (prefixLength === 0) return 0;
  const hostBits = 32 - prefixLength;
  return Math.floor(addr / 2 ** hostBits) * 2 ** hostBits;
}

export function cidrContains(cidr: Ipv4Cidr, ip: string): boolean {
  const addr = parseIpv4(ip);
  return addr !== undefined && maskedBase(addr, cidr.prefixLength) === cidr.base;
}
