/**
 * @module The open-trace key of an skb address: 2^64 minus the address for a kernel address (exact, so two
 * addresses never share a key), the text itself for anything else.
 */
import { describe, expect, it } from 'vitest';
import { keptKey, skbKey } from '../../src/trace/skb-key.js';
import { prng } from '../bench/recorded-stream.js';

const TOP = 2n ** 64n;

describe('skbKey', () => {
  it('is 2^64 minus the address for 20-digit kernel addresses, exactly (random addresses and the edges)', () => {
    const random = prng(7);
    const addresses = [TOP - 1n, TOP - 2n ** 48n, 0xffff888012345678n, 0xffffc90000000000n];
    for (let i = 0; i < 20_000; i++) addresses.push(TOP - 1n - BigInt(Math.floor(random() * 2 ** 24)) * 2n ** 24n - BigInt(Math.floor(random() * 2 ** 24)));
    const seen = new Set<number | string>();
    for (const a of addresses) {
      const key = skbKey(a.toString());
      expect(key).toBe(Number(TOP - a));
      seen.add(key);
    }
    expect(seen.size).toBe(new Set(addresses).size);
  });

  it('keeps any other text as the key', () => {
    for (const s of [(TOP - 2n ** 48n - 1n).toString(), TOP.toString(), '00446612686453469696', '1844661268645346969x', '1', '', 'ffff888012345678', '18446612686453469696 ']) {
      expect(skbKey(s)).toBe(s);
      expect(keptKey(skbKey(s))).toBe(s);
    }
    expect(keptKey(skbKey('18446612686453469696'))).toBe(131387256081920);
  });
});
