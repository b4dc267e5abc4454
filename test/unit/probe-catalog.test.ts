import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composeScript, PROBE_GROUPS, PROBES_DIR, readProbeSource, type ProbeGroup } from '../../src/probes/probe-catalog.js';

function group(name: string): ProbeGroup {
  const g = PROBE_GROUPS.find((p) => p.name === name);
  if (!g) throw new Error(`no probe group ${name}`);
  return g;
}

const HOPS = group('hops');
const DROPS = group('drops');
const ALL = () => true;
const NONE = () => false;

const SOURCE = [
  '/*',
  ' * test.bt - a small script.',
  ' * Traces: tracepoint:a:one and tracepoint:b:two',
  ' */',
  'BEGIN',
  '{',
  '  printf("HOPSCOPE_READY test\\n");',
  '}',
  '',
  'tracepoint:a:one',
  '{',
  '  printf("one\\n");',
  '}',
  '',
  'tracepoint:b:two',
  '/args->x > 2/',
  '{',
  '  printf("two\\n");',
  '}',
  '',
  'tracepoint:c:three_3',
  '{',
  '  printf("three\\n");',
  '}',
].join('\n');

describe('composeScript', () => {
  it('keeps everything when every tracepoint exists, header comment replaced', () => {
    const c = composeScript(HOPS, SOURCE, ALL);
    expect(c.attached).toEqual(['a:one', 'b:two', 'c:three_3']);
    expect(c.missing).toEqual([]);
    expect(c.group).toBe(HOPS);
    expect(c.script.startsWith('// hopscope probe group hops\nBEGIN\n')).toBe(true);
    expect(c.script).not.toContain('/*');
    expect(c.script).not.toContain('a small script');
    expect(c.script).toContain('printf("one\\n")');
    expect(c.script).toContain('/args->x > 2/');
    expect(c.script).toContain('printf("three\\n")');
  });

  it('leaves out the whole block of a missing tracepoint, up to the next block', () => {
    const c = composeScript(HOPS, SOURCE, (tp) => tp !== 'b:two');
    expect(c.attached).toEqual(['a:one', 'c:three_3']);
    expect(c.missing).toEqual(['b:two']);
    expect(c.script).not.toContain('tracepoint:b:two');
    expect(c.script).not.toContain('args->x');
    expect(c.script).not.toContain('printf("two\\n")');
    expect(c.script).toContain('tracepoint:a:one\n{\n  printf("one\\n");\n}\n\ntracepoint:c:three_3\n');
  });

  it('keeps only the preamble when no tracepoint exists', () => {
    const c = composeScript(DROPS, SOURCE, NONE);
    expect(c.attached).toEqual([]);
    expect(c.missing).toEqual(['a:one', 'b:two', 'c:three_3']);
    expect(c.script).toBe('// hopscope probe group drops\nBEGIN\n{\n  printf("HOPSCOPE_READY test\\n");\n}\n');
  });

  it('asks about each tracepoint by its group:name', () => {
    const asked: string[] = [];
    composeScript(HOPS, SOURCE, (tp) => {
      asked.push(tp);
      return true;
    });
    expect(asked).toEqual(['a:one', 'b:two', 'c:three_3']);
  });

  it('starts blocks only at column 0 (the header mentions tracepoints too)', () => {
    const c = composeScript(HOPS, '  tracepoint:x:y\nBEGIN { }\n', NONE);
    expect(c.attached).toEqual([]);
    expect(c.missing).toEqual([]);
    expect(c.script).toBe('  tracepoint:x:y\nBEGIN { }\n');
  });
});

