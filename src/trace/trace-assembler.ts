/**
 * @module Events of one packet -> one hop trace. Within one kernel an sk_buff address follows a packet from
 * the sender's eth0 across veth, bridge, routing and uplink, so hops join by skb address, with the IP header
 * (addresses, protocol, IP id) as a cross-check against a reused address. A trace closes at its last hop on
 * this node (delivered at a pod, forwarded out of the uplink, dropped) after a short grace for hops that
 * arrive late from another CPU's buffer, or as in-flight after a timeout. Drops come from another bpftrace
 * process, so a drop may arrive before the hops it ends: it waits (bounded) for its trace.
 *
 * Services: a DNAT (kube-proxy) rewrites the addresses in place on the same skb, so a change of addresses
 * with the same IP id and protocol is accepted when one side is a Service's cluster IP (the request before
 * the DNAT, or the reply after its reverse translation). The trace then names the Service, `src`/`dst` are
 * the real endpoints (client and backend) and hops whose addresses differ carry them (see trace.ts `Hop`).
 */
import type { DropEvent, HopEvent, Ipv6Fields } from '../decode/probe-event.js';
import type { DropReasons } from '../decode/drop-reasons.js';
import type { Inventory, InventoryService } from '../inventory/inventory.js';
import type { NodeScope, HopKind } from '../scope/node-scope.js';
import type { WallClock } from '../clock/wall-clock.js';
import { routeMissReason } from '../model/node-counters.js';
import { small } from '../decode/decode-line.js';
import { classifyPath } from './classify-path.js';
import { WallTimes } from './wall-times.js';
import { keptKey, skbKey, type SkbKey } from './skb-key.js';
import { pack, type PackedTrace } from './packed-trace.js';
import { protocolName, tcpFlagNames, type Endpoint, type Hop, type NatKind, type Outcome, type PacketIdentity, type ServiceRef, type Trace } from './trace.js';

export interface AssemblerOptions {
  readonly node: string;
  readonly scope: NodeScope;
  readonly inventory: () => Inventory;
  readonly clock: WallClock;
  readonly dropReasons: DropReasons;
  readonly onTrace: (trace: Trace) => void;
  /** No further hop for this long: the trace closes as in-flight. */
  readonly timeoutNs?: number;
  /** How long a finished trace waits for late hops before it is emitted. */
  readonly graceNs?: number;
  /** Most packets in flight at once; beyond it the oldest closes as in-flight. */
  readonly maxOpen?: number;
}

export interface AssemblerStats {
  hopsAccepted: number;
  /** Hops in namespaces of other nodes (lab) or on host-local devices. */
  hopsIgnored: number;
  dropsJoined: number;
  dropsUnjoined: number;
  tracesEmitted: number;
  /** Open traces closed early because the table was full. */
  tracesEvicted: number;
  /** Hops whose addresses a Service's NAT had rewritten, joined to their trace. */
  hopsRewritten: number;
}

/**
 * What a trace keeps of its first event: the packet's identity (see identityOf, sameIdentity), and what a
 * NAT-rewritten hop keeps of its event (its addresses and ports).
 */
type PacketFields = Pick<HopEvent, 'saddr' | 'daddr' | 'protocol' | 'ipId' | 'srcPort' | 'dstPort' | 'tcpFlags' | 'seq' | 'icmpType' | 'icmpCode' | 'length'> & {
  // a reused OpenTrace sets these back to undefined
  readonly encap?: number | undefined;
  readonly ipv6?: Ipv6Fields | undefined;
};

/**
 * One packet in flight. Open traces live for the grace period, long enough to outlast a young-generation
 * collection, so they are reused (see TraceAssembler.free) and keep their hops in parallel arrays (numbers
 * unboxed): after warm-up a hop costs no allocation here, and no event object is kept beyond its line (but
 * for the rare hop a Service's NAT rewrote, whose event holds its addresses).
 */
