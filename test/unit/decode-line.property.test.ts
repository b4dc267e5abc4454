/**
 * Property tests (fast-check, 10,000 runs each) on the decoder: on any input it never throws; whatever it
 * accepts is well-formed (typed fields in range, printable text only); a valid record re-encoded as the
 * probe prints it decodes to the same event.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLine, type DecodeResult } from '../../src/decode/decode-line.js';
import type { ProbeEvent } from '../../src/decode/probe-event.js';
import { swap16, swap32 } from '../../src/net/ipv4.js';
import { VALID_RECORDS } from '../fixtures/malformed-corpus.js';

const RUNS = { numRuns: 10_000 };
const PRINTABLE = /^[\x20-\x7e]*$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const u = (max: number) => fc.integer({ min: 0, max });
const safeU = fc.oneof(u(0xffffffff), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));

/** Inputs the decoder meets: any text, and valid records with a few characters changed. */
const anyLine = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 700 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 200 }),
  fc.tuple(fc.constantFrom(...VALID_RECORDS), fc.array(fc.tuple(fc.nat(), fc.string({ unit: 'binary', maxLength: 3 }), fc.nat(3)), { maxLength: 4 })).map(([rec, edits]) => {
    let s: string = rec;
    for (const [at, text, del] of edits) {
      const i = at % (s.length + 1);
      s = s.slice(0, i) + text + s.slice(i + del);
    }
    return s;
  }),
  fc.tuple(fc.constantFrom('H', 'D', 'B', 'N', '@', 'Lost', '{"type":"lost_events"'), fc.array(fc.oneof(fc.string({ maxLength: 25 }), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String)), { maxLength: 18 })).map(([t, f]) => [t, ...f].join(' ')),
);

function isIp(s: string): boolean {
  const m = IPV4.exec(s);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}
const isU = (n: number, max = Number.MAX_SAFE_INTEGER) => Number.isSafeInteger(n) && n >= 0 && n <= max;

