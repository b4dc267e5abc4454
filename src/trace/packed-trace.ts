/**
 * @module A trace as the trace ring keeps it: the trace's shared parts (endpoints, packet, Service) by
 * reference and its hops as interface name, a kind/direction code and delta per hop, with the first hop's
 * monotonic time and the clock offset; the ring builds the Trace again when it is read. The ring holds 10,000
 * traces, each long enough to be copied twice by the young generation and promoted: a trace object with its
 * hop objects and wall-time strings was ~18 heap objects, this is one.
 *
 * Only the assembler makes one (for a trace of this node's own hops, no NAT rewrite, a clock that states its
 * offset): while it reports a trace, its packedFor(that trace) answers the packed form, so the ring finds it
 * without any change to what the stages between see. A trace changed on the way (stitched, round trip
 * added) is another object: the ring keeps that one as it is.
 */
import type { HopKind } from '../scope/node-scope.js';
import { WallTimes } from './wall-times.js';
import type { Endpoint, Hop, Outcome, PacketIdentity, PathKind, ServiceRef, Trace } from './trace.js';

const KINDS: readonly HopKind[] = ['pod', 'veth', 'bridge', 'overlay', 'uplink'];
/** 2^26: the first hop's monotonic time is kept as two small integers (a double field would be a heap number). */
const SPLIT = 67_108_864;
/** Hops a packed trace holds (5 bits of `codes` each); a longer trace is kept whole. */
export const MAX_PACKED_HOPS = 6;

/**
 * One object (made by one object literal, so that V8 learns that these survive and allocates them in the old
 * generation directly, instead of copying each twice): the trace's fields, and per hop i < n its interface
 * name (ifI), delta_ns (dI, the first's is 0) and 5 bits of `codes` (kind index * 4 + 2 for ingress + 1 when
 * encapsulated).
 */
export interface PackedTrace {
  readonly packedHops: number;
  /** The id is idPrefix + seq in base 36 (its text is made again when read). */
  readonly idPrefix: string;
  readonly seq: number;
  readonly node: string;
  readonly src: Endpoint;
  readonly dst: Endpoint;
  readonly protocol: string;
  readonly path: PathKind;
  readonly outcome: Outcome;
  readonly reason: string | undefined;
  readonly latency: number;
  readonly packet: PacketIdentity;
  readonly service: ServiceRef | undefined;
  /** The wall-clock offset the hop times were made with (the clock's object, shared by many traces). */
  readonly offset: bigint;
  readonly monoHigh: number;
  readonly monoLow: number;
  readonly codes: number;
  readonly if0: string;
  readonly if1: string;
  readonly if2: string;
  readonly if3: string;
  readonly if4: string;
  readonly if5: string;
  readonly d1: number;
  readonly d2: number;
  readonly d3: number;
  readonly d4: number;
  readonly d5: number;
}

export function isPacked(t: Trace | PackedTrace): t is PackedTrace {
  return (t as Partial<PackedTrace>).packedHops !== undefined;
}

/** What the assembler knows of a plain trace besides the Trace itself. */
export interface PackSource {
  readonly idPrefix: string;
  readonly seq: number;
  readonly offset: bigint;
  readonly firstMono: number;
}

/** The packed form of a trace the assembler built, or undefined when it does not fit (then it is kept whole). */
export function pack(t: Trace, o: PackSource): PackedTrace | undefined {
  const hops = t.hops;
  const n = hops.length;
  const m = o.firstMono;
  // what the packed form has no place for keeps the trace whole: a cross-node timing, per-hop addresses or NAT
  if (n === 0 || n > MAX_PACKED_HOPS || !Number.isSafeInteger(m) || m < 0 || t.cross_node !== undefined) return undefined;
  let codes = 0;
  for (let i = 0; i < n; i++) {
    const h = hops[i] as Hop;
    const k = KINDS.indexOf(h.kind);
    const d = h.delta_ns;
    // the delta must be a small integer (the times are rebuilt from it exactly) and nothing else may be set
    if (k < 0 || (h.direction !== 'ingress' && h.direction !== 'egress') || (d | 0) !== d || d < 0 || (i === 0 && d !== 0) || (h.encap !== undefined && h.encap !== 'vxlan')) return undefined;
    if (h.saddr !== undefined || h.daddr !== undefined || h.sport !== undefined || h.dport !== undefined || h.nat !== undefined || h.delta_error_ns !== undefined) return undefined;
    codes |= (k * 4 + (h.direction === 'ingress' ? 2 : 0) + (h.encap === 'vxlan' ? 1 : 0)) << (5 * i);
  }
  const at = (i: number) => (i < n ? (hops[i] as Hop) : undefined);
  const monoHigh = Math.floor(m / SPLIT);
  return {
    packedHops: n,
    idPrefix: o.idPrefix,
    seq: o.seq,
    node: t.node,
    src: t.src,
    dst: t.dst,
    protocol: t.protocol,
    path: t.path,
    outcome: t.outcome,
    reason: t.reason,
    latency: t.latency_ns,
    packet: t.packet,
    service: t.service,
    offset: o.offset,
    monoHigh,
    monoLow: m - monoHigh * SPLIT,
    codes,
    if0: at(0)?.interface ?? '',
    if1: at(1)?.interface ?? '',
    if2: at(2)?.interface ?? '',
    if3: at(3)?.interface ?? '',
    if4: at(4)?.interface ?? '',
    if5: at(5)?.interface ?? '',
    d1: at(1)?.delta_ns ?? 0,
    d2: at(2)?.delta_ns ?? 0,
    d3: at(3)?.delta_ns ?? 0,
    d4: at(4)?.delta_ns ?? 0,
    d5: at(5)?.delta_ns ?? 0,
  };
}

/** The trace exactly as the assembler built it. */
export function unpack(p: PackedTrace): Trace {
  const offset = p.offset;
  const clock = { wallOffsetNs: () => offset, toWallNs: (m: number) => BigInt(m) + offset, nowMonoNs: () => 0 };
  let mono = p.monoHigh * SPLIT + p.monoLow;
  const wall = new WallTimes().at(clock, mono);
  const node = p.node;
  const names = [p.if0, p.if1, p.if2, p.if3, p.if4, p.if5];
  const deltas = [0, p.d1, p.d2, p.d3, p.d4, p.d5];
  const hops: Hop[] = new Array<Hop>(p.packedHops);
  for (let i = 0; i < p.packedHops; i++) {
    const code = (p.codes >>> (5 * i)) & 31;
    const delta = deltas[i] as number;
    mono += delta;
    const kind = KINDS[code >> 2] as HopKind;
    const direction = (code & 2) !== 0 ? 'ingress' : 'egress';
    const name = names[i] as string;
    hops[i] = (code & 1) === 0
      ? { node, interface: name, kind, direction, t: wall.text(mono), delta_ns: delta }
      : { node, interface: name, kind, direction, t: wall.text(mono), delta_ns: delta, encap: 'vxlan' };
  }
  return {
    id: p.idPrefix + p.seq.toString(36),
    node,
    src: p.src,
    dst: p.dst,
    protocol: p.protocol,
    path: p.path,
    hops,
    outcome: p.outcome,
    ...(p.reason !== undefined ? { reason: p.reason } : {}),
    latency_ns: p.latency,
    packet: p.packet,
    ...(p.service ? { service: p.service } : {}),
  };
}
