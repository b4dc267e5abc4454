/**
 * Hop lines with the `encap` field (probes/hops.bt, VXLAN): an 18th field that is 0 or the tunnel's UDP port; lines
 * of 17 fields (older probes) still decode, exactly as before. Lines recorded in a 2x2 `--overlay vxlan` lab.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeLine } from '../../src/decode/decode-line.js';
import type { HopEvent } from '../../src/decode/probe-event.js';

const RECORDED = readFileSync(new URL('../fixtures/recorded/lab-2x2-vxlan-icmp.txt', import.meta.url), 'utf8').trimEnd().split('\n');
const OUTER_EGRESS = 'H E 10256744197883 4026532246 2 eth0 18446612686455296000 184677386 184742922 1 23011 8 27432 0 16841333 148 1 8472';

function hop(line: string): HopEvent {
  const r = decodeLine(line);
  if (!r.ok) throw new Error(r.error);
  if (r.event.type !== 'hop') throw new Error(r.event.type);
  return r.event;
}

describe('decoding the encap field', () => {
  it('an encapsulated uplink hop: the inner packet\'s identity, the outer length, encap = the VXLAN port', () => {
    expect(hop(OUTER_EGRESS)).toEqual({
      type: 'hop', direction: 'egress', monoNs: 10256744197883, netns: 4026532246, ifindex: 2, ifname: 'eth0', skb: '18446612686455296000',
      saddr: '10.244.1.11', daddr: '10.244.2.11', protocol: 1, ipId: swap(23011), srcPort: 0, dstPort: 0, tcpFlags: 0,
      seq: 30202 * 65536 + 1, icmpType: 8, icmpCode: 0, length: 148, cpu: 1, encap: 8472,
    });
  });

  it('encap 0 and a 17-field line decode to the same event, without the field', () => {
    const plain = 'H E 10256744183031 4026532246 6 flannel.1 18446612686455296000 184677386 184742922 1 23011 8 27432 0 16841333 98 1 0';
    const old = plain.slice(0, -2);
    expect(hop(plain)).toEqual(hop(old));
    expect('encap' in hop(plain)).toBe(false);
    expect(hop(old).ifname).toBe('flannel.1');
  });

  it('the single-scan path and the general decoder agree on every recorded line', () => {
    const lines = RECORDED.filter((l) => l.startsWith('H '));
    expect(lines).toHaveLength(20);
    for (const line of lines) expect(decodeLine(line)).toEqual(decodeLine(`${line} `));
    expect(lines.map(hop).filter((e) => e.encap === 8472).map((e) => `${e.ifname}:${e.direction}`)).toEqual([
      'eth0:egress', 'eth0:ingress', 'eth0:egress', 'eth0:ingress',
    ]);
  });

  it('rejects a bad encap field or a 19th field with a clear error, on both paths', () => {
    for (const bad of [`${OUTER_EGRESS.slice(0, -4)}65536`, `${OUTER_EGRESS.slice(0, -4)}x`, `${OUTER_EGRESS} 1`, `${OUTER_EGRESS.slice(0, -4)}-1`]) {
      const r = decodeLine(bad);
      expect(r.ok).toBe(false);
      expect(decodeLine(`${bad} `)).toEqual(r);
    }
    expect(decodeLine(`${OUTER_EGRESS} 1`)).toEqual({ ok: false, error: 'hop record has 19 fields, expected 17 or 18' });
    expect(decodeLine(`${OUTER_EGRESS.slice(0, -4)}65536`)).toEqual({ ok: false, error: 'hop record has a field out of range' });
  });
});

/** The probe prints network-order 16-bit values as a little-endian CPU reads them. */
function swap(v: number): number {
  return ((v & 0xff) << 8) | (v >> 8);
}