/** What "well-formed" means for each event type. */
function assertWellFormed(e: ProbeEvent): void {
  switch (e.type) {
    case 'hop':
      expect(['ingress', 'egress']).toContain(e.direction);
      for (const n of [e.monoNs, e.netns, e.ifindex, e.length, e.cpu]) expect(isU(n)).toBe(true);
      expect(isU(e.protocol, 255) && isU(e.ipId, 0xffff) && isU(e.srcPort, 0xffff) && isU(e.dstPort, 0xffff)).toBe(true);
      expect(isU(e.tcpFlags, 255) && isU(e.seq, 0xffffffff) && isU(e.icmpType, 255) && isU(e.icmpCode, 255)).toBe(true);
      expect(isIp(e.saddr) && isIp(e.daddr)).toBe(true);
      expect(e.skb).toMatch(/^\d{1,20}$/);
      expect(e.ifname.length).toBeGreaterThan(0);
      expect(e.ifname).toMatch(PRINTABLE);
      break;
    case 'drop':
      for (const n of [e.monoNs, e.netns, e.ifindex, e.cpu]) expect(isU(n)).toBe(true);
      expect(isU(e.reason, 0xffffffff) && isU(e.protocol, 255) && isU(e.ipId, 0xffff)).toBe(true);
      expect(Number.isInteger(e.fibErr) && Math.abs(e.fibErr) < 10_000).toBe(true);
      expect(isIp(e.saddr) && isIp(e.daddr)).toBe(true);
      expect(e.skb).toMatch(/^\d{1,20}$/);
      break;
    case 'fdb':
      expect(['update', 'add', 'external', 'delete']).toContain(e.op);
      expect(e.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      expect(isU(e.vid, 4095) && isU(e.monoNs) && isU(e.taskNetns)).toBe(true);
      for (const s of [e.bridge, e.port]) if (s !== undefined) expect(s).toMatch(PRINTABLE);
      break;
    case 'neigh-failed':
      expect(isIp(e.address)).toBe(true);
      expect(e.device).toMatch(PRINTABLE);
      expect(isU(e.monoNs) && isU(e.family) && isU(e.state)).toBe(true);
      break;
    case 'counter':
      expect(e.name).toMatch(/^[a-z_][a-z0-9_]*$/);
      expect(e.keys.every((k) => isU(k)) && isU(e.value)).toBe(true);
      break;
    case 'lost':
      expect(isU(e.count)).toBe(true);
      break;
    case 'ready':
      expect(e.group).toMatch(/^[a-z0-9-]+$/);
      break;
  }
}

const rawLe = (ip: string) => {
  const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
  return (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
};

/** An event printed back as its probe prints it (the inverse of the decoder's conversions). */
function encode(e: ProbeEvent): string {
  switch (e.type) {
    case 'hop': {
      const ported = e.protocol === 6 || e.protocol === 17;
      const icmp = e.protocol === 1;
      const l4a = ported ? swap16(e.srcPort) : icmp ? e.icmpType | (e.icmpCode << 8) : 0;
      const l4b = ported ? swap16(e.dstPort) : 0;
      const seq = e.protocol === 6 || icmp ? swap32(e.seq) : 0;
      return ['H', e.direction === 'ingress' ? 'I' : 'E', e.monoNs, e.netns, e.ifindex, e.ifname, e.skb, rawLe(e.saddr), rawLe(e.daddr), e.protocol, swap16(e.ipId), l4a, l4b, e.tcpFlags, seq, e.length, e.cpu].join(' ');
    }
    case 'drop':
      return ['D', e.monoNs, e.netns, e.ifindex, e.skb, e.reason, rawLe(e.saddr), rawLe(e.daddr), e.protocol, swap16(e.ipId), e.cpu, e.fibErr].join(' ');
    case 'fdb':
      return ['B', { update: 'U', add: 'A', external: 'X', delete: 'D' }[e.op], e.monoNs, e.bridge ?? '-', e.port ?? 'null', e.mac, e.vid, e.taskNetns].join(' ');
    case 'neigh-failed':
      return ['N', e.monoNs, e.device, e.family, e.address, e.state].join(' ');
    case 'counter':
      return `@${e.name}${e.keys.length ? `[${e.keys.join(', ')}]` : ''}: ${e.value}`;
    case 'lost':
      return `Lost ${e.count} events`;
    case 'ready':
      return `HOPSCOPE_READY ${e.group}`;
  }
}

const devName = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.@'.split('')), minLength: 1, maxLength: 15 });
const skb = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);
/** Valid records, field values drawn over their whole range. */
const validRecord = fc.oneof(
  fc.tuple(fc.constantFrom('I', 'E'), safeU, safeU, safeU, devName, skb, u(0xffffffff), u(0xffffffff), fc.oneof(fc.constantFrom(1, 6, 17), u(255)), u(0xffff), u(0xffff), u(0xffff), safeU, u(0xffffffff), safeU, safeU).map(
    ([dir, ...f]) => ['H', dir, ...f].join(' '),
  ),
  fc.tuple(safeU, safeU, safeU, skb, u(0xffffffff), u(0xffffffff), u(0xffffffff), u(255), u(0xffff), safeU, fc.integer({ min: -9999, max: 9999 })).map((f) => ['D', ...f].join(' ')),
  fc.tuple(fc.constantFrom('U', 'A', 'X', 'D'), safeU, fc.oneof(devName, fc.constant('-')), fc.oneof(devName, fc.constant('null')), fc.array(u(255), { minLength: 6, maxLength: 6 }), u(4095), safeU).map(
    ([op, mono, br, port, mac, vid, ns]) => ['B', op, mono, br, port, mac.map((b) => b.toString(16).padStart(2, '0')).join(':'), vid, ns].join(' '),
  ),
  fc.tuple(safeU, devName, safeU, fc.array(u(255), { minLength: 4, maxLength: 4 }), safeU).map(([m, d, fam, a, st]) => ['N', m, d, fam, a.join('.'), st].join(' ')),
  fc.tuple(fc.stringMatching(/^[a-z_][a-z0-9_]{0,20}$/), fc.array(safeU, { maxLength: 8 }), safeU).map(([n, k, v]) => `@${n}${k.length ? `[${k.join(', ')}]` : ''}: ${v}`),
  u(Number.MAX_SAFE_INTEGER).map((n) => `Lost ${n} events`),
  u(Number.MAX_SAFE_INTEGER).map((n) => JSON.stringify({ type: 'lost_events', data: { events: n } })),
);

const decodes = (line: string): DecodeResult => {
  try {
    return decodeLine(line);
  } catch (e) {
    throw new Error(`decodeLine threw on ${JSON.stringify(line)}: ${String(e)}`);
  }
};

describe('decodeLine properties', () => {
  it('never throws, and whatever it accepts is well-formed', () => {
    fc.assert(
      fc.property(anyLine, (line) => {
        const r = decodes(line);
        if (r.ok) assertWellFormed(r.event);
        else expect(typeof r.error).toBe('string');
      }),
      RUNS,
    );
  });

  it('accepts every valid record; re-encoded it decodes to the same event', () => {
    fc.assert(
      fc.property(validRecord, (line) => {
        const r = decodes(line);
        if (!r.ok) throw new Error(`rejected ${line}: ${r.error}`);
        assertWellFormed(r.event);
        const again = decodes(encode(r.event));
        expect(again).toEqual(r);
      }),
      RUNS,
    );
  });

  it('device names from the kernel come out printable, whatever bytes they hold', () => {
    const anyName = fc.string({ unit: 'binary', minLength: 1, maxLength: 15 }).filter((s) => !/[ /]/.test(s) && s.trimEnd() === s);
    fc.assert(
      fc.property(anyName, (name) => {
        for (const line of [
          `H E 1 2 3 ${name} 4 16777343 16777343 1 0 8 0 0 0 64 0`,
          `B U 1 ${name} ${name} aa:bb:cc:dd:ee:ff 0 1`,
          `N 1 ${name} 2 10.0.0.1 32`,
        ]) {
          const r = decodes(line);
          if (r.ok) {
            assertWellFormed(r.event);
            expect(JSON.stringify(r.event)).not.toMatch(/[\u0000-\u001f\u007f-\uffff]/);
          }
        }
      }),
      RUNS,
    );
  }, 30_000); // 10,000 runs x 3 records: seconds on a busy shared machine
});
