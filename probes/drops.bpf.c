// SPDX-License-Identifier: GPL-2.0
/*
 * drops.bpf.c - probes/drops.bt as BTF-typed raw tracepoints (tp_btf), loaded by hopscope-drops
 * (drops-loader.c): the same drops, the same route-lookup correlation, the same lines (see drops.bt's header
 * for the format and the kernel facts). What it saves: fib_table_lookup fires on every routed packet, and as
 * a classic tracepoint the kernel fills its whole record (flow, gateway, device name) before the program
 * looks at `err`; here the program reads `err` from its arguments and returns.
 */
#include "kernel-types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "probe-records.h"
#include "ring-output.bpf.h"
#include "packet-layout.h"

char LICENSE[] SEC("license") = "GPL";

/* This kernel's number for SKB_DROP_REASON_NOT_SPECIFIED (drops.bt's $1), set by the loader. */
const volatile __u32 not_specified = 2;
/* The bench's floor: the same attachments, programs that return at once. */
const volatile __u32 floor_only = 0;

/* The last failed route lookup on this CPU (drops.bt's @fib_* and @fib6_*): lookup and free run in one softirq. */
struct failed_lookup {
  __u64 t;
  __s64 err;
  __u32 dst4;
  __u32 pad;
  __u64 dst6[2];
  __u64 t6; /* IPv6 keeps only prohibit (-13): no error to store */
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct failed_lookup);
} last_lookup SEC(".maps");

#define EHOSTUNREACH 113
#define EACCES 13
#define ENETUNREACH 101
#define RTN_PROHIBIT 8
#define RT_TABLE_LOCAL 255

static __always_inline struct failed_lookup *lookup_slot(void)
{
  __u32 zero = 0;
  return bpf_map_lookup_elem(&last_lookup, &zero);
}

SEC("tp_btf/fib_table_lookup")
int BPF_PROG(fib_table_lookup, __u32 tb_id, const struct flowi4 *flp, const void *nhc, int err)
{
  if (floor_only) return 0;
  if (err != -EHOSTUNREACH && err != -EACCES && err != -ENETUNREACH) return 0;
  struct failed_lookup *f = lookup_slot();
  if (!f) return 0;
  f->err = err;
  f->dst4 = flp->daddr;
  f->t = bpf_ktime_get_ns();
  return 0;
}

/* err -13 (prohibit) only, and not from the local table: see drops.bt, "IPv6". The classic tracepoint derives
 * err from the result's route type; so does this. */
SEC("tp_btf/fib6_table_lookup")
int BPF_PROG(fib6_table_lookup, const void *net, const struct fib6_result *res, struct fib6_table *table, const struct flowi6 *flp)
{
  if (floor_only) return 0;
  if (res->fib6_type != RTN_PROHIBIT || table->tb6_id == RT_TABLE_LOCAL) return 0;
  struct failed_lookup *f = lookup_slot();
  if (!f) return 0;
  bpf_probe_read_kernel(f->dst6, sizeof(f->dst6), &flp->daddr);
  f->t6 = bpf_ktime_get_ns();
  return 0;
}

static __always_inline void fill_common(struct drop_record *r, struct sk_buff *skb, __u32 reason, __u64 now)
{
  struct net_device *dev = skb->dev;
  r->mono_ns = now;
  r->skb = (__u64)skb;
  /* a device-less skb: the loads fault and read 0, as drops.bt's probe reads do */
  r->netns = dev->nd_net.net->ns.inum;
  r->ifindex = dev->ifindex;
  r->reason = reason;
  r->cpu = bpf_get_smp_processor_id();
}

static __always_inline void drop4(struct sk_buff *skb, __u32 reason)
{
  struct failed_lookup *f = lookup_slot();
  /* a NOT_SPECIFIED free is reported only after a failed lookup on this CPU: without one, nothing is read */
  if (reason <= not_specified && !(f && f->t != 0)) return;
  unsigned char *ip = skb->head + skb->network_header;
  __u64 w[3] = {};
  bpf_probe_read_kernel(w, sizeof(w), ip);
  __u32 daddr = (__u32)w[2];
  __u64 now = bpf_ktime_get_ns();
  __s32 fib = 0;
  if (f && f->t != 0 && now - f->t < 1000000 && f->dst4 == daddr) {
    fib = f->err;
    f->t = 0;
  }
  if (reason <= not_specified && fib == 0) return;
  /* still inside its VXLAN tunnel (dropped before decapsulation): report the inner packet */
  unsigned char *l4 = ip + (w[0] & 0x0f) * 4;
  if (((w[1] >> 8) & 0xff) == 17) {
    __u16 l4w[VXLAN_INNER_ETH / 2 + 1] = {};
    bpf_probe_read_kernel(l4w, sizeof(l4w), l4);
    if (is_vxlan_port(l4w[1]) && l4w[VXLAN_INNER_ETH / 2] == ETH_IPV4_LE) {
      ip = l4 + VXLAN_INNER_IP;
      bpf_probe_read_kernel(w, sizeof(w), ip);
    }
  }
  struct drop_record r = {};
  fill_common(&r, skb, reason, now);
  r.family = 4;
  r.fib_err = fib;
  r.addr[0] = w[1] >> 32;
  r.addr[4] = (__u32)w[2];
  r.proto = (w[1] >> 8) & 0xff;
  r.ipid = (w[0] >> 32) & 0xffff;
  emit((const __u64 *)&r, sizeof(r));
}

static __always_inline void drop6(struct sk_buff *skb, __u32 reason)
{
  unsigned char *ip = skb->head + skb->network_header;
  __u64 v[5] = {};
  bpf_probe_read_kernel(v, sizeof(v), ip);
  __u64 now = bpf_ktime_get_ns();
  __s32 fib = 0;
  struct failed_lookup *f = lookup_slot();
  if (f && f->t6 != 0 && now - f->t6 < 1000000 && f->dst6[0] == v[3] && f->dst6[1] == v[4]) {
    fib = -EACCES;
    f->t6 = 0;
  }
  struct drop_record r = {};
  fill_common(&r, skb, reason, now);
  r.family = 6;
  r.fib_err = fib;
  __builtin_memcpy(r.addr, &v[1], 32);
  r.proto = (v[0] >> 48) & 0xff;
  r.vtcfl = (__u32)v[0];
  emit((const __u64 *)&r, sizeof(r));
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb, struct sk_buff *skb, void *location, int reason)
{
  if (floor_only) return 0;
  __u16 eth = skb->protocol;
  if (eth == ETH_IPV4_LE && (__u32)reason >= not_specified) drop4(skb, reason);
  else if (eth == ETH_IPV6_LE && (__u32)reason > not_specified) drop6(skb, reason);
  return 0;
}
