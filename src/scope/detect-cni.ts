/**
 * @module Which pod network layout a node has, told from its links and routes (`ip -j -d link show`,
 * `ip -j route show`), and what hopscope can and cannot trace on it. Pure: the doctor command reads the
 * node's links and hands them here, so every layout is testable from recorded `ip` output.
 */

/** One network interface as `ip -j -d link show` describes it (only what the detection needs). */
export interface LinkRecord {
  readonly ifname: string;
  /** `linkinfo.info_kind`: bridge, veth, vxlan, ipip, geneve, ...; absent for plain NICs. */
  readonly kind?: string;
  /** `linkinfo.info_slave_kind`: `bridge` for a bridge port. */
  readonly slaveKind?: string;
  /** Name of the bridge this link is a port of. */
  readonly master?: string;
  /** VXLAN only: the UDP destination port. */
  readonly vxlanPort?: number;
}

/** One route as `ip -j route show` describes it. */
export interface RouteRecord {
  readonly dst: string;
  readonly dev?: string;
  readonly gateway?: string;
}

export type CniLayoutKind = 'bridge-host-routes' | 'bridge-vxlan-overlay' | 'calico-routed' | 'cilium-ebpf' | 'unknown';

export interface CniLayout {
  readonly kind: CniLayoutKind;
  /** One line for people: what was found. */
  readonly summary: string;
  /** The interfaces and routes the verdict rests on. */
  readonly evidence: readonly string[];
  readonly canTrace: readonly string[];
  readonly cannotTrace: readonly string[];
}

/** The ports flannel (8472) and the IANA (4789) use for VXLAN: the ones hops.bt looks inside. */
const DECODED_VXLAN_PORTS = new Set([8472, 4789]);

