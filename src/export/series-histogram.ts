/**
 * @module A Prometheus histogram for the per-trace hot path: each label set is a series object the caller
 * keeps, and observe() is a bucket search and three additions (no label object, no label hashing, no
 * allocation), where prom-client's Histogram hashes the labels on every observation, also through labels().
 * It registers in a prom-client Registry as a metric of its own and hands the registry the same values
 * prom-client's Histogram does (same buckets, order, names and labels), so the exposition text is identical.
 */
import type { Metric, Registry } from 'prom-client';

/** One label set of a SeriesHistogram. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); index i counts values <= bounds[i] and > bounds[i - 1]. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const b = this.bounds;
    // prom-client's rule: the first bound the value does not exceed; above every bound only +Inf counts it
    for (let i = 0; i < b.length; i++) {
      if (value <= (b[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        break;
      }
    }
    this.sum += value;
    this.count += 1;
  }
}

interface ValuePair {
  value: number;
  metricName: string;
  labels: Record<string, string | number>;
  sharedLabels?: Readonly<Record<string, string>>;
  exemplar?: null;
}

export class SeriesHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bySeries = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    readonly buckets: readonly number[],
    registry: Registry,
    /** Runs before each export (as prom-client's `collect`): the owner may drop series there. */
    private readonly collect?: () => void,
  ) {
    registry.registerMetric(this as unknown as Metric<string>);
  }

  /** The series of a label set (created at zero, and exported from then on). Keep it: lookups hash. */
  series(labels: Readonly<Record<L, string>>): HistogramSeries {
    const key = this.keyOf(labels);
    let s = this.bySeries.get(key);
    if (s === undefined) {
      const own: Record<string, string> = {};
      for (const n of this.labelNames) own[n] = labels[n];
      s = new HistogramSeries(own, this.buckets);
      this.bySeries.set(key, s);
    }
    return s;
  }

  /** Stops exporting a label set's series (its object, if a caller kept it, counts on unseen). */
  remove(labels: Readonly<Record<L, string>>): void {
    this.bySeries.delete(this.keyOf(labels));
  }

  private keyOf(labels: Readonly<Record<L, string>>): string {
    return this.labelNames.map((n) => `${n}:${labels[n]}`).join(',');
  }

  reset(): void {
    for (const s of this.bySeries.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  /** The values in prom-client's order: per series the cumulative buckets, +Inf, _sum, _count. */
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; values: ValuePair[]; aggregator: 'sum' }> {
    this.collect?.();
    const values: ValuePair[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.bySeries.values()) {
      let acc = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        acc += s.counts[i] as number;
        values.push({ labels: { le: this.buckets[i] as number }, sharedLabels: s.labels, value: acc, metricName: bucket, exemplar: null });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** As prom-client's Histogram.get(): the series labels merged into each value's labels. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; values: ValuePair[]; aggregator: 'sum' }> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return data;
  }
}
