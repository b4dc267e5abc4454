/**
 * @module `npm run bench`: the performance benchmark of issue 7. As root, in a lab of its own (prefix
 * `hbench`, 2 nodes), it measures
 *   a. packet-path cost: cross-node iperf3 TCP throughput and 64-byte UDP packet rate without agents, with both
 *      agents in their default configuration, and with the same tracepoints attached to empty programs (the
 *      floor: two sets, as for the two agents; floor1: one set, as for one), and with node-1's agent alone (one agent per kernel, as on a real cluster, where each node is a
 *      kernel of its own), and with that agent on the bpftrace scripts, alternating for --pairs rounds, the
 *      arms' order rotated by one each round (no arm always runs first, or always last); median ratio
 *      with min and max;
 *   b. the userspace pipeline on one core vs the raw line rate of the same bytes (pipeline-arm.ts);
 *   c. memory per tracked flow and /metrics scrape time at 100k flows (memory-arm.ts);
 *   d. packet-to-stream delay p50/p99 through a real agent's WebSocket stream;
 *   e. BPF run time per program run and per packet, from the kernel's own accounting (program-cost.ts);
 * prints a table and writes it into docs/performance.md (between the bench markers; the rest of the file is
 * kept) and, whole, into docs/bench-runs/<date>.md (earlier runs stay quotable). Options: --pairs N (7),
 * --seconds S (5), --arms abcde, --no-write. Removes its lab and stops every
 * process it started, also on error and on Ctrl-C.
 */
import { execa, type ResultPromise } from 'execa';
import { cpus, loadavg } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { labDown, labUp } from '../../src/lab/lab.js';
import type { LabPlan } from '../../src/lab/lab-plan.js';
import { byName, loadedProgramIds, measurePrograms, restoreBpfStats, type ProgramRuns } from './program-cost.js';
import type { PipelineResult } from './pipeline-arm.js';
import { cpuSeconds, eventCounts, foreignBpftrace, iperf, sleep, waitQuiet, startAgent, startFloor, startIperfServer, stopAll, stopChild, streamDelay, type Agent, type DelayResult, type IperfResult } from './lab-arms.js';

