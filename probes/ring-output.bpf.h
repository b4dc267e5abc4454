/*
 * ring-output.bpf.h - how a native probe hands records to its loader: the ring buffer `events` (the loader sizes
 * it by the CPU count), the per-CPU count of records that found it full (`lost`, printed by the loader as
 * bpftrace's "Lost N events"), and emit().
 */
#ifndef RING_OUTPUT_BPF_H
#define RING_OUTPUT_BPF_H

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

/* Copies a record into the ring without waking the loader (it reads every POLL_MS: a wakeup per record would
 * cost the packet path), or counts it lost. `size` must be a constant (sizeof) at the call; records are
 * 8-byte aligned, and the copy must say so: byte by byte, the skb pointer in a record would be shifted, which
 * the verifier refuses. */
static __always_inline void emit(const __u64 *record, const __u32 size)
{
  void *out = bpf_ringbuf_reserve(&events, size, 0);
  if (!out) {
    __u32 zero = 0;
    __u64 *n = bpf_map_lookup_elem(&lost, &zero);
    if (n) *n += 1;
    return;
  }
  __builtin_memcpy((__u64 *)out, record, size);
  bpf_ringbuf_submit(out, BPF_RB_NO_WAKEUP);
}

#endif
