// SPDX-License-Identifier: GPL-2.0
/*
 * hops.bpf.c - the hop probe of probes/hops.bt as BTF-typed raw tracepoints (tp_btf), loaded by
 * hopscope-hops (hops-loader.c). Same selection, same sampling hash, same trace-on-demand channel, same
 * counters; the loader prints the same lines. Differences that make it cheap:
 *   - tp_btf: the kernel calls the program with the skb pointer, without filling a trace-event record;
 *     sk_buff and net_device fields are read directly (no helper call per field);
 *   - the packet header is copied with one helper call (IPv4: 40 bytes, one more with IP options, three calls
 *     inside VXLAN; IPv6: 56 bytes);
 *   - the bridge entry is a per-CPU array slot (a lookup is a few instructions, no hash-map update);
 *   - selected hops go to a ring buffer as fixed records, read in batches.
 */
#include "kernel-types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "probe-records.h"
#include "ring-output.bpf.h"
#include "packet-layout.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile __u32 sample_n = 64;
const volatile __u32 agent_tgid = 0;
const volatile __u32 focus_budget = 1000;
/* The bench's floor: the same attachments, programs that return at once (the verifier drops the rest). */
const volatile __u32 floor_only = 0;

/* Trace-on-demand state (probes/hops.bt, "Focus"), plain globals: the focus is written by the kill channel only;
 * the budget's second and count by every CPU without atomics, as in hops.bt (at worst a few events over budget). */
__u64 focus_addr, focus_port, focus_lo, focus6_on, focus6_hi, focus6_lo;
__u64 focus6_part[9];
__u64 focus_sec, focus_n;

/* The skb that last entered a bridge on this CPU, whether it came from a port, and whether its flood was
 * counted (probes/hops.bt, "Bridge"; there one word, here two: the verifier allows no bit arithmetic on an
 * skb pointer). */
struct bridge_entry {
  __u64 skb;
  __u32 from_port;
  __u32 flood_counted;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct bridge_entry);
} bridge_in SEC(".maps");

#define COUNTER_MAP(name)                        \
  struct {                                       \
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);      \
    __uint(max_entries, 4096);                   \
    __type(key, struct dev_key);                 \
    __type(value, __u64);                        \
  } name SEC(".maps")

COUNTER_MAP(to_host);
COUNTER_MAP(bridged);
COUNTER_MAP(unknown_unicast);

#define IFF_EBRIDGE_FLAG 0x2
#define IFF_BRIDGE_PORT_FLAG 0x200

static __always_inline void count_dev(void *map, struct net_device *dev)
{
  struct dev_key k = { .netns = dev->nd_net.net->ns.inum, .ifindex = dev->ifindex };
  __u64 *v = bpf_map_lookup_elem(map, &k);
  if (v) {
    *v += 1;
  } else {
    __u64 one = 1;
    bpf_map_update_elem(map, &k, &one, BPF_NOEXIST);
  }
}

/* This CPU's bridge entry (the verifier wants the NULL check, though slot 0 always exists). */
static __always_inline struct bridge_entry *bridge_entry(void)
{
  __u32 zero = 0;
  return bpf_map_lookup_elem(&bridge_in, &zero);
}

/* A frame enters a bridge on this CPU: from a port at ingress, from the host at the bridge device's egress. */
static __always_inline void enter_bridge(struct sk_buff *skb, __u32 from_port)
{
  struct bridge_entry *in = bridge_entry();
  if (!in) return;
  in->skb = (__u64)skb;
  in->from_port = from_port;
  in->flood_counted = 0;
}

/* A frame leaves a bridge by a port (hops.bt, "Bridge"): the skb that entered from a port was bridged; another
 * skb is a flood copy, counted once per unicast frame as unknown unicast. */
static __always_inline void leave_bridge(struct sk_buff *skb, struct net_device *dev)
{
  struct bridge_entry *in = bridge_entry();
  if (!in) return;
  if (in->skb == (__u64)skb) {
    if (in->from_port) count_dev(&bridged, dev);
    return;
  }
  if (in->skb == 0 || in->flood_counted) return;
  __u8 dst0 = 1;
  bpf_probe_read_kernel(&dst0, 1, skb->data);
  if ((dst0 & 1) == 0) {
    in->flood_counted = 1;
    count_dev(&unknown_unicast, dev);
  }
}

static __always_inline int focus_allows(void)
{
  __u64 sec = bpf_ktime_get_ns() / 1000000000;
  if (focus_sec != sec) {
    focus_sec = sec;
    focus_n = 0;
  }
  focus_n += 1;
  return focus_n <= focus_budget;
}

