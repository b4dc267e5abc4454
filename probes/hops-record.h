/* hops-record.h - one selected hop as hops.bpf.c writes it to the ring buffer and hops-loader.c prints it. */
#ifndef HOPS_RECORD_H
#define HOPS_RECORD_H

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

/* Key of the bridge counter maps: the device's network namespace (inode) and ifindex. */
struct dev_key {
  __u32 netns;
  __u32 ifindex;
};

#endif
