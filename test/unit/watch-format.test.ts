import { describe, expect, it } from 'vitest';
import { clockTime, colorWanted, formatDuration, formatTraceLine } from '../../src/watch/format-trace-line.js';
import { sanitizeText } from '../../src/watch/sanitize-text.js';
import { hop, receiverHalf, sameNode, T0 } from '../fixtures/watch-traces.js';

const ESC = '\u001b';
/** The SGR colour sequences the formatter itself adds. */
const SGR = /\u001b\[[0-9;]*m/g;

function localClock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

describe('formatTraceLine without colour', () => {
  it('prints time, endpoints, protocol, path, each hop with its delta, outcome and latency', () => {
    expect(formatTraceLine(sameNode(), { color: false })).toBe(
      `${localClock(1795666625439)} default/pod-1-1 -> default/pod-1-2 ICMP echo-request same-node ` +
        '[node-1] pod:egress(eth0) > veth:ingress(veth1p1) +10.0µs > veth:egress(veth1p2) +2.0µs > pod:ingress(eth0) +1.24ms ' +
        '=> delivered 1.25ms',
    );
  });

  it('shows IP:port for addresses without a pod, TCP flags, the drop reason and each node of a joined trace', () => {
    const line = formatTraceLine(
      receiverHalf({
        src: { ip: '192.168.254.9', port: 43210 },
        dst: { ip: '10.244.2.11', port: 8080, pod: 'web', namespace: 'shop' },
        protocol: 'TCP',
        packet: { ip_id: 1, length: 60, tcp_flags: 'SYN', tcp_seq: 5 },
        hops: [hop('node-1', 'uplink', 'egress', 'eth0', T0, 0), hop('node-2', 'uplink', 'ingress', 'eth0', T0 + 900n, 900)],
        outcome: 'dropped',
        reason: 'NETFILTER_DROP',
        latency_ns: 900,
      }),
      { color: false },
    );
    expect(line).toBe(
      `${localClock(1795666625439)} 192.168.254.9:43210 -> shop/web:8080 TCP [SYN] cross-node [node-1] uplink:egress(eth0) > [node-2] uplink:ingress(eth0) +900ns => dropped (NETFILTER_DROP) 900ns`,
    );
    expect(line).not.toContain(ESC);
  });
});

describe('formatTraceLine with colour', () => {
  it('colours the outcome by kind and adds nothing but SGR sequences', () => {
    const delivered = formatTraceLine(sameNode(), { color: true });
    expect(delivered).toContain(`${ESC}[32mdelivered${ESC}[0m`);
    expect(delivered.replace(SGR, '')).toBe(formatTraceLine(sameNode(), { color: false }));
    const dropped = formatTraceLine(sameNode({ outcome: 'dropped', reason: 'IP_INNOROUTES' }), { color: true });
    expect(dropped).toContain(`${ESC}[31m${ESC}[1mdropped (IP_INNOROUTES)${ESC}[0m`);
  });
});

describe('sanitising what the agent sent', () => {
  const hostile = sameNode({
    src: { ip: '10.244.1.11', pod: 'pod\nfake line', namespace: 'default' },
    hops: [hop('node-1', 'pod', 'egress', '\u001b[2J', T0, 0), hop('node\u001b]0;owned\u0007', 'veth', 'ingress', 'veth\u202ex', T0 + 5n, 5)],
    reason: 'A\u009b31mB',
    outcome: 'dropped',
  });

  it('shows control characters as escapes, with or without colour', () => {
    for (const color of [false, true]) {
      const line = formatTraceLine(hostile, { color });
      expect(line.replace(SGR, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
      expect(line).toContain('pod:egress(\\x1b[2J)');
      expect(line).toContain('default/pod\\x0afake line');
      expect(line).toContain('[node\\x1b]0;owned\\x07]');
      expect(line).toContain('(veth\\u202ex)');
      expect(line).toContain('dropped (A\\x9b31mB)');
    }
  });

  it('escapes C0, DEL, C1, line separators, bidi controls and the backslash; keeps other text', () => {
    expect(sanitizeText('\u001b[2J')).toBe('\\x1b[2J');
    expect(sanitizeText('a\tb\rc\u007fd\u0085e\u2028f\u2066g')).toBe('a\\x09b\\x0dc\\x7fd\\x85e\\u2028f\\u2066g');
    expect(sanitizeText('C:\\x1b')).toBe('C:\\\\x1b');
    expect(sanitizeText('veth-äø-µs')).toBe('veth-äø-µs');
    expect(sanitizeText(undefined)).toBe('?');
    expect(sanitizeText({ toString: () => '\u001b' })).toBe('?');
    expect(sanitizeText(42)).toBe('42');
  });
});

describe('pieces', () => {
  it('durations in ns, µs, ms and s, signed; nonsense as ?', () => {
    expect([850, 12_340, 4_560_000, 1_234_000_000, -3_000, Number.NaN, '5'].map(formatDuration)).toEqual(['850ns', '12.3µs', '4.56ms', '1.234s', '-3.0µs', '?', '?']);
  });

  it('clock time is local HH:MM:SS.mmm of the nanosecond string, truncated to the millisecond', () => {
    expect(clockTime(String(T0))).toBe(localClock(1795666625439));
    expect(clockTime('1795666625439999999')).toBe(localClock(1795666625439));
    expect(clockTime('12abc')).toBe('--:--:--.---');
    expect(clockTime(undefined)).toBe('--:--:--.---');
  });

  it('colour only on a TTY, without a non-empty NO_COLOR, and not on a dumb terminal', () => {
    expect(colorWanted({ isTTY: true }, {})).toBe(true);
    expect(colorWanted({ isTTY: false }, {})).toBe(false);
    expect(colorWanted({}, {})).toBe(false);
    expect(colorWanted({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorWanted({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colorWanted({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
  });
});

describe('formatTraceLine through a Service', () => {
  it('names the Service and marks the hop the NAT rewrote', () => {
    const t = sameNode();
    const hops = t.hops.map((h, i) => (i === 2 ? { ...h, nat: 'dnat' as const } : i < 2 ? { ...h, daddr: '10.96.1.12', dport: 80 } : h));
    const line = formatTraceLine({ ...t, hops, service: { namespace: 'default', name: 'echo-1-2', ip: '10.96.1.12', port: 80 } }, { color: false });
    expect(line).toContain('default/pod-1-1 -> default/pod-1-2 via service default/echo-1-2:80 ICMP');
    expect(line).toContain('veth:ingress(veth1p1) +10.0µs > {dnat} veth:egress(veth1p2) +2.0µs > pod:ingress(eth0)');
  });
});
