/**
 * @module Bench arm b, run as its own process pinned to one CPU (`taskset -c N node pipeline-arm.js`): the
 * same bytes fed through the same kind of stream the agent reads (a Readable in 64 KiB chunks, as a pipe
 * delivers them), split into lines by the agent's own LineSplitter (as BpftraceProcess splits a probe's
 * stdout), once only split (the raw line rate) and once through the whole pipeline (decode -> assemble ->
 * aggregate). node:readline's line rate on the same stream is measured too: the ratio is taken against the
 * faster of the two splitters, so a slow splitter cannot flatter it. Runs alternate; the best of each is kept
 * (the least disturbed run). Prints one JSON object.
 */
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { LineSplitter } from '../../src/runner/line-splitter.js';
import { makeStream } from './recorded-stream.js';
import { makePipeline, monoOf, type Stage } from './pipeline.js';

const CHUNK = 64 * 1024;

function feed(buf: Buffer): Readable {
  let off = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (off >= buf.length) {
        this.push(null);
        return;
      }
      this.push(buf.subarray(off, off + CHUNK));
      off += CHUNK;
    },
  });
}

type Splitter = 'agent' | 'readline';

async function run(buf: Buffer, onLine: (line: string) => void, splitter: Splitter = 'agent'): Promise<number> {
  const t0 = process.hrtime.bigint();
  const input = feed(buf);
  if (splitter === 'readline') {
    const rl = createInterface({ input, crlfDelay: Infinity });
    rl.on('line', onLine);
    await new Promise<void>((resolve) => rl.once('close', () => resolve()));
  } else {
    const lines = new LineSplitter(onLine);
    input.on('data', (chunk: Buffer) => lines.push(chunk));
    await new Promise<void>((resolve) => input.once('end', () => resolve()));
    lines.end();
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export interface PipelineResult {
  lines: number;
  bytes: number;
  /** The faster of the two splitters' line rates: the ratio's denominator. */
  rawLinesPerS: number;
  /** Each splitter's best line rate (the agent's LineSplitter, node:readline). */
  rawBySplitter: Record<Splitter, number>;
  pipelineEventsPerS: number;
  ratio: number;
  traces: number;
  flows: number;
  decodeErrors: number;
  runs: { raw: number[]; readline: number[]; pipeline: number[] };
  /** Events/s with only part of the pipeline (best of 2 runs each). */
  stages: Record<Stage, number>;
}

async function pipelineRun(buf: Buffer, stage: Stage): Promise<{ seconds: number; traces: number; flows: number; decodeErrors: number }> {
  let n = 0;
  const p = makePipeline({ onTrace: () => void n++, stage });
  // the agent ticks every 20 ms of its clock; here the stream's own clock drives it, read every 16th line
  // (16 us of stream time): reading it is the harness's work, not the agent's
  let nextTick = 0;
  let k = 0;
  const seconds = await run(buf, (line) => {
    p.onLine(line);
    if ((++k & 15) !== 0) return;
    const mono = monoOf(line);
    if (mono >= nextTick) {
      p.tick(mono);
      nextTick = mono + 20_000_000;
    }
  });
  p.assembler.flush();
  return { seconds, traces: n, flows: p.flows.size, decodeErrors: p.decodeErrors };
}

async function main(): Promise<void> {
  const packets = Number(process.env.BENCH_PACKETS ?? 250_000);
  const { text, lines } = makeStream({ flows: 20_000, packets, window: 32 });
  const buf = Buffer.from(text);
  const raw: number[] = [];
  const readline: number[] = [];
  const pipe: number[] = [];
  let traces = 0;
  let flows = 0;
  let decodeErrors = 0;
  for (let rep = 0; rep < 4; rep++) {
    for (const [splitter, rates] of [['agent', raw], ['readline', readline]] as const) {
      let count = 0;
      rates.push(lines / (await run(buf, () => void count++, splitter)));
      if (count !== lines) throw new Error(`raw run (${splitter}) read ${count} lines of ${lines}`);
    }
    const r = await pipelineRun(buf, 'full');
    pipe.push(lines / r.seconds);
    traces = r.traces;
    flows = r.flows;
    decodeErrors = r.decodeErrors;
  }
  const stages = { decode: 0, assemble: 0, aggregate: 0, full: Math.max(...pipe) };
  for (const stage of ['decode', 'assemble', 'aggregate'] as const) {
    for (let rep = 0; rep < 2; rep++) stages[stage] = Math.max(stages[stage], lines / (await pipelineRun(buf, stage)).seconds);
  }
  const best = (xs: number[]) => Math.max(...xs);
  const result: PipelineResult = {
    lines,
    bytes: buf.length,
    rawLinesPerS: Math.max(best(raw), best(readline)),
    rawBySplitter: { agent: best(raw), readline: best(readline) },
    pipelineEventsPerS: best(pipe),
    ratio: best(pipe) / Math.max(best(raw), best(readline)),
    traces,
    flows,
    decodeErrors,
    runs: { raw, readline, pipeline: pipe },
    stages,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

await main();
