import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseGroupProgram, NATIVE_PROBES, NativeProbeError, type LoaderCheck } from '../../src/probes/native-probes.js';
import { PROBE_GROUPS } from '../../src/probes/probe-catalog.js';

const BUILT = mkdtempSync(join(tmpdir(), 'hopscope-native-'));
for (const p of Object.values(NATIVE_PROBES)) writeFileSync(join(BUILT, p.binary), '#!/bin/sh\n', { mode: 0o755 });
const EMPTY = mkdtempSync(join(tmpdir(), 'hopscope-native-none-'));
const ALL = new Map(PROBE_GROUPS.flatMap((g) => g.tracepoints.map((tp): [string, boolean] => [tp, true])));

/** A check that records its calls and answers `verdict`. */
function checker(verdict: { ok: boolean; detail: string }): LoaderCheck & { calls: string[][] } {
  const calls: string[][] = [];
  return Object.assign(async (loader: string, args: readonly string[]) => (calls.push([loader, ...args]), verdict), { calls });
}

describe('chooseGroupProgram', () => {
  it('auto: native for hops and drops when built, every tracepoint exists and the kernel verifies it, with the group\'s check arguments', async () => {
    const check = checker({ ok: true, detail: 'verified by the kernel' });
    const hops = await chooseGroupProgram('hops', 'auto', ALL, BUILT, check);
    expect(hops).toEqual({ group: 'hops', kind: 'native', loader: join(BUILT, 'hopscope-hops'), why: 'hopscope-hops: verified by the kernel' });
    const drops = await chooseGroupProgram('drops', 'auto', ALL, `${BUILT}/`, check);
    expect(drops).toMatchObject({ kind: 'native', loader: join(BUILT, 'hopscope-drops') });
    expect(check.calls).toEqual([
      [join(BUILT, 'hopscope-hops'), '64', '0', '1'],
      [join(BUILT, 'hopscope-drops'), '2'],
    ]);
  });

  it('a group without a native form runs bpftrace, whatever the choice, without a check', async () => {
    const check = checker({ ok: true, detail: 'x' });
    for (const choice of ['auto', 'native', 'bpftrace'] as const) {
      expect(await chooseGroupProgram('bridge', choice, ALL, BUILT, check)).toEqual({ group: 'bridge', kind: 'bpftrace', why: 'no native form' });
    }
    expect(check.calls).toEqual([]);
  });

  it('bpftrace: bpftrace, without looking at the loader', async () => {
    const check = checker({ ok: true, detail: 'x' });
    expect((await chooseGroupProgram('hops', 'bpftrace', ALL, BUILT, check)).kind).toBe('bpftrace');
    expect(check.calls).toEqual([]);
  });

  it('auto falls back to bpftrace and says why: not built, a tracepoint missing, the kernel refusing', async () => {
    const notBuilt = await chooseGroupProgram('hops', 'auto', ALL, EMPTY, checker({ ok: true, detail: 'x' }));
    expect(notBuilt.kind).toBe('bpftrace');
    expect(notBuilt.why).toContain('not built');
    expect(notBuilt.why).toContain('scripts/build-native.sh');

    const noFib6 = new Map(ALL);
    noFib6.set('fib6:fib6_table_lookup', false);
    const check = checker({ ok: true, detail: 'x' });
    const missingTp = await chooseGroupProgram('drops', 'auto', noFib6, BUILT, check);
    expect(missingTp.kind).toBe('bpftrace');
    expect(missingTp.why).toContain('fib6:fib6_table_lookup');
    expect(check.calls).toEqual([]);
    // the other group is not affected
    expect((await chooseGroupProgram('hops', 'auto', noFib6, BUILT, check)).kind).toBe('native');

    const refused = await chooseGroupProgram('hops', 'auto', ALL, BUILT, checker({ ok: false, detail: 'hopscope-hops: needs BTF' }));
    expect(refused.kind).toBe('bpftrace');
    expect(refused.why).toContain('needs BTF');
    expect(refused.why).toContain('bpftrace script');
  });

  it('native insists: a NativeProbeError that names the group and what is missing', async () => {
    await expect(chooseGroupProgram('hops', 'native', ALL, EMPTY)).rejects.toThrow(NativeProbeError);
    await expect(chooseGroupProgram('hops', 'native', ALL, EMPTY)).rejects.toThrow(/--probes native: probe group hops: .*not built/);
    await expect(chooseGroupProgram('drops', 'native', ALL, BUILT, checker({ ok: false, detail: 'cannot load: Operation not permitted' }))).rejects.toThrow(
      '--probes native: probe group drops: cannot load: Operation not permitted',
    );
  });
});