class OpenTrace implements PacketFields {
  saddr = '';
  daddr = '';
  protocol = 0;
  ipId = 0;
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;
  seq = 0;
  icmpType = 0;
  icmpCode = 0;
  length = 0;
  /** The VXLAN UDP port when the first hop was encapsulated, else undefined. */
  encap: number | undefined = undefined;
  /** IPv6 header fields of the first hop (shared with its event: a two-number object, not the line). */
  ipv6: Ipv6Fields | undefined = undefined;
  /** Hops in time order: count, then each hop's monotonic time, kind, interface name, direction, encapsulation and NAT. */
  n = 0;
  readonly monos: number[] = [];
  readonly kinds: HopKind[] = [];
  readonly ifnames: string[] = [];
  readonly directions: HopEvent['direction'][] = [];
  /** The VXLAN UDP port when the packet was encapsulated at this hop, 0 when not. */
  readonly encaps: number[] = [];
  /** Set when this hop's addresses or ports differ from the trace's first event (NAT): the hop's event. */
  readonly rewrittens: (HopEvent | undefined)[] = [];
  /** How many hops have a rewritten event (most traces: none). */
  rewrittenCount = 0;
  lastMonoNs = 0;
  /** The hop that ends a packet's way through this node (pod ingress or uplink egress), and when: none yet is undefined. */
  lastOutcome: 'delivered' | 'forwarded' | undefined = undefined;
  lastAtMonoNs = 0;
  drop: { reason: string; routeMiss: boolean; atMonoNs: number } | undefined = undefined;

  /** Starts the trace of the packet of `e`, which is its first hop. */
  begin(e: HopEvent, kind: HopKind): void {
    this.saddr = e.saddr;
    this.daddr = e.daddr;
    this.protocol = e.protocol;
    this.ipId = e.ipId;
    this.srcPort = e.srcPort;
    this.dstPort = e.dstPort;
    this.tcpFlags = e.tcpFlags;
    this.seq = e.seq;
    this.icmpType = e.icmpType;
    this.icmpCode = e.icmpCode;
    this.length = e.length;
    this.encap = e.encap;
    this.ipv6 = e.ipv6;
    this.n = 0;
    this.rewrittenCount = 0;
    this.lastMonoNs = e.monoNs;
    this.lastOutcome = undefined;
    this.lastAtMonoNs = 0;
    this.drop = undefined;
    this.addHop(e, kind, false);
  }

  /** Monotonic time of the earliest hop. */
  get firstMono(): number {
    return this.monos[0] as number;
  }

  /** This hop's addresses and ports: its own event's after a NAT, else the first event's. */
  at(i: number): PacketFields {
    return this.rewrittenCount === 0 ? this : (this.rewrittens[i] ?? this);
  }

  /** Hops arrive almost always in order; a late one from another CPU's buffer is slotted in by time. */
  addHop(e: HopEvent, kind: HopKind, rewritten: boolean): void {
    const { monos, kinds, ifnames, directions, encaps, rewrittens } = this;
    let i = this.n;
    while (i > 0 && (monos[i - 1] as number) > e.monoNs) i--;
    for (let k = this.n; k > i; k--) {
      monos[k] = monos[k - 1] as number;
      kinds[k] = kinds[k - 1] as HopKind;
      ifnames[k] = ifnames[k - 1] as string;
      directions[k] = directions[k - 1] as HopEvent['direction'];
      encaps[k] = encaps[k - 1] as number;
      rewrittens[k] = rewrittens[k - 1];
    }
    monos[i] = e.monoNs;
    kinds[i] = kind;
    ifnames[i] = e.ifname;
    directions[i] = e.direction;
    encaps[i] = e.encap ?? 0;
    rewrittens[i] = rewritten ? e : undefined;
    if (rewritten) this.rewrittenCount++;
    this.n++;
  }

  /** Back to the pool: no rewritten event outlives its trace. */
  release(): void {
    if (this.rewrittenCount > 0) this.rewrittens.fill(undefined);
    this.ipv6 = undefined;
  }
}

