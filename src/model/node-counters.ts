/**
 * @module The node's counters that need no sampling: drops with the kernel's reason, route misses keyed to the
 * cluster routing table, neighbour failures, the bridge's FDB learning and its frames (bridged, handed up to
 * the host, flooded as unknown unicast). Each event is first attributed to this node or dropped: in the lab
 * every node shares one kernel and these tracepoints carry no netns.
 */
import type { CounterEvent, DropEvent, FdbEvent, NeighFailureEvent } from '../decode/probe-event.js';
import type { DropReasons } from '../decode/drop-reasons.js';
import type { Inventory } from '../inventory/inventory.js';
import { cidrContains, parseCidr } from '../net/ipv4.js';
import { cidr6Contains, parseCidr6 } from '../net/ipv6.js';
import type { NodeScope } from '../scope/node-scope.js';
import { BridgeFdb } from './bridge-fdb.js';
import { LabeledCounts } from './labeled-counts.js';

export type RouteMissReason = 'no-route' | 'unreachable' | 'prohibit' | 'neighbor-failed';
export const ROUTE_MISS_REASONS: readonly RouteMissReason[] = ['no-route', 'unreachable', 'prohibit', 'neighbor-failed'];
export const NEIGHBOR_INTERFACE_KINDS = ['pod', 'bridge', 'overlay', 'uplink'] as const;

/** A route miss the kernel reports by drop reason or by the failed lookup just before a reasonless drop. */
export function routeMissReason(reasonName: string, fibErr: number): RouteMissReason | undefined {
  if (fibErr === -113) return 'unreachable';
  if (fibErr === -13) return 'prohibit';
  if (fibErr === -101) return 'no-route';
  if (reasonName === 'IP_INNOROUTES' || reasonName === 'IP_OUTNOROUTES' || reasonName === 'IPV6_INNOROUTES') return 'no-route';
  if (reasonName === 'NEIGH_FAILED') return 'neighbor-failed';
  return undefined;
}

export interface NodeCountersOptions {
  readonly node: string;
  readonly bridgeName: string;
  readonly scope: NodeScope;
  readonly inventory: () => Inventory;
  readonly dropReasons: DropReasons;
  /** Asks for a fresh scope discovery: an FDB event named a port not known yet. */
  readonly requestRescan: () => void;
}

export interface BridgeFrameCounts {
  bridged: number;
  toHost: number;
  unknownUnicast: number;
}

export class NodeCounters {
  readonly drops = new LabeledCounts(['reason'] as const);
  readonly routeMisses = new LabeledCounts(['reason', 'destination_node'] as const);
  readonly neighborFailures = new LabeledCounts(['interface_kind'] as const);
  readonly fdb: BridgeFdb;
  readonly frames: BridgeFrameCounts = { bridged: 0, toHost: 0, unknownUnicast: 0 };
  /** Events seen but not this node's (other lab nodes, host-local devices). */
  ignored = 0;
  private readonly lastMapValue = new Map<string, number>();
  private readonly recentMisses = new Map<string, number>();
  private pendingFdb: FdbEvent[] = [];
  private readonly declaredDestinations = new Set<string>();

  constructor(private readonly o: NodeCountersOptions) {
    this.fdb = new BridgeFdb(o.bridgeName);
    this.declareRouteMissSeries();
    for (const kind of NEIGHBOR_INTERFACE_KINDS) this.neighborFailures.declare({ interface_kind: kind });
    for (const reason of o.dropReasons.names()) if (reason !== 'NOT_SPECIFIED') this.drops.declare({ reason });
  }

  /**
   * Makes the route-miss series of every node known now exist at 0, so `increase()` sees a node's first
   * miss. Called at start and before each scrape: with --kubernetes nodes arrive after the agent starts.
   */
  declareRouteMissSeries(): void {
    for (const n of [...this.o.inventory().data.nodes.map((x) => x.name), 'none']) {
      if (this.declaredDestinations.has(n)) continue;
      this.declaredDestinations.add(n);
      for (const reason of ROUTE_MISS_REASONS) this.routeMisses.declare({ reason, destination_node: n });
    }
  }

  onDrop(e: DropEvent): void {
    const s = this.o.scope;
    if (!(s.isMine(e.netns) || (e.netns === 0 && s.wholeKernel))) {
      this.ignored++;
      return;
    }
    const reasonName = this.o.dropReasons.name(e.reason);
    if (reasonName !== 'NOT_SPECIFIED') this.drops.inc({ reason: reasonName });
    const miss = routeMissReason(reasonName, e.fibErr);
    if (!miss || this.seenRecently(e)) return;
    const owner = this.o.inventory().nodeOwningIp(e.daddr)?.name ?? 'none';
    this.routeMisses.inc({ reason: miss, destination_node: owner });
  }

  onNeighFailure(e: NeighFailureEvent): void {
    const kind = this.neighborKind(e);
    if (!kind) {
      this.ignored++;
      return;
    }
    this.neighborFailures.inc({ interface_kind: kind });
  }

