/**
 * @module A long decimal text (a kernel address, a wall time in nanoseconds: beyond 2^53) read as two exact
 * integers, its last `lowDigits` digits and the digits before them, without a BigInt or a string kept. The
 * callers run per packet, so the halves come back through one shared scratch object, not a new one each time.
 */

/** Halves of the last text splitDecimal accepted (valid until its next call: decoding is synchronous). */
export const HALVES = { high: 0, low: 0 };

/** Whether `t` is all decimal digits; if so its halves are in HALVES. `t` needs more than `lowDigits` digits. */
export function splitDecimal(t: string, lowDigits: number): boolean {
  const n = t.length;
  const split = n - lowDigits;
  if (split <= 0) return false;
  let high = 0;
  let low = 0;
  for (let i = 0; i < split; i++) {
    const d = t.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    high = high * 10 + d;
  }
  for (let i = split; i < n; i++) {
    const d = t.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    low = low * 10 + d;
  }
  HALVES.high = high;
  HALVES.low = low;
  return true;
}
