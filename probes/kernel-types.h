/*
 * kernel-types.h - the few kernel types hops.bpf.c and drops.bpf.c read, declared with only the fields they use.
 * CO-RE (preserve_access_index): libbpf moves every field access to where the running kernel's BTF puts it,
 * so neither the layout here nor the build machine's kernel matters; only the names do.
 */
#ifndef KERNEL_TYPES_H
#define KERNEL_TYPES_H

#include <linux/types.h>

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
  unsigned int inum;
};

struct net {
  struct ns_common ns;
};

typedef struct {
  struct net *net;
} possible_net_t;

struct net_device {
  /* unsigned int before ~5.16, unsigned long long until 6.11, a 32-bit bitfield in priv_flags_fast since 6.12:
   * BPF_CORE_READ_BITFIELD reads the running kernel's size and position */
  unsigned long long priv_flags : 32;
  char name[16];
  int ifindex;
  possible_net_t nd_net;
};

struct sk_buff {
  struct net_device *dev;
  unsigned int len;
  __be16 protocol;
  __u16 network_header;
  unsigned char *head;
  unsigned char *data;
};

struct flowi4 {
  __be32 daddr;
};

struct in6_addr {
  __u8 s6_addr[16];
};

struct flowi6 {
  struct in6_addr daddr;
};

struct fib6_result {
  __u8 fib6_type;
};

struct fib6_table {
  __u32 tb6_id;
};

#pragma clang attribute pop

#endif
