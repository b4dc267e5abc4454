/**
 * @module Which tracepoint each of a probe group's BPF programs runs on. The kernel keeps a program's name (up to
 * 15 characters), which bpftrace sets from the probe: `net:netif_receive_skb` loads as `netif_receive_s`. Names
 * come from one `bpftool prog show -j` whenever programs appear that are not named yet (program ids are not
 * reused while the program lives) and are matched against the group's attached tracepoints.
 */
import { execa } from 'execa';

/** BPF_OBJ_NAME_LEN - 1: the kernel cuts program names to this many characters. */
const KERNEL_NAME_LEN = 15;
/** A program bpftool could not name (missing, timed out) is asked about again after this long. */
const RETRY_MS = 60_000;

/**
 * The attached tracepoint (`net:netif_receive_skb`) a program name stands for, if exactly one does. bpftool
 * gives the kernel's cut name (`netif_receive_s`) for bpftrace's programs and the whole function name from the
 * program's BTF for the native hop probe's (`netif_receive_skb`).
 */
export function tracepointForProgram(programName: string, attached: readonly string[]): string | undefined {
  const hits = attached.filter((tp) => {
    const name = tp.split(':')[1] ?? tp;
    return name === programName || name.slice(0, KERNEL_NAME_LEN) === programName;
  });
  return hits.length === 1 ? hits[0] : undefined;
}

/** Names of the programs loaded now, by id; empty when they cannot be listed. */
export type ProgramLister = () => Promise<ReadonlyMap<number, string>>;

/** `bpftool prog show -j` -> id -> name; empty when bpftool is missing or fails. */
export const bpftoolPrograms: ProgramLister = async () => {
  const out = await execa('bpftool', ['prog', 'show', '-j'], { reject: false, timeout: 5000 });
  const names = new Map<number, string>();
  if (out.exitCode !== 0) return names;
  try {
    for (const p of JSON.parse(out.stdout) as { id?: unknown; name?: unknown }[]) {
      if (typeof p.id === 'number' && typeof p.name === 'string') names.set(p.id, p.name);
    }
  } catch {
    // not JSON: no names this time
  }
  return names;
};

/** Program names by id: listed once when unnamed programs appear; a failed lookup is retried later. */
export class ProgramNames {
  private readonly known = new Map<number, string>();
  private readonly failedAt = new Map<number, number>();

  constructor(
    private readonly list: ProgramLister = bpftoolPrograms,
    private readonly now: () => number = Date.now,
  ) {}

  /** Names the programs in `live` not named yet (one listing for all of them); forgets ids no longer live. */
  async refresh(live: readonly number[]): Promise<void> {
    const t = this.now();
    const wanted = live.filter((id) => !this.known.has(id) && t - (this.failedAt.get(id) ?? -Infinity) >= RETRY_MS);
    if (wanted.length > 0) {
      const names = await this.list().catch(() => new Map<number, string>());
      for (const id of wanted) {
        const name = names.get(id);
        if (name === undefined) this.failedAt.set(id, t);
        else (this.known.set(id, name), this.failedAt.delete(id));
      }
    }
    const keep = new Set(live);
    for (const id of this.known.keys()) if (!keep.has(id)) this.known.delete(id);
    for (const id of this.failedAt.keys()) if (!keep.has(id)) this.failedAt.delete(id);
  }

  name(id: number): string | undefined {
    return this.known.get(id);
  }
}
