/*
 * loader-common.h - what the native probes' loaders (hops-loader.c, drops-loader.c) share: arguments, libbpf's
 * messages, why a load failed, and the loop that reads the ring buffer every POLL_MS until SIGINT or SIGTERM.
 */
#ifndef LOADER_COMMON_H
#define LOADER_COMMON_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/libbpf_version.h>

/* libbpf 1.0 returns NULL (not an error pointer) on failure and raises RLIMIT_MEMLOCK itself where the kernel
 * still charges BPF memory to it (before 5.11); the loaders rely on both. */
#if LIBBPF_MAJOR_VERSION < 1
#error "the native probes need libbpf 1.0 or newer (Debian 12: apt-get install libbpf-dev)"
#endif

/* How long records may wait in the ring (the programs submit without waking the loader: a wakeup per event
 * would cost the packet path). */
#define POLL_MS 20
/* Records printed per ring_buffer__consume() call: libbpf 1.1 reads for as long as the programs write, so
 * under a flood one call would never return (no counters, no loss reports, no stop). */
#define BATCH 4096

/* Records printed in the current batch; a record callback returns batch_done() after printing. */
static int batch_count;

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

/* 0 to go on reading; -EAGAIN once the batch is full or a stop was asked for (the record is printed either way:
 * libbpf has already consumed it). */
static int batch_done(void)
{
  return ++batch_count >= BATCH || stopping ? -EAGAIN : 0;
}

/* --check (load and attach for a moment, print "ok"), --floor (attach programs that return at once), or neither. */
enum loader_mode { MODE_RUN, MODE_CHECK, MODE_FLOOR };

static enum loader_mode parse_mode(int argc, char **argv, int *next)
{
  *next = 1;
  if (argc > 1 && strcmp(argv[1], "--check") == 0) return (*next = 2), MODE_CHECK;
  if (argc > 1 && strcmp(argv[1], "--floor") == 0) return (*next = 2), MODE_FLOOR;
  return MODE_RUN;
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

/* libbpf's own messages: warnings and errors only (the verifier log on a failed load included). */
static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
  return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, args);
}

static void loader_init(void)
{
  libbpf_set_print(print_libbpf);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  /* Node starts children with SIGPIPE at its default: without this a gone agent kills the loader in a write,
   * before it can detach */
  signal(SIGPIPE, SIG_IGN);
}

/* Why the programs did not load or attach (`what`: "load" or "attach"), and what to do. */
static void explain_failure(const char *name, const char *what, int err)
{
  fprintf(stderr, "%s: cannot %s the programs: %s\n", name, what, strerror(err));
  if (err == EPERM)
    fprintf(stderr, "%s: needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)\n", name);
  else if (err == EACCES)
    fprintf(stderr, "%s: the kernel's verifier rejected a program (its log is above); `hopscope agent --probes bpftrace` "
                    "runs the bpftrace scripts instead\n", name);
  else
    fprintf(stderr, "%s: needs BTF (/sys/kernel/btf/vmlinux), BTF-typed tracepoints (tp_btf, Linux 5.5+) and ring buffers "
                    "(Linux 5.8+); `hopscope agent --probes bpftrace` runs the bpftrace scripts instead\n", name);
}

/* HOPSCOPE_RING_BYTES: the ring buffer's size set by hand (a power of two from 4 KiB to 1 GiB), for a node
 * that must bound the loader's locked memory, or that loses events at the default size. */
#define RING_BYTES_ENV "HOPSCOPE_RING_BYTES"

/* The ring buffer's size: HOPSCOPE_RING_BYTES when set, else at least `min_bytes`, 1 MiB per possible CPU up to
 * 64 MiB, a power of two; 0 (and a message) when the variable is not a size the kernel takes. */
