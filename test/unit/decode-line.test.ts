import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeLine, escapeControl } from '../../src/decode/decode-line.js';

const RECORDED = readFileSync(new URL('../fixtures/recorded/lab-2x2-icmp.txt', import.meta.url), 'utf8').trimEnd().split('\n');
const HOP = 'H E 604485174065 4026532315 2 eth0 18446612686453469696 184677386 201454602 1 12545 8 36054 0 16809740 98 1';

describe('decodeLine', () => {
  it('decodes a recorded egress hop field for field, in host order', () => {
    const r = decodeLine(HOP);
    expect(r).toEqual({
      ok: true,
      event: {
        type: 'hop', direction: 'egress', monoNs: 604485174065, netns: 4026532315, ifindex: 2, ifname: 'eth0',
        skb: '18446612686453469696', saddr: '10.244.1.11', daddr: '10.244.1.12', protocol: 1, ipId: 0x0131,
        srcPort: 0, dstPort: 0, tcpFlags: 0, seq: ((0x0c7f << 16) | 1) >>> 0, icmpType: 8, icmpCode: 0,
        length: 98, cpu: 1,
      },
    });
  });

  it('decodes TCP ports, flags and sequence from network order', () => {
    // 10.244.1.11:40000 -> 10.244.2.11:8080 SYN seq 0x01020304
    const sport = ((40000 & 0xff) << 8) | (40000 >> 8);
    const dport = ((8080 & 0xff) << 8) | (8080 >> 8);
    const r = decodeLine(`H I 5 7 4 veth1p1 99 184677386 184742922 6 256 ${sport} ${dport} 2 ${0x04030201} 60 0`);
    expect(r.ok && r.event.type === 'hop' && r.event).toMatchObject({ srcPort: 40000, dstPort: 8080, tcpFlags: 2, seq: 0x01020304, ipId: 1, direction: 'ingress' });
  });

  it('decodes every line of a real recording', () => {
    const results = RECORDED.map(decodeLine);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.filter((r) => r.ok && r.event.type === 'drop')).toHaveLength(5);
  });

  it('decodes a drop with its reason number', () => {
    const r = decodeLine('D 604494675565 4026532246 3 18446612686537489920 88 184677386 16802570 1 3979 0 0');
    expect(r.ok && r.event).toMatchObject({ type: 'drop', reason: 88, saddr: '10.244.1.11', daddr: '10.99.0.1', netns: 4026532246 });
  });

  it('reads readiness and both shapes of lost-event reports', () => {
    expect(decodeLine('HOPSCOPE_READY hops')).toEqual({ ok: true, event: { type: 'ready', group: 'hops' } });
    expect(decodeLine('Lost 1234 events')).toEqual({ ok: true, event: { type: 'lost', count: 1234 } });
    expect(decodeLine('{"type":"lost_events","data":{"events":77}}')).toEqual({ ok: true, event: { type: 'lost', count: 77 } });
  });

  it.each([
    ['truncated', HOP.slice(0, 40)],
    ['empty', ''],
    ['garbage', 'ERROR: something odd'],
    ['non-numeric address', HOP.replace('184677386', '18467738x')],
    ['address beyond 32 bits', HOP.replace('184677386', '99999999999')],
    ['huge number', HOP.replace('604485174065', '9'.repeat(30))],
    ['bad direction', HOP.replace('H E', 'H X')],
    ['NUL byte', HOP.replace('eth0', 'et\u0000h0').replace(' 98 ', ' 9\u00008 ')],
    ['a 1 MiB line', 'H '.repeat(512 * 1024)],
    ['bad lost record', '{"type":"lost_events","data":{"events":-1}}'],
  ])('rejects a %s line without throwing', (_name, line) => {
    const r = decodeLine(line);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).not.toBe('');
  });

  it('decodes the next valid line after bad ones', () => {
    decodeLine('H '.repeat(512 * 1024));
    decodeLine('\u001b[31mred');
    expect(decodeLine(HOP).ok).toBe(true);
  });

  it('escapes control characters in kernel-supplied names', () => {
    expect(escapeControl('eth\u001b[2J0')).toBe('eth\\x1b[2J0');
    const r = decodeLine(HOP.replace(' eth0 ', ' e\u0007th0 '));
    expect(r.ok && r.event.type === 'hop' && r.event.ifname).toBe('e\\x07th0');
  });
});
