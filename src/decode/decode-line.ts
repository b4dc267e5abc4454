/**
 * @module One line of bpftrace output -> one typed event, or a reason it is not one. Never throws: bad kernel
 * data is counted by the caller, never allowed to stop the pipeline.
 */
import { ipFromRawLe, swap16, swap32 } from '../net/ipv4.js';
import { decodeDrop6, decodeHop6, decodeNeigh6 } from './decode-ipv6.js';
import type { CounterEvent, DropEvent, FdbEvent, HopEvent, NeighFailureEvent, ProbeEvent } from './probe-event.js';
import { escapeControl } from './escape-control.js';

export { escapeControl };

export type DecodeResult =
  | { readonly ok: true; readonly event: ProbeEvent }
  | { readonly ok: false; readonly error: string };

/** Longest line the probes can print; anything longer is not theirs. */
const MAX_LINE = 512;
const U32 = 0xffffffff;

export function decodeLine(line: string): DecodeResult {
  if (line.length > MAX_LINE) return fail(`line of ${line.length} characters is longer than any probe prints`);
  // hop lines are nearly all of the traffic: a single scan without splitting; anything it does not take
  // (errors included) goes the general way below, which has the final word
  if (line.charCodeAt(0) === 72 /* H */ && line.charCodeAt(1) === 32) {
    const event = scanHop(line);
    if (event) return { ok: true, event };
  }
  const fields = line.trimEnd().split(' ');
  switch (fields[0]) {
    case 'H':
      return decodeHop(fields);
    case 'D':
      return decodeDrop(fields);
    case 'B':
      return decodeFdb(fields);
    case 'N':
      return decodeNeigh(fields);
    case 'H6':
      return decodeHop6(fields);
    case 'D6':
      return decodeDrop6(fields);
    case 'N6':
      return decodeNeigh6(fields);
    case 'HOPSCOPE_READY':
      return fields.length === 2 && /^[a-z0-9-]+$/.test(fields[1] ?? '')
        ? { ok: true, event: { type: 'ready', group: fields[1] as string } }
        : fail('malformed readiness line');
    case 'Lost':
      return decodeLostText(fields);
    default:
      if (line.startsWith('@')) return decodeCounter(line);
      if (line.startsWith('{"type":"lost_events"')) return decodeLostJson(line);
      return fail(`unknown record type ${JSON.stringify(escapeControl((fields[0] ?? '').slice(0, 20)))}`);
  }
}

