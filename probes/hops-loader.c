// SPDX-License-Identifier: Apache-2.0
/*
 * hops-loader.c - hopscope-hops: loads hops.bpf.c and prints what it sees in probes/hops.bt's line format, so
 * the agent reads either the same way (docs/architecture.md, "Native probes").
 *
 * usage: hopscope-hops [--check | --floor] SAMPLE_N AGENT_PID FOCUS_BUDGET
 *   SAMPLE_N      sample modulus (1 = every packet), hops.bt's $1
 *   AGENT_PID     the process whose kill(2) calls carry trace-on-demand commands, hops.bt's $2
 *   FOCUS_BUDGET  events/s a trace-on-demand widening may add, hops.bt's $3
 *   --check       load the programs (the kernel's verifier runs) and attach them for a moment, print "ok" and
 *                 exit 0; on failure say what is missing on stderr and exit 1 (2: a bad HOPSCOPE_RING_BYTES)
 *   --floor       attach programs that return at once (npm run bench: the cost of the attachment alone)
 *
 * Output (stdout): "HOPSCOPE_READY hops" once attached; then `H`/`H6` lines for selected hops, read from the ring
 * buffer (8 MiB, or 1 MiB per CPU up to 64 MiB; HOPSCOPE_RING_BYTES sets it) every POLL_MS; every second the bridge counters as `@name[netns, ifindex]: count` (cumulative, a
 * blank line after each map, as bpftrace's print()) and "Lost N events" when the ring was full. SIGINT or
 * SIGTERM: detach, print what is left, exit 0.
 */
#include "loader-common.h"
#include "probe-records.h"
#include "hops.skel.h"

static const char NAME[] = "hopscope-hops";

static int print_hop(void *ctx, void *data, size_t size)
{
  (void)ctx;
  if (size < sizeof(struct hop_record)) return 0;
  const struct hop_record *r = data;
  if (r->family == 4) {
    printf("H %c %llu %u %d %s %llu %u %u %u %u %u %u %u %u %u %u %u\n", r->dir, (unsigned long long)r->mono_ns, r->netns,
           (int)r->ifindex, r->ifname, (unsigned long long)r->skb, r->addr[0], r->addr[4], r->proto, r->ipid, r->l4a,
           r->l4b, r->flags, r->seq, r->len, r->cpu, r->encap);
  } else {
    printf("H6 %c %llu %u %d %s %llu %u %u %u %u %u %u %u %u %u %u %u %u %u %u %u %u %u\n", r->dir,
           (unsigned long long)r->mono_ns, r->netns, (int)r->ifindex, r->ifname, (unsigned long long)r->skb, r->addr[0],
           r->addr[1], r->addr[2], r->addr[3], r->addr[4], r->addr[5], r->addr[6], r->addr[7], r->proto, r->vtcfl,
           r->plen, r->l4a, r->l4b, r->flags, r->seq, r->len, r->cpu);
  }
  return batch_done();
}

/* A per-CPU counter map keyed by (netns, ifindex), summed over CPUs. */
static void print_counters(int fd, const char *name, int ncpu)
{
  struct dev_key key, next;
  __u64 values[ncpu];
  const void *prev = NULL;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (bpf_map_lookup_elem(fd, &next, values) == 0) {
      __u64 sum = 0;
      for (int i = 0; i < ncpu; i++) sum += values[i];
      printf("@%s[%u, %u]: %llu\n", name, next.netns, next.ifindex, (unsigned long long)sum);
    }
    key = next;
    prev = &key;
  }
  printf("\n");
}

static void print_bridge_counters(void *ctx)
{
  struct hops_bpf *skel = ctx;
  int ncpu = libbpf_num_possible_cpus();
  print_counters(bpf_map__fd(skel->maps.to_host), "to_host", ncpu);
  print_counters(bpf_map__fd(skel->maps.bridged), "bridged", ncpu);
  print_counters(bpf_map__fd(skel->maps.unknown_unicast), "unknown_unicast", ncpu);
}

int main(int argc, char **argv)
{
  int a;
  enum loader_mode mode = parse_mode(argc, argv, &a);
  __u32 n, pid, budget;
  if (argc - a != 3 || parse_u32(argv[a], 1, &n) || parse_u32(argv[a + 1], 0, &pid) || parse_u32(argv[a + 2], 0, &budget)) {
    fprintf(stderr, "usage: %s [--check | --floor] SAMPLE_N AGENT_PID FOCUS_BUDGET (SAMPLE_N >= 1)\n", NAME);
    return 2;
  }
  loader_init();
  struct hops_bpf *skel = hops_bpf__open();
  if (!skel) {
    fprintf(stderr, "%s: cannot open the BPF object: %s\n", NAME, strerror(errno));
    return 1;
  }
  skel->rodata->sample_n = n;
  skel->rodata->agent_tgid = pid;
  skel->rodata->focus_budget = budget;
  skel->rodata->floor_only = mode == MODE_FLOOR;
  const struct probe_spec spec = {
    .name = NAME,
    .ready = "HOPSCOPE_READY hops",
    .skeleton = skel->skeleton,
    .events = skel->maps.events,
    .lost = skel->maps.lost,
    .min_ring_bytes = 8u << 20,
    .print = print_hop,
    .each_second = print_bridge_counters,
    .ctx = skel,
  };
  int rc = run_probe(&spec, mode);
  hops_bpf__destroy(skel);
  return rc;
}
