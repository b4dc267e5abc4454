/**
 * @module Which packets belong to this agent's node, and what kind of hop each interface is. In the lab every
 * node shares one kernel, so an agent keeps only events from its node's namespace and the pod namespaces
 * behind its cni0, exactly as if its node were a separate machine.
 */

export type HopKind = 'pod' | 'veth' | 'bridge' | 'overlay' | 'uplink';

export interface NodeInterface {
  readonly ifindex: number;
  readonly name: string;
  readonly kind: HopKind | 'local';
}

/** A snapshot of the node's namespaces and interfaces, as discovered (see discover-scope.ts). */
export interface NodeScopeSnapshot {
  /** Inode of the node's root network namespace. */
  readonly nodeNetns: number;
  /** Inodes of the pod namespaces whose eth0 pairs with a port of this node's bridge. */
  readonly podNetns: ReadonlySet<number>;
  /** Interfaces of the node namespace by ifindex. */
  readonly interfaces: ReadonlyMap<number, NodeInterface>;
  /** Production: one kernel is one node, so every other namespace is a pod's. */
  readonly wholeKernel: boolean;
}

export type Classification =
  | { readonly mine: true; readonly kind: HopKind }
  /** `local`: the node's own loopback and other host-local devices, not part of any pod path. */
  | { readonly mine: false; readonly why: 'foreign-netns' | 'local' | 'unknown-interface' };

export class NodeScope {
  constructor(private snapshot: NodeScopeSnapshot) {}

  update(snapshot: NodeScopeSnapshot): void {
    this.snapshot = snapshot;
  }

  get nodeNetns(): number {
    return this.snapshot.nodeNetns;
  }

  get wholeKernel(): boolean {
    return this.snapshot.wholeKernel;
  }

  /** An interface of the node's namespace, by ifindex; undefined for other namespaces. */
  nodeInterface(netns: number, ifindex: number): NodeInterface | undefined {
    return netns === this.snapshot.nodeNetns ? this.snapshot.interfaces.get(ifindex) : undefined;
  }

  /** Whether the node's namespace has an interface of this name and kind right now. */
  hasNodeInterface(name: string, kind: NodeInterface['kind']): boolean {
    for (const i of this.snapshot.interfaces.values()) if (i.name === name && i.kind === kind) return true;
    return false;
  }

  isMine(netns: number): boolean {
    const s = this.snapshot;
    return netns === s.nodeNetns || s.podNetns.has(netns) || (s.wholeKernel && netns !== 0);
  }

  /** Runs for every hop: answers are shared constants, so it allocates nothing. */
  classify(netns: number, ifindex: number, ifname: string): Classification {
    const s = this.snapshot;
    if (netns === s.nodeNetns) {
      const known = s.interfaces.get(ifindex);
      if (known) return known.kind === 'local' ? NOT_MINE.local : MINE[known.kind];
      const guessed = kindByName(ifname);
      return guessed ? MINE[guessed] : NOT_MINE['unknown-interface'];
    }
    if (s.podNetns.has(netns) || (s.wholeKernel && netns !== 0)) return MINE.pod;
    return NOT_MINE['foreign-netns'];
  }
}

const MINE: Readonly<Record<HopKind, Classification>> = Object.freeze({
  pod: Object.freeze({ mine: true, kind: 'pod' }),
  veth: Object.freeze({ mine: true, kind: 'veth' }),
  bridge: Object.freeze({ mine: true, kind: 'bridge' }),
  overlay: Object.freeze({ mine: true, kind: 'overlay' }),
  uplink: Object.freeze({ mine: true, kind: 'uplink' }),
});
const NOT_MINE = Object.freeze({
  'foreign-netns': Object.freeze({ mine: false, why: 'foreign-netns' }),
  local: Object.freeze({ mine: false, why: 'local' }),
  'unknown-interface': Object.freeze({ mine: false, why: 'unknown-interface' }),
} as const);

/** Fallback for an interface that appeared after the last discovery. */
function kindByName(name: string): HopKind | undefined {
  if (name === 'cni0' || name === 'cbr0' || name === 'docker0') return 'bridge';
  if (name.startsWith('flannel.') || name.startsWith('vxlan')) return 'overlay';
  if (name.startsWith('veth')) return 'veth';
  return undefined;
}

/** How discovery names a node-namespace interface from its type and master. */
export function kindOfNodeInterface(i: { name: string; infoKind?: string; master?: string; bridgeName: string }): NodeInterface['kind'] {
  if (i.name === 'lo') return 'local';
  if (i.name === i.bridgeName || i.infoKind === 'bridge') return i.name === i.bridgeName ? 'bridge' : 'local';
  if (i.infoKind === 'vxlan' || i.infoKind === 'geneve') return 'overlay';
  if (i.master === i.bridgeName) return 'veth';
  if (i.infoKind === 'veth' && i.master === undefined && i.name.startsWith('veth')) return 'veth';
  return 'uplink';
}
