/**
 * Overload: the agent (a real `hopscope agent` process) runs test/fixtures/fake-bpftrace.mjs as its bpftrace
 * (--bpftrace). The fake's hops group models a kernel producing events faster than they are read: events that
 * do not fit in 1 MiB of unread pipe data (the perf ring buffer) are lost and reported as bpftrace reports
 * them, alternating the 0.17 text record and the newer JSON one. Phase 1 floods without limit to measure the
 * knee (the rate the agent keeps up with); phase 2 emits at 5x that knee. Proven: the agent stays up and
 * answers every scrape; its RSS stays bounded; emitted = processed + dropped + decode errors exactly
 * (dropped = 0: the agent keeps backpressure, so the only drop point is the kernel's buffer); the kernel-side
 * losses counted in hopscope_events_lost_total equal the fake's exactly. Own netns `ho1` (no traffic).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/lab-agents.js';
import { metric } from './support/metrics-text.js';
import { rssBytes, sleep, startAgentWith, startScraper, type StartedAgent } from './support/reliability.js';

const FAKE = fileURLToPath(new URL('../fixtures/fake-bpftrace.mjs', import.meta.url));
const NETNS = 'ho1';
const SECONDS = Number(process.env['HOPSCOPE_OVERLOAD_SECONDS'] ?? 8);
/** The agent's hard RSS cap under overload (the bounded tables at their caps plus V8's lazily collected heap). */
const MAX_RSS = 384 * 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'hopscope-overload-'));
let agent: StartedAgent | undefined;

interface Phase { rate: number; seconds: number; produced: number; written: number; malformed: number; lost: number }

beforeAll(async () => {
  if (existsSync(`/run/netns/${NETNS}`)) await execa('ip', ['netns', 'del', NETNS]);
  await execa('ip', ['netns', 'add', NETNS]);
});
afterAll(async () => {
  await agent?.stop();
  await execa('ip', ['netns', 'del', NETNS], { reject: false });
  rmSync(dir, { recursive: true, force: true });
});

describe('overload', () => {
  it('at 5x the knee: up, bounded, emitted = processed + dropped + decode errors, kernel losses counted exactly', async () => {
    const summaryFile = join(dir, 'summary.json');
    const plan = {
      hops: {
        flood: {
          phases: [{ rate: 5_000_000, seconds: 4 }, { rate: '5xKnee', seconds: SECONDS }],
          bufferBytes: 1 << 20,
          netns: statSync(`/run/netns/${NETNS}`).ino,
          malformedEvery: 1000,
          summaryFile,
        },
      },
    };
    writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan));
    // the fake stands in for bpftrace's hops script: --probes bpftrace, or the real native hop probe would run
    agent = await startAgentWith(['--node', 'node-1', '--netns', NETNS, '--bpftrace', FAKE, '--probes', 'bpftrace', '--sample', '1'], { HOPSCOPE_FAKE_PLAN: join(dir, 'plan.json') });
    const url = agent.url;
    const scraper = startScraper(url, 250, 8);
    let maxRss = 0;
    const t0 = Date.now();
    const rss: { t: number; bytes: number }[] = [];
    const rssTimer = setInterval(() => {
      const bytes = rssBytes(agent!.pid);
      rss.push({ t: Date.now() - t0, bytes });
      maxRss = Math.max(maxRss, bytes);
    }, 100);
    let phases: Phase[] = [];
    try {
      phases = await waitFor(async () => {
        const p = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, 'utf8')) as Phase[]) : [];
        return p.length === 2 ? p : undefined;
      }, (4 + SECONDS + 30) * 1000, 'both flood phases');
      const written = phases.reduce((n, p) => n + p.written, 0);
      const lost = phases.reduce((n, p) => n + p.lost, 0);
      // the agent drains what was written; then the books must balance exactly
      await waitFor(async () => (await metric(url, 'hopscope_events_total', { probe: 'hops' })) + (await metric(url, 'hopscope_decode_errors_total', { probe: 'hops' })) >= written, 60_000, 'the agent to drain');
      await sleep(500);
      const processed = await metric(url, 'hopscope_events_total', { probe: 'hops' });
      const decodeErrors = await metric(url, 'hopscope_decode_errors_total', { probe: 'hops' });
      const dropped = 0; // no userspace drop point: lines are read as fast as they are processed (backpressure)
      const lostCounted = await metric(url, 'hopscope_events_lost_total', { probe: 'hops' });
      const knee = phases[0]!.written / phases[0]!.seconds;
      console.log(`[reliability] overload: knee ${Math.round(knee)} lines/s (phase 1, unlimited); phase 2 at ${phases[1]!.rate}/s for ${phases[1]!.seconds} s: produced ${phases[1]!.produced}, written ${phases[1]!.written} (${Math.round(phases[1]!.written / phases[1]!.seconds)}/s), lost in the kernel buffer ${phases[1]!.lost}`);
      console.log(`[reliability] overload: total written ${written} = processed ${processed} + dropped ${dropped} + decode errors ${decodeErrors}; lost ${lost}, counted ${lostCounted}; max RSS ${(maxRss / 2 ** 20).toFixed(1)} MiB; ${scraper.scrapes} scrapes, ${scraper.failures.length} failed`);
      expect(phases[1]!.rate).toBeGreaterThanOrEqual(Math.round(4.9 * knee));
      expect(phases[1]!.lost).toBeGreaterThan(0);
      expect(processed + dropped + decodeErrors).toBe(written);
      expect(decodeErrors).toBe(phases.reduce((n, p) => n + p.malformed, 0));
      expect(lostCounted).toBe(lost);
      // bounded: RSS levels off. The last third of the flood uses no more than the first third did (+25%: GC sawtooth),
      // and stays under a hard cap
      const floodMs = (4 + SECONDS) * 1000;
      const peak = (from: number, to: number) => Math.max(...rss.filter((r) => r.t >= from * floodMs && r.t < to * floodMs).map((r) => r.bytes));
      const early = peak(0, 1 / 3);
      const late = peak(2 / 3, 1);
      console.log(`[reliability] overload: RSS peak first third ${(early / 2 ** 20).toFixed(1)} MiB, last third ${(late / 2 ** 20).toFixed(1)} MiB; series (s:MiB) ${rss.filter((_, i) => i % 10 === 0).map((r) => `${(r.t / 1000).toFixed(0)}:${(r.bytes / 2 ** 20).toFixed(0)}`).join(' ')}`);
      expect(late).toBeLessThanOrEqual(early * 1.25);
      expect(maxRss).toBeLessThan(MAX_RSS);
      expect(agent.child.exitCode).toBe(null);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      clearInterval(rssTimer);
      await scraper.stop();
    }
    expect(scraper.failures).toEqual([]);
    expect(scraper.decreases).toEqual([]);
    expect(scraper.invalid).toEqual([]);
  }, 180_000);
});
