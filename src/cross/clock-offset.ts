/**
 * @module The clock offset between this node and a peer, NTP style, from real traffic in both directions. A
 * packet from here to the peer shows `d_out = delay_out + theta` (its uplink-to-uplink time read on two
 * clocks, theta = peer clock - this clock); one from the peer shows `d_in = delay_in - theta`. With the
 * least-queued (minimum) sample of each direction over a window, `theta = (min d_out - min d_in) / 2`, and as
 * neither delay is negative the true offset lies within `(min d_out + min d_in) / 2` of it: the error bound.
 */

export interface OffsetEstimate {
  /** Peer clock minus this node's clock. */
  readonly offsetNs: number;
  /** The true offset is within +/- this of `offsetNs`. */
  readonly errorNs: number;
  readonly samplesOut: number;
  readonly samplesIn: number;
}

interface Sample {
  readonly dNs: number;
  readonly atMs: number;
}

export class ClockOffsetEstimator {
  private readonly out = new Map<string, Sample[]>();
  private readonly in = new Map<string, Sample[]>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly maxSamples = 1024,
  ) {}

  /** A packet from this node to `peer`: its arrival on the peer's clock minus its departure on this clock. */
  addOutbound(peer: string, dNs: number, atMs: number): void {
    this.add(this.out, peer, dNs, atMs);
  }

  /** A packet from `peer` to this node: its arrival on this clock minus its departure on the peer's clock. */
  addInbound(peer: string, dNs: number, atMs: number): void {
    this.add(this.in, peer, dNs, atMs);
  }

  /** Undefined until both directions have samples in the window. */
  estimate(peer: string, nowMs: number): OffsetEstimate | undefined {
    const out = this.fresh(this.out, peer, nowMs);
    const inb = this.fresh(this.in, peer, nowMs);
    if (out.length === 0 || inb.length === 0) return undefined;
    const minOut = Math.min(...out.map((s) => s.dNs));
    const minIn = Math.min(...inb.map((s) => s.dNs));
    return {
      offsetNs: Math.round((minOut - minIn) / 2),
      errorNs: Math.max(0, Math.round((minOut + minIn) / 2)),
      samplesOut: out.length,
      samplesIn: inb.length,
    };
  }

  private add(by: Map<string, Sample[]>, peer: string, dNs: number, atMs: number): void {
    if (!Number.isFinite(dNs)) return;
    const list = by.get(peer) ?? [];
    list.push({ dNs, atMs });
    if (list.length > this.maxSamples) list.splice(0, list.length - this.maxSamples);
    by.set(peer, list);
  }

  private fresh(by: Map<string, Sample[]>, peer: string, nowMs: number): Sample[] {
    const list = by.get(peer) ?? [];
    const keep = list.filter((s) => nowMs - s.atMs <= this.windowMs);
    if (keep.length !== list.length) by.set(peer, keep);
    return keep;
  }
}