  onFdb(e: FdbEvent): void {
    const mine = this.fdbIsMine(e);
    if (mine === undefined) {
      // a port discovery has not seen yet (a pod that just started): decide after the next rescan
      if (this.pendingFdb.length < 10_000) this.pendingFdb.push(e);
      this.o.requestRescan();
      return;
    }
    if (mine) this.fdb.apply(e);
    else this.ignored++;
  }

  /** Call after each scope discovery: settles FDB events that named unknown ports. */
  onScopeRefreshed(): void {
    const pending = this.pendingFdb;
    this.pendingFdb = [];
    for (const e of pending) {
      if (this.fdbIsMine(e) === true) this.fdb.apply(e);
      else this.ignored++;
    }
  }

  /** bpftrace prints its counter maps cumulatively; the model keeps the increase (a restart starts at 0). */
  onCounter(e: CounterEvent): void {
    const [netns, ifindex] = e.keys;
    if (netns === undefined || ifindex === undefined) return;
    const iface = this.o.scope.nodeInterface(netns, ifindex);
    const wanted = e.name === 'to_host' ? 'bridge' : 'veth';
    const field = e.name === 'to_host' ? 'toHost' : e.name === 'bridged' ? 'bridged' : e.name === 'unknown_unicast' ? 'unknownUnicast' : undefined;
    if (!field) return;
    const key = `${e.name}/${netns}/${ifindex}`;
    const last = this.lastMapValue.get(key) ?? 0;
    this.lastMapValue.set(key, e.value);
    if (!iface || iface.kind !== wanted || (wanted === 'bridge' && iface.name !== this.o.bridgeName)) return;
    this.frames[field] += e.value >= last ? e.value - last : e.value;
  }

  /** bpftrace restarted: its maps start again from zero. */
  onProbeRestart(): void {
    this.lastMapValue.clear();
  }

  private fdbIsMine(e: FdbEvent): boolean | undefined {
    const bridge = this.o.bridgeName;
    if (e.bridge !== undefined && e.bridge !== bridge) return false;
    const s = this.o.scope;
    if (s.wholeKernel) return e.bridge === bridge || (e.port !== undefined && s.hasNodeInterface(e.port, 'veth'));
    if (e.op === 'delete') {
      // deletions run in process or worker context, often after the port is gone
      if (e.port === undefined || e.port === bridge) return this.fdb.has(e.mac, e.vid) || e.taskNetns === s.nodeNetns;
      return this.fdb.hadPort(e.port) || s.hasNodeInterface(e.port, 'veth') || e.taskNetns === s.nodeNetns;
    }
    if (e.port === undefined || e.port === bridge) return e.taskNetns === s.nodeNetns;
    if (s.hasNodeInterface(e.port, 'veth') || this.fdb.hadPort(e.port)) return true;
    return undefined;
  }

  private neighborKind(e: NeighFailureEvent): (typeof NEIGHBOR_INTERFACE_KINDS)[number] | undefined {
    const inventory = this.o.inventory();
    const me = inventory.node(this.o.node);
    let inMyPods: boolean | undefined;
    if (e.address.includes(':')) {
      // IPv6 (ND): the node's IPv6 Pod CIDRs (podCIDRs); undefined when it has none
      const cidrs6 = (me?.podCIDRs ?? []).map((c) => (c.includes(':') ? parseCidr6(c) : undefined)).filter((c) => c !== undefined);
      inMyPods = cidrs6.length > 0 ? cidrs6.some((c) => cidr6Contains(c, e.address)) : undefined;
    } else {
      const cidrText = me?.podCIDR;
      const cidr = cidrText ? parseCidr(cidrText) : undefined;
      inMyPods = cidr ? cidrContains(cidr, e.address) : undefined;
    }
    if (e.device === this.o.bridgeName) return inMyPods !== false ? 'bridge' : undefined;
    if (e.device.startsWith('flannel.') || e.device.startsWith('vxlan')) return this.o.scope.wholeKernel ? 'overlay' : undefined;
    if (inMyPods) return 'pod';
    // an address outside this node's pods (the underlay) belongs to every node alike: attributable only when
    // this kernel is the node
    return this.o.scope.wholeKernel ? 'uplink' : undefined;
  }

  /** One count per packet, however many drop events the kernel emits for it. */
  private seenRecently(e: DropEvent): boolean {
    const key = `${e.skb}/${e.ipId}/${e.saddr}/${e.daddr}`;
    const at = this.recentMisses.get(key);
    if (at !== undefined && e.monoNs - at < 100_000_000) return true;
    this.recentMisses.set(key, e.monoNs);
    if (this.recentMisses.size > 4096) {
      const oldest = this.recentMisses.keys().next();
      if (!oldest.done) this.recentMisses.delete(oldest.value);
    }
    return false;
  }
}
