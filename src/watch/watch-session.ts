/**
 * @module A running `hopscope watch`: one {@link StreamClient} per agent, the cross-node {@link HalfJoiner}
 * (with more than one agent), the filters applied here rather than by the agents, and the output: one line
 * (or one NDJSON object) per trace on `out`, status and errors on `err`. Ends with `--count` traces, on
 * `stop()`, or with exit code 1 on a failure retrying cannot fix.
 */
import type { Outcome, Trace } from '../trace/trace.js';
import { matchesTrace, type TraceFilter } from '../filter/trace-filter.js';
import { formatTraceLine } from './format-trace-line.js';
import { DEFAULT_JOIN_WINDOW_MS, HalfJoiner } from './join-halves.js';
import { sanitizeText } from './sanitize-text.js';
import type { ServerMessage } from './server-message.js';
import { StreamClient, type StreamClientOptions } from './stream-client.js';

export interface WatchOptions {
  /** Stream URLs (`ws(s)://HOST:PORT/api/v1/stream`), one per agent. */
  readonly agents: readonly string[];
  /** Filter words sent to every agent (DESIGN.md "Filters"), already validated. */
  readonly filter: Readonly<Record<string, string>>;
  /** Checks made here, after the join. */
  readonly local: LocalFilter;
  readonly traceAll?: { readonly pod: string; readonly seconds: number };
  readonly token?: string;
  readonly json: boolean;
  /** Stop after this many traces. */
  readonly count?: number;
  readonly joinWindowMs?: number;
}

export interface LocalFilter {
  readonly outcomes?: readonly Outcome[];
  readonly minLatencyNs?: number;
  /** Only the sender's node knows a packet went to a Service (its NAT rewrote it), so its half names it. */
  readonly service?: TraceFilter['service'];
}

export interface WatchIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly color: boolean;
  readonly now?: () => number;
  /** For tests: backoff and heartbeat settings of the clients. */
  readonly client?: Pick<StreamClientOptions, 'initialDelayMs' | 'maxDelayMs' | 'idleTimeoutMs' | 'random'>;
}

/** The message that subscribes to the stream; `trace_all` only while some of its seconds remain. */
export function subscriptionMessage(opts: Pick<WatchOptions, 'filter' | 'traceAll'>, traceAllSeconds = opts.traceAll?.seconds ?? 0): { filter: Record<string, string>; trace_all?: { pod: string; seconds: number } } {
  return {
    filter: { ...opts.filter },
    ...(opts.traceAll && traceAllSeconds >= 1 ? { trace_all: { pod: opts.traceAll.pod, seconds: Math.min(traceAllSeconds, opts.traceAll.seconds) } } : {}),
  };
}

export function passesLocalFilter(f: LocalFilter, t: Trace): boolean {
  if (f.outcomes && !f.outcomes.includes(t.outcome)) return false;
  if (f.minLatencyNs !== undefined && !(t.latency_ns >= f.minLatencyNs)) return false;
  if (f.service && !matchesTrace({ service: f.service, limit: 0 }, t)) return false;
  return true;
}

export class WatchSession {
  readonly done: Promise<number>;
  private readonly opts: WatchOptions;
  private readonly io: WatchIo;
  private readonly now: () => number;
  private readonly clients: StreamClient[];
  private readonly nodes: (string | undefined)[];
  private readonly joiner: HalfJoiner | undefined;
  private finish: (code: number) => void = () => {};
  private stopping = false;
  private printed = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  private traceAllDeadline: number | undefined;

  constructor(opts: WatchOptions, io: WatchIo) {
    this.opts = opts;
    this.io = io;
    this.now = io.now ?? Date.now;
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.nodes = opts.agents.map(() => undefined);
    this.joiner =
      opts.agents.length > 1
        ? new HalfJoiner({
            windowMs: opts.joinWindowMs ?? DEFAULT_JOIN_WINDOW_MS,
            // hold a half only if the other end's node may be watched: unknown, or an agent not yet heard from
            mayHavePartner: (node) => node === undefined || this.nodes.includes(undefined) || this.nodes.includes(node),
          })
        : undefined;
    this.clients = opts.agents.map(
      (url, i) =>
        new StreamClient({
          ...io.client,
          url,
          ...(opts.token !== undefined ? { token: opts.token } : {}),
          subscription: () => this.subscription(),
          onMessage: (msg) => this.onMessage(i, msg),
          onStatus: (text) => this.status(sanitizeText(text)),
          onFatal: (text) => this.fail(sanitizeText(text)),
        }),
    );
  }

