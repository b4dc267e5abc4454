/**
 * @module Counters by label values, kept in the model and copied to Prometheus at scrape time. Only ever
 * incremented, so the exported counters never go down.
 */

export class LabeledCounts<L extends string> {
  private readonly counts = new Map<string, { labels: Record<L, string>; value: number }>();

  constructor(readonly labelNames: readonly L[]) {}

  inc(labels: Record<L, string>, by = 1): void {
    const key = this.labelNames.map((l) => labels[l]).join('\u0000');
    const entry = this.counts.get(key);
    if (entry) entry.value += by;
    else this.counts.set(key, { labels: { ...labels }, value: by });
  }

  /** Makes a series exist at 0 so that `increase()` sees its first event. */
  declare(labels: Record<L, string>): void {
    this.inc(labels, 0);
  }

  get(labels: Record<L, string>): number {
    return this.counts.get(this.labelNames.map((l) => labels[l]).join('\u0000'))?.value ?? 0;
  }

  entries(): { labels: Record<L, string>; value: number }[] {
    return [...this.counts.values()];
  }
}
