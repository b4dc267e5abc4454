/*
 * packet-layout.h - the packet constants both native probes test, as a little-endian load of the packet's
 * network-order bytes reads them (so 0x0800 reads as 0x0008), and what hops.bt and drops.bt use alike.
 */
#ifndef PACKET_LAYOUT_H
#define PACKET_LAYOUT_H

#define ETH_IPV4_LE 0x0008 /* skb->protocol, or the inner Ethernet type, for IPv4 */
#define ETH_IPV6_LE 0xDD86 /* skb->protocol for IPv6 */
#define VXLAN_FLANNEL_LE 0x1821 /* UDP port 8472, flannel's VXLAN */
#define VXLAN_IANA_LE 0xb512 /* UDP port 4789 */
/* From the outer L4 header: the inner Ethernet type at +28, the inner IP header at +30 (UDP 8, VXLAN 8, Ethernet 14). */
#define VXLAN_INNER_ETH 28
#define VXLAN_INNER_IP 30

static __always_inline int is_vxlan_port(__u32 dport_le)
{
  return dport_le == VXLAN_FLANNEL_LE || dport_le == VXLAN_IANA_LE;
}

#endif
