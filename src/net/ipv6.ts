/**
 * @module IPv6 addresses as the probes report them (four raw network-order u32 words read on a little-endian
 * CPU) and as people write them: canonical text (RFC 5952: lowercase, no leading zeros, the longest run of two
 * or more zero groups as `::`, the first on a tie; IPv4-mapped addresses end in a dotted quad) and CIDRs.
 * Addresses are compared as canonical text everywhere downstream, so every producer goes through here.
 */

/** Eight 16-bit groups, most significant first. */
export type Ipv6Groups = readonly number[];

/** Canonical text of an address given as eight 16-bit groups. */
export function formatIpv6(groups: Ipv6Groups): string {
  if (groups.length !== 8) throw new RangeError('an IPv6 address has 8 groups');
  // IPv4-mapped ::ffff:a.b.c.d (RFC 5952 section 5)
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    const a = groups[6] as number;
    const b = groups[7] as number;
    return `::ffff:${a >>> 8}.${a & 0xff}.${b >>> 8}.${b & 0xff}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestLen < 2) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Groups of an address read from packet memory as four little-endian u32 words (first byte in the low byte). */
export function groupsFromRawLe(w0: number, w1: number, w2: number, w3: number): number[] {
  const out: number[] = [];
  for (const w of [w0, w1, w2, w3]) {
    const b0 = w & 0xff;
    const b1 = (w >>> 8) & 0xff;
    const b2 = (w >>> 16) & 0xff;
    const b3 = (w >>> 24) & 0xff;
    out.push((b0 << 8) | b1, (b2 << 8) | b3);
  }
  return out;
}

/** Canonical text of an address the probes printed as four raw u32 words. */
export function ipv6FromRawLe(w0: number, w1: number, w2: number, w3: number): string {
  return formatIpv6(groupsFromRawLe(w0, w1, w2, w3));
}

/** Parses IPv6 text (any valid form, including `::` and a trailing dotted quad; no zone) to 8 groups. */
export function parseIpv6(text: string): number[] | undefined {
  if (text.length < 2 || text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string, last: boolean): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i] as string;
      if (last && i === pieces.length - 1 && p.includes('.')) {
        const q = p.split('.');
        if (q.length !== 4 || q.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255)) return undefined;
        const [a, b, c, d] = q.map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  if (halves.length === 1) {
    const all = parse(text, true);
    return all && all.length === 8 ? all : undefined;
  }
  const head = parse(halves[0] as string, false);
  const tail = parse(halves[1] as string, true);
  if (!head || !tail || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** The canonical text of an IPv6 address, or undefined when `text` is not one. */
export function canonicalIpv6(text: string): string | undefined {
  const g = parseIpv6(text);
  return g ? formatIpv6(g) : undefined;
}

export function isIpv6(text: string): boolean {
  return parseIpv6(text) !== undefined;
}

export interface Ipv6Cidr {
  readonly text: string;
  /** The network's groups with the host bits cleared. */
  readonly base: readonly number[];
  readonly prefixLength: number;
}

/** Parses `addr/n` (n 0..128); undefined when malformed. */
export function parseCidr6(text: string): Ipv6Cidr | undefined {
  const [addr, len, extra] = text.split('/');
  if (addr === undefined || len === undefined || extra !== undefined || !/^\d{1,3}$/.test(len)) return undefined;
  const groups = parseIpv6(addr);
  const prefixLength = Number(len);
  if (!groups || prefixLength > 128) return undefined;
  return { text, base: masked(groups, prefixLength), prefixLength };
}

function masked(groups: readonly number[], prefixLength: number): number[] {
  return groups.map((g, i) => {
    const bits = Math.max(0, Math.min(16, prefixLength - i * 16));
    return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
  });
}

/** Whether `ip` (IPv6 text in any form) lies in the CIDR. */
export function cidr6Contains(cidr: Ipv6Cidr, ip: string): boolean {
  const g = parseIpv6(ip);
  return g !== undefined && cidr6ContainsGroups(cidr, g);
}

/** Whether an address already parsed to groups lies in the CIDR (parse once, test many CIDRs). */
export function cidr6ContainsGroups(cidr: Ipv6Cidr, groups: Ipv6Groups): boolean {
  const m = masked(groups, cidr.prefixLength);
  return m.every((x, i) => x === cidr.base[i]);
}