const PREFIX = 'hbench';
const INVENTORY = `/run/hopscope/bench-${PREFIX}.json`;
const HERE = fileURLToPath(new URL('./', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOC = `${ROOT}docs/performance.md`;

interface Options {
  pairs: number;
  seconds: number;
  arms: string;
  write: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { pairs: 7, seconds: 5, arms: 'abcde', write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--pairs' && v) (o.pairs = Number(v)), i++;
    else if (a === '--seconds' && v) (o.seconds = Number(v)), i++;
    else if (a === '--arms' && v) (o.arms = v), i++;
    else if (a === '--no-write') o.write = false;
    else throw new Error(`unknown option ${a} (use --pairs N, --seconds S, --arms abcde, --no-write)`);
  }
  if (!Number.isInteger(o.pairs) || o.pairs < 1) throw new Error('--pairs: a positive integer');
  if (!(o.seconds >= 1)) throw new Error('--seconds: at least 1');
  return o;
}

const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
};

interface Run {
  /**
   * agents: one agent per lab node, all on this one kernel; agent: node-1's alone (one per kernel);
   * bpftrace: node-1's alone with --probes bpftrace (the bpftrace scripts instead of the native probes).
   */
  arm: 'none' | 'agents' | 'agent' | 'bpftrace' | 'floor' | 'floor1';
  tcpBps: number;
  udpPps: number;
  udpLoss: number;
  /** Agents only: CPU cores the agents (node + bpftrace) used during the runs, events/s read, events lost. */
  agentCores?: number;
  eventsPerS?: number;
  lost?: number;
  /** bpftrace processes of others attached to this kernel during the run (0 for a clean run). */
  foreign: number;
}

interface PacketResult {
  runs: Run[][];
  tcp: Ratio;
  udp: Ratio;
  oneTcp: Ratio;
  oneUdp: Ratio;
  bpftraceTcp: Ratio;
  bpftraceUdp: Ratio;
  floorTcp: Ratio;
  floorUdp: Ratio;
  /** One set of empty programs: the attachment's cost where one agent runs per kernel (a real node). */
  floor1Tcp: Ratio;
  floor1Udp: Ratio;
}
interface Ratio {
  median: number;
  min: number;
  max: number;
}

function ratios(rounds: Run[][], arm: Run['arm'], key: 'tcpBps' | 'udpPps'): Ratio {
  const r = rounds.map((round) => {
    const none = round.find((x) => x.arm === 'none');
    const other = round.find((x) => x.arm === arm);
    return none && other ? other[key] / none[key] : NaN;
  });
  return { median: median(r), min: Math.min(...r), max: Math.max(...r) };
}

const PACKET_ARMS = ['none', 'agents', 'agent', 'bpftrace', 'floor', 'floor1'] as const;

/** `xs` started at its `by`-th element (wrapping): round i runs the arms in this order. */
function rotated<T>(xs: readonly T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

async function packetArm(plan: LabPlan, o: Options): Promise<PacketResult> {
  const server = startIperfServer(plan);
  try {
    await sleep(500);
    log('warm-up');
    await iperf(plan, 'tcp', 2);
    await iperf(plan, 'udp', 2);
    const rounds: Run[][] = [];
    for (let i = 0; i < o.pairs; i++) {
      const round: Run[] = [];
      for (const arm of rotated(PACKET_ARMS, i)) {
        let agents: Agent[] = [];
        let floors: Awaited<ReturnType<typeof startFloor>>[] = [];
        if (arm === 'agents') {
          agents = await Promise.all(plan.nodes.map((n) => startAgent(n.name, n.netns, INVENTORY)));
          await sleep(1000);
        }
        if (arm === 'agent' || arm === 'bpftrace') {
          const first = plan.nodes[0] as LabPlan['nodes'][number];
          agents = [await startAgent(first.name, first.netns, INVENTORY, arm === 'bpftrace' ? ['--probes', 'bpftrace'] : [])];
          await sleep(1000);
        }
        // one empty program set per agent: two agents attach every tracepoint twice (floor), one agent once (floor1)
        if (arm === 'floor') floors = [await startFloor(), await startFloor()];
        if (arm === 'floor1') floors = [await startFloor()];
        try {
          const mine = [...agents.map((a) => a.child.pid as number), ...floors.flatMap((f) => f.children.map((c) => c.pid as number))];
          const foreign = await waitQuiet(mine, 180_000, log);
          const cpu0 = await Promise.all(agents.map((a) => cpuSeconds(a.child.pid as number)));
          const ev0 = await Promise.all(agents.map((a) => eventCounts(a.url)));
          const t0 = Date.now();
          const tcp = await iperf(plan, 'tcp', o.seconds);
          const udp = await iperf(plan, 'udp', o.seconds);
          const wall = (Date.now() - t0) / 1000;
          const run: Run = { arm, tcpBps: tcp.value, udpPps: udp.value, udpLoss: udp.lossPercent ?? 0, foreign: Math.max(foreign, await foreignBpftrace(mine)) };
          if (agents.length) {
            const cpu1 = await Promise.all(agents.map((a) => cpuSeconds(a.child.pid as number)));
            const ev1 = await Promise.all(agents.map((a) => eventCounts(a.url)));
            run.agentCores = cpu1.reduce((s, c, k) => s + c - (cpu0[k] as number), 0) / wall;
            run.eventsPerS = ev1.reduce((s, e, k) => s + e.events - (ev0[k] as { events: number }).events, 0) / wall;
            run.lost = ev1.reduce((s, e, k) => s + e.lost - (ev0[k] as { lost: number }).lost, 0);
          }
          round.push(run);
          log(
            `round ${i + 1}/${o.pairs} ${arm.padEnd(6)} tcp ${(tcp.value / 1e9).toFixed(2)} Gbit/s, udp ${Math.round(udp.value)} pps` +
              (run.foreign ? ` [${run.foreign} foreign bpftrace]` : '') + (run.agentCores !== undefined ? `, agents ${run.agentCores.toFixed(2)} cores, ${Math.round(run.eventsPerS ?? 0)} events/s, lost ${run.lost}` : ''),
          );
        } finally {
          for (const a of agents) await stopChild(a.child);
          for (const c of floors.flatMap((f) => f.children)) await stopChild(c, 'SIGINT');
        }
      }
      rounds.push(round);
    }
    return {
      runs: rounds,
      tcp: ratios(rounds, 'agents', 'tcpBps'),
      udp: ratios(rounds, 'agents', 'udpPps'),
      oneTcp: ratios(rounds, 'agent', 'tcpBps'),
      oneUdp: ratios(rounds, 'agent', 'udpPps'),
      bpftraceTcp: ratios(rounds, 'bpftrace', 'tcpBps'),
      bpftraceUdp: ratios(rounds, 'bpftrace', 'udpPps'),
      floorTcp: ratios(rounds, 'floor', 'tcpBps'),
      floorUdp: ratios(rounds, 'floor', 'udpPps'),
      floor1Tcp: ratios(rounds, 'floor1', 'tcpBps'),
      floor1Udp: ratios(rounds, 'floor1', 'udpPps'),
    };
  } finally {
    await stopChild(server);
  }
}

interface ProgramCostResult {
  /**
   * Per program name, over the UDP run: node-1's agent alone, the same with --probes bpftrace, and one
   * empty program set (the floor).
   */
  agent: ProgramRuns[];
  bpftrace: ProgramRuns[];
  floor: ProgramRuns[];
  /** UDP 64 B packets sent during each run. */
  agentPackets: number;
  bpftracePackets: number;
  floorPackets: number;
}

/**
 * Arm e: node-1's agent alone, then one set of empty programs, each during a UDP flood with the kernel's BPF
 * run-time accounting on: nanoseconds per program run and BPF time per packet sent.
 */
async function programCostArm(plan: LabPlan, o: Options): Promise<ProgramCostResult> {
  const server = startIperfServer(plan);
  const first = plan.nodes[0] as LabPlan['nodes'][number];
  /** The programs loaded by what `start` starts, measured over one UDP run. */
  const measure = async (start: () => Promise<readonly ResultPromise[]>, signal: NodeJS.Signals) => {
    const before = await loadedProgramIds();
    const children = await start();
    try {
      await sleep(1000);
      await waitQuiet(children.map((c) => c.pid as number), 180_000, log);
      return await measurePrograms(before, () => iperf(plan, 'udp', o.seconds));
    } finally {
      for (const c of children) await stopChild(c, signal);
    }
  };
  try {
    await sleep(500);
    const a = await measure(async () => [(await startAgent(first.name, first.netns, INVENTORY)).child], 'SIGTERM');
    const b = await measure(async () => [(await startAgent(first.name, first.netns, INVENTORY, ['--probes', 'bpftrace'])).child], 'SIGTERM');
    const f = await measure(async () => (await startFloor()).children, 'SIGINT');
    const r = {
      agent: byName(a.programs),
      bpftrace: byName(b.programs),
      floor: byName(f.programs),
      agentPackets: a.result.packets ?? NaN,
      bpftracePackets: b.result.packets ?? NaN,
      floorPackets: f.result.packets ?? NaN,
    };
    for (const p of r.agent) log(`program cost: agent ${p.name} ${p.runs} runs, ${(p.ns / p.runs).toFixed(0)} ns/run`);
    for (const p of r.bpftrace) log(`program cost: agent with bpftrace hops ${p.name} ${p.runs} runs, ${(p.ns / p.runs).toFixed(0)} ns/run`);
    return r;
  } finally {
    await stopChild(server);
  }
}

async function delayArm(plan: LabPlan): Promise<{ idle: DelayResult }> {
  const agents = await Promise.all(plan.nodes.map((n) => startAgent(n.name, n.netns, INVENTORY)));
  try {
    await sleep(1000);
    const first = agents[0] as Agent;
    const idle = await streamDelay(plan, first, 300, 0.02);
    log(`delay: ${idle.samples} traces, p50 ${idle.p50Ms.toFixed(1)} ms, p99 ${idle.p99Ms.toFixed(1)} ms`);
    return { idle };
  } finally {
    for (const a of agents) await stopChild(a.child);
  }
}

interface MemoryResult {
  bytesPerFlowRss: number;
  bytesPerFlowHeap: number;
  scrapeMsMedian: number;
  scrapeMsMax: number;
  scrapeBytes: number;
  flows: number;
}

async function childJson<T>(file: string, args: string[], cmd: string[] = []): Promise<T> {
  const [first, ...rest] = cmd.length ? cmd : [process.execPath];
  const out = await execa(first as string, [...rest, ...(cmd.length ? [process.execPath] : []), ...args, `${HERE}${file}`], { reject: false, timeout: 600_000 });
  if (out.exitCode !== 0) throw new Error(`${file} failed: ${out.stderr.slice(-2000)}`);
  return JSON.parse(out.stdout.trim().split('\n').pop() as string) as T;
}

interface Results {
  date: string;
  cores: number;
  cpuModel: string;
  kernel: string;
  bpftrace: string;
  node: string;
  loadBefore: number[];
  loadAfter?: number[];
  options: Options;
  packet?: PacketResult;
  pipeline?: PipelineResult;
  memory?: MemoryResult;
  delay?: { idle: DelayResult };
  programCost?: ProgramCostResult;
}

const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const ratioText = (r: Ratio) => `${fmt(r.median)} (min ${fmt(r.min)}, max ${fmt(r.max)})`;
const met = (ok: boolean | undefined) => (ok === undefined ? 'not run' : ok ? 'met' : 'NOT met');

function summaryRows(r: Results): string[][] {
  const rows: string[][] = [];
  const p = r.packet;
  if (p) {
    const none = p.runs.map((x) => x.find((y) => y.arm === 'none') as Run);
    const agents = p.runs.map((x) => x.find((y) => y.arm === 'agents') as Run);
    rows.push([
      'TCP throughput, agents / none',
      '>= 0.95',
      `${ratioText(p.tcp)}; none ${fmt(median(none.map((x) => x.tcpBps)) / 1e9)} Gbit/s`,
      met(p.tcp.median >= 0.95),
    ]);
    rows.push(['TCP throughput, floor (two sets of empty programs, as for two agents) / none', '(breakdown)', ratioText(p.floorTcp), '-']);
    rows.push([
      'UDP 64 B packet rate, agents / none',
      '>= 0.80',
      `${ratioText(p.udp)}; none ${Math.round(median(none.map((x) => x.udpPps)))} pps received`,
      met(p.udp.median >= 0.8),
    ]);
    rows.push(['UDP 64 B packet rate, floor (two sets) / none', '(breakdown)', ratioText(p.floorUdp), '-']);
    rows.push(['TCP throughput, one agent per kernel (a real node\'s layout) / none', '>= 0.95', ratioText(p.oneTcp), met(p.oneTcp.median >= 0.95)]);
    rows.push(['UDP 64 B packet rate, one agent per kernel (a real node\'s layout) / none', '>= 0.80', ratioText(p.oneUdp), met(p.oneUdp.median >= 0.8)]);
    rows.push(['TCP throughput, floor1 (one set of empty programs, as for one agent) / none', '(breakdown)', ratioText(p.floor1Tcp), '-']);
    rows.push(['UDP 64 B packet rate, floor1 (one set) / none', '(breakdown)', ratioText(p.floor1Udp), '-']);
    rows.push(['TCP throughput, one agent with --probes bpftrace / none', '(comparison)', ratioText(p.bpftraceTcp), '-']);
    rows.push(['UDP 64 B packet rate, one agent with --probes bpftrace / none', '(comparison)', ratioText(p.bpftraceUdp), '-']);
    rows.push([
      'agents during the runs',
      '(breakdown)',
      `${fmt(median(agents.map((x) => x.agentCores ?? NaN)))} cores (node + bpftrace, both agents), ${Math.round(median(agents.map((x) => x.eventsPerS ?? NaN)))} events/s, ${agents.reduce((s, x) => s + (x.lost ?? 0), 0)} lost`,
      '-',
    ]);
  }
  const e = r.programCost;
  if (e) {
    const perRun = (xs: ProgramRuns[]) => xs.map((x) => `${x.name} ${Math.round(x.ns / x.runs)} ns`).join(', ');
    const perPacket = (xs: ProgramRuns[], packets: number) => xs.reduce((s, x) => s + x.ns, 0) / packets;
    const runsPerPacket = (xs: ProgramRuns[], packets: number) => xs.reduce((s, x) => s + x.runs, 0) / packets;
    rows.push(['BPF time per program run, one agent (UDP 64 B flood)', '(breakdown)', perRun(e.agent), '-']);
    rows.push(['BPF time per program run, one agent with --probes bpftrace', '(comparison)', perRun(e.bpftrace), '-']);
    rows.push(['BPF time per program run, empty programs', '(breakdown)', perRun(e.floor), '-']);
    const perPacketText = (xs: ProgramRuns[], packets: number) => `${fmt(perPacket(xs, packets) / 1000)} us in ${fmt(runsPerPacket(xs, packets), 1)} runs`;
    rows.push([
      'BPF time per packet sent, one agent',
      '(breakdown)',
      `${perPacketText(e.agent, e.agentPackets)} (with --probes bpftrace: ${perPacketText(e.bpftrace, e.bpftracePackets)}; empty programs: ${perPacketText(e.floor, e.floorPackets)})`,
      '-',
    ]);
  }
  const b = r.pipeline;
  if (b) {
    rows.push(['pipeline events/s, one core', '>= 500k', `${Math.round(b.pipelineEventsPerS / 1000)}k`, met(b.pipelineEventsPerS >= 500_000)]);
    rows.push(['pipeline / raw line rate', '>= 0.5', `${fmt(b.ratio, 3)} (raw ${Math.round(b.rawLinesPerS / 1000)}k lines/s: the agent's splitter ${Math.round(b.rawBySplitter.agent / 1000)}k, node:readline ${Math.round(b.rawBySplitter.readline / 1000)}k)`, met(b.ratio >= 0.5)]);
    const k = (x: number) => `${Math.round(x / 1000)}k`;
    rows.push(['pipeline, partial (events/s)', '(breakdown)', `decode ${k(b.stages.decode)}; + assemble ${k(b.stages.assemble)}; + trace ring and flow table ${k(b.stages.aggregate)}; + Prometheus metrics and cross-node joiner ${k(b.stages.full)}`, '-']);
  }
  const c = r.memory;
  if (c) {
    rows.push(['memory per tracked flow (RSS slope 10k..100k)', '<= 1024 B', `${Math.round(c.bytesPerFlowRss)} B (heap ${Math.round(c.bytesPerFlowHeap)} B)`, met(c.bytesPerFlowRss <= 1024)]);
    rows.push(['GET /metrics scrape at 100k flows', '<= 50 ms', `${fmt(c.scrapeMsMedian, 1)} ms median, ${fmt(c.scrapeMsMax, 1)} ms max`, met(c.scrapeMsMax <= 50)]);
  }
  const d = r.delay;
  if (d) {
    rows.push(['packet to stream delay p50', '-', `${fmt(d.idle.p50Ms, 1)} ms`, '-']);
    rows.push(['packet to stream delay p99', '<= 1 s', `${fmt(d.idle.p99Ms, 1)} ms (${d.idle.samples} traces)`, met(d.idle.p99Ms <= 1000)]);
  }
  return rows;
}

function markdownTable(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function plainTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function report(r: Results): string {
  const head = ['measure', 'target', 'result', 'status'];
  const rows = summaryRows(r);
  const parts = [
    `Run ${r.date} on ${r.cores} cores (${r.cpuModel}), kernel ${r.kernel}, ${r.bpftrace}, Node.js ${r.node}; ` +
      `load average before ${r.loadBefore.map((x) => x.toFixed(2)).join(' ')}${r.loadAfter ? `, after ${r.loadAfter.map((x) => x.toFixed(2)).join(' ')}` : ''}; ` +
      `${r.options.pairs} rounds of ${r.options.seconds} s runs.`,
    '',
    markdownTable(head, rows),
  ];
  if (r.packet) {
    const detail = r.packet.runs.flatMap((round, i) =>
      round.map((x) => [
        String(i + 1),
        x.arm,
        fmt(x.tcpBps / 1e9),
        String(Math.round(x.udpPps)),
        fmt(x.udpLoss, 1),
        x.agentCores === undefined ? '' : fmt(x.agentCores),
        x.eventsPerS === undefined ? '' : String(Math.round(x.eventsPerS)),
        x.lost === undefined ? '' : String(x.lost),
        String(x.foreign),
      ]),
    );
    parts.push('', 'Every run (round, arm; TCP Gbit/s; UDP 64 B packets/s received and loss %; agents: CPU cores, events/s read, events lost; bpftrace processes of others on this kernel during the run, 0 = clean):', '');
    parts.push(markdownTable(['round', 'arm', 'TCP Gbit/s', 'UDP pps', 'UDP loss %', 'agent cores', 'events/s', 'lost', 'foreign bpftrace'], detail));
  }
  return parts.join('\n');
}

/** Every run's whole report, by its start time: docs/bench-runs/2026-11-26T14-49-22.md. */
function writeRunRecord(r: Results, text: string): string {
  const dir = `${ROOT}docs/bench-runs`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${r.date.slice(0, 19).replaceAll(':', '-')}.md`;
  writeFileSync(file, `# Bench run ${r.date}\n\nWritten by \`npm run bench\` (options: ${JSON.stringify(r.options)}); see docs/performance.md for what each arm measures.\n\n${text}\n`);
  return file;
}

function writeDoc(text: string): void {
  const begin = '<!-- bench:begin (written by npm run bench) -->';
  const end = '<!-- bench:end -->';
  const block = `${begin}\n${text}\n${end}`;
  let doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : `# Performance\n\n${begin}\n${end}\n`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(DOC, doc);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const needsLab = o.arms.includes('a') || o.arms.includes('d') || o.arms.includes('e');
  if (needsLab && process.getuid?.() !== 0) throw new Error('the packet-path, delay and program-cost arms need root (bpftrace, network namespaces, kernel.bpf_stats_enabled)');
  const bpftrace = needsLab ? (await execa('bpftrace', ['--version'], { reject: false })).stdout.trim() : 'bpftrace not used';
  const r: Results = {
    date: new Date().toISOString(),
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown CPU',
    kernel: (await execa('uname', ['-r'])).stdout.trim(),
    bpftrace: bpftrace || (await execa('bpftrace', ['--version'], { reject: false })).stdout.trim(),
    node: process.version,
    loadBefore: loadavg(),
    options: o,
  };
  if (r.loadBefore[0] !== undefined && r.loadBefore[0] > 0.5) log(`warning: load average ${r.loadBefore[0].toFixed(2)}: other work on this machine will skew the numbers`);

  if (o.arms.includes('b')) {
    log('pipeline (one core)');
    const cpu = String(Math.max(0, r.cores - 1));
    r.pipeline = await childJson<PipelineResult>('pipeline-arm.js', [], ['taskset', '-c', cpu]);
    log(`pipeline ${Math.round(r.pipeline.pipelineEventsPerS)} events/s, raw ${Math.round(r.pipeline.rawLinesPerS)} lines/s`);
  }
  if (o.arms.includes('c')) {
    log('memory per flow and scrape time');
    r.memory = await childJson<MemoryResult>('memory-arm.js', ['--expose-gc']);
    log(`memory ${Math.round(r.memory.bytesPerFlowRss)} B/flow, scrape ${r.memory.scrapeMsMedian.toFixed(1)} ms`);
  }
  if (needsLab) {
    await labDown(PREFIX, INVENTORY); // leftovers of a killed run
    log(`lab ${PREFIX} up`);
    const { plan } = await labUp({ prefix: PREFIX, nodes: 2, podsPerNode: 2 }, INVENTORY);
    try {
      if (o.arms.includes('a')) r.packet = await packetArm(plan, o);
      if (o.arms.includes('d')) r.delay = await delayArm(plan);
      if (o.arms.includes('e')) r.programCost = await programCostArm(plan, o);
    } finally {
      await stopAll();
      await labDown(PREFIX, INVENTORY);
      log(`lab ${PREFIX} down`);
    }
  }
  r.loadAfter = loadavg();
  const text = report(r);
  process.stdout.write(`\n${plainTable(['measure', 'target', 'result', 'status'], summaryRows(r))}\n\n`);
  writeFileSync(`${ROOT}dist/bench-results.json`, JSON.stringify(r, null, 2) + '\n');
  if (o.write) {
    writeDoc(text);
    log(`wrote ${DOC} and ${writeRunRecord(r, text)} (raw results: dist/bench-results.json)`);
  }
}

let cleaning = false;
const cleanupAndExit = (code: number) => {
  if (cleaning) return;
  cleaning = true;
  restoreBpfStats();
  void stopAll()
    .then(() => labDown(PREFIX, INVENTORY))
    .catch(() => undefined)
    .finally(() => process.exit(code));
};
process.once('SIGINT', () => cleanupAndExit(130));
process.once('SIGTERM', () => cleanupAndExit(143));

main().catch((e: Error) => {
  log(`failed: ${e.message}`);
  cleanupAndExit(1);
});