  start(): Promise<number> {
    if (this.opts.traceAll) this.traceAllDeadline = this.now() + this.opts.traceAll.seconds * 1000;
    for (const c of this.clients) c.start();
    return this.done;
  }

  /** Ends the watch with `code`; `flush` first gives out the halves still waiting for a partner. */
  async stop(code = 0, flush = false): Promise<void> {
    if (this.stopping) return;
    if (flush && this.joiner) for (const t of this.joiner.drain()) this.emit(t);
    if (this.stopping) return; // --count was reached while flushing
    this.stopping = true;
    clearTimeout(this.expiryTimer);
    await Promise.all(this.clients.map((c) => c.stop()));
    this.finish(code);
  }

  private subscription() {
    const left = this.traceAllDeadline === undefined ? 0 : Math.ceil((this.traceAllDeadline - this.now()) / 1000);
    return subscriptionMessage(this.opts, left);
  }

  private label(i: number): string {
    const node = this.nodes[i];
    const url = sanitizeText(this.clients[i]?.url ?? '?');
    return node === undefined ? url : `${sanitizeText(node)} (${url})`;
  }

  private onMessage(i: number, msg: ServerMessage): void {
    if (this.stopping) return;
    switch (msg.type) {
      case 'trace':
        this.onTrace(msg.trace);
        break;
      case 'hello': {
        this.nodes[i] = msg.node;
        const sample = msg.sample === undefined ? '' : msg.sample <= 1 ? ', tracing every packet' : `, sampling 1 in ${sanitizeText(msg.sample)} flows`;
        this.status(`connected to ${this.label(i)}${msg.version === undefined ? '' : `, agent ${sanitizeText(msg.version)}`}${sample}`);
        break;
      }
      case 'subscribed':
        if (msg.granted) {
          const g = msg.granted;
          const target = `${sanitizeText(g.ip ?? this.opts.traceAll?.pod ?? '?')}${typeof g.port === 'number' ? `:${g.port}` : ''}`;
          const until = typeof g.until === 'string' ? ` until ${localTime(g.until)}` : '';
          const budget = typeof g.budget_events_per_s === 'number' ? ` (budget ${g.budget_events_per_s} events/s)` : '';
          this.status(`${this.label(i)}: trace_all granted for ${target}${until}${budget}`);
        } else if (msg.refused !== undefined) {
          this.status(`${this.label(i)}: trace_all refused: ${sanitizeText(msg.refused)}`);
        }
        break;
      case 'dropped':
        this.status(`${this.label(i)}: ${msg.count} ${msg.count === 1 ? 'message' : 'messages'} dropped by the agent${msg.total === undefined ? '' : ` (${msg.total} in total)`}`);
        break;
      case 'error':
        this.fail(`${this.label(i)}: the agent rejected the subscription: ${sanitizeText(msg.error)}`);
        break;
      case 'invalid':
        this.status(`${this.label(i)}: ignored a message: ${sanitizeText(msg.error)}`);
        break;
      case 'stats':
        break;
    }
  }

  private onTrace(trace: Trace): void {
    if (!this.joiner) {
      this.emit(trace);
      return;
    }
    for (const t of this.joiner.push(trace, this.now())) this.emit(t);
    this.scheduleExpiry();
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    const next = this.joiner?.nextDeadline();
    if (next === undefined || this.stopping) return;
    this.expiryTimer = setTimeout(() => {
      for (const t of this.joiner?.expire(this.now()) ?? []) this.emit(t);
      this.scheduleExpiry();
    }, Math.max(0, next - this.now()));
  }

  private emit(t: Trace): void {
    if (this.stopping || !passesLocalFilter(this.opts.local, t)) return;
    this.io.out(this.opts.json ? JSON.stringify(t) : formatTraceLine(t, { color: this.io.color }));
    this.printed++;
    if (this.opts.count !== undefined && this.printed >= this.opts.count) void this.stop(0);
  }

  /** `text` is already safe to print: every string from the network in it went through sanitizeText. */
  private status(text: string): void {
    this.io.err(`hopscope watch: ${text}`);
  }

  private fail(text: string): void {
    if (this.stopping) return;
    this.io.err(`hopscope watch: ${text}`);
    void this.stop(1);
  }
}

function localTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? sanitizeText(iso) : d.toLocaleTimeString('en-GB', { hour12: false });
}
