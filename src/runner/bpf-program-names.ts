/**
 * @module Which tracepoint each of a probe group's BPF programs runs on. The kernel keeps a program's name (up to
 * 15 characters), which bpftrace sets from the probe: `net:netif_receive_skb` loads as `netif_receive_s`. The
 * name comes from `bpftool prog show id N` once per program (program ids are not reused while the program
 * lives) and is matched against the group's attached tracepoints.
 */
import { execa } from 'execa';

/** BPF_OBJ_NAME_LEN - 1: the kernel cuts program names to this many characters. */
const KERNEL_NAME_LEN = 15;

/** The attached tracepoint (`net:netif_receive_skb`) a kernel program name stands for, if exactly one does. */
export function tracepointForProgram(programName: string, attached: readonly string[]): string | undefined {
  const hits = attached.filter((tp) => (tp.split(':')[1] ?? tp).slice(0, KERNEL_NAME_LEN) === programName);
  return hits.length === 1 ? hits[0] : undefined;
}

export type ProgramNameLookup = (id: number) => Promise<string | undefined>;

/** `bpftool prog show id N -j` -> its `name`; undefined when bpftool is missing or the program is gone. */
export const bpftoolProgramName: ProgramNameLookup = async (id) => {
  const out = await execa('bpftool', ['prog', 'show', 'id', String(id), '-j'], { reject: false, timeout: 5000 });
  if (out.exitCode !== 0) return undefined;
  try {
    const name = (JSON.parse(out.stdout) as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
};

/** Program names by id, looked up once each. */
export class ProgramNames {
  private readonly known = new Map<number, string | undefined>();
  constructor(private readonly lookup: ProgramNameLookup = bpftoolProgramName) {}

  /** Looks up every id not seen before; forgets ids no longer in `live`. */
  async refresh(live: readonly number[]): Promise<void> {
    const fresh = live.filter((id) => !this.known.has(id));
    const names = await Promise.all(fresh.map((id) => this.lookup(id).catch(() => undefined)));
    fresh.forEach((id, i) => this.known.set(id, names[i]));
    const keep = new Set(live);
    for (const id of this.known.keys()) if (!keep.has(id)) this.known.delete(id);
  }

  name(id: number): string | undefined {
    return this.known.get(id);
  }
}
