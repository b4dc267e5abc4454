/**
 * @module Bench arm c, run as its own process with --expose-gc: memory per tracked flow (the slope of RSS,
 * after a full GC, from 10k to 100k flows in the FlowTable, filled with real traces from the real decoder and
 * assembler, one new flow per packet) and the time of a full /metrics scrape (AgentMetrics
 * registry.metrics()) at 100k flows. Prints one JSON object.
 */
import { makeStream } from './recorded-stream.js';
import { makePipeline } from './pipeline.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function settle(): { rss: number; heap: number } {
  for (let i = 0; i < 4; i++) gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return num / den;
}

const STEP = 10_000;
const MAX = 100_000;
// capacity above MAX so nothing is evicted (the default capacity is 65,536 flows)
// the trace ring (10,000 traces) is left out: it is bounded and full long before 10k flows; so is the cross-node
// joiner (it holds up to 20,000 departing traces, bounded, but not full at 10k flows: it would count as per flow)
const p = makePipeline({ flowCapacity: 2 * MAX, keepTraces: false, joiner: false });
const rssPoints: { x: number; y: number }[] = [];
const heapPoints: { x: number; y: number }[] = [];
const samples: { flows: number; rss: number; heap: number }[] = [];
for (let done = 0; done < MAX; done += STEP) {
  // STEP packets, each of a flow not seen before (distinct seeds give distinct ports)
  const { text } = makeStream({ flows: STEP, packets: STEP, sequentialFlows: true, seed: 1000 + done });
  for (const line of text.split('\n')) p.onLine(line);
  p.tick(Number.MAX_SAFE_INTEGER);
  const flows = p.flows.size;
  const m = settle();
  samples.push({ flows, ...m });
  if (flows >= STEP) {
    rssPoints.push({ x: flows, y: m.rss });
    heapPoints.push({ x: flows, y: m.heap });
  }
}

const scrapes: number[] = [];
let bytes = 0;
for (let i = 0; i < 21; i++) {
  const t0 = process.hrtime.bigint();
  const text = await p.metrics.registry.metrics();
  scrapes.push(Number(process.hrtime.bigint() - t0) / 1e6);
  bytes = text.length;
}
scrapes.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({
    flows: p.flows.size,
    bytesPerFlowRss: slope(rssPoints),
    bytesPerFlowHeap: slope(heapPoints),
    samples,
    scrapeMsMedian: scrapes[Math.floor(scrapes.length / 2)],
    scrapeMsMax: scrapes[scrapes.length - 1],
    scrapeBytes: bytes,
  }) + '\n',
);
