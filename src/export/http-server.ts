/**
 * @module The agent's HTTP API: /metrics, /healthz, /readyz, /api/v1/traces and /api/v1/flows.
 */
import express, { type Request, type Response } from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { matchesTrace, parseTraceFilter, type TraceFilter } from '../filter/trace-filter.js';
import type { FlowSummary, FlowTable } from '../model/flow-table.js';
import type { TraceStore } from '../model/trace-store.js';
import { packagePath } from '../package-root.js';
import { requireToken } from './auth.js';
import type { AgentMetrics } from './metrics.js';

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready, or what is degraded. */
  readonly reasons: readonly string[];
  readonly probes: readonly { name: string; state: string; detail: string }[];
}

export interface HttpSources {
  readonly node: string;
  readonly traces: TraceStore;
  readonly flows: FlowTable;
  readonly metrics: AgentMetrics;
  readonly readiness: () => Readiness;
  readonly bridges: () => readonly BridgeView[];
  /** With a token, /api/* needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Peer agents, their link state and clock offset. */
  readonly peers?: () => readonly object[];
}

export interface BridgeView {
  readonly name: string;
  readonly entries: readonly { mac: string; vid: number; port?: string; permanent: boolean }[];
  readonly counters: Readonly<Record<string, number>>;
}

export function createApp(s: HttpSources): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', node: s.node });
  });
  app.get('/readyz', (_req, res) => {
    const r = s.readiness();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not ready', node: s.node, ...r });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(s.metrics.registry.contentType).send(await s.metrics.registry.metrics());
  });
  app.use('/api', requireToken(s.token));
  app.get('/api/v1/traces', (req, res) => {
    const filter = filterFrom(req, res);
    if (filter) res.json({ node: s.node, traces: s.traces.query(filter) });
  });
  app.get('/api/v1/flows', (req, res) => {
    const filter = filterFrom(req, res);
    if (filter) res.json({ node: s.node, flows: s.flows.list(filter.limit, (f) => flowMatches(filter, f)) });
  });
  app.get('/api/v1/peers', (_req, res) => {
    res.json({ node: s.node, peers: s.peers?.() ?? [] });
  });
  app.get('/api/v1/bridges', (_req, res) => {
    res.json({ node: s.node, bridges: s.bridges() });
  });
  // the live web view: static files, no build step
  app.use('/', express.static(WEB_DIR, { index: 'index.html', maxAge: 0 }));
  app.use('/api', (_req, res) => {
    res.status(404).json({ error: 'no such API endpoint; see /api/v1/traces, /api/v1/flows, /api/v1/bridges' });
  });
  return app;
}

/** src/web/ at the package root (served from the sources, built or not). */
export const WEB_DIR = packagePath('src/web/');

function filterFrom(req: Request, res: Response): TraceFilter | undefined {
  const parsed = parseTraceFilter(req.query as Record<string, unknown>);
  if (!parsed.ok) {
    res.status(400).json({ error: parsed.error });
    return undefined;
  }
  return parsed.filter;
}

/** Flows carry the fields traces are filtered on, except per-packet outcome and latency. */
function flowMatches(filter: TraceFilter, f: FlowSummary): boolean {
  return matchesTrace(
    { ...filter, outcome: undefined, minLatencyNs: undefined },
    { node: f.src.node ?? '', src: f.src, dst: f.dst, protocol: f.protocol, path: f.path, hops: [], outcome: 'delivered', latency_ns: f.latency_ns.max },
  ) && (filter.minLatencyNs === undefined || f.latency_ns.max >= filter.minLatencyNs);
}

export async function listen(app: express.Express, host: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { server, url: `http://${shownHost}:${address.port}` };
}
