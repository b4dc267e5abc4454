// SPDX-License-Identifier: Apache-2.0
/*
 * drops-loader.c - hopscope-drops: loads drops.bpf.c and prints the drops it sees in probes/drops.bt's line
 * format (`D` and `D6`, see drops.bt's header), so the agent reads either the same way.
 *
 * usage: hopscope-drops [--check | --floor] NOT_SPECIFIED
 *   NOT_SPECIFIED  this kernel's number for SKB_DROP_REASON_NOT_SPECIFIED, drops.bt's $1
 *   --check, --floor: as for hopscope-hops (hops-loader.c)
 *
 * Output (stdout): "HOPSCOPE_READY drops" once attached, then one line per drop, read from the ring buffer every
 * POLL_MS, and "Lost N events" when the ring was full. SIGINT or SIGTERM: detach, print what is left, exit 0.
 */
#include "loader-common.h"
#include "probe-records.h"
#include "drops.skel.h"

static const char NAME[] = "hopscope-drops";

static int print_drop(void *ctx, void *data, size_t size)
{
  (void)ctx;
  if (size < sizeof(struct drop_record)) return 0;
  const struct drop_record *r = data;
  if (r->family == 4) {
    printf("D %llu %u %d %llu %u %u %u %u %u %u %d\n", (unsigned long long)r->mono_ns, r->netns, (int)r->ifindex,
           (unsigned long long)r->skb, r->reason, r->addr[0], r->addr[4], r->proto, r->ipid, r->cpu, r->fib_err);
  } else {
    printf("D6 %llu %u %d %llu %u %u %u %u %u %u %u %u %u %u %u %u %d\n", (unsigned long long)r->mono_ns, r->netns,
           (int)r->ifindex, (unsigned long long)r->skb, r->reason, r->addr[0], r->addr[1], r->addr[2], r->addr[3],
           r->addr[4], r->addr[5], r->addr[6], r->addr[7], r->proto, r->vtcfl, r->cpu, r->fib_err);
  }
  return batch_done();
}

int main(int argc, char **argv)
{
  int a;
  enum loader_mode mode = parse_mode(argc, argv, &a);
  __u32 not_specified;
  if (argc - a != 1 || parse_u32(argv[a], 0, &not_specified)) {
    fprintf(stderr, "usage: %s [--check | --floor] NOT_SPECIFIED\n", NAME);
    return 2;
  }
  loader_init();
  struct drops_bpf *skel = drops_bpf__open();
  if (!skel) {
    fprintf(stderr, "%s: cannot open the BPF object: %s\n", NAME, strerror(errno));
    return 1;
  }
  skel->rodata->not_specified = not_specified;
  skel->rodata->floor_only = mode == MODE_FLOOR;
  const struct probe_spec spec = {
    .name = NAME,
    .ready = "HOPSCOPE_READY drops",
    .skeleton = skel->skeleton,
    .events = skel->maps.events,
    .lost = skel->maps.lost,
    .min_ring_bytes = 1u << 20,
    .print = print_drop,
  };
  int rc = run_probe(&spec, mode);
  drops_bpf__destroy(skel);
  return rc;
}
