/**
 * @module Joins the two halves of a cross-node packet: this node's half and the half a peer agent streamed
 * (matched by packet identity within a window, never through shared kernel state). For packets that arrived
 * here, the joined (stitched) trace replaces this node's half, with the time between the nodes corrected for
 * their clock offset (see clock-offset.ts); packets that left here only teach the offset. Without a peer,
 * the round trip seen at this node's uplink (ICMP echo, TCP handshake) gives a coarser estimate.
 */
import { crossNodeHalf, hasPacketKey, nsBetween, packetKey } from '../trace/packet-key.js';
import type { CrossNodeTiming, Hop, Trace } from '../trace/trace.js';
import type { ClockOffsetEstimator } from './clock-offset.js';

export interface CrossNodeJoinerOptions {
  readonly node: string;
  readonly offsets: ClockOffsetEstimator;
  /**
   * Whether a peer agent for this node name is streaming to us: worth waiting for its half, and worth keeping a
   * departed packet's time for (only its stream brings the arriving half that reads it; a link that comes up
   * in the moment between the two costs one clock-offset sample).
   */
  readonly peerConnected: (node: string) => boolean;
  /** Every trace this node reports, stitched or not, exactly once. */
  readonly emit: (t: Trace) => void;
  /** How long this node's half waits for the peer's half. */
  readonly holdMs?: number;
  readonly now?: () => number;
}

interface Held {
  readonly trace: Trace;
  readonly atMs: number;
}

/**
 * A departed packet as the joiner remembers it: when it left this node (its last hop's wall time), nothing
 * more. Keeping the whole trace here kept every sender trace alive for seconds (the maps hold 20,000).
 */
interface Departed {
  readonly leftAt: string | undefined;
  readonly atMs: number;
}

const MAX_HELD = 20_000;

export class CrossNodeJoiner {
  readonly stats = { stitched: 0, unmatched: 0, rtt: 0 };
  /** This node's arriving halves waiting for the sender's half. */
  private readonly arriving = new Map<string, Held>();
  /** Sender halves from peers that came before this node's half. */
  private readonly peerSent = new Map<string, Held & { peer: string }>();
  /** This node's departing halves, for the peer's arriving half (offset samples). */
  private readonly sent = new Map<string, Departed>();
  /** This node's departing requests (ICMP echo, TCP SYN), for the round-trip fallback. */
  private readonly requests = new Map<string, Departed>();
  private readonly holdMs: number;
  private readonly now: () => number;

  constructor(private readonly o: CrossNodeJoinerOptions) {
    this.holdMs = o.holdMs ?? 500;
    this.now = o.now ?? Date.now;
  }

  /** A trace this node's assembler completed. */
  onLocal(t: Trace): void {
    const role = crossNodeHalf(t);
    if (!role || !hasPacketKey(t)) {
      this.o.emit(t);
      return;
    }
    if (role === 'sender') {
      // only a connected peer streams the arriving half that reads `sent` (a destination on no known node: kept)
      const to = t.dst.node;
      const key = to === undefined || to === this.o.node || this.o.peerConnected(to) ? packetKey(t) : undefined;
      const rk = requestKey(t, 'request');
      if (key || rk) {
        const now = this.now();
        const left: Departed = { leftAt: t.hops[t.hops.length - 1]?.t, atMs: now };
        if (key) put(this.sent, key, left);
        if (rk) put(this.requests, rk, left);
      }
      this.o.emit(t);
      return;
    }
    const from = t.src.node;
    const wait = from !== undefined && from !== this.o.node && this.o.peerConnected(from);
    // the key only matters when a peer's half came first or may still come
    const key = wait || this.peerSent.size > 0 ? (packetKey(t) as string) : undefined;
    const early = key === undefined ? undefined : this.peerSent.get(key);
    if (key !== undefined && early) {
      this.peerSent.delete(key);
      this.o.emit(this.stitch(early.peer, early.trace, t));
      return;
    }
    if (key !== undefined && wait) {
      put(this.arriving, key, { trace: t, atMs: this.now() });
      return;
    }
    this.o.emit(this.withRoundTrip(t));
  }

  /** A trace a peer agent streamed. */
  onPeer(peer: string, t: Trace): void {
    const key = packetKey(t);
    // the peer may already have stitched its arriving half with this node's: its own part starts at its first hop
    const ownStart = t.hops.findIndex((h) => h.node === peer);
    const role = ownStart > 0 ? crossNodeHalf({ ...t, hops: t.hops.slice(ownStart) }) : crossNodeHalf(t);
    if (!key || !role || t.node !== peer || ownStart < 0) return;
    const now = this.now();
    if (role === 'sender') {
      const mine = this.arriving.get(key);
      if (mine) {
        this.arriving.delete(key);
        this.o.emit(this.stitch(peer, t, mine.trace));
      } else {
        put(this.peerSent, key, { trace: t, atMs: now, peer });
      }
      return;
    }
    // the peer's arriving half of a packet that left here: one more offset sample
    const left = this.sent.get(key);
    const arrivedAt = t.hops[ownStart]?.t;
    const leftAt = left?.leftAt;
    if (left && arrivedAt && leftAt) {
      this.sent.delete(key);
      const d = nsBetween(leftAt, arrivedAt);
      if (d !== undefined) this.o.offsets.addOutbound(peer, d, now);
    }
  }