export class TraceAssembler {
  readonly stats: AssemblerStats = { hopsAccepted: 0, hopsIgnored: 0, dropsJoined: 0, dropsUnjoined: 0, tracesEmitted: 0, tracesEvicted: 0, hopsRewritten: 0 };
  /** By skb address (skb-key.ts). */
  private readonly open = new Map<SkbKey, OpenTrace>();
  /** Closed traces for reuse (bounded). */
  private readonly free: OpenTrace[] = [];
  /** Drops that arrived before any hop of their packet, by skb address. */
  private readonly pendingDrops = new Map<string, DropEvent[]>();
  private pendingDropCount = 0;
  private readonly timeoutNs: number;
  private readonly graceNs: number;
  private readonly maxOpen: number;
  private sequence = 0;
  private readonly idPrefix: string;
  private readonly endpoints = new EndpointCache();
  private readonly wall = new WallTimes();
  /** The trace reported last and its packed form, if build() packed it (for the trace ring, see packedFor). */
  private lastTrace: Trace | undefined = undefined;
  private lastPacked: PackedTrace | undefined = undefined;

  constructor(private readonly o: AssemblerOptions) {
    this.timeoutNs = o.timeoutNs ?? 1_000_000_000;
    this.graceNs = o.graceNs ?? 20_000_000;
    this.maxOpen = o.maxOpen ?? 65_536;
    this.idPrefix = `${o.node}-${Date.now().toString(36)}-`;
  }

  get openCount(): number {
    return this.open.size;
  }

  onHop(e: HopEvent): void {
    const c = this.o.scope.classify(e.netns, e.ifindex, e.ifname);
    if (!c.mine) {
      this.stats.hopsIgnored++;
      return;
    }
    this.stats.hopsAccepted++;
    const key = skbKey(e.skb);
    let t = this.open.get(key);
    let rewritten = false;
    if (t && !sameIdentity(t, e)) {
      // after the packet's last hop here, another packet in the same skb is a new trace, rewritten or not
      const ended = t.lastOutcome !== undefined && e.monoNs > t.lastAtMonoNs;
      if (!ended && natRewrite(t, e, this.o.inventory())) {
        rewritten = true;
        this.stats.hopsRewritten++;
      } else {
        this.close(key, t);
        t = undefined;
      }
    }
    if (!t) {
      if (this.open.size >= this.maxOpen) this.evictOldest();
      t = this.free.pop() ?? new OpenTrace();
      t.begin(e, c.kind);
      this.open.set(keptKey(key), t);
    } else {
      t.addHop(e, c.kind, rewritten);
      if (e.monoNs > t.lastMonoNs) t.lastMonoNs = e.monoNs;
    }
    const end = terminalOutcome(c.kind, e.direction);
    if (end && (t.lastOutcome === undefined || e.monoNs < t.lastAtMonoNs)) {
      t.lastOutcome = end;
      t.lastAtMonoNs = e.monoNs;
    }
    const early = this.pendingDrops.size === 0 ? undefined : this.pendingDrops.get(e.skb);
    if (early) {
      const open = t;
      const mine = early.filter((d) => dropBelongs(open, d));
      for (const d of mine) this.attachDrop(open, d);
      if (mine.length > 0) this.setPending(e.skb, early.filter((d) => !mine.includes(d)));
    }
  }

  onDrop(e: DropEvent): void {
    const t = this.open.get(skbKey(e.skb));
    if (t && dropBelongs(t, e)) {
      this.attachDrop(t, e);
      return;
    }
    if (this.pendingDropCount >= 4096) {
      const oldest = this.pendingDrops.entries().next();
      if (!oldest.done) {
        this.stats.dropsUnjoined += oldest.value[1].length;
        this.setPending(oldest.value[0], []);
      }
    }
    this.setPending(e.skb, [...(this.pendingDrops.get(e.skb) ?? []), e]);
  }

