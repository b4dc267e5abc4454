/**
 * A probe group whose tracepoints are absent, and one whose attach the kernel refuses, on the real kernel
 * with real bpftrace (lab prefix `hm`, 1 node x 1 pod). test/fixtures/hide-tracepoints-bpftrace.sh, passed
 * with --bpftrace, makes `bpftrace -l` miss every bridge tracepoint and `neigh:neigh_update`, and makes the
 * neigh group's script fail at once. Then: the bridge group is reported (probe_up 0, a /readyz reason,
 * `doctor`), the neigh group runs without the missing tracepoint and says so, and when its start fails it
 * backs off (1 s, 2 s, 4 s, ...) instead of crash-looping; hops and drops run and trace.
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, nsExec, startLab, waitFor, waitForTraces, type TestLab } from './support/lab-agents.js';
import { metric, scrape } from './support/metrics-text.js';
import { promtoolCheckMetrics } from './support/prometheus.js';
import { probeChildren, sleep, startAgentWith, type StartedAgent } from './support/reliability.js';

const PREFIX = 'hm';
const WRAPPER = fileURLToPath(new URL('../fixtures/hide-tracepoints-bpftrace.sh', import.meta.url));
const BRIDGE = ['bridge:br_fdb_update', 'bridge:br_fdb_add', 'bridge:br_fdb_external_learn_add', 'bridge:fdb_delete'];
const HIDE = [...BRIDGE, 'neigh:neigh_update'].join(',');
let lab: TestLab | undefined;
let agent: StartedAgent | undefined;

beforeAll(async () => {
  lab = await startLab(PREFIX, 1, 2);
});
afterAll(async () => {
  await agent?.stop();
  await lab?.down();
});

describe('missing probes and kernel features', () => {
  it('doctor names every hidden tracepoint as missing, with what is lost, and exits 1', async () => {
    const r = await execa(process.execPath, [CLI, 'doctor', '--json', '--bpftrace', WRAPPER], { reject: false, env: { HOPSCOPE_FAKE_HIDE: HIDE } });
    expect(r.exitCode).toBe(1);
    const checks = (JSON.parse(r.stdout) as { checks: { name: string; ok: boolean; fix?: string }[] }).checks;
    const missing = checks.filter((c) => !c.ok).map((c) => c.name);
    expect(missing.sort()).toEqual([...BRIDGE, 'neigh:neigh_update'].map((tp) => `probe ${tp.startsWith('bridge') ? 'bridge' : 'neigh'}: tracepoint:${tp}`).sort());
    expect(checks.find((c) => c.name === 'probe bridge: tracepoint:bridge:br_fdb_update')?.fix).toMatch(/bridge FDB learning/);
  }, 60_000);

  it('the absent group is down and named, a partial group runs and says what it lacks, the rest trace', async () => {
    agent = await startAgentWith(['--node', 'node-1', '--netns', `${PREFIX}n1`, '--inventory', lab!.inventoryPath, '--bpftrace', WRAPPER], { HOPSCOPE_FAKE_HIDE: HIDE });
    const url = agent.url;
    const ready = await waitFor(async () => {
      const res = await fetch(`${url}/readyz`);
      return res.status === 200 ? ((await res.json()) as { reasons: string[] }) : undefined;
    }, 30_000, 'ready without the bridge group');
    expect(ready.reasons).toContain(`probe group bridge unavailable: missing tracepoint(s) ${BRIDGE.join(', ')}`);
    expect(ready.reasons).toContain('probe group neigh runs without tracepoint(s) neigh:neigh_update (missing on this kernel)');
    const text = await scrape(url);
    for (const [probe, up] of [['hops', 1], ['drops', 1], ['neigh', 1], ['bridge', 0]] as const) expect(await metric(url, 'hopscope_probe_up', { probe }), probe).toBe(up);
    expect((await probeChildren(agent.pid)).has('bridge')).toBe(false);
    expect((await promtoolCheckMetrics(text)).problems).toEqual([]);
    // hops still trace
    const ping = await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '1', '-W', '2', '10.244.1.12']);
    expect(ping.exitCode).toBe(0);
    await waitForTraces(url, (t) => t.src.ip === '10.244.1.11' && t.dst.ip === '10.244.1.12' && t.outcome === 'delivered', 'a same-node trace');
    // no restarts of the absent group: there is nothing to restart
    await sleep(3000);
    expect(await metric(url, 'hopscope_probe_restarts_total', { probe: 'bridge' })).toBe(0);
    await agent.stop();
    agent = undefined;
  }, 90_000);

  it('a group whose attach fails is reported and backs off (no crash loop); the others stay up', async () => {
    agent = await startAgentWith(['--node', 'node-1', '--netns', `${PREFIX}n1`, '--inventory', lab!.inventoryPath, '--bpftrace', WRAPPER], { HOPSCOPE_FAKE_FAIL_GROUP: 'neigh' });
    const url = agent.url;
    await waitFor(async () => (await metric(url, 'hopscope_probe_up', { probe: 'hops' })) === 1, 30_000, 'hops attached');
    const t0 = Date.now();
    await sleep(12_000);
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { reasons: string[] };
    expect(body.reasons.some((r) => /^probe group neigh is (backoff|starting).*simulated: the kernel refused it/.test(r)), JSON.stringify(body.reasons)).toBe(true);
    // a failing start backs off 1 s, 2 s, 4 s, 8 s: at most 4 restarts in ~12 s (a crash loop would be ~20)
    const restarts = await metric(url, 'hopscope_probe_restarts_total', { probe: 'neigh' });
    console.log(`[reliability] missing feature: neigh group restarted ${restarts} times in ${Date.now() - t0} ms of failing starts`);
    expect(restarts).toBeGreaterThanOrEqual(2);
    expect(restarts).toBeLessThanOrEqual(4);
    for (const probe of ['hops', 'drops', 'bridge']) expect(await metric(url, 'hopscope_probe_up', { probe }), probe).toBe(1);
    expect(await metric(url, 'hopscope_probe_up', { probe: 'neigh' })).toBe(0);
    expect(agent.log.filter((l) => /restarting in (\d+) ms/.test(l)).map((l) => Number(/restarting in (\d+) ms/.exec(l)?.[1]))).toEqual(expect.arrayContaining([1000, 2000, 4000]));
    expect((await promtoolCheckMetrics(await scrape(url))).problems).toEqual([]);
  }, 90_000);
});
