/**
 * @module The identity of a packet that every node sees alike (addresses, protocol, IP id, and the TCP
 * sequence or ICMP echo id/sequence): how the halves of a cross-node packet find each other without any
 * shared kernel state. IPv6 has no IP id: its identity is the flow label (unchanged by forwarding) with the
 * ports and the TCP sequence or ICMPv6 echo id/sequence. Also which half of a cross-node packet a trace is
 * ({@link crossNodeHalf}), the other half of that pairing, and the nanosecond difference of two wall times.
 */
import type { Trace } from './trace.js';

/** Whether the trace carries a packet identity (packetKey gives one). */
export function hasPacketKey(t: Trace): boolean {
  const p = t.packet;
  return !!p && typeof p === 'object' && typeof p.ip_id === 'number' && typeof t.src?.ip === 'string' && typeof t.dst?.ip === 'string';
}

/** The packet identity both nodes see, or undefined when the trace does not carry one. */
export function packetKey(t: Trace): string | undefined {
  if (!hasPacketKey(t)) return undefined;
  const p = t.packet;
  // one string built directly (runs for every trace): the fields joined by |
  let key = `${t.src.ip}|${t.dst.ip}|${t.protocol}|${p.ip_id}`;
  if (typeof p.flow_label === 'number') key += `|fl=${p.flow_label}|${t.src.port ?? ''}>${t.dst.port ?? ''}`;
  if (typeof p.tcp_seq === 'number') key += `|seq=${p.tcp_seq}`;
  if (p.icmp_echo && typeof p.icmp_echo === 'object') key += `|echo=${p.icmp_echo.id}/${p.icmp_echo.seq}`;
  return key;
}

/**
 * Which half of a cross-node packet a node's trace is: `sender` if it left its node by the uplink
 * (`forwarded`), `receiver` if it entered its node by the uplink or an overlay device; undefined otherwise. The
 * agent's joiner and `watch`'s both pair halves by this and {@link packetKey}.
 */
export function crossNodeHalf(t: Pick<Trace, 'outcome' | 'hops'>): 'sender' | 'receiver' | undefined {
  if (t.outcome === 'forwarded') return 'sender';
  const first = t.hops[0];
  if (first && (first.kind === 'uplink' || first.kind === 'overlay') && first.direction === 'ingress') return 'receiver';
  return undefined;
}

/** `b - a` for wall-clock nanosecond strings, computed in BigInt; undefined if either is not a number. */
export function nsBetween(a: string, b: string): number | undefined {
  if (!/^\d{1,25}$/.test(a) || !/^\d{1,25}$/.test(b)) return undefined;
  return Number(BigInt(b) - BigInt(a));
}
