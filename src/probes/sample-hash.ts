/**
 * @module The kernel-side sampling decision of probes/hops.bt, computed the same way in userspace: which flows
 * the default configuration traces. Symmetric in the two directions, so both halves of a flow agree.
 */
import { rawAddress } from '../focus/trace-focus.js';

/** Whether probes/hops.bt with sample modulus `n` selects packets of this TCP/UDP flow (flags aside). */
export function flowSampled(saddr: string, daddr: string, sport: number, dport: number, protocol: number, n: number): boolean {
  const sa = BigInt(rawAddress(saddr));
  const da = BigInt(rawAddress(daddr));
  const sp = BigInt(((sport & 0xff) << 8) | (sport >>> 8));
  const dp = BigInt(((dport & 0xff) << 8) | (dport >>> 8));
  const mask = (1n << 64n) - 1n;
  const hash = ((((sa ^ da) * 2654435761n) & mask) + ((sp ^ dp) * 40503n) + BigInt(protocol)) & mask;
  return (hash >> 7n) % BigInt(n) === 0n;
}
