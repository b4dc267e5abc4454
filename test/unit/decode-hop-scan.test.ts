import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeLine } from '../../src/decode/decode-line.js';
import { makeStream, prng } from '../bench/recorded-stream.js';

// decodeLine reads hop lines in one scan and leaves anything unusual to the general decoder. A trailing space
// always takes the general way (the scan wants the line to end after the last field; the general decoder trims
// it), so decoding `line` and `line + ' '` compares the two ways on the same input.
const RECORDED = readFileSync(new URL('../fixtures/recorded/lab-2x2-icmp.txt', import.meta.url), 'utf8').trimEnd().split('\n');
const GENERATED = makeStream({ flows: 200, packets: 400, seed: 3 }).text.trimEnd().split('\n');

describe('decodeLine hop scan', () => {
  it('decodes recorded and generated hop lines exactly as the general decoder does', () => {
    const lines = [...RECORDED, ...GENERATED].filter((l) => l.startsWith('H '));
    expect(lines.length).toBeGreaterThan(1000);
    for (const line of lines) {
      const fast = decodeLine(line);
      expect(fast.ok).toBe(true);
      expect(fast).toEqual(decodeLine(`${line} `));
    }
  });

  it('agrees with the general decoder on damaged lines, errors included', () => {
    const random = prng(11);
    const alphabet = ['0', '9', ' ', '  ', 'x', '-', '\u0007', '\u00e9', '', '99999999999999999999', '4294967296', '65536', '256'];
    const base = [...RECORDED.filter((l) => l.startsWith('H ')), ...GENERATED.slice(0, 200)];
    let rejected = 0;
    for (let n = 0; n < 20_000; n++) {
      const line = base[Math.floor(random() * base.length)] as string;
      const fields = line.split(' ');
      const i = 1 + Math.floor(random() * (fields.length - 1));
      const pick = alphabet[Math.floor(random() * alphabet.length)] as string;
      const field = fields[i] as string;
      const at = Math.floor(random() * (field.length + 1));
      fields[i] = random() < 0.5 ? pick : field.slice(0, at) + pick + field.slice(at);
      const damaged = fields.join(' ');
      const fast = decodeLine(damaged);
      if (!fast.ok) rejected++;
      expect(fast).toEqual(decodeLine(`${damaged} `));
    }
    expect(rejected).toBeGreaterThan(1000);
  });

  it('rejects numbers beyond 2^53 and fields out of range the same way', () => {
    const line = RECORDED[0] as string;
    const f = line.split(' ');
    for (const [index, value] of [[2, '9007199254740993'], [7, '4294967296'], [9, '256'], [10, '65536'], [14, '4294967296']] as const) {
      const g = [...f];
      g[index] = value;
      const r = decodeLine(g.join(' '));
      expect(r.ok).toBe(false);
      expect(r).toEqual(decodeLine(`${g.join(' ')} `));
    }
  });
});
