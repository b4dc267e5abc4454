/**
 * @module Which of the Kubernetes network model's paths a packet took, from what it did (its hops and
 * outcome) first and from where its addresses live (the inventory) second.
 */
import type { Inventory } from '../inventory/inventory.js';
import type { Outcome, PathKind } from './trace.js';

export interface PathEvidence {
  readonly hops: readonly { readonly kind: string; readonly interface: string }[];
  readonly outcome: Outcome;
  readonly saddr: string;
  readonly daddr: string;
}

export function classifyPath(e: PathEvidence, inventory: Inventory): PathKind {
  if (e.outcome === 'route-miss') return 'unrouted';
  if (e.saddr === e.daddr || e.hops.some((h) => h.kind === 'pod' && h.interface === 'lo')) return 'same-pod';
  if (e.hops.some((h) => h.kind === 'uplink' || h.kind === 'overlay')) return 'cross-node';
  if (e.outcome === 'delivered') return 'same-node';
  const srcNode = inventory.nodeOwningIp(e.saddr);
  const dstNode = inventory.nodeOwningIp(e.daddr);
  if (!dstNode) return inventory.data.nodes.length > 0 ? 'unrouted' : 'same-node';
  return srcNode === dstNode ? 'same-node' : 'cross-node';
}