function decodeHop(f: string[]): DecodeResult {
  // 17 fields: probes before the encap field; 18: with it (0 or the VXLAN UDP port)
  if (f.length !== 17 && f.length !== 18) return fail(`hop record has ${f.length} fields, expected 17 or 18`);
  const dir = f[1];
  if (dir !== 'I' && dir !== 'E') return fail('hop direction is neither I nor E');
  const n = numbers(f, [2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  if (!n || !isSkbAddress(f[6])) return fail('hop record has a non-numeric field');
  const [monoNs, netns, ifindex, saddr, daddr, protocol, ipId, l4a, l4b, flags, seq, length, cpu] = n as Tuple<13>;
  if (saddr > U32 || daddr > U32 || protocol > 255 || ipId > 0xffff || l4a > 0xffff || l4b > 0xffff || seq > U32) {
    return fail('hop record has a field out of range');
  }
  let encap = 0;
  if (f.length === 18) {
    const e = numbers(f, [17]);
    if (!e) return fail('hop record has a non-numeric field');
    encap = e[0] as number;
    if (encap > 0xffff) return fail('hop record has a field out of range');
  }
  const skb = f[6] as string;
  const ifname = f[5] as string;
  if (ifname.length === 0 || ifname.length > 15) return fail('hop record has a bad interface name');
  const fields = [0, 0, monoNs, netns, ifindex, 0, 0, saddr, daddr, protocol, ipId, l4a, l4b, flags, seq, length, cpu, encap];
  const event = hopEvent(dir === 'I' ? 'ingress' : 'egress', escapeControl(ifname), skb, ipFromRawLe(saddr), ipFromRawLe(daddr), fields);
  return { ok: true, event };
}

/**
 * The hot path for `H` lines: one pass over the characters, numbers accumulated as they are read, no field
 * array. Returns exactly the event decodeHop returns, or undefined for anything that is not a plain valid hop
 * line (decodeHop then decides, with its error message).
 */
function scanHop(line: string): HopEvent | undefined {
  const n = line.length;
  const d = line.charCodeAt(2);
  if ((d !== 73 && d !== 69) || line.charCodeAt(3) !== 32) return undefined;
  const v = SCAN;
  let ifStart = 0;
  let ifEnd = 0;
  let skbStart = 0;
  let skbEnd = 0;
  let ifHash = 0;
  let field = 2; // index of the field being read (0: H, 1: direction)
  let i = 4;
  let fieldCount = 17; // 18 when the line carries the encap field
  v[17] = 0;
  while (field < fieldCount) {
    const start = i;
    if (field === 5) {
      let h = 0;
      while (i < n) {
        const c = line.charCodeAt(i);
        if (c === 32) break;
        h = (Math.imul(h, 31) + c) | 0;
        i++;
      }
      ifStart = start;
      ifEnd = i;
      ifHash = h;
      if (i - start === 0 || i - start > 15) return undefined;
    } else {
      let x = 0;
      while (i < n) {
        const c = line.charCodeAt(i);
        if (c === 32) break;
        if (c < 48 || c > 57) return undefined;
        x = x * 10 + (c - 48);
        i++;
      }
      const len = i - start;
      if (len === 0 || len > 20) return undefined;
      if (field === 6) {
        skbStart = start;
        skbEnd = i;
      } else {
        if (x > Number.MAX_SAFE_INTEGER) return undefined;
        v[field] = x;
      }
    }
    field++;
    if (field === 17 && i < n) fieldCount = 18;
    if (field < fieldCount) {
      if (i >= n || line.charCodeAt(i) !== 32) return undefined;
      i++;
    }
  }
  if (i !== n) return undefined;
  const saddr = v[7] as number;
  const daddr = v[8] as number;
  const protocol = v[9] as number;
  const ipId = v[10] as number;
  const l4a = v[11] as number;
  const l4b = v[12] as number;
  const seq = v[14] as number;
  if (saddr > U32 || daddr > U32 || protocol > 255 || ipId > 0xffff || l4a > 0xffff || l4b > 0xffff || seq > U32) return undefined;
  if ((v[17] as number) > 0xffff) return undefined;
  const ifname = IFNAMES.get(line, ifStart, ifEnd, ifHash);
  // a view of the line: most events die young; the assembler copies the address it keeps as a key
  const skb = line.slice(skbStart, skbEnd);
  const direction = d === 73 ? 'ingress' : 'egress';
  return hopEvent(direction, ifname, skb, ipText(saddr), ipText(daddr), v);
}

/**
 * Text of recently seen line segments (interface names), direct-mapped by a hash of their characters: a hit
 * returns the kept string without slicing the line, so nothing is allocated and no kept value holds on to the
 * line it came from. (For sk_buff addresses, 20 digits in thousands of values, checking costs more than the
 * slice: the assembler copies the one it keeps.)
 */
class SegmentCache {
  private readonly raw: string[];
  private readonly text: string[];
  private readonly mask: number;

  constructor(
    size: number,
    private readonly escape: boolean,
  ) {
    this.raw = new Array<string>(size).fill('');
    this.text = new Array<string>(size).fill('');
    this.mask = size - 1;
  }

  get(line: string, start: number, end: number, hash: number): string {
    const slot = (hash ^ (hash >>> 15)) & this.mask;
    const raw = this.raw[slot] as string;
    const len = end - start;
    if (raw.length === len && line.startsWith(raw, start)) return this.text[slot] as string;
    // a flat copy: a slice of 13 or more characters would be a view that keeps the whole line
    const copy = len >= 13 ? (' ' + line.slice(start, end)).slice(1) : line.slice(start, end);
    this.raw[slot] = copy;
    this.text[slot] = this.escape ? escapeIfNeeded(copy) : copy;
    return this.text[slot] as string;
  }
}

function escapeIfNeeded(s: string): string {
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c < 0x20 || c > 0x7e) return escapeControl(s);
  }
  return s;
}

const IFNAMES = new SegmentCache(256, true);

