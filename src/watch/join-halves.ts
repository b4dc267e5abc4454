/**
 * @module Joins the two halves of a cross-node packet seen by two agents. The sender's node reports a half that
 * ends `forwarded` (it left by the uplink); the receiver's node reports a half that starts at its uplink (or
 * overlay) ingress and ends `delivered`, `dropped`, `route-miss` or `in-flight`. Halves are matched by packet
 * identity ({@link packetKey}: source and destination IP, protocol, IP id, plus the TCP sequence number or the
 * ICMP echo id/seq when present), from different nodes, within a window (500 ms by default) whichever arrives
 * first. A half whose partner does not come within the window is given out alone.
 *
 * The joiner is pure: the caller passes the current time and asks for expired halves (see `nextDeadline`).
 */
import { crossNodeHalf, nsBetween, packetKey } from '../trace/packet-key.js';
import type { Hop, Trace } from '../trace/trace.js';

export const DEFAULT_JOIN_WINDOW_MS = 500;
export const DEFAULT_MAX_HELD = 10_000;

export interface JoinerOptions {
  readonly windowMs?: number;
  /**
   * Whether a partner can come from `node` (the other end's node as the half names it, undefined if unknown).
   * Answering false (e.g. that node's agent is not watched) gives the half out at once instead of holding it.
   */
  readonly mayHavePartner?: (node: string | undefined) => boolean;
  /** At most this many halves wait at once; beyond it the oldest is given out alone (memory stays bounded). */
  readonly maxHeld?: number;
}

/** `first`: the sender's half (forwarded); `second`: the receiver's half (or an agent's own stitched trace). */
export type HalfRole = 'first' | 'second';

interface Held {
  readonly trace: Trace;
  readonly role: HalfRole;
  readonly key: string;
  readonly deadline: number;
  readonly seq: number;
}

export class HalfJoiner {
  private readonly windowMs: number;
  private readonly mayHavePartner: (node: string | undefined) => boolean;
  private readonly maxHeld: number;
  private readonly byKey = new Map<string, Held[]>();
  private seq = 0;
  private count = 0;

  constructor(opts: JoinerOptions = {}) {
    this.windowMs = opts.windowMs ?? DEFAULT_JOIN_WINDOW_MS;
    this.mayHavePartner = opts.mayHavePartner ?? (() => true);
    this.maxHeld = Math.max(1, opts.maxHeld ?? DEFAULT_MAX_HELD);
  }

  /** Number of halves held, waiting for a partner. */
  get size(): number {
    return this.count;
  }

  /** Takes one trace as it arrives; returns the traces to give out now (joined, or not a half at all). */
  push(trace: Trace, nowMs: number): Trace[] {
    const role = halfRole(trace);
    const key = role && packetKey(trace);
    if (!role || !key) return [trace];
    const waiting = this.byKey.get(key);
    const partnerAt = waiting?.findIndex((h) => h.role !== role && h.trace.node !== trace.node) ?? -1;
    if (waiting && partnerAt >= 0) {
      const [partner] = waiting.splice(partnerAt, 1) as [Held];
      if (waiting.length === 0) this.byKey.delete(key);
      this.count--;
      return role === 'first' ? [joinHalves(trace, partner.trace)] : [joinHalves(partner.trace, trace)];
    }
    if (!this.mayHavePartner(role === 'first' ? trace.dst?.node : trace.src?.node)) return [trace];
    const evicted = this.count >= this.maxHeld ? this.take(oldest(this.byKey)) : [];
    const held: Held = { trace, role, key, deadline: nowMs + this.windowMs, seq: this.seq++ };
    if (waiting) waiting.push(held);
    else this.byKey.set(key, [held]);
    this.count++;
    return evicted;
  }

  /** The halves whose window has ended by `nowMs`, oldest first; they are no longer held. */
  expire(nowMs: number): Trace[] {
    return this.take((h) => h.deadline <= nowMs);
  }

  /** Everything held, oldest first (e.g. on exit). */
  drain(): Trace[] {
    return this.take(() => true);
  }

  /** When the next held half expires, or undefined when nothing is held. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const list of this.byKey.values()) for (const h of list) if (next === undefined || h.deadline < next) next = h.deadline;
    return next;
  }

  private take(pred: (h: Held) => boolean): Trace[] {
    const out: Held[] = [];
    for (const [key, list] of this.byKey) {
      const keep = list.filter((h) => !pred(h));
      if (keep.length === list.length) continue;
      out.push(...list.filter(pred));
      if (keep.length === 0) this.byKey.delete(key);
      else this.byKey.set(key, keep);
    }
    this.count -= out.length;
    return out.sort((a, b) => a.deadline - b.deadline || a.seq - b.seq).map((h) => h.trace);
  }
}

/** A predicate matching only the held half that expires first. */
function oldest(byKey: ReadonlyMap<string, readonly Held[]>): (h: Held) => boolean {
  let first: Held | undefined;
  for (const list of byKey.values()) for (const h of list) if (!first || h.deadline < first.deadline || (h.deadline === first.deadline && h.seq < first.seq)) first = h;
  return (h) => h === first;
}

/**
 * Which half of a cross-node packet a trace is: `first` if it left its node (`forwarded`); `second` if it ends
 * on a node it entered by the uplink or an overlay device, or if it already holds hops of several nodes (an
 * agent's own stitched trace, which then supersedes the sender's half). Undefined: not a half.
 */
export function halfRole(t: Trace): HalfRole | undefined {
  if (!Array.isArray(t.hops) || t.hops.length === 0) return undefined;
  const half = crossNodeHalf(t);
  if (half) return half === 'sender' ? 'first' : 'second';
  if (new Set(t.hops.map((h) => h.node)).size > 1) return 'second';
  return undefined;
}

/**
 * One trace from the sender's half and the receiver's half: the hops of both in that order (each keeps its
 * `node`; the first receiver hop's `delta_ns` becomes the wall-clock gap between the nodes, uncorrected for
 * clock offset), the receiver's outcome and reason, latency from the first hop to the last, `node` listing both
 * nodes ("node-1,node-2") and `id` both ids ("id1+id2"). A receiver trace that already holds every hop of the
 * sender's half (stitched by its agent) is returned as it is.
 */
export function joinHalves(first: Trace, second: Trace): Trace {
  const hopKey = (h: Hop) => `${h.node}|${h.interface}|${h.direction}|${h.t}`;
  const secondKeys = new Set(second.hops.map(hopKey));
  if (first.hops.every((h) => secondKeys.has(hopKey(h)))) return second;
  const firstKeys = new Set(first.hops.map(hopKey));
  const added = second.hops.filter((h) => !firstKeys.has(hopKey(h)));
  const last = first.hops[first.hops.length - 1];
  const hops: Hop[] = [...first.hops];
  added.forEach((h, i) => {
    const gap = i === 0 && last ? nsBetween(last.t, h.t) : undefined;
    hops.push(gap === undefined ? h : { ...h, delta_ns: gap });
  });
  const span = hops.length > 0 ? nsBetween((hops[0] as Hop).t, (hops[hops.length - 1] as Hop).t) : undefined;
  const { reason: _firstReason, ...base } = { ...second, ...first };
  return {
    ...base,
    id: `${first.id}+${second.id}`,
    node: [...new Set([first.node, second.node])].join(','),
    src: { ...second.src, ...first.src },
    dst: { ...first.dst, ...second.dst },
    hops,
    outcome: second.outcome,
    ...(second.reason !== undefined ? { reason: second.reason } : {}),
    latency_ns: span ?? first.latency_ns + second.latency_ns,
  };
}

export { nsBetween, packetKey };
