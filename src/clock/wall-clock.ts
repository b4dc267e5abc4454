/**
 * @module Converts bpftrace's `nsecs` (CLOCK_MONOTONIC) to wall-clock nanoseconds. Node's hrtime reads the
 * same monotonic clock, so the offset is measured in userspace and re-measured to follow clock steps.
 */

export interface WallClock {
  /** Wall-clock nanoseconds since the epoch for a CLOCK_MONOTONIC time. */
  toWallNs(monoNs: number): bigint;
  /** CLOCK_MONOTONIC now, in nanoseconds. */
  nowMonoNs(): number;
  /**
   * Optional: the offset toWallNs adds right now, so that toWallNs(m) === BigInt(m) + wallOffsetNs() for
   * integer m; the same bigint object while it does not change. Lets the assembler convert without BigInt.
   */
  wallOffsetNs?(): bigint;
}

export class SystemWallClock implements WallClock {
  private offsetNs = 0n;
  /** offsetNs + skewNs, one bigint per measurement. */
  private totalOffsetNs = 0n;
  private measuredAt = 0;

  /** `skewNs` shifts every wall time this clock gives: a test-only stand-in for a node whose clock is off. */
  constructor(
    private readonly remeasureEveryMs = 60_000,
    private readonly skewNs = 0n,
  ) {
    this.measure();
  }

  nowMonoNs(): number {
    return Number(process.hrtime.bigint());
  }

  toWallNs(monoNs: number): bigint {
    return BigInt(Math.round(monoNs)) + this.wallOffsetNs();
  }

  wallOffsetNs(): bigint {
    if (Date.now() - this.measuredAt > this.remeasureEveryMs) this.measure();
    return this.totalOffsetNs;
  }

  /** Takes the tightest of a few (wall, mono) pairs. */
  private measure(): void {
    let best: bigint | undefined;
    let bestSpan = Infinity;
    for (let i = 0; i < 5; i++) {
      const before = process.hrtime.bigint();
      const wallNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n;
      const after = process.hrtime.bigint();
      const span = Number(after - before);
      if (span < bestSpan) {
        bestSpan = span;
        best = wallNs - (before + after) / 2n;
      }
    }
    this.offsetNs = best ?? 0n;
    this.totalOffsetNs = this.offsetNs + this.skewNs;
    this.measuredAt = Date.now();
  }
}

/** A fixed offset: for tests and for replaying recorded events. */
export class FixedWallClock implements WallClock {
  constructor(
    private readonly offsetNs: bigint,
    private now = 0,
  ) {}
  toWallNs(monoNs: number): bigint {
    return BigInt(monoNs) + this.offsetNs;
  }
  wallOffsetNs(): bigint {
    return this.offsetNs;
  }
  nowMonoNs(): number {
    return this.now;
  }
  set(nowMonoNs: number): void {
    this.now = nowMonoNs;
  }
}
