/**
 * @module A mirror of one bridge's forwarding database: seeded from the kernel (`bridge -j fdb show`), kept
 * current from the FDB tracepoints, and telling a learned entry from one that moved to another port.
 */
import type { FdbEvent } from '../decode/probe-event.js';

export interface FdbEntry {
  readonly mac: string;
  readonly vid: number;
  /** The port behind which the address lives; absent for the bridge's own addresses. */
  readonly port?: string;
  /** Local (the ports' and bridge's own) or user-added static entries. */
  readonly permanent: boolean;
}

export type FdbChange = 'learned' | 'moved' | 'deleted' | 'unchanged';

export class BridgeFdb {
  readonly counts = { learned: 0, moved: 0, deleted: 0 };
  private readonly entries = new Map<string, FdbEntry>();
  /** Every port name this bridge has had an entry behind: deletions arrive after the port is gone. */
  private readonly portsSeen = new Set<string>();

  constructor(readonly bridge: string) {}

  get size(): number {
    return this.entries.size;
  }

  /** Replaces the mirror with the kernel's table, without counting anything. */
  seed(entries: readonly FdbEntry[]): void {
    this.entries.clear();
    for (const e of entries) this.put(e);
  }

  has(mac: string, vid: number): boolean {
    return this.entries.has(key(mac, vid));
  }

  hadPort(port: string): boolean {
    return this.portsSeen.has(port);
  }

  apply(e: FdbEvent): FdbChange {
    const k = key(e.mac, e.vid);
    const existing = this.entries.get(k);
    if (e.op === 'delete') {
      this.entries.delete(k);
      this.counts.deleted++;
      return 'deleted';
    }
    const entry: FdbEntry = { mac: e.mac, vid: e.vid, ...(e.port ? { port: e.port } : {}), permanent: e.op === 'add' };
    this.put(entry);
    if (!existing) {
      this.counts.learned++;
      return 'learned';
    }
    if (existing.port !== entry.port) {
      this.counts.moved++;
      return 'moved';
    }
    return 'unchanged';
  }

  list(): FdbEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.port ?? '').localeCompare(b.port ?? '') || a.mac.localeCompare(b.mac));
  }

  private put(e: FdbEntry): void {
    this.entries.set(key(e.mac, e.vid), e);
    if (e.port) this.portsSeen.add(e.port);
  }
}

function key(mac: string, vid: number): string {
  return `${mac}/${vid}`;
}

/** The bridge's own table from `bridge -j fdb show br BRIDGE` (ports' `self` entries are their own lists). */
export function fdbEntriesFromJson(bridge: string, json: unknown): FdbEntry[] {
  if (!Array.isArray(json)) return [];
  const out: FdbEntry[] = [];
  for (const raw of json as ({ mac?: unknown; ifname?: unknown; master?: unknown; flags?: unknown; state?: unknown; vlan?: unknown } | null)[]) {
    if (typeof raw !== 'object' || raw === null || typeof raw.mac !== 'string' || typeof raw.ifname !== 'string') continue;
    const flags = Array.isArray(raw.flags) ? raw.flags : [];
    if (flags.includes('self') || raw.master !== bridge) continue;
    out.push({
      mac: raw.mac.toLowerCase(),
      vid: typeof raw.vlan === 'number' ? raw.vlan : 0,
      ...(raw.ifname === bridge ? {} : { port: raw.ifname }),
      permanent: raw.state === 'permanent' || raw.state === 'static',
    });
  }
  return out;
}
