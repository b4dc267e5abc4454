/**
 * Property tests (fast-check, 10,000 runs each) on the stream's filter and subscription parsers: on any input
 * they never throw, and every refusal names the field (or says the message as a whole is not an object).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTraceFilter } from '../../src/filter/trace-filter.js';
import { parseSubscription } from '../../src/stream/subscription.js';

const RUNS = { numRuns: 10_000 };
const WORDS = ['pod', 'namespace', 'node', 'path', 'protocol', 'outcome', 'min_latency', 'limit'] as const;
const FIELDS = ['filter', 'trace_all', 'scope'] as const;

const value = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom('same-node', 'cross-node', 'delivered', 'TCP', 'default/pod-1-1', '1ms', '1.5s', '10', '0', '-1', '1e9', 'NaN', ' ', '\u0000', 'a'.repeat(254)),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
const key = fc.oneof(fc.constantFrom(...WORDS), fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'toString'));
const filterObject = fc.dictionary(key, value, { maxKeys: 5 });
const traceAll = fc.oneof(
  value,
  fc.record({ pod: value, ip: value, port: value, seconds: value }, { requiredKeys: [] }),
  fc.record({ pod: fc.constantFrom('default/pod-1-1', 'x'), seconds: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.double()) }),
);
const message = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.json({ maxDepth: 3 }),
  fc.record({ filter: fc.oneof(filterObject, value), trace_all: traceAll, scope: fc.oneof(fc.constantFrom('node', 'cluster'), value) }, { requiredKeys: [] }).map((m) => JSON.stringify(m)),
  fc.tuple(fc.dictionary(key, value, { maxKeys: 3 }), filterObject).map(([extra, filter]) => JSON.stringify({ ...extra, filter })),
);

/** An error that names a filter word: `word: ...` or `unknown filter "word"`. */
function namesFilterWord(error: string, input: Record<string, unknown>): boolean {
  if (WORDS.some((w) => error.startsWith(`${w}: `))) return true;
  const m = /^unknown filter "(.*?)(\.\.\.)?"; known: /s.exec(error);
  return m !== null && Object.keys(input).some((k) => k.startsWith(m[1] as string) && !(WORDS as readonly string[]).includes(k));
}

describe('parseTraceFilter properties', () => {
  it('never throws; accepts only what it can match on; refusals name the word', () => {
    fc.assert(
      fc.property(filterObject, (input) => {
        const r = parseTraceFilter(input);
        if (r.ok) {
          expect(r.filter.limit).toBeGreaterThanOrEqual(1);
          expect(r.filter.limit).toBeLessThanOrEqual(10_000);
          if (r.filter.minLatencyNs !== undefined) expect(Number.isSafeInteger(r.filter.minLatencyNs) && r.filter.minLatencyNs >= 0).toBe(true);
          for (const k of Object.keys(input)) if (input[k] !== undefined) expect(WORDS).toContain(k);
        } else {
          expect(namesFilterWord(r.error, input), r.error).toBe(true);
          expect(r.error.length).toBeLessThan(400);
        }
      }),
      RUNS,
    );
  });
});

describe('parseSubscription properties', () => {
  it('never throws; every refusal names its field or says the message is not an object', () => {
    fc.assert(
      fc.property(message, (text) => {
        const r = parseSubscription(text);
        if (r.ok) {
          expect(['node', 'cluster']).toContain(r.subscription.scope);
          const all = r.subscription.traceAll;
          if (all) expect(all.seconds > 0 && all.seconds <= 60 && (all.pod === undefined) !== (all.ip === undefined)).toBe(true);
          return;
        }
        const e = r.error;
        const whole = e.startsWith('not JSON') || e.startsWith('send an object');
        const unknown = /^unknown field ".*"; known: filter, trace_all, scope$/s.test(e);
        const field = FIELDS.some((f) => e.startsWith(`${f}: `) || e.startsWith(`${f}.`));
        expect(whole || unknown || field, e).toBe(true);
        if (e.startsWith('filter: ') && !e.startsWith('filter: must')) {
          const filter = (JSON.parse(text) as { filter: Record<string, unknown> }).filter;
          expect(namesFilterWord(e.slice('filter: '.length), filter), e).toBe(true);
        }
      }),
      RUNS,
    );
  });
});