export function detectCni(links: readonly LinkRecord[], routes: readonly RouteRecord[]): CniLayout {
  const names = (pred: (l: LinkRecord) => boolean): string[] => links.filter(pred).map((l) => l.ifname);

  const cilium = names((l) => /^cilium_(host|net|vxlan|geneve)$/.test(l.ifname) || /^lxc/.test(l.ifname));
  if (cilium.length > 0) {
    return {
      kind: 'cilium-ebpf',
      summary: "Cilium's eBPF datapath (no bridge; BPF programs on tc move packets between devices)",
      evidence: cilium.slice(0, 6),
      canTrace: [
        'pod eth0 egress and ingress, and the lxc veth where the kernel stack sees the packet',
        'the uplink hops of traffic that leaves through the host stack',
        'kernel drops (kfree_skb) and route misses of packets that reach the host stack',
      ],
      cannotTrace: [
        "hops that Cilium's BPF programs skip with bpf_redirect_peer/redirect_neigh: the host-side veth and the routing hop are often never seen",
        'no cni0 bridge: bridge FDB and unknown-unicast counters stay at 0',
        "drops inside Cilium's own programs are not kernel drop reasons (Hubble reports them)",
        'with kube-proxy replacement, Services are translated at the socket: the Service address may never appear on a hop',
      ],
    };
  }

  const calico = names((l) => /^cali/.test(l.ifname) && l.kind === 'veth' && l.master === undefined);
  if (calico.length > 0) {
    const tunnels = names((l) => l.ifname === 'tunl0' || l.ifname === 'vxlan.calico' || l.ifname === 'wireguard.cali');
    return {
      kind: 'calico-routed',
      summary: 'Calico routed veths (no bridge; each pod reached by a host route to its cali* veth)',
      evidence: [...calico.slice(0, 4), ...tunnels],
      canTrace: [
        'pod eth0, the cali* veth, host routing and the uplink: hop sequence pod -> veth -> uplink',
        'route misses, neighbour failures and kernel drops',
        ...(tunnels.includes('vxlan.calico') ? ['vxlan.calico overlay hops, joined by the inner packet'] : []),
      ],
      cannotTrace: [
        'no bridge: bridge FDB and unknown-unicast counters stay at 0',
        ...(tunnels.includes('tunl0') ? ['IP-in-IP (tunl0): the outer packet on the uplink is not opened, so cross-node halves join by time only'] : []),
        ...(tunnels.includes('wireguard.cali') ? ['WireGuard: encrypted on the uplink, halves cannot be joined by packet identity'] : []),
        "with Calico's eBPF dataplane, the caveats of an eBPF datapath apply (hops skipped by BPF redirects)",
      ],
    };
  }

  const bridges = new Set(links.filter((l) => l.kind === 'bridge').map((l) => l.ifname));
  const podBridges = [...bridges].filter((b) => links.some((l) => l.master === b && l.kind === 'veth'));
  const vxlans = links.filter((l) => l.kind === 'vxlan');
  if (podBridges.length > 0 && vxlans.length > 0) {
    const undecoded = vxlans.filter((v) => v.vxlanPort !== undefined && !DECODED_VXLAN_PORTS.has(v.vxlanPort));
    return {
      kind: 'bridge-vxlan-overlay',
      summary: `bridge ${podBridges.join(', ')} with veth ports and a VXLAN overlay ${vxlans.map((v) => v.ifname).join(', ')} (flannel's vxlan backend, k3s' default)`,
      evidence: [...podBridges, ...vxlans.map((v) => `${v.ifname} (vxlan${v.vxlanPort === undefined ? '' : ` port ${v.vxlanPort}`})`)],
      canTrace: [
        'every hop: pod, veth, bridge, overlay (encapsulation), uplink (outer packet), and the reverse on the next node',
        'cross-node halves joined by the inner packet identity',
        'bridge FDB learning and unknown unicast, route misses, neighbour failures, kernel drops',
      ],
      cannotTrace: undecoded.length > 0
        ? [`VXLAN on port(s) ${undecoded.map((v) => v.vxlanPort).join(', ')}: hopscope opens 8472 and 4789 only, so those uplink hops show the outer packet and do not join`]
        : [],
    };
  }
  if (podBridges.length > 0) {
    const viaGateway = routes.filter((r) => r.gateway !== undefined && r.dst !== 'default' && r.dev !== undefined && !bridges.has(r.dev));
    return {
      kind: 'bridge-host-routes',
      summary: `bridge ${podBridges.join(', ')} with veth ports; other nodes' Pod CIDRs reached by host routes (flannel host-gw, kubenet, the hopscope lab)`,
      evidence: [...podBridges, ...viaGateway.slice(0, 4).map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`)],
      canTrace: [
        'every hop: pod, veth, bridge, uplink, and the reverse on the next node',
        'bridge FDB learning and unknown unicast, route misses, neighbour failures, kernel drops',
      ],
      cannotTrace: viaGateway.length === 0 ? ["no routes to other nodes' Pod CIDRs found yet: cross-node paths cannot be told apart (single node, or routes not set up)"] : [],
    };
  }

  return {
    kind: 'unknown',
    summary: 'no pod bridge, VXLAN overlay, Calico or Cilium devices found here',
    evidence: names((l) => l.kind !== undefined && l.kind !== 'veth').slice(0, 6),
    canTrace: ['pod eth0 and veth hops of any veth-based CNI, and the uplink; kernel drops and route misses'],
    cannotTrace: ['the layout is unknown: hop kinds between veth and uplink may be misnamed; run doctor on a node with pods, or with --netns in the lab'],
  };
}

/** `ip -j -d link show` output -> link records; anything unexpected is skipped, never thrown. */
export function linksFromIpJson(json: unknown): LinkRecord[] {
  if (!Array.isArray(json)) return [];
  const out: LinkRecord[] = [];
  for (const raw of json as unknown[]) {
    if (typeof raw !== 'object' || raw === null) continue;
    const l = raw as { ifname?: unknown; master?: unknown; linkinfo?: { info_kind?: unknown; info_slave_kind?: unknown; info_data?: { port?: unknown } } };
    if (typeof l.ifname !== 'string') continue;
    const info = l.linkinfo;
    out.push({
      ifname: l.ifname,
      ...(typeof info?.info_kind === 'string' ? { kind: info.info_kind } : {}),
      ...(typeof info?.info_slave_kind === 'string' ? { slaveKind: info.info_slave_kind } : {}),
      ...(typeof l.master === 'string' ? { master: l.master } : {}),
      ...(typeof info?.info_data?.port === 'number' ? { vxlanPort: info.info_data.port } : {}),
    });
  }
  return out;
}

/** `ip -j route show` output -> route records; anything unexpected is skipped. */
export function routesFromIpJson(json: unknown): RouteRecord[] {
  if (!Array.isArray(json)) return [];
  const out: RouteRecord[] = [];
  for (const raw of json as unknown[]) {
    if (typeof raw !== 'object' || raw === null) continue;
    const r = raw as { dst?: unknown; dev?: unknown; gateway?: unknown };
    if (typeof r.dst !== 'string') continue;
    out.push({ dst: r.dst, ...(typeof r.dev === 'string' ? { dev: r.dev } : {}), ...(typeof r.gateway === 'string' ? { gateway: r.gateway } : {}) });
  }
  return out;
}