  private setPending(skb: string, drops: DropEvent[]): void {
    this.pendingDropCount += drops.length - (this.pendingDrops.get(skb)?.length ?? 0);
    if (drops.length === 0) this.pendingDrops.delete(skb);
    else this.pendingDrops.set(skb, drops);
  }

  /** Emits finished traces whose grace has passed and times out the rest. `nowMonoNs` is CLOCK_MONOTONIC. */
  tick(nowMonoNs: number): void {
    for (const [skb, t] of this.open) {
      const endedAt = endOf(t);
      if (endedAt !== undefined ? nowMonoNs - endedAt >= this.graceNs : nowMonoNs - t.lastMonoNs >= this.timeoutNs) {
        this.close(skb, t);
      }
    }
    for (const [skb, drops] of this.pendingDrops) {
      const fresh = drops.filter((d) => nowMonoNs - d.monoNs < this.timeoutNs);
      this.stats.dropsUnjoined += drops.length - fresh.length;
      if (fresh.length !== drops.length) this.setPending(skb, fresh);
    }
  }

  private attachDrop(t: OpenTrace, e: DropEvent): void {
    this.stats.dropsJoined++;
    if (!t.drop || e.monoNs < t.drop.atMonoNs) {
      const name = this.o.dropReasons.name(e.reason);
      // an unreachable or prohibit route drops without a reason: the failed lookup says why
      const byLookup = name === 'NOT_SPECIFIED' ? routeMissReason(name, e.fibErr) : undefined;
      t.drop = { reason: byLookup ?? name, routeMiss: byLookup !== undefined || this.o.dropReasons.isRouteMiss(e.reason), atMonoNs: e.monoNs };
    }
    t.lastMonoNs = Math.max(t.lastMonoNs, e.monoNs);
  }

  /** Closes everything still open (at shutdown). */
  flush(): void {
    for (const [skb, t] of this.open) this.close(skb, t);
  }

  private evictOldest(): void {
    const oldest = this.open.entries().next();
    if (oldest.done) return;
    this.stats.tracesEvicted++;
    this.close(oldest.value[0], oldest.value[1]);
  }

  private close(skb: SkbKey, t: OpenTrace): void {
    this.open.delete(skb);
    this.stats.tracesEmitted++;
    this.lastPacked = undefined;
    const trace = this.build(t);
    this.lastTrace = trace;
    t.release();
    if (this.free.length < 1024) this.free.push(t);
    this.o.onTrace(trace);
  }

  /**
   * The packed form of the trace this assembler reported last, if `trace` is that very object (a trace changed
   * on the way, stitched or given a round trip, is a new object and has none): what the trace ring keeps.
   */
  packedFor(trace: Trace): PackedTrace | undefined {
    return trace === this.lastTrace ? this.lastPacked : undefined;
  }

  private build(t: OpenTrace): Trace {
    const { node, clock } = this.o;
    const inventory = this.o.inventory();
    const first = t;
    const firstMono = t.firstMono;
    // one clock conversion per trace: every hop's wall time is the first's plus its monotonic distance
    const wall = this.wall.at(clock, firstMono);
    const { n, monos, kinds, ifnames, directions, encaps } = t;
    const hops: Hop[] = new Array<Hop>(n);
    let prevMono = firstMono;
    for (let i = 0; i < n; i++) {
      const mono = monos[i] as number;
      const delta = i === 0 ? 0 : small(mono - prevMono);
      hops[i] = encaps[i] === 0
        ? { node, interface: ifnames[i] as string, kind: kinds[i] as HopKind, direction: directions[i] as HopEvent['direction'], t: wall.text(mono), delta_ns: delta }
        : { node, interface: ifnames[i] as string, kind: kinds[i] as HopKind, direction: directions[i] as HopEvent['direction'], t: wall.text(mono), delta_ns: delta, encap: 'vxlan' };
      prevMono = mono;
    }
    const fate = fateOf(t);
    const outcome: Outcome = fate.outcome;
    if (t.rewrittenCount > 0) return this.buildRewritten(t, hops, fate, firstMono, inventory);
    const path = classifyPath({ hops, outcome, saddr: first.saddr, daddr: first.daddr }, inventory);
    const service = inventory.hasServices ? serviceOf(inventory, first, first) : undefined;
    const seq = ++this.sequence;
    const trace: Trace = {
      id: this.idPrefix + seq.toString(36),
      node,
      src: this.endpoints.get(inventory, first.saddr, first.srcPort, first.protocol),
      dst: this.endpoints.get(inventory, first.daddr, first.dstPort, first.protocol),
      protocol: protocolName(first.protocol),
      path,
      hops,
      outcome,
      ...(fate.reason !== undefined ? { reason: fate.reason } : {}),
      latency_ns: small(fate.atMonoNs - firstMono),
      packet: identityOf(first),
      ...(service ? { service } : {}),
    };
    const offset = wall.plainOffset;
    if (offset !== undefined) this.lastPacked = pack(trace, { idPrefix: this.idPrefix, seq, offset, firstMono });
    return trace;
  }

