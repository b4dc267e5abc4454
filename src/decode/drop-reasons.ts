/**
 * @module Names of the kernel's skb drop reasons, read from the running kernel's skb:kfree_skb format file
 * (the numbers differ between kernels, so they are never hard-coded).
 */
import { readFileSync } from 'node:fs';

export const KFREE_SKB_FORMAT = '/sys/kernel/tracing/events/skb/kfree_skb/format';

/** Reasons that mean the packet found no usable route. */
const ROUTE_MISS_REASONS = new Set(['IP_INNOROUTES', 'IP_OUTNOROUTES', 'IPV6_INNOROUTES', 'IPV6_OUTNOROUTES', 'NEIGH_FAILED']);

export class DropReasons {
  constructor(private readonly byNumber: ReadonlyMap<number, string>) {}

  static fromKernel(path = KFREE_SKB_FORMAT): DropReasons {
    try {
      return DropReasons.parse(readFileSync(path, 'utf8'));
    } catch {
      return new DropReasons(new Map());
    }
  }

  /** Parses the `__print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, ...)` list of a format file. */
  static parse(format: string): DropReasons {
    const names = new Map<number, string>();
    const start = format.indexOf('__print_symbolic(REC->reason');
    if (start >= 0) {
      for (const m of format.slice(start).matchAll(/\{\s*(\d+)\s*,\s*"([A-Z0-9_]+)"\s*\}/g)) {
        names.set(Number(m[1]), m[2] as string);
      }
    }
    return new DropReasons(names);
  }

  get size(): number {
    return this.byNumber.size;
  }

  /** This kernel's number for NOT_SPECIFIED, the lowest real reason (2 on 6.x kernels from 6.3 on). */
  notSpecified(): number {
    for (const [n, name] of this.byNumber) if (name === 'NOT_SPECIFIED') return n;
    return 2;
  }

  /** Every reason name this kernel knows. */
  names(): string[] {
    return [...this.byNumber.values()];
  }

  name(reason: number): string {
    return this.byNumber.get(reason) ?? `REASON_${reason}`;
  }

  isRouteMiss(reason: number): boolean {
    return ROUTE_MISS_REASONS.has(this.name(reason));
  }
}
