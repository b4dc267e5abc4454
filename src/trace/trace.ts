/**
 * @module The hop trace of one packet, exactly as REST and the stream serve it (DESIGN.md "Trace").
 */
import type { Direction } from '../decode/probe-event.js';
import type { HopKind } from '../scope/node-scope.js';

export type PathKind = 'same-pod' | 'same-node' | 'cross-node' | 'unrouted';
export const PATH_KINDS: readonly PathKind[] = ['same-pod', 'same-node', 'cross-node', 'unrouted'];

export type Outcome = 'delivered' | 'forwarded' | 'dropped' | 'route-miss' | 'in-flight';
export const OUTCOMES: readonly Outcome[] = ['delivered', 'forwarded', 'dropped', 'route-miss', 'in-flight'];

export interface Endpoint {
  readonly ip: string;
  readonly port?: number;
  readonly pod?: string;
  readonly namespace?: string;
  readonly node?: string;
}

export interface Hop {
  readonly node: string;
  readonly interface: string;
  readonly kind: HopKind;
  readonly direction: Direction;
  /** Wall-clock nanoseconds since the epoch, as a string (beyond 2^53). */
  readonly t: string;
  /** Time since the previous hop; 0 for the first. Between two nodes' hops: corrected for their clock offset. */
  readonly delta_ns: number;
  /** Between two nodes' hops: the bound on the clock-offset error of `delta_ns` (+/-). */
  readonly delta_error_ns?: number;
  /**
   * Set when the packet crossed this interface inside a tunnel (the uplink hops of an overlay such as flannel's
   * VXLAN): the hop is the outer packet, joined to the trace by the inner packet's identity.
   */
  readonly encap?: 'vxlan';
  /**
   * NAT (a Service): the packet's source or destination at this hop where it differs from the trace's `src` /
   * `dst` (e.g. the Service's cluster IP and port before the DNAT, or a masqueraded source after it).
   */
  readonly saddr?: string;
  readonly sport?: number;
  readonly daddr?: string;
  readonly dport?: number;
  /** On the first hop after a rewrite: which addresses changed since the previous hop. */
  readonly nat?: NatKind;
}

/** `dnat`: the destination was rewritten (a Service's DNAT); `snat`: the source (masquerade, or a reply's
 * reverse translation back to the Service address); `dnat+snat`: both at once. */
export type NatKind = 'dnat' | 'snat' | 'dnat+snat';

/** The Service a packet was addressed to (request) or answered for (reply), DESIGN.md `service`. */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly port?: number;
}

/** How the time between two nodes was measured (DESIGN.md: cross-node latency). */
export interface CrossNodeTiming {
  /** `one-way`: both halves joined, clocks aligned from traffic in both directions (NTP style);
   *  `rtt`: no peer half, half the round trip at this node's uplink; `uncorrected`: joined, offset unknown yet. */
  readonly method: 'one-way' | 'rtt' | 'uncorrected';
  readonly source_node: string;
  readonly destination_node: string;
  /** Uplink to uplink. */
  readonly transit_ns: number;
  /** The clock offset (destination minus source) that was removed, and its error bound. */
  readonly clock_offset_ns?: number;
  readonly error_ns?: number;
}

/** Header fields that identify the packet across nodes (used for stitching and shown to users). */
export interface PacketIdentity {
  readonly ip_id: number;
  readonly length: number;
  readonly tcp_flags?: string;
  readonly tcp_seq?: number;
  readonly icmp_type?: number;
  readonly icmp_code?: number;
  readonly icmp_echo?: { readonly id: number; readonly seq: number };
  /** IPv6 only (ip_id is then 0: IPv6 has no IP id): the flow label, part of the packet's identity. */
  readonly flow_label?: number;
  /** IPv6 only: the header's payload length. */
  readonly payload_length?: number;
}

export interface Trace {
  readonly id: string;
  readonly node: string;
  readonly src: Endpoint;
  readonly dst: Endpoint;
  readonly protocol: string;
  readonly path: PathKind;
  readonly hops: readonly Hop[];
  readonly outcome: Outcome;
  readonly reason?: string;
  /** First hop to last hop on this node. */
  readonly latency_ns: number;
  readonly packet: PacketIdentity;
  /** Set on a cross-node trace when the time between the nodes is known (stitched, or by round trip). */
  readonly cross_node?: CrossNodeTiming;
  /** Set when the packet was addressed to a Service (request) or comes back from one (reply, reverse NAT). */
  readonly service?: ServiceRef;
}

export function protocolName(protocol: number): string {
  switch (protocol) {
    case 1:
      return 'ICMP';
    case 6:
      return 'TCP';
    case 17:
      return 'UDP';
    case 58:
      return 'ICMPv6';
    default:
      return `IP-${protocol}`;
  }
}

const TCP_FLAG_NAMES: readonly [number, string][] = [
  [0x02, 'SYN'],
  [0x10, 'ACK'],
  [0x08, 'PSH'],
  [0x01, 'FIN'],
  [0x04, 'RST'],
  [0x20, 'URG'],
];

export function tcpFlagNames(flags: number): string {
  return TCP_FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0)
    .map(([, name]) => name)
    .join('|');
}
