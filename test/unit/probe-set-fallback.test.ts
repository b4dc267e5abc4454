/**
 * ProbeSet with a native loader that cannot run (a stand-in that exits at once) and the fake bpftrace
 * (test/fixtures/fake-bpftrace.mjs, which attaches any composed script): under `--probes auto` the group gives
 * way to its script after NATIVE_TRIES failures and says why; under `--probes native` it keeps retrying the
 * loader.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { NATIVE_TRIES, ProbeSet } from '../../agent/probe-set.js';
import { PROBE_GROUPS } from '../../src/probes/probe-catalog.js';
import { until } from '../fixtures/until.js';

const FAKE = fileURLToPath(new URL('../fixtures/fake-bpftrace.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hopscope-fallback-'));
const BROKEN = join(dir, 'hopscope-hops');
writeFileSync(BROKEN, '#!/bin/sh\necho "hopscope-hops: cannot attach the programs: No such file or directory" >&2\nexit 1\n', { mode: 0o755 });
/** Attaches, then dies: a loader that worked on this kernel. */
const DYING = join(dir, 'dying', 'hopscope-hops');
mkdirSync(join(dir, 'dying'));
writeFileSync(DYING, '#!/bin/sh\necho "HOPSCOPE_READY hops"\nsleep 0.1\nexit 1\n', { mode: 0o755 });
const sets: ProbeSet[] = [];

afterEach(async () => {
  await Promise.all(sets.splice(0).map((s) => s.stop()));
});

function probeSet(fallBackToScript: boolean, loader = BROKEN) {
  const log: string[] = [];
  const lines: string[] = [];
  const set = new ProbeSet({
    bpftrace: FAKE,
    programs: [{ group: 'hops', kind: 'native', loader, why: 'test' }],
    present: new Map(PROBE_GROUPS.flatMap((g) => g.tracepoints.map((tp): [string, boolean] => [tp, true]))),
    args: () => ['1'],
    onLine: (group, line) => lines.push(`${group} ${line}`),
    onStateChange: () => undefined,
    log: (m) => log.push(m),
    fallBackToScript,
  });
  sets.push(set);
  return { set, log, lines };
}

const hops = (set: ProbeSet) => set.views().find((v) => v.name === 'hops');

describe('a native loader that fails', () => {
  it('gives way after 2 failures ("twice" in docs/architecture.md)', () => {
    expect(NATIVE_TRIES).toBe(2);
  });

  it('--probes auto: the group runs its bpftrace script after NATIVE_TRIES failures, and the log says why', async () => {
    const { set, log, lines } = probeSet(true);
    set.start();
    expect(hops(set)).toMatchObject({ native: true, up: false });
    await until(() => hops(set)?.up === true, 10_000);
    expect(hops(set)).toMatchObject({ native: false, up: true });
    // the same process object went on: its restart count (hopscope_probe_restarts_total) carries the loader's tries
    expect(hops(set)?.restarts).toBeGreaterThanOrEqual(NATIVE_TRIES);
    expect(lines).toContain('hops HOPSCOPE_READY hops');
    expect(log).toEqual([
      `probe group hops: its native probe failed ${NATIVE_TRIES} times before attaching (hopscope-hops exited (code 1): hopscope-hops: cannot attach the programs: No such file or directory); running its bpftrace script instead`,
    ]);
  });

  it('--probes native: it keeps retrying the loader and stays down', async () => {
    const { set, log } = probeSet(false);
    set.start();
    // the second failure comes ~1 s after the first (backoff), where auto would have switched
    await until(() => (hops(set)?.restarts ?? 0) >= NATIVE_TRIES, 5000, 'the loader retried');
    expect(hops(set)).toMatchObject({ native: true, up: false });
    expect(log).toEqual([]);
    // between retries the reason is "exited (code 1): ..."; while a retry starts it is the stderr so far: both
    // carry the loader's own message
    expect(set.readiness().reasons.join('\n')).toContain('probe group hops is');
    expect(set.readiness().reasons.join('\n')).toContain('hopscope-hops: cannot attach the programs: No such file or directory');
  });

  it('--probes auto, a loader that has attached once and then keeps dying: restarted, not replaced', async () => {
    const { set, log, lines } = probeSet(true, DYING);
    set.start();
    await until(() => (hops(set)?.restarts ?? 0) >= NATIVE_TRIES + 1, 8000, 'the loader restarted');
    expect(hops(set)?.native).toBe(true);
    expect(lines.filter((l) => l === 'hops HOPSCOPE_READY hops').length).toBeGreaterThanOrEqual(NATIVE_TRIES + 1);
    expect(log).toEqual([]);
  });
});
