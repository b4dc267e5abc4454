/**
 * @module `hopscope watch`: live hop traces from one or more agents' streams, like `hubble observe` but hop by
 * hop. Flags become the stream subscription (validated with the same filter words as REST, so a bad value
 * fails at once with a message naming the flag, exit code 2); traces go to stdout, one line each (or NDJSON
 * with --json), status and errors to stderr.
 *
 * Where each filter is applied:
 * - `--pod`, `--namespace`, `--node`, `--path`, `--protocol`: by the agents (sent in the subscription).
 * - `--outcome`, `--min-latency`, `--service`: by the agent when there is one agent; with several agents, here,
 *   after the cross-node join (a `forwarded` half must reach watch to be joined, a joined trace's latency spans
 *   both nodes, and the receiver's half cannot name the Service: only the sender's node saw the NAT).
 * - `--drops` (outcome `dropped` or `route-miss`): always here; the subscription carries no outcome.
 */
import { readFileSync } from 'node:fs';
import type { Outcome } from '../trace/trace.js';
import { parseTraceFilter } from '../filter/trace-filter.js';
import { colorWanted } from '../watch/format-trace-line.js';
import { streamUrl } from '../watch/stream-client.js';
import { WatchSession, type LocalFilter, type WatchOptions } from '../watch/watch-session.js';
import { intFlag, parseFlags, UsageError } from './parse-flags.js';

export const DEFAULT_AGENT = 'http://127.0.0.1:9940';
export const MAX_TRACE_ALL_SECONDS = 60;

export const WATCH_USAGE = `usage: hopscope watch [--agent URL]... [--pod NS/NAME] [--namespace NS] [--node NAME]
                      [--path same-node|cross-node|same-pod|unrouted] [--protocol P] [--outcome O]
                      [--min-latency 1ms] [--drops] [--json] [--token-file FILE] [--trace-all SECONDS] [--count N]
                      [--service NS/NAME]

Prints live hop traces from the agents' streams (ws://HOST:PORT/api/v1/stream), one line per packet:
time, source -> destination, protocol, path, each hop as kind:direction(interface) +delta, outcome, latency.

  --agent URL        an agent (http://, https://, ws://, wss:// or HOST:PORT); repeat for several nodes;
                     default ${DEFAULT_AGENT}. With several agents, the two halves of a cross-node packet
                     (the sender's "forwarded" and the receiver's) are printed as one trace.
  --pod NS/NAME      packets from or to this pod           --namespace NS   from or to pods in NS
  --node NAME        packets that touched this node        --path P         same-node|cross-node|same-pod|unrouted
  --protocol P       TCP, UDP, ICMP, ...                   --outcome O      delivered|forwarded|dropped|route-miss|in-flight
  --min-latency D    only traces at least this slow (500us, 1ms, 2s)
  --service NS/NAME  packets addressed to this Service (or its replies), through the node's NAT
  --drops            only dropped packets and route misses (not with --outcome)
  --json             one trace JSON object per line (NDJSON) and nothing else on stdout
  --token-file FILE  the agents' bearer token (sent as Authorization: Bearer <token>)
  --trace-all S      ask each agent to trace every packet of --pod for S seconds (1-${MAX_TRACE_ALL_SECONDS}); needs --pod
  --count N          exit after N traces

Colour only on a terminal and without NO_COLOR. Status and errors (connect, reconnect, messages the agent
dropped for this client) go to stderr.`;

/** Flag -> filter word of DESIGN.md "Filters". */
const FILTER_FLAGS = [
  ['pod', 'pod'],
  ['namespace', 'namespace'],
  ['node', 'node'],
  ['path', 'path'],
  ['protocol', 'protocol'],
  ['outcome', 'outcome'],
  ['min-latency', 'min_latency'],
  ['service', 'service'],
] as const;

export interface ParseWatchDeps {
  readonly readFile?: (path: string) => string;
}

