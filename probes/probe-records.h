/* probe-records.h - what the native probes write to their ring buffers and their loaders print:
 * a selected hop (hops.bpf.c), a dropped packet (drops.bpf.c). */
#ifndef PROBE_RECORDS_H
#define PROBE_RECORDS_H

struct hop_record {
  __u64 mono_ns;
  __u64 skb;
  __u32 netns;
  __u32 ifindex;
  char ifname[16];
  __u32 len;
  __u32 cpu;
  /* IPv4: addr[0] saddr, addr[4] daddr; IPv6: addr[0..3] saddr, addr[4..7] daddr (raw network-order words) */
  __u32 addr[8];
  __u32 ipid;  /* IPv4: raw id */
  __u32 vtcfl; /* IPv6: raw first word */
  __u32 plen;  /* IPv6: raw payload length */
  __u32 l4a, l4b, seq;
  __u16 encap;
  __u8 dir; /* 'I' or 'E' */
  __u8 family; /* 4 or 6 */
  __u8 proto;
  __u8 flags;
  __u8 pad[2];
};

/* One dropped packet (probes/drops.bt's D and D6 lines). */
struct drop_record {
  __u64 mono_ns;
  __u64 skb;
  __u32 netns;
  __u32 ifindex;
  __u32 reason;
  __u32 cpu;
  __s32 fib_err;
  /* IPv4: addr[0] saddr, addr[4] daddr; IPv6: addr[0..3] saddr, addr[4..7] daddr (raw network-order words) */
  __u32 addr[8];
  __u32 vtcfl; /* IPv6: raw first word */
  __u16 ipid;  /* IPv4: raw id */
  __u8 proto;  /* IPv4 protocol, IPv6 next header */
  __u8 family; /* 4 or 6 */
};

/* Key of the bridge counter maps: the device's network namespace (inode) and ifindex. */
struct dev_key {
  __u32 netns;
  __u32 ifindex;
};

#endif