  /**
   * A trace whose addresses a NAT rewrote on the way: `src` is the source at its first hop and `dst` the
   * destination at its last (the client and the backend, whichever way the packet goes), unless that is the
   * Service address itself; each hop whose addresses differ from those carries its own, and the first hop after
   * a rewrite says what changed.
   */
  private buildRewritten(t: OpenTrace, plain: Hop[], fate: ReturnType<typeof fateOf>, firstMono: number, inventory: Inventory): Trace {
    const first = t;
    const a = t.at(0);
    const z = t.at(t.n - 1);
    const srcEv = inventory.serviceByIp(a.saddr) ? z : a;
    const dstEv = inventory.serviceByIp(z.daddr) ? a : z;
    const src = this.endpoints.get(inventory, srcEv.saddr, srcEv.srcPort, first.protocol);
    const dst = this.endpoints.get(inventory, dstEv.daddr, dstEv.dstPort, first.protocol);
    const ported = first.protocol === 6 || first.protocol === 17;
    const hops: Hop[] = plain.map((hop, i) => {
      const e = t.at(i);
      const prev = i === 0 ? undefined : t.at(i - 1);
      const extra: { -readonly [K in 'saddr' | 'sport' | 'daddr' | 'dport' | 'nat']?: Hop[K] } = {};
      if (e.saddr !== src.ip || (ported && e.srcPort !== src.port)) {
        extra.saddr = e.saddr;
        if (ported) extra.sport = e.srcPort;
      }
      if (e.daddr !== dst.ip || (ported && e.dstPort !== dst.port)) {
        extra.daddr = e.daddr;
        if (ported) extra.dport = e.dstPort;
      }
      const nat = prev ? natKind(prev, e) : undefined;
      if (nat) extra.nat = nat;
      return { ...hop, ...extra };
    });
    const path = classifyPath({ hops, outcome: fate.outcome, saddr: z.saddr, daddr: z.daddr }, inventory);
    const service = serviceOf(inventory, a, z);
    return {
      id: this.idPrefix + (++this.sequence).toString(36),
      node: this.o.node,
      src,
      dst,
      protocol: protocolName(first.protocol),
      path,
      hops,
      outcome: fate.outcome,
      ...(fate.reason !== undefined ? { reason: fate.reason } : {}),
      latency_ns: small(fate.atMonoNs - firstMono),
      packet: identityOf(first),
      ...(service ? { service } : {}),
    };
  }
}

/**
 * What ended the packet on this node. A free after the packet left by its last hop is not its fate: the
 * stack frees a delivered packet's original after giving clones to sockets (NO_SOCKET for ping replies).
 */
function fateOf(t: OpenTrace): { outcome: Outcome; reason?: string; atMonoNs: number } {
  const { lastOutcome, drop } = t;
  if (lastOutcome !== undefined && (!drop || t.lastAtMonoNs <= drop.atMonoNs)) return { outcome: lastOutcome, atMonoNs: t.lastAtMonoNs };
  if (drop) return { outcome: drop.routeMiss ? 'route-miss' : 'dropped', reason: drop.reason, atMonoNs: drop.atMonoNs };
  return { outcome: 'in-flight', atMonoNs: t.lastMonoNs };
}

