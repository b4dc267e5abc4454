// SPDX-License-Identifier: Apache-2.0
/*
 * hops-loader.c - hopscope-hops: loads hops.bpf.c and prints what it sees in probes/hops.bt's line format, so
 * the agent reads either the same way (docs/architecture.md, "Hop probe").
 *
 * usage: hopscope-hops [--check | --floor] SAMPLE_N AGENT_PID FOCUS_BUDGET
 *   SAMPLE_N      sample modulus (1 = every packet), hops.bt's $1
 *   AGENT_PID     the process whose kill(2) calls carry trace-on-demand commands, hops.bt's $2
 *   FOCUS_BUDGET  events/s a trace-on-demand widening may add, hops.bt's $3
 *   --check       load the programs (the kernel's verifier runs), attach nothing, print "ok" and exit 0; on
 *                 failure say what is missing on stderr and exit 1
 *   --floor       attach programs that return at once (npm run bench: the cost of the attachment alone)
 *
 * Output (stdout): "HOPSCOPE_READY hops" once attached; then `H`/`H6` lines for selected hops, read from the ring
 * buffer every POLL_MS; every second the bridge counters as `@name[netns, ifindex]: count` (cumulative, a
 * blank line after each map, as bpftrace's print()) and "Lost N events" when the ring was full. SIGINT or
 * SIGTERM: detach, print what is left, exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hops-record.h"
#include "hops.skel.h"

/* How long selected hops may wait in the ring (the programs submit without waking us: a wakeup per event
 * would cost the packet path). 8 MiB of ring holds 20 ms of ~1.4M events/s. */
#define POLL_MS 20

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

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
  return 0;
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

static __u64 lost_total(int fd, int ncpu)
{
  __u32 zero = 0;
  __u64 values[ncpu];
  __u64 sum = 0;
  if (bpf_map_lookup_elem(fd, &zero, values) == 0)
    for (int i = 0; i < ncpu; i++) sum += values[i];
  return sum;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* libbpf's own messages: warnings and errors only (the verifier log on a failed load included). */
static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
  return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, args);
}

static int parse_u32(const char *s, long min, __u32 *out)
{
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s || v < min || v > 0xffffffffL) return -1;
  *out = (__u32)v;
  return 0;
}

static void explain_load_failure(int err)
{
  fprintf(stderr, "hopscope-hops: cannot load the hop programs: %s\n", strerror(err));
  if (err == EPERM || err == EACCES)
    fprintf(stderr, "hopscope-hops: needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE); the verifier log above says more\n");
  else if (err == ENOENT || err == ESRCH || err == EINVAL || err == EOPNOTSUPP)
    fprintf(stderr, "hopscope-hops: needs BTF (/sys/kernel/btf/vmlinux), BTF-typed tracepoints (tp_btf, Linux 5.5+) "
                    "and ring buffers (Linux 5.8+); `hopscope agent --hops-probe bpftrace` runs probes/hops.bt instead\n");
}

int main(int argc, char **argv)
{
  int check = 0, floor_only = 0, a = 1;
  if (a < argc && strcmp(argv[a], "--check") == 0) check = 1, a++;
  else if (a < argc && strcmp(argv[a], "--floor") == 0) floor_only = 1, a++;
  __u32 n, pid, budget;
  if (argc - a != 3 || parse_u32(argv[a], 1, &n) || parse_u32(argv[a + 1], 0, &pid) || parse_u32(argv[a + 2], 0, &budget)) {
    fprintf(stderr, "usage: hopscope-hops [--check | --floor] SAMPLE_N AGENT_PID FOCUS_BUDGET (SAMPLE_N >= 1)\n");
    return 2;
  }
  libbpf_set_print(print_libbpf);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) {
    fprintf(stderr, "hopscope-hops: cannot count the possible CPUs\n");
    return 1;
  }
  struct hops_bpf *skel = hops_bpf__open();
  if (!skel) {
    fprintf(stderr, "hopscope-hops: cannot open the BPF object: %s\n", strerror(errno));
    return 1;
  }
  skel->rodata->sample_n = n;
  skel->rodata->agent_tgid = pid;
  skel->rodata->focus_budget = budget;
  skel->rodata->floor_only = floor_only;
  int err = hops_bpf__load(skel);
  if (err) {
    explain_load_failure(-err);
    hops_bpf__destroy(skel);
    return 1;
  }
  if (check) {
    printf("ok\n");
    hops_bpf__destroy(skel);
    return 0;
  }
  err = hops_bpf__attach(skel);
  if (err) {
    fprintf(stderr, "hopscope-hops: cannot attach the hop programs: %s\n", strerror(-err));
    hops_bpf__destroy(skel);
    return 1;
  }
  struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), print_hop, NULL, NULL);
  if (!rb) {
    fprintf(stderr, "hopscope-hops: cannot open the ring buffer: %s\n", strerror(errno));
    hops_bpf__destroy(skel);
    return 1;
  }
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  printf("HOPSCOPE_READY hops\n");
  fflush(stdout);
  double next_counters = now_s() + 1;
  __u64 lost_printed = 0;
  while (!stopping) {
    ring_buffer__consume(rb);
    double t = now_s();
    if (t >= next_counters) {
      next_counters = t + 1;
      print_counters(bpf_map__fd(skel->maps.to_host), "to_host", ncpu);
      print_counters(bpf_map__fd(skel->maps.bridged), "bridged", ncpu);
      print_counters(bpf_map__fd(skel->maps.unknown_unicast), "unknown_unicast", ncpu);
      __u64 lost = lost_total(bpf_map__fd(skel->maps.lost), ncpu);
      if (lost > lost_printed) printf("Lost %llu events\n", (unsigned long long)(lost - lost_printed));
      lost_printed = lost;
    }
    if (fflush(stdout) == EOF) break; /* the agent is gone */
    usleep(POLL_MS * 1000);
  }
  /* detach first, then drain what the programs wrote before */
  hops_bpf__detach(skel);
  ring_buffer__consume(rb);
  fflush(stdout);
  ring_buffer__free(rb);
  hops_bpf__destroy(skel);
  return 0;
}
