/**
 * The live web view (src/web/) in a real browser: Debian's chromium driven by playwright-core opens a real agent's
 * page, which streams from /api/v1/stream; a real ping in the lab shows up as a row, and its waterfall has the
 * exact hops. Saves a screenshot to test/artifacts/web-view.png and logs the packet-to-browser delay.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nsExec, startAgentProcess, startLab, traces, type AgentProcess, type TestLab } from './support/lab-agents.js';

const PREFIX = 'hw';
const POD11 = { netns: `${PREFIX}n1p1`, ip: '10.244.1.11', name: 'default/pod-1-1' };
const POD12 = { ip: '10.244.1.12', name: 'default/pod-1-2' };
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let lab: TestLab | undefined;
let agent: AgentProcess | undefined;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  lab = await startLab(PREFIX, 1, 2);
  agent = await startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath);
  // playwright-core gives each launch a fresh temporary profile
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
});

afterAll(async () => {
  // each step runs even when an earlier one fails
  await browser?.close().catch(() => undefined);
  await agent?.stop().catch(() => undefined);
  await lab?.down();
});

/** Waits (in the page) for the echo-request row pod-1-1 -> pod-1-2 not in `seen`; returns its id and when it appeared (Date.now()). */
async function waitForPingRow(seen: string[], timeoutMs = 10_000): Promise<{ id: string; at: number }> {
  const handle = await page.waitForFunction(
    ([src, dst, seenIds]) => {
      for (const tr of document.querySelectorAll<HTMLTableRowElement>('#traces tr[data-trace-id]')) {
        const id = tr.dataset.traceId as string;
        const text = (col: string) => tr.querySelector(`td[data-col="${col}"]`)?.textContent;
        if (!seenIds.includes(id) && tr.dataset.path === 'same-node' && text('src') === src && text('dst') === dst) return { id, at: Date.now() };
      }
      return false;
    },
    [POD11.name, POD12.name, seen] as const,
    { timeout: timeoutMs, polling: 'raf' },
  );
  return (await handle.jsonValue()) as { id: string; at: number };
}

const rowIds = () => page.$$eval('#traces tr[data-trace-id]', (rows) => rows.map((r) => (r as HTMLElement).dataset.traceId as string));

async function ping(): Promise<void> {
  const result = await nsExec(POD11.netns, 'ping', ['-c', '1', '-W', '2', POD12.ip]);
  expect(result.exitCode, result.stderr).toBe(0);
}

describe('live web view in chromium', () => {
  it('connects, shows a real ping as a row within moments, and draws its 4 hops', async () => {
    await page.goto(agent!.url);
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 15_000 }).catch(async (e) => {
      throw new Error(`page never connected; status: ${await page.textContent('#status')}`, { cause: e });
    });
    expect(await page.textContent('#status')).toContain('node-1');
    await page.waitForSelector('#filter-state[data-state="subscribed"]', { timeout: 5000 });

    const before = await rowIds();
    const rowPromise = waitForPingRow(before);
    const pingStart = Date.now();
    await ping();
    const row = await rowPromise;

    const [trace] = (await traces(agent!.url)).filter((t) => t.id === row.id);
    expect(trace, `trace ${row.id} in the agent's REST API`).toBeDefined();
    expect(trace).toMatchObject({ path: 'same-node', protocol: 'ICMP', outcome: 'delivered', packet: { icmp_type: 8 } });
    const firstHopMs = Number(BigInt(trace!.hops[0]!.t) / 1_000_000n);
    console.log(
      `web view: ping started -> row shown ${row.at - pingStart} ms; ` +
        `first hop in the kernel -> row shown ${row.at - firstHopMs} ms (trace ${row.id}, latency ${trace!.latency_ns} ns)`,
    );
    expect(row.at - pingStart).toBeLessThan(10_000);

    await page.click(`#traces tr[data-trace-id="${row.id}"]`);
    await page.waitForSelector(`#waterfall[data-trace-id="${row.id}"] .hop`);
    const hops = await page.$$eval('#waterfall .hop', (els) =>
      els.map((e) => {
        const d = (e as HTMLElement).dataset;
        return { kind: d.kind, direction: d.direction, iface: d.interface, delta: e.querySelector('.delta')?.textContent };
      }),
    );
    expect(hops.map((h) => h.kind)).toEqual(['pod', 'veth', 'veth', 'pod']);
    expect(hops.map((h) => h.direction)).toEqual(['egress', 'ingress', 'egress', 'ingress']);
    expect(hops.map((h) => h.iface)).toEqual(['eth0', 'veth1p1', 'veth1p2', 'eth0']);
    // the exact delta of each hop, in µs, as the agent reports it
    expect(hops.map((h) => h.delta)).toEqual(trace!.hops.map((h) => `+${(h.delta_ns / 1000).toFixed(3)} µs`));
    expect(await page.textContent('#waterfall h2')).toBe(`${POD11.name} → ${POD12.name}`);

    await page.screenshot({ path: `${ARTIFACTS}web-view.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('pause keeps counting without redrawing; resume shows what arrived', async () => {
    await page.click('#pause');
    const rowsBefore = await rowIds();
    const receivedBefore = Number(await page.textContent('#received'));
    await ping();
    await page.waitForFunction((n) => Number(document.getElementById('received')?.textContent) > n, receivedBefore, { timeout: 10_000 });
    expect(await rowIds()).toEqual(rowsBefore);
    expect(await page.textContent('#pause')).toMatch(/^Resume \([1-9]\d* new\)$/);
    const rowPromise = waitForPingRow(rowsBefore, 5000);
    await page.click('#pause');
    await rowPromise;
    expect(await page.textContent('#pause')).toBe('Pause');
  });

  it('a filter is a new subscription: path=cross-node hides same-node pings, clearing it brings them back', async () => {
    await page.selectOption('#f-path', 'cross-node');
    await page.waitForSelector('#filter-state[data-state="subscribed"]:has-text("path=cross-node")', { timeout: 5000 });
    expect(await rowIds()).toEqual([]); // a one-node lab has no cross-node traffic
    const receivedBefore = Number(await page.textContent('#received'));
    await ping();
    await page.waitForTimeout(1500); // a matching trace shows within moments (first test); this one must not
    expect(Number(await page.textContent('#received'))).toBe(receivedBefore);
    expect(await rowIds()).toEqual([]);

    await page.selectOption('#f-path', '');
    await page.waitForFunction(() => {
      const fs = document.getElementById('filter-state');
      return fs?.dataset.state === 'subscribed' && !fs.textContent?.includes('path=');
    }, null, { timeout: 5000 });
    await waitForPingRow([], 5000); // recent traces come back from /api/v1/traces
    expect(pageErrors).toEqual([]);
  });

  it('takes its filter from the query string (links from Grafana panels)', async () => {
    await page.goto(`${agent!.url}/?path=same-node&pod=default%2Fpod-1-1`);
    await page.waitForSelector('#filter-state[data-state="subscribed"]:has-text("path=same-node")', { timeout: 5000 });
    expect(await page.inputValue('#f-path')).toBe('same-node');
    expect(await page.inputValue('#f-pod')).toBe('default/pod-1-1');
    expect(pageErrors).toEqual([]);
  });
});
