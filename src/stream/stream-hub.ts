/**
 * @module Live traces to WebSocket clients: each client's filter is applied on the server; each client has a
 * bounded send buffer (ws `bufferedAmount`): above it, messages for that client are dropped and counted, the
 * client is told how many once it drains, and a client above it for too long is cut. Other clients are not
 * affected. A heartbeat cuts dead peers.
 */
import type { WebSocket } from 'ws';
import { matchesTrace, type TraceFilter } from '../filter/trace-filter.js';
import type { FocusAnswer, FocusTarget, TraceFocus } from '../focus/trace-focus.js';
import type { Trace } from '../trace/trace.js';
import { parseSubscription, type TraceAllRequest } from './subscription.js';

export interface StreamHubOptions {
  readonly node: string;
  readonly sample: number;
  readonly version: string;
  readonly focus?: TraceFocus;
  /** Resolves a pod (NAMESPACE/NAME) to its addresses for trace_all, IPv4 first; empty when unknown. */
  readonly podIps: (pod: string) => readonly string[];
  readonly maxBufferedBytes?: number;
  /** A client above the buffer bound this long is disconnected. */
  readonly maxSlowMs?: number;
  readonly heartbeatMs?: number;
  readonly statsMs?: number;
  readonly maxSubscriptionsPerSecond?: number;
}

interface Client {
  readonly ws: WebSocket;
  filter: TraceFilter;
  cluster: boolean;
  sent: number;
  dropped: number;
  droppedUnreported: number;
  slowSince: number | undefined;
  alive: boolean;
  recentSubscriptions: number[];
}

const EVERYTHING: TraceFilter = { limit: 1 };

export class StreamHub {
  droppedTotal = 0;
  private readonly clients = new Set<Client>();
  private readonly timers: NodeJS.Timeout[] = [];
  private published = 0;
  private publishedAtLastStats = 0;
  private lastStatsAt = Date.now();
  private readonly maxBuffered: number;
  private readonly maxSlowMs: number;

  constructor(private readonly o: StreamHubOptions) {
    this.maxBuffered = o.maxBufferedBytes ?? 1 << 20;
    this.maxSlowMs = o.maxSlowMs ?? 10_000;
    this.timers.push(setInterval(() => this.checkSlow(), 250));
    this.timers.push(setInterval(() => this.heartbeat(), o.heartbeatMs ?? 15_000));
    this.timers.push(setInterval(() => this.sendStats(), o.statsMs ?? 5000));
  }

  get clientCount(): number {
    return this.clients.size;
  }

  add(ws: WebSocket): void {
    const c: Client = { ws, filter: EVERYTHING, cluster: false, sent: 0, dropped: 0, droppedUnreported: 0, slowSince: undefined, alive: true, recentSubscriptions: [] };
    this.clients.add(c);
    ws.on('pong', () => (c.alive = true));
    ws.on('message', (data, isBinary) => this.onMessage(c, isBinary ? '' : data.toString()));
    ws.on('close', () => {
      this.clients.delete(c);
      this.o.focus?.release(c);
    });
    ws.on('error', () => ws.terminate());
    this.send(c, JSON.stringify({ type: 'hello', node: this.o.node, version: this.o.version, sample: this.o.sample }));
  }

  publish(trace: Trace): void {
    this.published++;
    this.fanOut(trace, false);
  }

  /** A peer agent's trace: only for clients that asked for the whole cluster. */
  publishFromPeer(trace: Trace): void {
    this.fanOut(trace, true);
  }

  private fanOut(trace: Trace, fromPeer: boolean): void {
    if (this.clients.size === 0) return;
    let message: string | undefined;
    for (const c of this.clients) {
      if ((fromPeer && !c.cluster) || !matchesTrace(c.filter, trace)) continue;
      message ??= `{"type":"trace","trace":${JSON.stringify(trace)}}`;
      this.send(c, message);
    }
  }

  /** Closes every client (1001 "going away" at shutdown) and stops the timers. */
  close(code = 1001, reason = 'agent stopping'): void {
    for (const t of this.timers) clearInterval(t);
    for (const c of this.clients) c.ws.close(code, reason);
  }

