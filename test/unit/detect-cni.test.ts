import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectCni, linksFromIpJson, routesFromIpJson, type LinkRecord } from '../../src/scope/detect-cni.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/cni/${name}`, import.meta.url), 'utf8'));
const labRoutes = routesFromIpJson(fixture('lab-bridge.routes.json'));

describe('detectCni on recorded `ip -j` output of a lab node', () => {
  it('a cni0 bridge with veth ports and a route to the other Pod CIDR is bridge + host routes', () => {
    const layout = detectCni(linksFromIpJson(fixture('lab-bridge.links.json')), labRoutes);
    expect(layout.kind).toBe('bridge-host-routes');
    expect(layout.evidence).toEqual(['cni0', '10.244.2.0/24 via 192.168.254.2 dev eth0']);
    expect(layout.cannotTrace).toEqual([]);
  });

  it('the same node with a flannel.1 VXLAN device on port 8472 is a VXLAN overlay that hopscope opens', () => {
    const links = linksFromIpJson(fixture('lab-vxlan.links.json'));
    expect(links.find((l) => l.ifname === 'flannel.1')).toEqual({ ifname: 'flannel.1', kind: 'vxlan', vxlanPort: 8472 });
    const layout = detectCni(links, labRoutes);
    expect(layout.kind).toBe('bridge-vxlan-overlay');
    expect(layout.evidence).toEqual(['cni0', 'flannel.1 (vxlan port 8472)']);
    expect(layout.cannotTrace).toEqual([]);
  });

  it('without routes to other Pod CIDRs the bridge layout says cross-node paths cannot be told apart', () => {
    const layout = detectCni(linksFromIpJson(fixture('lab-bridge.links.json')), []);
    expect(layout.kind).toBe('bridge-host-routes');
    expect(layout.cannotTrace.join(' ')).toMatch(/no routes to other nodes/);
  });
});

describe('detectCni on other CNIs (link shapes as `ip -j -d link` prints them)', () => {
  const veth = (ifname: string, master?: string): LinkRecord => ({ ifname, kind: 'veth', ...(master ? { master, slaveKind: 'bridge' } : {}) });

  it('VXLAN on a port hopscope does not open is named as not joinable', () => {
    const layout = detectCni([{ ifname: 'cni0', kind: 'bridge' }, veth('vethA', 'cni0'), { ifname: 'vx0', kind: 'vxlan', vxlanPort: 6081 }], []);
    expect(layout.kind).toBe('bridge-vxlan-overlay');
    expect(layout.cannotTrace.join(' ')).toMatch(/port\(s\) 6081/);
  });

  it('cali* veths without a bridge are Calico routed veths; tunl0 is named as not opened', () => {
    const layout = detectCni([{ ifname: 'eth0' }, veth('cali1234abcd'), veth('cali5678efgh'), { ifname: 'tunl0', kind: 'ipip' }], []);
    expect(layout.kind).toBe('calico-routed');
    expect(layout.evidence).toEqual(['cali1234abcd', 'cali5678efgh', 'tunl0']);
    expect(layout.cannotTrace.join(' ')).toMatch(/IP-in-IP/);
    expect(layout.cannotTrace.join(' ')).toMatch(/bridge FDB/);
  });

  it("cilium_host and lxc veths are Cilium's eBPF datapath, with the hops it skips named", () => {
    const layout = detectCni([{ ifname: 'cilium_net', kind: 'veth' }, { ifname: 'cilium_host', kind: 'veth' }, veth('lxc12ab')], []);
    expect(layout.kind).toBe('cilium-ebpf');
    expect(layout.cannotTrace.join(' ')).toMatch(/bpf_redirect_peer/);
  });

  it('a node with nothing recognisable is unknown, and says what to do', () => {
    const layout = detectCni([{ ifname: 'lo' }, { ifname: 'eth0' }], []);
    expect(layout.kind).toBe('unknown');
    expect(layout.cannotTrace[0]).toMatch(/--netns/);
  });

  it('malformed ip output is skipped, never thrown', () => {
    expect(linksFromIpJson({ not: 'an array' })).toEqual([]);
    expect(linksFromIpJson([null, 3, { ifname: 7 }, { ifname: 'ok' }])).toEqual([{ ifname: 'ok' }]);
    expect(routesFromIpJson(['x', { dst: 'default', gateway: '10.0.0.1' }])).toEqual([{ dst: 'default', gateway: '10.0.0.1' }]);
  });
});
