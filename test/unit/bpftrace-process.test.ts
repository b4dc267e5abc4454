import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BpftraceProcess, type ProbeState } from '../../src/runner/bpftrace-process.js';
import { until } from '../fixtures/until.js';

const FAKE = fileURLToPath(new URL('../fixtures/fake-bpftrace.mjs', import.meta.url));
const running: BpftraceProcess[] = [];

function fake(script: object, extra: Partial<ConstructorParameters<typeof BpftraceProcess>[0]> = {}) {
  const lines: string[] = [];
  const states: { state: ProbeState; detail: string }[] = [];
  const p = new BpftraceProcess({
    group: 'hops',
    script: JSON.stringify(script),
    args: ['1'],
    bpftrace: FAKE,
    onLine: (l) => lines.push(l),
    onStateChange: (state, detail) => states.push({ state, detail }),
    ...extra,
  });
  running.push(p);
  return { p, lines, states };
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop(200)));
});

describe('BpftraceProcess (with a fake bpftrace)', () => {
  it('streams lines in order and is attached once its group prints its readiness line', async () => {
    const { p, lines } = fake({ print: ['H early', 'HOPSCOPE_READY hops', 'H one', 'H two'] });
    p.start();
    await until(() => lines.length === 4);
    expect(lines).toEqual(['H early', 'HOPSCOPE_READY hops', 'H one', 'H two']);
    expect(p.state).toBe('attached');
  });

  it('drops bpftrace\'s "Attaching N probes..." banner on stdout before readiness (it is no event), not after', async () => {
    const { p, lines } = fake({ print: ['Attaching 5 probes...', 'HOPSCOPE_READY hops', 'Attaching 1 probe...'] });
    p.start();
    await until(() => lines.length === 2);
    expect(lines).toEqual(['HOPSCOPE_READY hops', 'Attaching 1 probe...']);
  });

  it('is not attached on another group\'s readiness line', async () => {
    const { p, lines } = fake({ print: ['HOPSCOPE_READY drops'] });
    p.start();
    await until(() => lines.length === 1);
    expect(p.state).toBe('starting');
  });

  it('passes bpftrace\'s lost-event reports on stderr through as lines, and keeps errors for /readyz', async () => {
    const { p, lines } = fake({ stderr: ['Lost 12 events', 'ERROR: tracepoint not found: net:nope'], exitAfterMs: 50, exitCode: 1 }, { maxBackoffMs: 60_000 });
    p.start();
    await until(() => p.state === 'backoff');
    expect(lines).toEqual(['Lost 12 events']);
    expect(p.lastError).toContain('tracepoint not found');
  });

  it('restarts a child that had attached after the base delay and counts it', async () => {
    const { p, states } = fake({ print: ['HOPSCOPE_READY hops'], exitAfterMs: 100, exitCode: 1 }, { restartDelayMs: 50 });
    p.start();
    await until(() => p.restarts >= 2, 5000);
    const backoffs = states.filter((s) => s.state === 'backoff').map((s) => s.detail);
    expect(backoffs[0]).toContain('restarting in 50 ms');
    expect(states.filter((s) => s.state === 'attached').length).toBeGreaterThanOrEqual(2);
  });

  it('backs off a child that dies before attaching, doubling from 1 s', async () => {
    const { p, states } = fake({ exitAfterMs: 10, exitCode: 1 });
    p.start();
    await until(() => p.restarts >= 1 && states.filter((s) => s.state === 'backoff').length >= 2, 6000);
    const delays = states.filter((s) => s.state === 'backoff').map((s) => Number(/restarting in (\d+) ms/.exec(s.detail)?.[1]));
    expect(delays.slice(0, 2)).toEqual([1000, 2000]);
  });

  it('stops with SIGINT, and with SIGKILL when the child ignores SIGINT', async () => {
    const polite = fake({ print: ['HOPSCOPE_READY hops'] });
    polite.p.start();
    await until(() => polite.p.state === 'attached');
    const pid1 = polite.p.pid;
    const t0 = Date.now();
    await polite.p.stop(2000);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(alive(pid1)).toBe(false);

    const stubborn = fake({ print: ['HOPSCOPE_READY hops'], ignoreSigint: true });
    stubborn.p.start();
    await until(() => stubborn.p.state === 'attached');
    const pid2 = stubborn.p.pid;
    const t1 = Date.now();
    await stubborn.p.stop(300);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(250);
    expect(alive(pid2)).toBe(false);
    expect(stubborn.p.state).toBe('stopped');
    expect(stubborn.p.restarts).toBe(0);
  });
});

describe('BpftraceProcess with a native loader (program)', () => {
  it('runs the program with the positional arguments, reads its lines, and names it when it exits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hopscope-loader-'));
    const loader = join(dir, 'fake-loader');
    writeFileSync(loader, '#!/bin/sh\necho "HOPSCOPE_READY hops"\necho "args $*"\nexit 3\n', { mode: 0o755 });
    const { p, lines, states } = fake({}, { loader, args: ['64', '123', '5000'], restartDelayMs: 60_000 });
    p.start();
    await until(() => states.some((s) => s.state === 'backoff'));
    expect(lines).toEqual(['HOPSCOPE_READY hops', 'args 64 123 5000']);
    expect(states.map((s) => s.state)).toEqual(['starting', 'attached', 'backoff']);
    expect(p.lastError).toMatch(/^fake-loader exited \(code 3\)/);
  });
});
