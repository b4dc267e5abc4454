/**
 * @module Finds this node's namespaces and interfaces from the kernel (`ip -j -d link`, `ip -j netns list-id`,
 * namespace inodes), since production inventories carry no netns.
 */
import { statSync } from 'node:fs';
import { runCommand } from '../runner/run-command.js';
import { kindOfNodeInterface, type NodeInterface, type NodeScopeSnapshot } from './node-scope.js';

export interface ScopeTarget {
  /** Named namespace of the node (lab); undefined: the agent's own namespace is the node's (production). */
  readonly netns?: string;
  readonly bridgeName: string;
}

interface IpLink {
  ifindex: number;
  ifname: string;
  master?: string;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
}

export async function discoverScope(target: ScopeTarget): Promise<NodeScopeSnapshot> {
  const nsArgs = target.netns ? ['-n', target.netns] : [];
  const nodeNetns = target.netns ? netnsInode(`/run/netns/${target.netns}`) : netnsInode('/proc/self/ns/net');
  const links = JSON.parse(await runCommand('ip', [...nsArgs, '-j', '-d', 'link', 'show'])) as IpLink[];
  const interfaces = new Map<number, NodeInterface>();
  for (const l of links) {
    const kind = kindOfNodeInterface({
      name: l.ifname,
      bridgeName: target.bridgeName,
      ...(l.linkinfo?.info_kind ? { infoKind: l.linkinfo.info_kind } : {}),
      ...(l.master ? { master: l.master } : {}),
    });
    interfaces.set(l.ifindex, { ifindex: l.ifindex, name: l.ifname, kind });
  }
  const podNetns = new Set<number>();
  if (target.netns) {
    // Pod namespaces: the peers of the bridge's ports, named through the node's namespace ids.
    const ids = JSON.parse((await runCommand('ip', [...nsArgs, '-j', 'netns', 'list-id'])) || '[]') as { nsid: number; name?: string }[];
    const nameById = new Map(ids.filter((i) => i.name).map((i) => [i.nsid, i.name as string]));
    for (const l of links) {
      if (l.master !== target.bridgeName || l.link_netnsid === undefined) continue;
      const name = nameById.get(l.link_netnsid);
      if (!name) continue;
      try {
        podNetns.add(netnsInode(`/run/netns/${name}`));
      } catch {
        // the pod namespace went away between the two calls
      }
    }
  }
  return { nodeNetns, podNetns, interfaces, wholeKernel: target.netns === undefined };
}

export function netnsInode(path: string): number {
  return statSync(path).ino;
}