/**
 * The event from the probe's raw fields (network-order values as read on a little-endian CPU), given by their
 * field number in the line (2 monotonic time .. 16 cpu, 17 encap): both decode paths end here. The numbers come
 * in an array rather than as arguments: a call with many number arguments boxes each one that is not a small integer.
 */
function hopEvent(direction: HopEvent['direction'], ifname: string, skb: string, saddr: string, daddr: string, v: readonly number[]): HopEvent {
  const protocol = v[9] as number;
  const l4a = v[11] as number;
  const l4b = v[12] as number;
  const seq = v[14] as number;
  const encap = v[17] as number;
  const ported = protocol === 6 || protocol === 17;
  const icmp = protocol === 1;
  const event: HopEvent = {
    type: 'hop',
    direction,
    monoNs: v[2] as number,
    netns: v[3] as number,
    ifindex: small(v[4] as number),
    ifname,
    skb,
    saddr,
    daddr,
    protocol: small(protocol),
    ipId: swap16(v[10] as number),
    srcPort: ported ? swap16(l4a) : 0,
    dstPort: ported ? swap16(l4b) : 0,
    tcpFlags: protocol === 6 ? (v[13] as number) & 0xff : 0,
    seq: protocol === 6 || icmp ? swap32(seq) : 0,
    icmpType: icmp ? l4a & 0xff : 0,
    icmpCode: icmp ? (l4a >>> 8) & 0xff : 0,
    length: small(v[15] as number),
    cpu: small(v[16] as number),
  };
  // only encapsulated hops carry the field: every other event keeps the shape (and equality) it always had
  if (encap !== 0) (event as { encap?: number }).encap = small(encap);
  return event;
}

/**
 * The same value, as a small integer when it is one: numbers read from the scan's array are doubles, and a
 * double in an object field is a separate heap object, allocated for every event.
 */
export function small(x: number): number {
  return (x | 0) === x ? x | 0 : x;
}

/** Scratch space of scanHop (one line at a time: decoding is synchronous). */
const SCAN = new Array<number>(18).fill(0);

/** Dotted quads of recently seen addresses: the same few addresses recur in nearly every line. */
const IP_TEXT = new Map<number, string>();

function ipText(raw: number): string {
  let s = IP_TEXT.get(raw);
  if (s === undefined) {
    if (IP_TEXT.size >= 4096) IP_TEXT.clear();
    s = ipFromRawLe(raw);
    IP_TEXT.set(raw, s);
  }
  return s;
}

function decodeDrop(f: string[]): DecodeResult {
  if (f.length !== 12) return fail(`drop record has ${f.length} fields, expected 12`);
  const n = numbers(f, [1, 2, 3, 5, 6, 7, 8, 9, 10]);
  if (!n || !isSkbAddress(f[4])) return fail('drop record has a non-numeric field');
  const [monoNs, netns, ifindex, reason, saddr, daddr, protocol, ipId, cpu] = n as Tuple<9>;
  const fibErr = /^-?\d{1,4}$/.test(f[11] ?? '') ? Number(f[11]) : NaN;
  if (Number.isNaN(fibErr)) return fail('drop record has a bad route lookup error');
  if (saddr > U32 || daddr > U32 || protocol > 255 || ipId > 0xffff || reason > U32) {
    return fail('drop record has a field out of range');
  }
  const event: DropEvent = {
    type: 'drop',
    monoNs,
    netns,
    ifindex,
    skb: f[4] as string,
    reason,
    saddr: ipFromRawLe(saddr),
    daddr: ipFromRawLe(daddr),
    protocol,
    ipId: swap16(ipId),
    cpu,
    fibErr,
  };
  return { ok: true, event };
}

const FDB_OPS = { U: 'update', A: 'add', X: 'external', D: 'delete' } as const;