function endOf(t: OpenTrace): number | undefined {
  if (t.lastOutcome !== undefined) return t.drop ? Math.max(t.lastAtMonoNs, t.drop.atMonoNs) : t.lastAtMonoNs;
  return t.drop?.atMonoNs;
}

/** Same packet (the skb address may have been reused) and not before its first hop. */
function dropBelongs(t: OpenTrace, d: DropEvent): boolean {
  if (t.ipId !== d.ipId || d.monoNs < t.firstMono || t.ipv6?.flowLabel !== d.ipv6?.flowLabel) return false;
  if (t.saddr === d.saddr && t.daddr === d.daddr) return true;
  if (t.rewrittenCount === 0) return false;
  // after a Service's NAT the packet carries the rewritten addresses
  for (let i = 0; i < t.n; i++) {
    const r = t.rewrittens[i];
    if (r !== undefined && r.saddr === d.saddr && r.daddr === d.daddr) return true;
  }
  return false;
}

function terminalOutcome(kind: HopKind, direction: HopEvent['direction']): 'delivered' | 'forwarded' | undefined {
  if (kind === 'pod' && direction === 'ingress') return 'delivered';
  if (kind === 'uplink' && direction === 'egress') return 'forwarded';
  return undefined;
}

function sameIdentity(a: PacketFields, b: HopEvent): boolean {
  if (a.ipId !== b.ipId || a.saddr !== b.saddr || a.daddr !== b.daddr || a.protocol !== b.protocol) return false;
  // IPv6 has no IP id: the flow label, ports and TCP seq / ICMPv6 echo id+seq stand in for it
  if (a.ipv6 === undefined && b.ipv6 === undefined) return true;
  return a.ipv6?.flowLabel === b.ipv6?.flowLabel && a.seq === b.seq && a.srcPort === b.srcPort && a.dstPort === b.dstPort;
}

/**
 * The same packet after (or, arriving late from another CPU, before) a Service's NAT: same IP id and protocol,
 * and one of the addresses on either side is a Service's cluster IP (DNAT of a request, or the reverse
 * translation of a reply's source back to the Service).
 */
function natRewrite(a: PacketFields, b: HopEvent, inventory: Inventory): boolean {
  if (a.ipId !== b.ipId || a.protocol !== b.protocol || !inventory.hasServices) return false;
  // NAT keeps the TCP sequence number: a cheap second check (SYN|ACKs all have IP id 0)
  if (a.protocol === 6 && a.seq !== b.seq) return false;
  return (
    inventory.serviceByIp(a.daddr) !== undefined ||
    inventory.serviceByIp(b.daddr) !== undefined ||
    inventory.serviceByIp(b.saddr) !== undefined ||
    inventory.serviceByIp(a.saddr) !== undefined
  );
}

function natKind(prev: PacketFields, e: PacketFields): NatKind | undefined {
  const d = prev.daddr !== e.daddr || prev.dstPort !== e.dstPort;
  const s = prev.saddr !== e.saddr || prev.srcPort !== e.srcPort;
  return d && s ? 'dnat+snat' : d ? 'dnat' : s ? 'snat' : undefined;
}

/**
 * The Service of a packet: its destination at the first hop (a request, before the DNAT) or its source at the
 * last hop (a reply, after the reverse translation).
 */
function serviceOf(inventory: Inventory, a: PacketFields, z: PacketFields): ServiceRef | undefined {
  const req = inventory.serviceByIp(a.daddr);
  if (req) return serviceRef(req, a.protocol, a.dstPort);
  const rep = inventory.serviceByIp(z.saddr);
  return rep ? serviceRef(rep, z.protocol, z.srcPort) : undefined;
}