  private send(c: Client, message: string): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    if (c.ws.bufferedAmount > this.maxBuffered) {
      c.dropped++;
      c.droppedUnreported++;
      this.droppedTotal++;
      c.slowSince ??= Date.now();
      return;
    }
    c.slowSince = undefined;
    if (c.droppedUnreported > 0) {
      const notice = JSON.stringify({ type: 'dropped', count: c.droppedUnreported, total: c.dropped });
      c.droppedUnreported = 0;
      c.ws.send(notice);
    }
    c.ws.send(message);
    c.sent++;
  }

  private onMessage(c: Client, text: string): void {
    const now = Date.now();
    c.recentSubscriptions = c.recentSubscriptions.filter((t) => now - t < 1000);
    if (c.recentSubscriptions.length >= (this.o.maxSubscriptionsPerSecond ?? 5)) {
      this.send(c, JSON.stringify({ type: 'error', error: 'too many subscriptions: at most 5 per second; the previous one stays' }));
      return;
    }
    c.recentSubscriptions.push(now);
    const parsed = parseSubscription(text);
    if (!parsed.ok) {
      this.send(c, JSON.stringify({ type: 'error', error: parsed.error }));
      return;
    }
    c.filter = parsed.subscription.filter;
    c.cluster = parsed.subscription.scope === 'cluster';
    const answer = parsed.subscription.traceAll ? this.widen(c, parsed.subscription.traceAll) : undefined;
    this.send(c, JSON.stringify({ type: 'subscribed', filter: describeFilter(c.filter), scope: c.cluster ? 'cluster' : 'node', ...(answer ?? {}) }));
  }

  private widen(c: Client, req: TraceAllRequest): FocusAnswer {
    if (!this.o.focus) return { refused: 'trace on demand is not enabled on this agent' };
    let target: FocusTarget;
    if (req.pod !== undefined) {
      const ips = this.o.podIps(req.pod);
      const ip = ips[0];
      if (!ip) return { refused: `pod ${req.pod} is not known to this agent` };
      target = ips.length > 1 ? { ip, ips } : { ip };
    } else {
      target = { ip: req.ip as string, ...(req.port !== undefined ? { port: req.port } : {}) };
    }
    return this.o.focus.request(c, target, req.seconds);
  }

  private checkSlow(): void {
    const now = Date.now();
    this.o.focus?.expire();
    for (const c of this.clients) {
      if (c.slowSince !== undefined && c.ws.bufferedAmount <= this.maxBuffered) {
        c.slowSince = undefined;
        if (c.droppedUnreported > 0) this.send(c, JSON.stringify({ type: 'dropped', count: c.droppedUnreported, total: c.dropped }));
        c.droppedUnreported = 0;
      }
      if (c.slowSince !== undefined && now - c.slowSince > this.maxSlowMs) {
        // its buffer is full, so a close frame would wait behind it: close, then cut
        c.ws.close(1008, 'client too slow: send buffer full');
        setTimeout(() => c.ws.terminate(), 1000).unref();
        this.clients.delete(c);
        this.o.focus?.release(c);
      }
    }
  }

  private heartbeat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  private sendStats(): void {
    const now = Date.now();
    const rate = ((this.published - this.publishedAtLastStats) * 1000) / Math.max(1, now - this.lastStatsAt);
    this.publishedAtLastStats = this.published;
    this.lastStatsAt = now;
    for (const c of this.clients) {
      this.send(c, JSON.stringify({ type: 'stats', sent: c.sent, dropped: c.dropped, traces_per_s: Math.round(rate * 10) / 10, clients: this.clients.size }));
    }
  }
}

/** The filter as the client can read it back (the same words as it sent). */
function describeFilter(f: TraceFilter): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (f.pod) out['pod'] = `${f.pod.namespace}/${f.pod.name}`;
  if (f.namespace) out['namespace'] = f.namespace;
  if (f.node) out['node'] = f.node;
  if (f.path) out['path'] = f.path;
  if (f.protocol) out['protocol'] = f.protocol;
  if (f.outcome) out['outcome'] = f.outcome;
  if (f.minLatencyNs !== undefined) out['min_latency_ns'] = f.minLatencyNs;
  return out;
}