static __always_inline void fill_common(struct hop_record *r, struct sk_buff *skb, struct net_device *dev, __u8 dir)
{
  r->mono_ns = bpf_ktime_get_ns();
  r->skb = (__u64)skb;
  r->netns = dev->nd_net.net->ns.inum;
  r->ifindex = dev->ifindex;
  bpf_probe_read_kernel_str(r->ifname, sizeof(r->ifname), dev->name);
  r->len = skb->len;
  r->cpu = bpf_get_smp_processor_id();
  r->dir = dir;
}

/* An IPv4 header read in one copy (40 bytes: with a 20-byte header, the first 20 bytes after it too, as far as
 * TCP's flags), and the L4 fields hops.bt prints: the raw first word (ports, or ICMP type and code), the raw
 * second word (TCP sequence, or ICMP echo id and sequence) and the TCP flags byte. */
struct ip4_view {
  __u64 w[5];
  __u32 hl, proto, ports, seq, flags;
};

static __always_inline int load4(struct ip4_view *v, unsigned char *ip)
{
  if (bpf_probe_read_kernel(v->w, sizeof(v->w), ip)) return -1;
  v->hl = (v->w[0] & 0x0f) * 4;
  v->proto = (v->w[1] >> 8) & 0xff;
  __u32 l4[4]; /* the L4 header's first 16 bytes */
  if (v->hl == 20) {
    __builtin_memcpy(l4, (__u8 *)v->w + 20, sizeof(l4));
  } else if (bpf_probe_read_kernel(l4, sizeof(l4), ip + v->hl)) {
    __builtin_memset(l4, 0, sizeof(l4)); /* as hops.bt's probe reads: 0 where unreadable */
  }
  v->ports = l4[0];
  v->seq = l4[1];
  v->flags = v->proto == 6 ? (l4[3] >> 8) & 0xff : 0;
  return 0;
}

/* The symmetric flow hash every node computes alike (hops.bt, src/probes/sample-hash.ts): `addrs` the
 * addresses xor-ed (IPv6: folded to 32 bits), `ports` the raw port word. */
static __always_inline int sampled(__u64 addrs, __u32 ports, __u32 proto)
{
  __u64 hash = ((addrs * 2654435761ULL) + (((ports >> 16) ^ (ports & 0xffff)) * 40503ULL) + proto) >> 7;
  /* for a power of two (the default 64, and 1) a mask is the same test; sample_n is constant at load, so the
   * verifier keeps only one of these branches */
  if ((sample_n & (sample_n - 1)) == 0) return (hash & (sample_n - 1)) == 0;
  return hash % sample_n == 0;
}

/* The focused port (0: any) is one of the packet's two. */
static __always_inline int focus_port_matches(__u32 ports)
{
  return focus_port == 0 || (ports & 0xffff) == focus_port || (ports >> 16) == focus_port;
}

static __always_inline void hop4(struct sk_buff *skb, struct net_device *dev, unsigned char *ip, __u8 dir)
{
  struct ip4_view v = {};
  if (load4(&v, ip)) return;
  __u16 encap = 0;
  __u32 dport = v.ports >> 16;
  if (v.proto == 17 && is_vxlan_port(dport)) {
    unsigned char *l4 = ip + v.hl;
    __u16 inner_eth = 0;
    bpf_probe_read_kernel(&inner_eth, 2, l4 + VXLAN_INNER_ETH);
    if (inner_eth == ETH_IPV4_LE) {
      encap = __builtin_bswap16(dport);
      if (load4(&v, l4 + VXLAN_INNER_IP)) return;
    }
  }
  __u32 sa = v.w[1] >> 32;
  __u32 da = (__u32)v.w[2];
  int selected = v.proto == 1 || (v.flags & 0x07) != 0 || sampled(sa ^ da, v.ports, v.proto);
  if (!selected && focus_addr != 0 && (sa == focus_addr || da == focus_addr) && focus_port_matches(v.ports)) selected = focus_allows();
  if (!selected) return;
  struct hop_record r = {};
  fill_common(&r, skb, dev, dir);
  r.family = 4;
  r.proto = v.proto;
  r.flags = v.flags;
  r.encap = encap;
  r.ipid = (v.w[0] >> 32) & 0xffff;
  r.l4a = v.ports & 0xffff;
  r.l4b = v.ports >> 16;
  r.seq = v.proto == 6 || v.proto == 1 ? v.seq : 0;
  r.addr[0] = sa;
  r.addr[4] = da;
  emit((const __u64 *)&r, sizeof(r));
}