function decodeFdb(f: string[]): DecodeResult {
  if (f.length !== 8) return fail(`fdb record has ${f.length} fields, expected 8`);
  const op = FDB_OPS[f[1] as keyof typeof FDB_OPS];
  if (!op) return fail('fdb record has an unknown operation');
  const n = numbers(f, [2, 6, 7]);
  if (!n) return fail('fdb record has a non-numeric field');
  const [monoNs, vid, taskNetns] = n as Tuple<3>;
  const mac = (f[5] as string).toLowerCase();
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) || vid > 4095) return fail('fdb record has a bad address or VLAN');
  const bridge = f[3] as string;
  const port = f[4] as string;
  if (!isDeviceName(bridge) || !isDeviceName(port)) return fail('fdb record has a bad device name');
  const event: FdbEvent = {
    type: 'fdb',
    op,
    monoNs,
    ...(bridge === '-' ? {} : { bridge: escapeControl(bridge) }),
    ...(port === 'null' ? {} : { port: escapeControl(port) }),
    mac,
    vid,
    taskNetns,
  };
  return { ok: true, event };
}

function decodeNeigh(f: string[]): DecodeResult {
  if (f.length !== 6) return fail(`neighbour record has ${f.length} fields, expected 6`);
  const n = numbers(f, [1, 3, 5]);
  if (!n) return fail('neighbour record has a non-numeric field');
  const [monoNs, family, state] = n as Tuple<3>;
  const address = f[4] as string;
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address) || address.split('.').some((o) => Number(o) > 255)) {
    return fail('neighbour record has a bad address');
  }
  if (!isDeviceName(f[2] as string)) return fail('neighbour record has a bad device name');
  const event: NeighFailureEvent = { type: 'neigh-failed', monoNs, device: escapeControl(f[2] as string), family, address, state };
  return { ok: true, event };
}

/** bpftrace's map print: `@name[4026532246, 3]: 12` (or `@name: 12` without keys). */
function decodeCounter(line: string): DecodeResult {
  const m = /^@([a-z_][a-z0-9_]{0,63})(?:\[(\d{1,20}(?:, \d{1,20}){0,7})\])?: (\d{1,19})$/.exec(line);
  if (!m) return fail('malformed map line');
  const keys = m[2] === undefined ? [] : m[2].split(', ').map(Number);
  const value = Number(m[3]);
  if (keys.some((k) => !Number.isSafeInteger(k)) || !Number.isSafeInteger(value)) return fail('map line has a number out of range');
  const event: CounterEvent = { type: 'counter', name: m[1] as string, keys, value };
  return { ok: true, event };
}

/** Kernel device names: 1 to 15 bytes, no whitespace or slash (bridge.bt prints "-" and "null" as markers). */
function isDeviceName(s: string): boolean {
  return s.length > 0 && s.length <= 15 && !s.includes('/');
}

function decodeLostText(f: string[]): DecodeResult {
  // bpftrace <= 0.20 text output: "Lost 123 events"
  if (f.length === 3 && f[2] === 'events' && /^\d{1,16}$/.test(f[1] ?? '') && Number.isSafeInteger(Number(f[1]))) {
    return { ok: true, event: { type: 'lost', count: Number(f[1]) } };
  }
  return fail('malformed lost-events line');
}

function decodeLostJson(line: string): DecodeResult {
  // newer bpftrace (and -f json): {"type":"lost_events","data":{"events":123}}
  try {
    const parsed = JSON.parse(line) as { data?: { events?: unknown } };
    const count = parsed.data?.events;
    if (typeof count === 'number' && Number.isSafeInteger(count) && count >= 0) {
      return { ok: true, event: { type: 'lost', count } };
    }
  } catch {
    // falls through to the error below
  }
  return fail('malformed lost-events record');
}

/** A fixed-length list of numbers, so destructuring is typed without undefined. */
type Tuple<N extends number, T extends number[] = []> = T['length'] extends N ? T : Tuple<N, [...T, number]>;

/** A u64 kernel address in decimal; kept as a string since it exceeds 2^53. */
function isSkbAddress(s: string | undefined): boolean {
  return s !== undefined && s.length > 0 && s.length <= 20 && isDigits(s);
}

/** Parses the given fields as unsigned decimal integers; undefined when any is not one. */
function numbers(fields: string[], indexes: number[]): number[] | undefined {
  const out: number[] = [];
  for (const i of indexes) {
    const s = fields[i];
    if (s === undefined || s.length === 0 || s.length > 20 || !isDigits(s)) return undefined;
    const v = Number(s);
    if (!Number.isSafeInteger(v)) return undefined;
    out.push(v);
  }
  return out;
}

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function fail(error: string): DecodeResult {
  return { ok: false, error };
}