/** `watch` flags -> what the session needs; throws UsageError naming the flag for anything wrong. */
export function parseWatchArgs(argv: readonly string[], deps: ParseWatchDeps = {}): WatchOptions {
  const flags = parseFlags(argv, {
    values: ['pod', 'namespace', 'node', 'path', 'protocol', 'outcome', 'min-latency', 'token-file', 'trace-all', 'count', 'service'],
    repeatable: ['agent'],
    booleans: ['drops', 'json'],
  });
  if (flags.positionals.length > 0) throw new UsageError(`unexpected argument "${flags.positionals[0]}" (see hopscope watch --help)`);

  const agents = [...new Set((flags.lists['agent'] ?? [DEFAULT_AGENT]).map((a) => {
    try {
      return streamUrl(a);
    } catch (e) {
      throw new UsageError(`--agent ${(e as Error).message}`);
    }
  }))];

  const words: Record<string, string> = {};
  let outcome: Outcome | undefined;
  let minLatencyNs: number | undefined;
  let service: LocalFilter['service'];
  for (const [flag, word] of FILTER_FLAGS) {
    const value = flags.values[flag];
    if (value === undefined) continue;
    const parsed = parseTraceFilter({ [word]: value });
    if (!parsed.ok) throw new UsageError(`--${flag} ${parsed.error.startsWith(`${word}: `) ? parsed.error.slice(word.length + 2) : parsed.error}`);
    const f = parsed.filter;
    if (word === 'outcome') outcome = f.outcome;
    if (word === 'min_latency') minLatencyNs = f.minLatencyNs;
    if (word === 'service') service = f.service;
    // what the agent parses is what was given, normalised where the filter normalises (protocol -> upper case)
    words[word] = word === 'protocol' ? (f.protocol as string) : value.trim();
  }

  const drops = flags.booleans.has('drops');
  if (drops && outcome !== undefined) throw new UsageError('--drops and --outcome cannot be combined (--drops is --outcome dropped or route-miss)');
  const several = agents.length > 1;
  const local: { -readonly [K in keyof LocalFilter]: LocalFilter[K] } = {};
  if (drops) local.outcomes = ['dropped', 'route-miss'];
  if (several && outcome !== undefined) {
    local.outcomes = [outcome];
    delete words['outcome'];
  }
  if (several && minLatencyNs !== undefined) {
    local.minLatencyNs = minLatencyNs;
    delete words['min_latency'];
  }
  if (several && service !== undefined) {
    local.service = service;
    delete words['service'];
  }

  let traceAll: WatchOptions['traceAll'];
  if (flags.values['trace-all'] !== undefined) {
    const seconds = intFlag(flags, 'trace-all', 0);
    if (seconds < 1 || seconds > MAX_TRACE_ALL_SECONDS) throw new UsageError(`--trace-all ${seconds}: seconds from 1 to ${MAX_TRACE_ALL_SECONDS}`);
    const pod = words['pod'];
    if (pod === undefined) throw new UsageError('--trace-all needs --pod NS/NAME (the pod whose packets to trace)');
    traceAll = { pod, seconds };
  }

  let count: number | undefined;
  if (flags.values['count'] !== undefined) {
    count = intFlag(flags, 'count', 0);
    if (count < 1) throw new UsageError('--count must be at least 1');
  }

  const tokenFile = flags.values['token-file'];
  const token = tokenFile === undefined ? undefined : readToken(tokenFile, deps.readFile ?? ((p) => readFileSync(p, 'utf8')));

  return {
    agents,
    filter: words,
    local,
    json: flags.booleans.has('json'),
    ...(traceAll ? { traceAll } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(count !== undefined ? { count } : {}),
  };
}

function readToken(path: string, readFile: (path: string) => string): string {
  let token: string;
  try {
    token = readFile(path).trim();
  } catch (e) {
    throw new UsageError(`--token-file ${path}: cannot read it (${(e as Error).message})`);
  }
  if (token.length === 0) throw new UsageError(`--token-file ${path}: the file is empty`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`--token-file ${path}: the token must be one line of printable ASCII without spaces`);
  return token;
}

export async function watchCommand(argv: readonly string[]): Promise<number> {
  const opts = parseWatchArgs(argv);
  const session = new WatchSession(opts, {
    out: (line) => {
      process.stdout.write(`${line}\n`);
    },
    err: (line) => {
      process.stderr.write(`${line}\n`);
    },
    color: !opts.json && colorWanted(process.stdout, process.env),
  });
  const onSignal = () => void session.stop(0, true);
  const onStdoutError = (e: NodeJS.ErrnoException) => {
    // a closed pipe (`hopscope watch | head`) ends the watch quietly
    if (e.code !== 'EPIPE') process.stderr.write(`hopscope watch: stdout: ${e.message}\n`);
    void session.stop(e.code === 'EPIPE' ? 0 : 1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', onStdoutError);
  try {
    return await session.start();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onStdoutError);
  }
}