static __always_inline void hop6(struct sk_buff *skb, struct net_device *dev, unsigned char *ip6, __u8 dir)
{
  /* the fixed 40-byte header and the first 16 bytes after it */
  __u64 v[7] = {};
  if (bpf_probe_read_kernel(v, sizeof(v), ip6)) return;
  __u32 proto = (v[0] >> 48) & 0xff;
  if (proto != 6 && proto != 17 && proto != 58) return;
  __u32 ports = (__u32)v[5];
  __u32 flags = proto == 6 ? (v[6] >> 40) & 0xff : 0;
  int selected;
  if (proto == 58) {
    selected = (ports & 0xff) <= 129;
  } else {
    __u64 x = v[1] ^ v[2] ^ v[3] ^ v[4];
    selected = (flags & 0x07) != 0 || sampled((x ^ (x >> 32)) & 0xffffffff, ports, proto);
    if (!selected && focus6_on != 0 && ((v[1] == focus6_hi && v[2] == focus6_lo) || (v[3] == focus6_hi && v[4] == focus6_lo)) && focus_port_matches(ports))
      selected = focus_allows();
  }
  if (!selected) return;
  struct hop_record r = {};
  fill_common(&r, skb, dev, dir);
  r.family = 6;
  r.proto = proto;
  r.flags = flags;
  r.vtcfl = v[0] & 0xffffffff;
  r.plen = (v[0] >> 32) & 0xffff;
  r.l4a = ports & 0xffff;
  r.l4b = ports >> 16;
  r.seq = proto == 6 || proto == 58 ? (__u32)(v[5] >> 32) : 0;
  __builtin_memcpy(r.addr, &v[1], 32);
  emit((const __u64 *)&r, sizeof(r));
}

/* A hop of an IPv4 or IPv6 packet (others are not traced); `ip`: where its IP header is at this tracepoint. */
static __always_inline void hop(struct sk_buff *skb, struct net_device *dev, unsigned char *ip, __u8 dir)
{
  __u16 eth = skb->protocol;
  if (eth == ETH_IPV4_LE) hop4(skb, dev, ip, dir);
  else if (eth == ETH_IPV6_LE) hop6(skb, dev, ip, dir);
}

/* Program names are the tracepoints' (cut to 15 characters by the kernel), as bpftrace names its programs:
 * hopscope_bpf_* metrics and the bench find them by that name. */
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(netif_receive_skb, struct sk_buff *skb)
{
  if (floor_only) return 0;
  struct net_device *dev = skb->dev;
  __u32 pf = BPF_CORE_READ_BITFIELD(dev, priv_flags);
  if (pf & IFF_BRIDGE_PORT_FLAG) enter_bridge(skb, 1);
  if (pf & IFF_EBRIDGE_FLAG) count_dev(&to_host, dev);
  /* at ingress the IP header is at skb->data (before the kernel resets network_header) */
  hop(skb, dev, skb->data, 'I');
  return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(net_dev_queue, struct sk_buff *skb)
{
  if (floor_only) return 0;
  struct net_device *dev = skb->dev;
  __u32 pf = BPF_CORE_READ_BITFIELD(dev, priv_flags);
  if (pf & IFF_EBRIDGE_FLAG) enter_bridge(skb, 0);
  else if (pf & IFF_BRIDGE_PORT_FLAG) leave_bridge(skb, dev);
  /* at egress the IP header is at head + network_header */
  hop(skb, dev, skb->head + skb->network_header, 'E');
  return 0;
}

/* The kill channel (probes/hops.bt, "Focus"): kill(0x40000000 | cmd << 28 | sub << 16 | data, 0) from the agent. */
struct kill_args {
  __u64 common;
  __s32 syscall_nr;
  __u32 pad;
  __u64 pid;
  __u64 sig;
};

SEC("tracepoint/syscalls/sys_enter_kill")
int sys_enter_kill(struct kill_args *a)
{
  if (floor_only) return 0;
  if ((bpf_get_current_pid_tgid() >> 32) != agent_tgid || a->sig != 0) return 0;
  __s32 target = (__s32)a->pid;
  if (target < 0x40000000) return 0;
  __u32 cmd = (target >> 28) & 3;
  __u32 sub = (target >> 16) & 0xf;
  __u64 data = target & 0xffff;
  if (cmd == 0 && sub == 0) focus_lo = data;
  if (cmd == 1 && sub == 0) focus_addr = (data << 16) | focus_lo;
  if (cmd == 0 && sub >= 1 && sub <= 8) focus6_part[sub] = data;
  if (cmd == 1 && sub == 1) {
    focus6_hi = focus6_part[1] | (focus6_part[2] << 16) | (focus6_part[3] << 32) | (focus6_part[4] << 48);
    focus6_lo = focus6_part[5] | (focus6_part[6] << 16) | (focus6_part[7] << 32) | (focus6_part[8] << 48);
    focus6_on = 1;
  }
  if (cmd == 2) focus_port = data;
  if (cmd == 3) {
    focus_addr = 0;
    focus6_on = 0;
    focus_port = 0;
  }
  return 0;
}
