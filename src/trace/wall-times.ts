/**
 * @module Wall-clock times of a trace's hops as decimal strings from their monotonic times: one clock
 * conversion per trace, and no BigInt at all on the usual way (a clock that states its offset).
 */
import type { WallClock } from '../clock/wall-clock.js';

/**
 * Wall-clock times of one trace's hops as decimal strings, one conversion per trace and no BigInt per hop.
 * With a clock that states its offset (wallOffsetNs), a time is that offset plus the monotonic time, added
 * as whole seconds and nanoseconds in plain numbers (both exact below 2^53): no BigInt at all while the offset
 * stays the same object. One instance per assembler, set up again for every trace (at()).
 */
export class WallTimes {
  private offset: bigint | undefined;
  private offSec = 0;
  private offNs = 0;
  private fast = false;
  private secCache = -1;
  private secText = '';
  // the way for any other clock: the first hop's wall time split into its last 9 digits and the rest
  private base = 0n;
  private baseMono = 0;
  private high = '';
  private low = 0;

  /** The clock's offset when the last at() took the plain-number way (its times are then offset + mono), else undefined. */
  get plainOffset(): bigint | undefined {
    return this.fast ? this.offset : undefined;
  }

  at(clock: WallClock, firstMono: number): this {
    this.fast = false;
    if (clock.wallOffsetNs !== undefined && Number.isInteger(firstMono) && firstMono >= 0) {
      const off = clock.wallOffsetNs();
      if (off !== this.offset) {
        this.offset = off;
        this.offSec = off >= 1_000_000_000n ? Number(off / 1_000_000_000n) : 0;
        this.offNs = Number(off % 1_000_000_000n);
        this.secCache = -1;
      }
      this.fast = this.offSec > 0;
      if (this.fast) return this;
    }
    this.setBase(clock.toWallNs(firstMono), firstMono);
    return this;
  }

  private setBase(base: bigint, baseMono: number): void {
    this.base = base;
    this.baseMono = baseMono;
    const text = base.toString();
    // the last 9 digits as a number, the rest as text (wall-clock ns since the epoch has 19 digits)
    this.high = text.length > 9 && base > 0n ? text.slice(0, -9) : '';
    this.low = this.high === '' ? 0 : Number(text.slice(-9));
  }

  text(monoNs: number): string {
    if (this.fast) {
      if (Number.isInteger(monoNs) && monoNs >= 0) {
        let monoSec = Math.floor(monoNs / 1e9);
        let rem = monoNs - monoSec * 1e9;
        // the division may round across a whole second near 2^53
        if (rem < 0) {
          rem += 1e9;
          monoSec -= 1;
        } else if (rem >= 1e9) {
          rem -= 1e9;
          monoSec += 1;
        }
        let ns = this.offNs + rem;
        let sec = this.offSec + monoSec;
        if (ns >= 1e9) {
          ns -= 1e9;
          sec += 1;
        }
        // the seconds change once a second: their text is kept
        if (sec !== this.secCache) {
          this.secCache = sec;
          this.secText = String(sec);
        }
        return this.secText + (ns >= 1e8 ? String(ns) : String(ns).padStart(9, '0'));
      }
      return ((this.offset as bigint) + BigInt(Math.round(monoNs))).toString();
    }
    const d = monoNs - this.baseMono;
    if (this.high !== '' && Number.isInteger(d)) {
      const low = this.low + d;
      if (low >= 0 && low < 1e9) return this.high + String(low).padStart(9, '0');
    }
    return (this.base + BigInt(Math.round(d))).toString();
  }
}
