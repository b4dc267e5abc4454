/**
 * Bad input through the agent's real line path: a fake bpftrace (a real child process, run as the runner runs
 * bpftrace) prints 1,000 malformed lines (test/fixtures/malformed-corpus.ts: truncated records, invalid UTF-8,
 * NUL, escape sequences, huge numbers, 1 MiB lines) and then a valid record. The runner splits the output,
 * the agent's line handler decodes and routes it: nothing throws, the child is not restarted,
 * hopscope_decode_errors_total grows by exactly 1,000, and the next valid line is an event. Kernel text with
 * control characters reaches the trace (REST, stream, web view) escaped.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { probeLineHandler } from '../../agent/probe-lines.js';
import { FixedWallClock } from '../../src/clock/wall-clock.js';
import { decodeLine } from '../../src/decode/decode-line.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import { AgentMetrics } from '../../src/export/metrics.js';
import { NodeCounters } from '../../src/model/node-counters.js';
import { PROBE_GROUPS } from '../../src/probes/probe-catalog.js';
import { BpftraceProcess } from '../../src/runner/bpftrace-process.js';
import { LineSplitter } from '../../src/runner/line-splitter.js';
import { TraceAssembler } from '../../src/trace/trace-assembler.js';
import type { Trace } from '../../src/trace/trace.js';
import { recordedInventory, recordedScope, RECORDED_NETNS } from '../fixtures/lab-scope.js';
import { MALFORMED_KINDS, malformedCorpus } from '../fixtures/malformed-corpus.js';
import { until } from '../fixtures/until.js';

const FAKE = fileURLToPath(new URL('../fixtures/fake-bpftrace.mjs', import.meta.url));
const REASONS = new DropReasons(new Map([[2, 'NOT_SPECIFIED'], [88, 'IP_INNOROUTES']]));
const dir = mkdtempSync(join(tmpdir(), 'hopscope-corpus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function agentLinePath() {
  const traces: Trace[] = [];
  const counters = new NodeCounters({ node: 'node-1', bridgeName: 'cni0', scope: recordedScope(1), inventory: () => recordedInventory, dropReasons: REASONS, requestRescan: () => undefined });
  const assembler = new TraceAssembler({ node: 'node-1', scope: recordedScope(1), inventory: () => recordedInventory, clock: new FixedWallClock(1_700_000_000_000_000_000n), dropReasons: REASONS, onTrace: (t) => traces.push(t) });
  const metrics = new AgentMetrics(
    { node: 'node-1', bridge: 'cni0', counters, probes: () => [], flowsActive: () => 0, flowsEvicted: () => 0, streamClients: () => 0, streamDropped: () => 0 },
    PROBE_GROUPS.map((g) => g.name),
  );
  const value = async (m: 'events' | 'decodeErrors' | 'eventsLost', probe = 'hops') => (await metrics[m].get()).values.find((v) => v.labels.probe === probe)?.value ?? 0;
  return { traces, assembler, metrics, value, onLine: probeLineHandler(metrics, { assembler, counters }) };
}

describe('the malformed corpus', () => {
  const corpus = malformedCorpus();

  it('has 1,000 lines of every kind, none empty, none a record, some of 1 MiB', () => {
    expect(corpus).toHaveLength(1000);
    for (const kind of MALFORMED_KINDS) expect(corpus.filter((c) => c.kind === kind).length).toBeGreaterThanOrEqual(120);
    expect(corpus.filter((c) => c.line.length >= 1 << 20).length).toBeGreaterThanOrEqual(10);
    expect(corpus.filter((c) => c.line.includes(0)).length).toBeGreaterThanOrEqual(100);
    expect(corpus.filter((c) => c.line.includes(0x1b)).length).toBeGreaterThan(0);
    for (const { line } of corpus) {
      expect(line.length).toBeGreaterThan(0);
      expect(line.includes(10)).toBe(false);
    }
  });

  it('through the runner and the agent\'s line handler: 0 crashes, exactly 1,000 decode errors, then the next valid line parses', async () => {
    const path = agentLinePath();
    const valid = `H E 1000 ${RECORDED_NETNS.pod11} 2 eth0 18446612686453469696 184677386 201454602 1 12545 8 36054 0 16809740 98 1`;
    const file = join(dir, 'corpus.bin');
    writeFileSync(file, Buffer.concat([...corpus.flatMap((c) => [c.line, Buffer.from('\n')]), Buffer.from(`${valid}\n`)]));
    const lines: string[] = [];
    const p = new BpftraceProcess({
      group: 'hops',
      script: JSON.stringify({ print: ['HOPSCOPE_READY hops'], printFile: file }),
      args: [],
      bpftrace: FAKE,
      onLine: (l) => {
        lines.push(l);
        path.onLine('hops', l);
      },
    });
    p.start();
    try {
      await until(() => lines.length === 1002, 20_000);
      expect(p.state).toBe('attached');
      expect(p.restarts).toBe(0);
      expect(await path.value('decodeErrors')).toBe(1000);
      expect(await path.value('events')).toBe(1);
      expect(lines[1001]).toBe(valid);
      // a 1 MiB line reaches the decoder cut to the runner's bound, not whole
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(64 * 1024 + 1);
      expect((await path.metrics.registry.metrics())).toMatch(/hopscope_decode_errors_total\{probe="hops"\} 1000\n/);
    } finally {
      await p.stop(500);
    }
  });

  it('every corpus line, decoded directly, is an error and never a throw', () => {
    for (const { line } of corpus) expect(decodeLine(line.toString('utf8')).ok).toBe(false);
  });
});

describe('LineSplitter', () => {
  it('splits on \\n only (a \\r stays in the line), joins chunks, and keeps a last line without \\n', () => {
    const out: string[] = [];
    const s = new LineSplitter((l) => out.push(l));
    s.push(Buffer.from('a\rb\nc'));
    s.push(Buffer.from('d\n\ne'));
    s.end();
    expect(out).toEqual(['a\rb', 'cd', '', 'e']);
  });

  it('bounds a line that never ends: 64 MiB without \\n is one line of the bound, then the next line is whole', () => {
    const out: string[] = [];
    const s = new LineSplitter((l) => out.push(l), 1000);
    const mib = Buffer.alloc(1 << 20, 'x');
    for (let i = 0; i < 64; i++) s.push(mib);
    s.push(Buffer.from('tail\nnext\n'));
    expect(out.map((l) => l.length)).toEqual([1001, 4]);
    expect(out[1]).toBe('next');
  });

  it('bounds a line inside one chunk as it bounds one across chunks: cut one byte past the bound, the rest skipped', () => {
    const out: string[] = [];
    const s = new LineSplitter((l) => out.push(l), 10);
    s.push(Buffer.from(`${'a'.repeat(10)}\n${'b'.repeat(25)}\nc\n`));
    expect(out).toEqual(['a'.repeat(10), 'b'.repeat(11), 'c']);
  });

  it('a line of exactly the bound whose \\n comes in the next chunk is one line', () => {
    const out: string[] = [];
    const s = new LineSplitter((l) => out.push(l), 10);
    s.push(Buffer.from('a'.repeat(10)));
    s.push(Buffer.from('\nnext\n'));
    expect(out).toEqual(['a'.repeat(10), 'next']);
  });

  it('turns invalid UTF-8 into U+FFFD, also across chunk boundaries', () => {
    const out: string[] = [];
    const s = new LineSplitter((l) => out.push(l));
    s.push(Buffer.from([0x61, 0xe2, 0x82]));
    s.push(Buffer.from([0xac, 0x0a, 0xff, 0x0a]));
    expect(out).toEqual(['a\u20ac', '\ufffd']);
  });
});

describe('kernel text reaches traces escaped', () => {
  it('an interface name holding an escape sequence and a newline-free bidi override is shown as \\xNN', () => {
    const path = agentLinePath();
    const skb = '18446612686453469700';
    // a veth hop pair on node 1 whose kernel-reported name holds ESC [2J; the pod-side hops carry normal names
    const hop = (dir: 'E' | 'I', netns: number, ifindex: number, name: string, t: number) =>
      `H ${dir} ${t} ${netns} ${ifindex} ${name} ${skb} 184677386 201454602 1 12545 8 36054 0 16809740 98 1`;
    path.onLine('hops', hop('E', RECORDED_NETNS.pod11, 2, 'eth0', 1000));
    path.onLine('hops', hop('I', RECORDED_NETNS.node1, 4, 'v\x1b[2J\u202e', 2000));
    const r = decodeLine(hop('I', RECORDED_NETNS.node1, 4, 'v\x1b[2J\u202e', 2000));
    expect(r.ok && r.event.type === 'hop' && r.event.ifname).toBe('v\\x1b[2J\\x202e');
    path.assembler.tick(Number.MAX_SAFE_INTEGER);
    const json = JSON.stringify(path.traces);
    expect(json).not.toMatch(/[\u0000-\u001f\u007f-\uffff]/);
  });
});