static __u32 ring_bytes(const char *name, __u32 min_bytes, int ncpu)
{
  const char *set = getenv(RING_BYTES_ENV);
  if (set && *set) {
    char *end = NULL;
    errno = 0;
    /* digits only: strtoull would also take spaces, a sign, and wrap a negative number */
    unsigned long long v = (*set >= '0' && *set <= '9') ? strtoull(set, &end, 10) : 0;
    if (errno || !end || *end || v < 4096 || v > (1ull << 30) || (v & (v - 1))) {
      fprintf(stderr, "%s: %s=%s is not a ring size: give a power of two from 4096 to 1073741824 (bytes)\n", name, RING_BYTES_ENV, set);
      return 0;
    }
    return (__u32)v;
  }
  __u64 want = (__u64)ncpu << 20;
  if (want > (64u << 20)) want = 64u << 20;
  __u32 size = min_bytes;
  while (size < want) size <<= 1;
  return size;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The sum over CPUs of a one-entry per-CPU u64 array (a loss counter). */
static __u64 percpu_total(int fd, int ncpu)
{
  __u32 zero = 0;
  __u64 values[ncpu];
  __u64 sum = 0;
  if (bpf_map_lookup_elem(fd, &zero, values) == 0)
    for (int i = 0; i < ncpu; i++) sum += values[i];
  return sum;
}

/*
 * Prints `ready`, then reads `rb` every POLL_MS (at once again while a batch came back full) until a signal;
 * once a second calls `each_second` (may be NULL) and prints "Lost N events" (as bpftrace does) when
 * `lost_fd`'s count grew. Returns when stopped or when stdout is gone. The caller detaches, then drains the ring
 * with drain().
 */
static void run_loop(const char *ready, struct ring_buffer *rb, int lost_fd, int ncpu, void (*each_second)(void *), void *ctx)
{
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  printf("%s\n", ready);
  fflush(stdout);
  double next_second = now_s() + 1;
  __u64 lost_printed = 0;
  while (!stopping) {
    batch_count = 0;
    int more = ring_buffer__consume(rb) == -EAGAIN && !stopping;
    double t = now_s();
    if (t >= next_second) {
      next_second = t + 1;
      if (each_second) each_second(ctx);
      __u64 lost = percpu_total(lost_fd, ncpu);
      if (lost > lost_printed) printf("Lost %llu events\n", (unsigned long long)(lost - lost_printed));
      lost_printed = lost;
    }
    if (fflush(stdout) == EOF) break; /* the agent is gone */
    if (!more) usleep(POLL_MS * 1000);
  }
}

/* A loader's probe, opened and configured by its main: what run_probe() needs to load, attach and print it. */
struct probe_spec {
  const char *name;  /* "hopscope-hops": the first word of every message */
  const char *ready; /* "HOPSCOPE_READY hops" */
  struct bpf_object_skeleton *skeleton;
  struct bpf_map *events, *lost;
  __u32 min_ring_bytes;
  ring_buffer_sample_fn print; /* prints one record and returns batch_done() */
  void (*each_second)(void *ctx); /* may be NULL */
  void *ctx;
};

static void drain(struct ring_buffer *rb);

/*
 * Sizes the ring, loads and attaches the programs (--check: and stops there, printing "ok"), then prints what they
 * write until SIGINT or SIGTERM, detaches and drains. Returns the exit code; the caller destroys the skeleton.
 */
static int run_probe(const struct probe_spec *p, enum loader_mode mode)
{
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) {
    fprintf(stderr, "%s: cannot count the possible CPUs: %s\n", p->name, strerror(-ncpu));
    return 1;
  }
  __u32 ring = ring_bytes(p->name, p->min_ring_bytes, ncpu);
  if (ring == 0) return 2;
  bpf_map__set_max_entries(p->events, ring);
  int err = bpf_object__load_skeleton(p->skeleton);
  if (err) {
    explain_failure(p->name, "load", -err);
    return 1;
  }
  /* --check attaches too (for a moment): a tracepoint the kernel will not attach fails here, not at run time */
  err = bpf_object__attach_skeleton(p->skeleton);
  if (err) {
    explain_failure(p->name, "attach", -err);
    return 1;
  }
  if (mode == MODE_CHECK) {
    printf("ok\n");
    return 0;
  }
  struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(p->events), p->print, NULL, NULL);
  if (!rb) {
    fprintf(stderr, "%s: cannot read the ring buffer: %s\n", p->name, strerror(errno));
    return 1;
  }
  run_loop(p->ready, rb, bpf_map__fd(p->lost), ncpu, p->each_second, p->ctx);
  bpf_object__detach_skeleton(p->skeleton);
  drain(rb);
  ring_buffer__free(rb);
  return 0;
}

/* After detaching: print what the programs wrote before, batch by batch. */
static void drain(struct ring_buffer *rb)
{
  stopping = 0;
  do batch_count = 0;
  while (ring_buffer__consume(rb) == -EAGAIN);
  fflush(stdout);
}

#endif
