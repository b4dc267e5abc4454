/**
 * @module One line of bpftrace output -> one typed event, or a reason it is not one. Never throws: bad kernel
 * data is counted by the caller, never allowed to stop the pipeline.
 */
import { ipFromRawLe, swap16, swap32 } from '../net/ipv4.js';
import type { DropEvent, HopEvent, ProbeEvent } from './probe-event.js';

export type DecodeResult =
  | { readonly ok: true; readonly event: ProbeEvent }
  | { readonly ok: false; readonly error: string };

/** Longest line the probes can print; anything longer is not theirs. */
const MAX_LINE = 512;
const U32 = 0xffffffff;

export function decodeLine(line: string): DecodeResult {
  if (line.length > MAX_LINE) return fail(`line of ${line.length} characters is longer than any probe prints`);
  const fields = line.trimEnd().split(' ');
  switch (fields[0]) {
    case 'H':
      return decodeHop(fields);
    case 'D':
      return decodeDrop(fields);
    case 'HOPSCOPE_READY':
      return fields.length === 2 && /^[a-z0-9-]+$/.test(fields[1] ?? '')
        ? { ok: true, event: { type: 'ready', group: fields[1] as string } }
        : fail('malformed readiness line');
    case 'Lost':
      return decodeLostText(fields);
    default:
      if (line.startsWith('{"type":"lost_events"')) return decodeLostJson(line);
      return fail(`unknown record type ${JSON.stringify(escapeControl((fields[0] ?? '').slice(0, 20)))}`);
  }
}

function decodeHop(f: string[]): DecodeResult {
  if (f.length !== 17) return fail(`hop record has ${f.length} fields, expected 17`);
  const dir = f[1];
  if (dir !== 'I' && dir !== 'E') return fail('hop direction is neither I nor E');
  const n = numbers(f, [2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  if (!n || !isSkbAddress(f[6])) return fail('hop record has a non-numeric field');
  const [monoNs, netns, ifindex, saddr, daddr, protocol, ipId, l4a, l4b, flags, seq, length, cpu] = n as Tuple<13>;
  if (saddr > U32 || daddr > U32 || protocol > 255 || ipId > 0xffff || l4a > 0xffff || l4b > 0xffff || seq > U32) {
    return fail('hop record has a field out of range');
  }
  const skb = f[6] as string;
  const ifname = f[5] as string;
  if (ifname.length === 0 || ifname.length > 15) return fail('hop record has a bad interface name');
  const ported = protocol === 6 || protocol === 17;
  const icmp = protocol === 1;
  const event: HopEvent = {
    type: 'hop',
    direction: dir === 'I' ? 'ingress' : 'egress',
    monoNs,
    netns,
    ifindex,
    ifname: escapeControl(ifname),
    skb,
    saddr: ipFromRawLe(saddr),
    daddr: ipFromRawLe(daddr),
    protocol,
    ipId: swap16(ipId),
    srcPort: ported ? swap16(l4a) : 0,
    dstPort: ported ? swap16(l4b) : 0,
    tcpFlags: protocol === 6 ? flags & 0xff : 0,
    seq: protocol === 6 || icmp ? swap32(seq) : 0,
    icmpType: icmp ? l4a & 0xff : 0,
    icmpCode: icmp ? (l4a >>> 8) & 0xff : 0,
    length,
    cpu,
  };
  return { ok: true, event };
}

function decodeDrop(f: string[]): DecodeResult {
  if (f.length !== 11) return fail(`drop record has ${f.length} fields, expected 11`);
  const n = numbers(f, [1, 2, 3, 5, 6, 7, 8, 9, 10]);
  if (!n || !isSkbAddress(f[4])) return fail('drop record has a non-numeric field');
  const [monoNs, netns, ifindex, reason, saddr, daddr, protocol, ipId, cpu] = n as Tuple<9>;
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
  };
  return { ok: true, event };
}

function decodeLostText(f: string[]): DecodeResult {
  // bpftrace <= 0.20 text output: "Lost 123 events"
  if (f.length === 3 && f[2] === 'events' && /^\d{1,15}$/.test(f[1] ?? '')) {
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

/** Makes kernel-supplied text safe for terminals and browsers: control and non-ASCII bytes become \xNN. */
export function escapeControl(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