/** A Service as a trace names it; the port only for protocols that have ports. */
function serviceRef(s: InventoryService, protocol: number, port: number): ServiceRef {
  const ref = { namespace: s.namespace, name: s.name, ip: s.clusterIP };
  return protocol === 6 || protocol === 17 ? { ...ref, port } : ref;
}

/**
 * Endpoints of recent traces, one shared object per (address, port) while the inventory stays the same:
 * the many flows to one server share its endpoint, and no trace allocates its own. Traces are never mutated.
 */
class EndpointCache {
  private inventory: Inventory | undefined;
  private readonly byIp = new Map<string, Map<number, Endpoint>>();
  private size = 0;

  get(inventory: Inventory, ip: string, port: number, protocol: number): Endpoint {
    if (inventory !== this.inventory || this.size >= 16_384) {
      this.inventory = inventory;
      this.byIp.clear();
      this.size = 0;
    }
    const ported = protocol === 6 || protocol === 17;
    const slot = ported ? port : -1;
    let ports = this.byIp.get(ip);
    let e = ports?.get(slot);
    if (e === undefined) {
      e = endpoint(inventory, ip, port, ported);
      if (ports === undefined) {
        ports = new Map();
        this.byIp.set(ip, ports);
      }
      ports.set(slot, e);
      this.size++;
    }
    return e;
  }
}

/** Plain literals (no spreads): one compact shape per case. */
function endpoint(inventory: Inventory, ip: string, port: number, ported: boolean): Endpoint {
  const pod = inventory.podByIp(ip);
  if (pod) {
    return ported
      ? { ip, port, pod: pod.name, namespace: pod.namespace, node: pod.node }
      : { ip, pod: pod.name, namespace: pod.namespace, node: pod.node };
  }
  const node = inventory.nodeOwningIp(ip)?.name;
  if (node !== undefined) return ported ? { ip, port, node } : { ip, node };
  return ported ? { ip, port } : { ip };
}

/** TCP flag names by flags byte, computed once each. */
const FLAG_NAMES: string[] = [];
function flagNames(flags: number): string {
  return (FLAG_NAMES[flags & 0xff] ??= tcpFlagNames(flags & 0xff));
}

/** What VXLAN adds in front of the inner packet: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 bytes. */
const VXLAN_OVERHEAD = 50;

function identityOf(e: PacketFields): PacketIdentity {
  if (e.ipv6) return identityOf6(e, e.ipv6.flowLabel, e.ipv6.payloadLength);
  // a trace that starts at an encapsulated hop (a receiver's uplink) still describes the inner packet
  const length = e.encap === undefined ? e.length : Math.max(0, e.length - VXLAN_OVERHEAD);
  if (e.protocol === 6) return { ip_id: e.ipId, length, tcp_flags: flagNames(e.tcpFlags), tcp_seq: e.seq };
  if (e.protocol === 1) {
    const echo = e.icmpType === 0 || e.icmpType === 8 ? { icmp_echo: { id: e.seq >>> 16, seq: e.seq & 0xffff } } : {};
    return { ip_id: e.ipId, length, icmp_type: e.icmpType, icmp_code: e.icmpCode, ...echo };
  }
  return { ip_id: e.ipId, length };
}

/** IPv6: no IP id (0), the flow label and payload length instead; ICMPv6 echo is types 128/129. */
function identityOf6(e: PacketFields, flowLabel: number, payloadLength: number): PacketIdentity {
  const v6 = { ip_id: 0, length: e.length, flow_label: flowLabel, payload_length: payloadLength };
  if (e.protocol === 6) return { ...v6, tcp_flags: flagNames(e.tcpFlags), tcp_seq: e.seq };
  if (e.protocol === 58) {
    const echo = e.icmpType === 128 || e.icmpType === 129 ? { icmp_echo: { id: e.seq >>> 16, seq: e.seq & 0xffff } } : {};
    return { ...v6, icmp_type: e.icmpType, icmp_code: e.icmpCode, ...echo };
  }
  return v6;
}
