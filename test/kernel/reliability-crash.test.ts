/**
 * Reliability on the real kernel (lab prefix `hr`, a 1-node x 1-pod lab, one real agent with real bpftrace):
 * - child crashes: the hops group's bpftrace SIGKILLed 10 times, 3 s apart; each time a new one runs within
 *   2 s (after the 500 ms base delay); the agent stays up; /metrics answers every scrape (every 200 ms for the
 *   whole test), no counter ever goes down, every exposition checked passes `promtool check metrics`; afterwards
 *   exactly one bpftrace per probe group, no zombies, hopscope_probe_restarts_total{probe="hops"} grew by
 *   exactly 10 and the other groups' by 0;
 * - shutdown: SIGTERM closes stream clients with 1001, stops every bpftrace, exits within 15 s; start/stop
 *   cycles and a SIGKILLed agent leave none of hopscope's BPF programs loaded, and the next start works.
 * Figures are printed as `[reliability] ...` lines (docs/reliability.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PROBE_GROUPS } from '../../src/probes/probe-catalog.js';
import { bpfProgramIds, isAlive, startAgentProcess, startLab, waitFor, type AgentProcess, type TestLab } from './support/lab-agents.js';
import { metric } from './support/metrics-text.js';
import { bpfProgIdsOf, probeChildren, sleep, startScraper, zombieChildren } from './support/reliability.js';

const PREFIX = 'hr';
const NODE_NS = `${PREFIX}n1`;
const CYCLES = Number(process.env['HOPSCOPE_RELIABILITY_CYCLES'] ?? 5);
let lab: TestLab | undefined;
const agents: AgentProcess[] = [];
const report = (s: string) => console.log(`[reliability] ${s}`);

beforeAll(async () => {
  lab = await startLab(PREFIX, 1, 1);
});

afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => undefined);
  await lab?.down();
});

async function start(): Promise<AgentProcess> {
  const a = await startAgentProcess('node-1', NODE_NS, lab!.inventoryPath);
  agents.push(a);
  return a;
}

/** Every probe group's single bpftrace PID, once each group has exactly one. */
async function onePerGroup(agentPid: number): Promise<Map<string, number>> {
  return waitFor(async () => {
    const groups = await probeChildren(agentPid);
    if (groups.size !== PROBE_GROUPS.length || [...groups.values()].some((p) => p.length !== 1)) return undefined;
    return new Map([...groups].map(([g, p]) => [g, p[0] as number]));
  }, 10_000, 'one bpftrace per probe group');
}

/** The BPF programs held by the agent's bpftrace children. */
async function programsOf(agentPid: number): Promise<number[]> {
  return [...(await onePerGroup(agentPid)).values()].flatMap(bpfProgIdsOf);
}

async function noneLoaded(ids: number[]): Promise<void> {
  await waitFor(async () => {
    const now = await bpfProgramIds();
    return ids.every((id) => !now.has(id));
  }, 10_000, 'BPF programs of the stopped agent to be unloaded');
}

