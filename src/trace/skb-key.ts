/**
 * @module The key an open trace is found by: its sk_buff address, which the probe prints in decimal (u64). A
 * kernel address (the top 16 bits set: 0xffff...) is 2^64 minus a number below 2^48, which a double holds
 * exactly: that number is the key (no string per packet kept for the grace period, and none hashed per hop).
 * Any other text is its own key (a copy: the decoder's text is a view of the line, which would stay alive).
 */
import { HALVES, splitDecimal } from './decimal-halves.js';

/** 2^64 as the decimal digits before and the 10 after the split. */
const TOP_HIGH = 1_844_674_407;
const TOP_LOW = 3_709_551_616;

export type SkbKey = number | string;

/** The key of an skb address as decoded (number for a 20-digit kernel address, else the text). */
export function skbKey(skb: string): SkbKey {
  if (skb.length === 20 && splitDecimal(skb, 10)) {
    // 2^64 - address, exact while below 2^53 (both parts are exact integers)
    const below = (TOP_HIGH - HALVES.high) * 1e10 + (TOP_LOW - HALVES.low);
    if (below > 0 && below <= 2 ** 48) return below;
  }
  return skb;
}

/** A key to keep (a text key copied off the line). */
export function keptKey(key: SkbKey): SkbKey {
  return typeof key === 'number' ? key : (' ' + key).slice(1);
}
