import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DropReasons } from '../../src/decode/drop-reasons.js';

/** The shape of a 6.x skb:kfree_skb format file, cut down. */
const FORMAT = `name: kfree_skb
ID: 1543
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:void * skbaddr;	offset:8;	size:8;	signed:0;
	field:enum skb_drop_reason reason;	offset:36;	size:4;	signed:0;

print fmt: "skbaddr=%p rx_sk=%p protocol=%u location=%pS reason: %s", REC->skbaddr, REC->rx_sk, REC->protocol, REC->location, __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" }, { 54, "IP_OUTNOROUTES" }, { 88, "IP_INNOROUTES" }, { 104, "QUEUE_PURGE" })
`;

describe('DropReasons.parse', () => {
  const reasons = DropReasons.parse(FORMAT);

  it('reads every number and name of the symbolic list', () => {
    expect(reasons.size).toBe(5);
    expect(reasons.name(2)).toBe('NOT_SPECIFIED');
    expect(reasons.name(3)).toBe('NO_SOCKET');
    expect(reasons.name(54)).toBe('IP_OUTNOROUTES');
    expect(reasons.name(88)).toBe('IP_INNOROUTES');
    expect(reasons.name(104)).toBe('QUEUE_PURGE');
  });

  it('reads the one-line excerpt of the brief', () => {
    const r = DropReasons.parse(
      'print fmt: "... reason: %s", REC->skbaddr, __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" }, { 88, "IP_INNOROUTES" })',
    );
    expect(r.size).toBe(3);
    expect([2, 3, 88].map((n) => r.name(n))).toEqual(['NOT_SPECIFIED', 'NO_SOCKET', 'IP_INNOROUTES']);
  });

  it('tolerates spacing differences inside the braces', () => {
    const r = DropReasons.parse('__print_symbolic(REC->reason, {2,"NO_SOCKET"}, {  7 ,  "UNIX_SKIP_OOB"  })');
    expect(r.name(2)).toBe('NO_SOCKET');
    expect(r.name(7)).toBe('UNIX_SKIP_OOB');
  });

  it('ignores brace pairs before the reason list', () => {
    const r = DropReasons.parse('print fmt: "%s", __print_symbolic(REC->other, { 1, "OTHER_THING" }), __print_symbolic(REC->reason, { 5, "SOCKET_FILTER" })');
    expect(r.size).toBe(1);
    expect(r.name(1)).toBe('REASON_1');
    expect(r.name(5)).toBe('SOCKET_FILTER');
  });

  it('knows nothing from a format without a reason list', () => {
    for (const text of ['', 'print fmt: "skbaddr=%p protocol=%u location=%p", REC->skbaddr, REC->protocol, REC->location', 'garbage { 2, "X" }']) {
      const r = DropReasons.parse(text);
      expect(r.size, text).toBe(0);
      expect(r.name(2)).toBe('REASON_2');
    }
  });
});

describe('DropReasons.name', () => {
  it('names unknown numbers REASON_<n>', () => {
    const r = DropReasons.parse(FORMAT);
    expect(r.name(1)).toBe('REASON_1');
    expect(r.name(0)).toBe('REASON_0');
    expect(r.name(999)).toBe('REASON_999');
    expect(new DropReasons(new Map()).name(88)).toBe('REASON_88');
  });
});

describe('DropReasons.isRouteMiss', () => {
  const r = DropReasons.parse(FORMAT);

  it('is true for the no-route reasons, by name', () => {
    expect(r.isRouteMiss(88)).toBe(true);
    expect(r.isRouteMiss(54)).toBe(true);
  });

  it('is false for other reasons and unknown numbers', () => {
    expect(r.isRouteMiss(2)).toBe(false);
    expect(r.isRouteMiss(3)).toBe(false);
    expect(r.isRouteMiss(104)).toBe(false);
    expect(r.isRouteMiss(89)).toBe(false);
  });

  it('follows the names, not the numbers, of this kernel', () => {
    const other = new DropReasons(new Map([[88, 'NO_SOCKET'], [61, 'IP_INNOROUTES'], [62, 'IPV6_OUTNOROUTES']]));
    expect(other.isRouteMiss(88)).toBe(false);
    expect(other.isRouteMiss(61)).toBe(true);
    expect(other.isRouteMiss(62)).toBe(true);
  });
});

describe('DropReasons.fromKernel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hopscope-drop-reasons-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a format file from a path', () => {
    const path = join(dir, 'format');
    writeFileSync(path, FORMAT);
    const r = DropReasons.fromKernel(path);
    expect(r.size).toBe(5);
    expect(r.isRouteMiss(88)).toBe(true);
  });

  it('knows nothing, without throwing, when the file cannot be read', () => {
    const r = DropReasons.fromKernel(join(dir, 'missing'));
    expect(r.size).toBe(0);
    expect(r.name(88)).toBe('REASON_88');
  });
});