describe('child crashes', () => {
  it('bpftrace SIGKILLed 10 times, 3 s apart: back within 2 s each time, agent up, every scrape answered, counters monotonic, restarts +10', async () => {
    const agent = await start();
    const before = await onePerGroup(agent.pid);
    const restartsBefore = new Map(await Promise.all(PROBE_GROUPS.map(async (g) => [g.name, await metric(agent.url, 'hopscope_probe_restarts_total', { probe: g.name })] as const)));
    const scraper = startScraper(agent.url, 200);
    const backIn: number[] = [];
    const attachedIn: number[] = [];
    try {
      let victim = before.get('hops') as number;
      for (let i = 0; i < 10; i++) {
        // kill only an attached child (probe_up 1): that is the case the 500 ms base delay is for
        await waitFor(async () => (await metric(agent.url, 'hopscope_probe_up', { probe: 'hops' })) === 1, 10_000, 'hops attached');
        const t0 = Date.now();
        process.kill(victim, 'SIGKILL');
        const next = await waitFor(async () => {
          const pids = (await probeChildren(agent.pid)).get('hops') ?? [];
          return pids.find((p) => p !== victim);
        }, 5_000, `a new hops bpftrace after kill ${i + 1}`);
        backIn.push(Date.now() - t0);
        await waitFor(async () => (await metric(agent.url, 'hopscope_probe_up', { probe: 'hops' })) === 1, 10_000, 'hops attached again');
        attachedIn.push(Date.now() - t0);
        expect(isAlive(agent.pid)).toBe(true);
        victim = next;
        await sleep(Math.max(0, 3000 - (Date.now() - t0)));
      }
    } finally {
      await scraper.stop();
    }
    report(`crash: new bpftrace after SIGKILL in ms: ${backIn.join(', ')} (max ${Math.max(...backIn)})`);
    report(`crash: attached again (probe_up 1) after ms: ${attachedIn.join(', ')} (max ${Math.max(...attachedIn)})`);
    report(`crash: ${scraper.scrapes} scrapes, ${scraper.failures.length} failed, ${scraper.decreases.length} counter decreases, promtool problems ${scraper.invalid.length}`);
    for (const ms of backIn) expect(ms).toBeLessThan(2000);
    expect(isAlive(agent.pid)).toBe(true);
    expect(scraper.failures).toEqual([]);
    expect(scraper.decreases).toEqual([]);
    expect(scraper.invalid).toEqual([]);
    expect(scraper.scrapes).toBeGreaterThan(100);
    const after = await onePerGroup(agent.pid);
    expect(await zombieChildren(agent.pid)).toEqual([]);
    for (const g of PROBE_GROUPS) {
      if (g.name !== 'hops') expect(after.get(g.name)).toBe(before.get(g.name));
      const restarts = await metric(agent.url, 'hopscope_probe_restarts_total', { probe: g.name });
      expect(restarts - (restartsBefore.get(g.name) ?? 0), g.name).toBe(g.name === 'hops' ? 10 : 0);
    }
    expect((await fetch(`${agent.url}/readyz`)).status).toBe(200);
  }, 120_000);
});

describe('shutdown', () => {
  it('SIGTERM: stream clients closed with 1001, every bpftrace stopped, BPF programs unloaded, exit within 15 s', async () => {
    const agent = agents.at(-1) && isAlive(agents.at(-1)!.pid) ? agents.at(-1)! : await start();
    const children = [...(await onePerGroup(agent.pid)).values()];
    const programs = await programsOf(agent.pid);
    expect(programs.length).toBeGreaterThan(0);
    const clients = await Promise.all(
      [0, 1, 2].map(async () => {
        const ws = new WebSocket(`${agent.url.replace('http', 'ws')}/api/v1/stream`);
        const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
        await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
        return { closed };
      }),
    );
    const t0 = Date.now();
    agent.child.kill('SIGTERM');
    const codes = await Promise.all(clients.map((c) => c.closed));
    await agent.child;
    const exitMs = Date.now() - t0;
    report(`shutdown: SIGTERM to exit ${exitMs} ms; stream close codes ${codes.join(', ')}`);
    expect(codes).toEqual([1001, 1001, 1001]);
    expect(exitMs).toBeLessThan(15_000);
    expect(agent.child.exitCode).toBe(0);
    for (const pid of children) expect(isAlive(pid)).toBe(false);
    await noneLoaded(programs);
  }, 60_000);

  it(`${CYCLES} start/stop cycles, then a SIGKILLed agent: no program of hopscope's stays loaded, and the next start works`, async () => {
    const times: number[] = [];
    const stops: number[] = [];
    const all: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      const t0 = Date.now();
      const a = await start();
      times.push(Date.now() - t0);
      all.push(...(await programsOf(a.pid)));
      const t1 = Date.now();
      await a.stop();
      stops.push(Date.now() - t1);
      expect(a.child.exitCode).toBe(0);
    }
    await noneLoaded(all);
    report(`cycles: ${CYCLES} start/stop, start-to-ready ms median ${median(times)} max ${Math.max(...times)}, stop ms median ${median(stops)} max ${Math.max(...stops)}; ${all.length} programs loaded over the cycles, 0 left`);

    const doomed = await start();
    const children = [...(await onePerGroup(doomed.pid)).values()];
    const programs = await programsOf(doomed.pid);
    process.kill(doomed.pid, 'SIGKILL');
    await waitFor(async () => children.every((p) => !isAlive(p)), 5000, 'bpftrace children of the SIGKILLed agent to exit');
    await noneLoaded(programs);

    const next = await start();
    await onePerGroup(next.pid);
    expect((await fetch(`${next.url}/readyz`)).status).toBe(200);
    await next.stop();
  }, 600_000);
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}