describe('composeScript on the real probe files', () => {
  it('finds probes/ from the source tree', () => {
    expect(existsSync(`${PROBES_DIR}hops.bt`)).toBe(true);
    expect(existsSync(`${PROBES_DIR}drops.bt`)).toBe(true);
  });

  it('each group file attaches exactly the tracepoints its group declares', () => {
    for (const g of PROBE_GROUPS) {
      const c = composeScript(g, readProbeSource(g), ALL);
      expect(c.attached, g.name).toEqual(g.tracepoints);
      expect(c.missing, g.name).toEqual([]);
    }
  });

  it('hops.bt: all present keeps BEGIN, both blocks, and drops the header comment', () => {
    const source = readProbeSource(HOPS);
    expect(source.startsWith('/*')).toBe(true);
    const c = composeScript(HOPS, source, ALL);
    expect(c.script.startsWith('// hopscope probe group hops\n')).toBe(true);
    expect(c.script).not.toMatch(/\/\*|\*\//);
    expect(c.script).not.toContain('Example:');
    expect(c.script).toContain('printf("HOPSCOPE_READY hops\\n");');
    expect(c.script).toContain('\ntracepoint:net:netif_receive_skb\n');
    expect(c.script).toContain('\ntracepoint:net:net_dev_queue\n');
    expect(c.script).toContain('printf("H I ');
    expect(c.script).toContain('printf("H E ');
  });

  it('hops.bt without net_dev_queue keeps ingress only', () => {
    const c = composeScript(HOPS, readProbeSource(HOPS), (tp) => tp !== 'net:net_dev_queue');
    expect(c.attached).toEqual(['syscalls:sys_enter_kill', 'net:netif_receive_skb']);
    expect(c.missing).toEqual(['net:net_dev_queue']);
    expect(c.script).toContain('printf("H I ');
    expect(c.script).not.toContain('printf("H E ');
    expect(c.script).not.toContain('net_dev_queue');
    expect(c.script).toContain('HOPSCOPE_READY hops');
  });

  it('hops.bt without netif_receive_skb keeps egress only', () => {
    const c = composeScript(HOPS, readProbeSource(HOPS), (tp) => tp !== 'net:netif_receive_skb');
    expect(c.attached).toEqual(['syscalls:sys_enter_kill', 'net:net_dev_queue']);
    expect(c.script).not.toContain('printf("H I ');
    expect(c.script).toContain('printf("H E ');
  });

  it('drops.bt without kfree_skb is only the preamble', () => {
    const c = composeScript(DROPS, readProbeSource(DROPS), NONE);
    expect(c.attached).toEqual([]);
    expect(c.missing).toEqual(['fib:fib_table_lookup', 'skb:kfree_skb', 'fib6:fib6_table_lookup']);
    expect(c.script).toContain('HOPSCOPE_READY drops');
    expect(c.script).not.toContain('kfree_skb');
    expect(c.script).not.toContain('printf("D ');
    expect(c.script.trim().endsWith('}')).toBe(true);
  });

  it('drops.bt with kfree_skb keeps its predicate', () => {
    const c = composeScript(DROPS, readProbeSource(DROPS), ALL);
    expect(c.script).toContain('tracepoint:skb:kfree_skb\n/args->reason >= $1 && args->protocol == 0x0800/\n');
    expect(c.script).toContain('tracepoint:fib:fib_table_lookup\n');
    expect(c.script).toContain('printf("D ');
  });

  it('the groups and their files', () => {
    expect(PROBE_GROUPS.map((g) => [g.name, g.file])).toEqual([
      ['hops', 'hops.bt'],
      ['drops', 'drops.bt'],
      ['bridge', 'bridge.bt'],
      ['neigh', 'neigh.bt'],
    ]);
    expect(() => readProbeSource({ ...HOPS, file: 'no-such.bt' })).toThrow(/ENOENT/);
  });
});

describe('composeScript block boundaries', () => {
  it('ends a block at any probe line, so blocks after a missing tracepoint survive', () => {
    const c = composeScript(HOPS, 'BEGIN { }\ntracepoint:a:b\n{ }\nEND\n{ printf("bye"); }\n', () => false);
    expect(c.script).toContain('END');
    expect(c.script).not.toContain('tracepoint:a:b');
  });

  it('drops a block that lists several tracepoints when any is missing', () => {
    const c = composeScript(HOPS, 'tracepoint:x:y,tracepoint:z:w\n{ }\n', (tp) => tp === 'x:y');
    expect(c.attached).toEqual(['x:y']);
    expect(c.missing).toEqual(['z:w']);
    expect(c.script).not.toContain('tracepoint:x:y');
  });
});

describe('hops.bt without the focus channel', () => {
  it('still traces: the trace-on-demand block goes, the hop blocks stay', () => {
    const c = composeScript(HOPS, readProbeSource(HOPS), (tp) => tp !== 'syscalls:sys_enter_kill');
    expect(c.missing).toEqual(['syscalls:sys_enter_kill']);
    expect(c.script).not.toContain('sys_enter_kill');
    expect(c.script).toContain('printf("H I ');
    expect(c.script).toContain('printf("H E ');
    expect(c.script).toContain('@focus_addr = (uint64)0;');
  });
});