  /** Emits this node's halves whose partner did not come in time; forgets old state. */
  tick(): void {
    const now = this.now();
    for (const [key, h] of this.arriving) {
      if (now - h.atMs < this.holdMs) break; // insertion order is arrival order
      this.arriving.delete(key);
      this.stats.unmatched++;
      this.o.emit(this.withRoundTrip(h.trace));
    }
    for (const map of [this.peerSent, this.sent, this.requests] as Map<string, { atMs: number }>[]) {
      for (const [key, h] of map) {
        if (now - h.atMs < this.holdMs * 4) break;
        map.delete(key);
      }
    }
  }

  /** At shutdown: emit what is held. */
  flush(): void {
    for (const h of this.arriving.values()) this.o.emit(this.withRoundTrip(h.trace));
    this.arriving.clear();
  }

  private stitch(peer: string, sender: Trace, mine: Trace): Trace {
    const leftAt = sender.hops[sender.hops.length - 1]?.t;
    const arrivedAt = mine.hops[0]?.t;
    const d = leftAt && arrivedAt ? nsBetween(leftAt, arrivedAt) : undefined;
    if (d === undefined) return mine;
    const now = this.now();
    this.o.offsets.addInbound(peer, d, now);
    const est = this.o.offsets.estimate(peer, now);
    // d = delay - theta (theta = peer - this clock), so delay = d + theta
    const transit = est ? d + est.offsetNs : d;
    const timing: CrossNodeTiming = est
      ? { method: 'one-way', source_node: peer, destination_node: this.o.node, transit_ns: transit, clock_offset_ns: -est.offsetNs, error_ns: est.errorNs }
      : { method: 'uncorrected', source_node: peer, destination_node: this.o.node, transit_ns: transit };
    const [firstMine, ...restMine] = mine.hops;
    const joined: Hop = { ...(firstMine as Hop), delta_ns: transit, ...(est ? { delta_error_ns: est.errorNs } : {}) };
    this.stats.stitched++;
    return {
      ...mine,
      src: { ...mine.src, ...sender.src },
      // a Service's DNAT happens on the sender's node: its half names the Service
      ...(mine.service === undefined && sender.service !== undefined ? { service: sender.service } : {}),
      hops: [...sender.hops, joined, ...restMine],
      latency_ns: sender.latency_ns + transit + mine.latency_ns,
      cross_node: timing,
    };
  }

  /** No peer half: half the round trip at this node's uplink, when this packet answers one that left here. */
  private withRoundTrip(t: Trace): Trace {
    const rk = requestKey(t, 'reply');
    const req = rk ? this.requests.get(rk) : undefined;
    const leftAt = req?.leftAt;
    const backAt = t.hops[0]?.t;
    const rtt = leftAt && backAt ? nsBetween(leftAt, backAt) : undefined;
    if (!rk || rtt === undefined || rtt < 0 || t.src.node === undefined) return t;
    this.requests.delete(rk);
    this.stats.rtt++;
    return { ...t, cross_node: { method: 'rtt', source_node: t.src.node, destination_node: this.o.node, transit_ns: Math.round(rtt / 2) } };
  }
}

/** Pairs a request with its reply: ICMP echo by id/seq, TCP SYN with SYN|ACK by the reversed 4-tuple. */
function requestKey(t: Trace, as: 'request' | 'reply'): string | undefined {
  const p = t.packet;
  const [a, b] = as === 'request' ? [t.src, t.dst] : [t.dst, t.src];
  if (p.icmp_echo && p.icmp_type === (as === 'request' ? 8 : 0)) return `icmp|${a.ip}|${b.ip}|${p.icmp_echo.id}|${p.icmp_echo.seq}`;
  if (p.icmp_echo && t.protocol === 'ICMPv6' && p.icmp_type === (as === 'request' ? 128 : 129)) return `icmp|${a.ip}|${b.ip}|${p.icmp_echo.id}|${p.icmp_echo.seq}`;
  if (t.protocol === 'TCP' && p.tcp_flags === (as === 'request' ? 'SYN' : 'SYN|ACK')) return `tcp|${a.ip}:${a.port}|${b.ip}:${b.port}`;
  return undefined;
}

/**
 * Where each map's oldest entry is: one long-lived iterator per map. A fresh keys().next() walks over every
 * entry deleted at the front since the map's last rehash (V8 leaves holes), thousands per call once the map is
 * full; every entry before this iterator's position has been deleted, and re-inserted keys go to the end.
 */
const OLDEST = new WeakMap<Map<string, unknown>, Iterator<string>>();

function put<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_HELD) {
    let order = OLDEST.get(map);
    let oldest = order?.next();
    if (order === undefined || oldest === undefined || oldest.done) {
      order = map.keys();
      OLDEST.set(map, order);
      oldest = order.next();
    }
    if (!oldest.done) map.delete(oldest.value);
  }
}
