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
import type { DropEvent, HopEvent } from '../decode/probe-event.js';
import type { DropReasons } from '../decode/drop-reasons.js';
import type { Inventory } from '../inventory/inventory.js';
import type { NodeScope, HopKind } from '../scope/node-scope.js';
import type { WallClock } from '../clock/wall-clock.js';
import { routeMissReason } from '../model/node-counters.js';
import { classifyPath } from './classify-path.js';
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

interface OpenHop {
  readonly monoNs: number;
  readonly kind: HopKind;
  readonly ifname: string;
  readonly direction: HopEvent['direction'];
  /** The VXLAN UDP port when the packet was encapsulated at this hop. */
  readonly encap?: number;
  /** Set when this hop's addresses or ports differ from the trace's first event (NAT): the hop's event. */
  readonly rewritten?: HopEvent;
}

interface OpenTrace {
  readonly first: HopEvent;
  readonly hops: OpenHop[];
  lastMonoNs: number;
  /** The hop that ends a packet's way through this node: pod ingress or uplink egress. */
  lastHop?: { outcome: 'delivered' | 'forwarded'; atMonoNs: number };
  drop?: { reason: string; routeMiss: boolean; atMonoNs: number };
}

export class TraceAssembler {
  readonly stats: AssemblerStats = { hopsAccepted: 0, hopsIgnored: 0, dropsJoined: 0, dropsUnjoined: 0, tracesEmitted: 0, tracesEvicted: 0, hopsRewritten: 0 };
  private readonly open = new Map<string, OpenTrace>();
  /** Drops that arrived before any hop of their packet, by skb address. */
  private readonly pendingDrops = new Map<string, DropEvent[]>();
  private pendingDropCount = 0;
  private readonly timeoutNs: number;
  private readonly graceNs: number;
  private readonly maxOpen: number;
  private sequence = 0;
  private readonly idPrefix: string;
  private readonly endpoints = new EndpointCache();

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
    let t = this.open.get(e.skb);
    let rewritten = false;
    if (t && !sameIdentity(t.first, e)) {
      // after the packet's last hop here, another packet in the same skb is a new trace, rewritten or not
      const ended = t.lastHop !== undefined && e.monoNs > t.lastHop.atMonoNs;
      if (!ended && natRewrite(t.first, e, this.o.inventory())) {
        rewritten = true;
        this.stats.hopsRewritten++;
      } else {
        this.close(e.skb, t);
        t = undefined;
      }
    }
    if (!t) {
      if (this.open.size >= this.maxOpen) this.evictOldest();
      t = { first: e, hops: [], lastMonoNs: e.monoNs };
      this.open.set(e.skb, t);
    }
    insertByTime(t.hops, {
      monoNs: e.monoNs, kind: c.kind, ifname: e.ifname, direction: e.direction,
      ...(e.encap === undefined ? {} : { encap: e.encap }),
      ...(rewritten ? { rewritten: e } : {}),
    });
    t.lastMonoNs = Math.max(t.lastMonoNs, e.monoNs);
    const end = terminalOutcome(c.kind, e.direction);
    if (end && (!t.lastHop || e.monoNs < t.lastHop.atMonoNs)) t.lastHop = { outcome: end, atMonoNs: e.monoNs };
    const early = this.pendingDrops.size === 0 ? undefined : this.pendingDrops.get(e.skb);
    if (early) {
      const open = t;
      const mine = early.filter((d) => dropBelongs(open, d));
      for (const d of mine) this.attachDrop(open, d);
      if (mine.length > 0) this.setPending(e.skb, early.filter((d) => !mine.includes(d)));
    }
  }

  onDrop(e: DropEvent): void {
    const t = this.open.get(e.skb);
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

  private close(skb: string, t: OpenTrace): void {
    this.open.delete(skb);
    this.stats.tracesEmitted++;
    this.o.onTrace(this.build(t));
  }

  private build(t: OpenTrace): Trace {
    const { node, clock } = this.o;
    const inventory = this.o.inventory();
    const first = t.first;
    const firstMono = t.hops[0]?.monoNs ?? first.monoNs;
    // one clock conversion per trace: every hop's wall time is the first's plus its monotonic distance
    const wall = new WallTimes(clock.toWallNs(firstMono), firstMono);
    const hops: Hop[] = t.hops.map((h, i) => {
      const hop: Hop = {
        node,
        interface: h.ifname,
        kind: h.kind,
        direction: h.direction,
        t: wall.text(h.monoNs),
        delta_ns: i === 0 ? 0 : h.monoNs - (t.hops[i - 1] as OpenHop).monoNs,
      };
      return h.encap === undefined ? hop : { ...hop, encap: 'vxlan' };
    });
    const fate = fateOf(t);
    const outcome: Outcome = fate.outcome;
    if (t.hops.some((h) => h.rewritten !== undefined)) return this.buildRewritten(t, hops, fate, firstMono, inventory);
    const path = classifyPath({ hops, outcome, saddr: first.saddr, daddr: first.daddr }, inventory);
    const service = inventory.hasServices ? serviceOf(inventory, first, first) : undefined;
    const trace: Trace = {
      id: this.idPrefix + (++this.sequence).toString(36),
      node,
      src: this.endpoints.get(inventory, first.saddr, first.srcPort, first.protocol),
      dst: this.endpoints.get(inventory, first.daddr, first.dstPort, first.protocol),
      protocol: protocolName(first.protocol),
      path,
      hops,
      outcome,
      ...(fate.reason !== undefined ? { reason: fate.reason } : {}),
      latency_ns: fate.atMonoNs - firstMono,
      packet: identityOf(first),
      ...(service ? { service } : {}),
    };
    return trace;
  }

  /**
   * A trace whose addresses a NAT rewrote on the way: `src` is the source at its first hop and `dst` the
   * destination at its last (the client and the backend, whichever way the packet goes), unless that is the
   * Service address itself; each hop whose addresses differ from those carries its own, and the first hop after
   * a rewrite says what changed.
   */
  private buildRewritten(t: OpenTrace, plain: Hop[], fate: ReturnType<typeof fateOf>, firstMono: number, inventory: Inventory): Trace {
    const first = t.first;
    const at = (h: OpenHop): HopEvent => h.rewritten ?? first;
    const a = at(t.hops[0] as OpenHop);
    const z = at(t.hops[t.hops.length - 1] as OpenHop);
    const srcEv = inventory.serviceByIp(a.saddr) ? z : a;
    const dstEv = inventory.serviceByIp(z.daddr) ? a : z;
    const src = this.endpoints.get(inventory, srcEv.saddr, srcEv.srcPort, first.protocol);
    const dst = this.endpoints.get(inventory, dstEv.daddr, dstEv.dstPort, first.protocol);
    const ported = first.protocol === 6 || first.protocol === 17;
    const hops: Hop[] = plain.map((hop, i) => {
      const e = at(t.hops[i] as OpenHop);
      const prev = i === 0 ? undefined : at(t.hops[i - 1] as OpenHop);
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
      latency_ns: fate.atMonoNs - firstMono,
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
  const { lastHop, drop } = t;
  if (lastHop && (!drop || lastHop.atMonoNs <= drop.atMonoNs)) return { outcome: lastHop.outcome, atMonoNs: lastHop.atMonoNs };
  if (drop) return { outcome: drop.routeMiss ? 'route-miss' : 'dropped', reason: drop.reason, atMonoNs: drop.atMonoNs };
  return { outcome: 'in-flight', atMonoNs: t.lastMonoNs };
}

function endOf(t: OpenTrace): number | undefined {
  if (t.lastHop && t.drop) return Math.max(t.lastHop.atMonoNs, t.drop.atMonoNs);
  return t.lastHop?.atMonoNs ?? t.drop?.atMonoNs;
}

/** Same packet (the skb address may have been reused) and not before its first hop. */
function dropBelongs(t: OpenTrace, d: DropEvent): boolean {
  if (t.first.ipId !== d.ipId || d.monoNs < (t.hops[0]?.monoNs ?? 0) || t.first.ipv6?.flowLabel !== d.ipv6?.flowLabel) return false;
  if (t.first.saddr === d.saddr && t.first.daddr === d.daddr) return true;
  // after a Service's NAT the packet carries the rewritten addresses
  return t.hops.some((h) => h.rewritten !== undefined && h.rewritten.saddr === d.saddr && h.rewritten.daddr === d.daddr);
}

function terminalOutcome(kind: HopKind, direction: HopEvent['direction']): 'delivered' | 'forwarded' | undefined {
  if (kind === 'pod' && direction === 'ingress') return 'delivered';
  if (kind === 'uplink' && direction === 'egress') return 'forwarded';
  return undefined;
}

function sameIdentity(a: HopEvent, b: HopEvent): boolean {
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
function natRewrite(a: HopEvent, b: HopEvent, inventory: Inventory): boolean {
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

function natKind(prev: HopEvent, e: HopEvent): NatKind | undefined {
  const d = prev.daddr !== e.daddr || prev.dstPort !== e.dstPort;
  const s = prev.saddr !== e.saddr || prev.srcPort !== e.srcPort;
  return d && s ? 'dnat+snat' : d ? 'dnat' : s ? 'snat' : undefined;
}

/**
 * The Service of a packet: its destination at the first hop (a request, before the DNAT) or its source at the
 * last hop (a reply, after the reverse translation).
 */
function serviceOf(inventory: Inventory, a: HopEvent, z: HopEvent): ServiceRef | undefined {
  const ported = a.protocol === 6 || a.protocol === 17;
  const req = inventory.serviceByIp(a.daddr);
  if (req) return ported ? { namespace: req.namespace, name: req.name, ip: req.clusterIP, port: a.dstPort } : { namespace: req.namespace, name: req.name, ip: req.clusterIP };
  const rep = inventory.serviceByIp(z.saddr);
  if (rep) return ported ? { namespace: rep.namespace, name: rep.name, ip: rep.clusterIP, port: z.srcPort } : { namespace: rep.namespace, name: rep.name, ip: rep.clusterIP };
  return undefined;
}

/** Hops arrive almost always in order; a late one from another CPU's buffer is slotted in by time. */
function insertByTime(hops: OpenHop[], hop: OpenHop): void {
  let i = hops.length;
  while (i > 0 && (hops[i - 1] as OpenHop).monoNs > hop.monoNs) i--;
  hops.splice(i, 0, hop);
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

/** Wall-clock times of one trace's hops as decimal strings, without BigInt arithmetic per hop. */
class WallTimes {
  private readonly high: string;
  private readonly low: number;
  constructor(
    private readonly base: bigint,
    private readonly baseMono: number,
  ) {
    const text = base.toString();
    // the last 9 digits as a number, the rest as text (wall-clock ns since the epoch has 19 digits)
    this.high = text.length > 9 && base > 0n ? text.slice(0, -9) : '';
    this.low = this.high === '' ? 0 : Number(text.slice(-9));
  }

  text(monoNs: number): string {
    const d = monoNs - this.baseMono;
    if (this.high !== '' && Number.isInteger(d)) {
      const low = this.low + d;
      if (low >= 0 && low < 1e9) return this.high + String(low).padStart(9, '0');
    }
    return (this.base + BigInt(Math.round(d))).toString();
  }
}

/** TCP flag names by flags byte, computed once each. */
const FLAG_NAMES: string[] = [];
function flagNames(flags: number): string {
  return (FLAG_NAMES[flags & 0xff] ??= tcpFlagNames(flags & 0xff));
}

/** What VXLAN adds in front of the inner packet: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 bytes. */
const VXLAN_OVERHEAD = 50;

function identityOf(e: HopEvent): PacketIdentity {
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
function identityOf6(e: HopEvent, flowLabel: number, payloadLength: number): PacketIdentity {
  const v6 = { ip_id: 0, length: e.length, flow_label: flowLabel, payload_length: payloadLength };
  if (e.protocol === 6) return { ...v6, tcp_flags: flagNames(e.tcpFlags), tcp_seq: e.seq };
  if (e.protocol === 58) {
    const echo = e.icmpType === 128 || e.icmpType === 129 ? { icmp_echo: { id: e.seq >>> 16, seq: e.seq & 0xffff } } : {};
    return { ...v6, icmp_type: e.icmpType, icmp_code: e.icmpCode, ...echo };
  }
  return v6;
}
