import { describe, expect, it } from 'vitest';
import { rawAddress, rawPieces6, TraceFocus, type FocusCommand } from '../../src/focus/trace-focus.js';
import { ipv6FromRawLe, parseIpv6 } from '../../src/net/ipv6.js';
import { parseSubscription } from '../../src/stream/subscription.js';

function focus() {
  const sent: FocusCommand[] = [];
  const f = new TraceFocus({ send: (c) => (sent.push(c), true), available: () => true, budgetEventsPerSecond: 5000, now: () => 0 });
  return { f, sent };
}
const owner = {};

describe('trace on demand: the commands the hops probe gets', () => {
  it('IPv4: clear, port, then the address low half and the high half that arms it', () => {
    const { f, sent } = focus();
    expect(f.request(owner, { ip: '10.244.1.11', port: 8080 }, 5)).toMatchObject({ granted: { ip: '10.244.1.11', port: 8080 } });
    const raw = rawAddress('10.244.1.11');
    expect(sent).toEqual([{ cmd: 3, data: 0 }, { cmd: 2, data: 0x901f }, { cmd: 0, data: raw & 0xffff }, { cmd: 1, data: raw >>> 16 }]);
  });

  it('IPv6: eight pieces (sub 1..8) that the probe reassembles into the header words it reads, then the arming command', () => {
    const { f, sent } = focus();
    expect(f.request(owner, { ip: 'fd00:10:244:2::11' }, 5)).toMatchObject({ granted: { ip: 'fd00:10:244:2::11' } });
    const pieces = sent.filter((c) => c.cmd === 0);
    expect(pieces.map((c) => c.sub)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(sent.at(-1)).toEqual({ cmd: 1, sub: 1, data: 0 });
    // the probe's words, read as the decoder reads an address from the same memory, give the address back
    const d = pieces.map((c) => c.data);
    const u32 = (i: number) => ((d[i]! | (d[i + 1]! << 16)) >>> 0);
    expect(ipv6FromRawLe(u32(0), u32(2), u32(4), u32(6))).toBe('fd00:10:244:2::11');
    expect(rawPieces6(parseIpv6('::1')!)).toEqual([0, 0, 0, 0, 0, 0, 0, 0x0100]);
  });

  it('a dual-stack pod: both addresses armed at once', () => {
    const { f, sent } = focus();
    expect(f.request(owner, { ip: '10.244.2.11', ips: ['10.244.2.11', 'fd00:10:244:2::11'] }, 5)).toMatchObject({ granted: { ip: '10.244.2.11', ips: ['10.244.2.11', 'fd00:10:244:2::11'] } });
    expect(sent.filter((c) => c.cmd === 1)).toEqual([{ cmd: 1, data: rawAddress('10.244.2.11') >>> 16 }, { cmd: 1, sub: 1, data: 0 }]);
    // the previous widening cleared and the port set before anything is armed
    expect(sent.slice(0, 2)).toEqual([{ cmd: 3, data: 0 }, { cmd: 2, data: 0 }]);
    expect(sent.findIndex((c) => c.sub === 1 && c.cmd === 0)).toBeGreaterThan(sent.findIndex((c) => c.cmd === 1 && c.sub === undefined));
  });

  it('refuses what is no address, and two of one family', () => {
    const { f, sent } = focus();
    expect(f.request(owner, { ip: 'fd00::zz' }, 5)).toEqual({ refused: '"fd00::zz" is not an IPv4 or IPv6 address' });
    expect(f.request(owner, { ip: '10.0.0.1', ips: ['10.0.0.1', '10.0.0.2'] }, 5)).toEqual({ refused: 'at most one IPv4 and one IPv6 address at a time' });
    expect(sent).toEqual([]);
  });

  it('the stream accepts an IPv6 trace_all.ip, in canonical form, and still refuses what is neither', () => {
    const ok = parseSubscription(JSON.stringify({ filter: {}, trace_all: { ip: 'FD00:10:244:2:0:0:0:11', seconds: 5 } }));
    expect(ok).toMatchObject({ ok: true, subscription: { traceAll: { ip: 'fd00:10:244:2::11' } } });
    expect(parseSubscription(JSON.stringify({ filter: {}, trace_all: { ip: 'not-an-ip', seconds: 5 } }))).toEqual({ ok: false, error: 'trace_all.ip: an IPv4 or IPv6 address' });
  });
});
