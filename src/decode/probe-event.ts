/**
 * @module The typed events the probes emit, field for field as probes/hops.bt and probes/drops.bt print them,
 * already converted to host order (addresses as dotted quads, ports, IP id, sequence numbers). IPv6 packets
 * (`H6`, `D6`, `N6` lines) become the same events with canonical IPv6 text (RFC 5952) as addresses, ipId 0
 * (IPv6 has none) and the IPv6-only header fields in `ipv6`.
 */

export type Direction = 'ingress' | 'egress';

/** Fields only an IPv6 header has; present exactly on events of IPv6 packets. */
export interface Ipv6Fields {
  /** The 20-bit flow label: with ports and TCP seq / ICMPv6 echo id+seq, the packet's identity across nodes. */
  readonly flowLabel: number;
  readonly trafficClass: number;
  /** Payload length from the header (bytes after the fixed 40-byte header). */
  readonly payloadLength: number;
}

/** One packet at one interface (probes/hops.bt: `H <dir> ...`). */
export interface HopEvent {
  readonly type: 'hop';
  readonly direction: Direction;
  /** CLOCK_MONOTONIC nanoseconds (bpftrace `nsecs`); exact as a number for 104 days of uptime. */
  readonly monoNs: number;
  /** Inode of the network namespace of the interface (`/proc/PID/ns/net`, `/run/netns/NAME`). */
  readonly netns: number;
  readonly ifindex: number;
  readonly ifname: string;
  /** Kernel address of the sk_buff: one packet's identity inside one kernel. */
  readonly skb: string;
  readonly saddr: string;
  readonly daddr: string;
  /** IP protocol number (1 ICMP, 6 TCP, 17 UDP). */
  readonly protocol: number;
  readonly ipId: number;
  /** TCP/UDP ports; 0 for other protocols. */
  readonly srcPort: number;
  readonly dstPort: number;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10); 0 for other protocols. */
  readonly tcpFlags: number;
  /** TCP sequence number, or for ICMP echo the identifier << 16 | sequence. */
  readonly seq: number;
  /** ICMP type and code; 0 for other protocols. */
  readonly icmpType: number;
  readonly icmpCode: number;
  /** Length of the packet at this hop as the tracepoint reports it (for an encapsulated hop: the outer packet's). */
  readonly length: number;
  readonly cpu: number;
  /**
   * Present only when the packet was inside a VXLAN tunnel at this hop (the node's uplink, flannel's vxlan
   * backend): the tunnel's UDP port (8472 flannel, 4789 IANA). Every other field but `length` then describes the
   * inner packet, so the hop joins the inner packet's trace.
   */
  readonly encap?: number;
  /** IPv6 packets only (`H6`): protocol is then the next header (58 ICMPv6), icmpType/Code ICMPv6's. */
  readonly ipv6?: Ipv6Fields;
}

/** A packet the kernel dropped with a reason (probes/drops.bt: `D ...`). */
export interface DropEvent {
  readonly type: 'drop';
  readonly monoNs: number;
  /** 0 when the skb had no device when it was freed. */
  readonly netns: number;
  readonly ifindex: number;
  readonly skb: string;
  /** The kernel's skb_drop_reason number; name it with DropReasons. */
  readonly reason: number;
  readonly saddr: string;
  readonly daddr: string;
  readonly protocol: number;
  readonly ipId: number;
  readonly cpu: number;
  /** Error of a failed route lookup for this packet just before the drop (-113, -13, -101), else 0. */
  readonly fibErr: number;
  /** IPv6 packets only (`D6`). */
  readonly ipv6?: { readonly flowLabel: number };
}

/** A change of a bridge's forwarding database (probes/bridge.bt: `B ...`). */
export interface FdbEvent {
  readonly type: 'fdb';
  /** update: learned from a frame or moved; add: by a user; external: learned by a driver; delete. */
  readonly op: 'update' | 'add' | 'external' | 'delete';
  readonly monoNs: number;
  /** Absent for `add`, whose tracepoint names only the device. */
  readonly bridge?: string;
  /** Absent for entries without a port (the bridge's own addresses). */
  readonly port?: string;
  /** Lowercase `aa:bb:cc:dd:ee:ff`. */
  readonly mac: string;
  readonly vid: number;
  /** Netns of the task that was running: meaningful in process context only. */
  readonly taskNetns: number;
}

/** A neighbour resolution that failed: ARP (probes/neigh.bt: `N ...`) or IPv6 ND (`N6 ...`, family 10). */
export interface NeighFailureEvent {
  readonly type: 'neigh-failed';
  readonly monoNs: number;
  readonly device: string;
  readonly family: number;
  readonly address: string;
  readonly state: number;
}

/** One entry of a kernel counter map, cumulative since the probe started (`@name[k1, k2]: value`). */
export interface CounterEvent {
  readonly type: 'counter';
  readonly name: string;
  readonly keys: readonly number[];
  readonly value: number;
}

/** Printed by a probe group's BEGIN block, which bpftrace runs once every probe is attached. */
export interface ReadyEvent {
  readonly type: 'ready';
  readonly group: string;
}

/** bpftrace's own report that the kernel overwrote events before it read them. */
export interface LostEvent {
  readonly type: 'lost';
  readonly count: number;
}

export type ProbeEvent = HopEvent | DropEvent | FdbEvent | NeighFailureEvent | CounterEvent | ReadyEvent | LostEvent;
