/**
 * The stream on a real HTTP server (port 0) with real `ws` clients, fed traces that the real assembler built
 * from lines recorded in a lab: server-side filters, backpressure, auth and limits.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FixedWallClock } from '../../src/clock/wall-clock.js';
import { decodeLine } from '../../src/decode/decode-line.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import { createApp, listen } from '../../src/export/http-server.js';
import { AgentMetrics } from '../../src/export/metrics.js';
import { matchesTrace, parseTraceFilter } from '../../src/filter/trace-filter.js';
import { FlowTable } from '../../src/model/flow-table.js';
import { NodeCounters } from '../../src/model/node-counters.js';
import { TraceStore } from '../../src/model/trace-store.js';
import { attachStream } from '../../src/stream/attach-stream.js';
import { StreamHub } from '../../src/stream/stream-hub.js';
import { TraceAssembler } from '../../src/trace/trace-assembler.js';
import type { Trace } from '../../src/trace/trace.js';
import { recordedInventory, recordedScope } from '../fixtures/lab-scope.js';
import { until } from '../fixtures/until.js';

const REASONS = new DropReasons(new Map([[2, 'NOT_SPECIFIED'], [3, 'NO_SOCKET'], [88, 'IP_INNOROUTES']]));
const TOKEN = 'a-test-token-of-enough-length';

/** Every trace both nodes' assemblers build from the recorded lab lines. */
function recordedTraces(): Trace[] {
  const out: Trace[] = [];
  for (const node of [1, 2] as const) {
    const a = new TraceAssembler({ node: `node-${node}`, scope: recordedScope(node), inventory: () => recordedInventory, clock: new FixedWallClock(1_700_000_000_000_000_000n), dropReasons: REASONS, onTrace: (t) => out.push(t) });
    for (const line of readFileSync(new URL('../fixtures/recorded/lab-2x2-icmp.txt', import.meta.url), 'utf8').trimEnd().split('\n')) {
      const r = decodeLine(line);
      if (r.ok && r.event.type === 'hop') a.onHop(r.event);
      if (r.ok && r.event.type === 'drop') a.onDrop(r.event);
    }
    a.tick(Number.MAX_SAFE_INTEGER);
  }
  return out;
}

interface Running {
  url: string;
  ws: string;
  hub: StreamHub;
  server: Server;
  metrics: AgentMetrics;
}
const running: Running[] = [];

async function startServer(o: { token?: string; maxClients?: number; maxBufferedBytes?: number; maxSlowMs?: number; allowedOrigins?: string[] } = {}): Promise<Running> {
  const hub = new StreamHub({ node: 'node-1', sample: 64, version: 'test', podIps: () => [], maxBufferedBytes: o.maxBufferedBytes ?? 1 << 20, maxSlowMs: o.maxSlowMs ?? 10_000 });
  const counters = new NodeCounters({ node: 'node-1', bridgeName: 'cni0', scope: recordedScope(1), inventory: () => recordedInventory, dropReasons: REASONS, requestRescan: () => undefined });
  const flows = new FlowTable();
  const metrics = new AgentMetrics(
    { node: 'node-1', bridge: 'cni0', counters, probes: () => [], flowsActive: () => flows.size, flowsEvicted: () => 0, streamClients: () => hub.clientCount, streamDropped: () => hub.droppedTotal },
    [],
  );
  const app = createApp({ node: 'node-1', traces: new TraceStore(), flows, metrics, readiness: () => ({ ready: true, reasons: [], probes: [] }), bridges: () => [], ...(o.token ? { token: o.token } : {}) });
  const { server, url } = await listen(app, '127.0.0.1', 0);
  attachStream(server, hub, { ...(o.token ? { token: o.token } : {}), allowedOrigins: o.allowedOrigins ?? [], maxClients: o.maxClients ?? 64, maxMessageBytes: 4096 });
  const r = { url, ws: url.replace('http', 'ws') + '/api/v1/stream', hub, server, metrics };
  running.push(r);
  return r;
}

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.hub.close();
    r.server.closeAllConnections();
    await new Promise((res) => r.server.close(() => res(undefined)));
  }
});

type Msg = { type: string; [k: string]: unknown };

/** A client that records every message; resolves once the server said hello. */
async function client(url: string, options: WebSocket.ClientOptions = {}, protocols?: string[]) {
  const messages: Msg[] = [];
  const ws = new WebSocket(url, protocols, options);
  ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Msg));
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    const wait = () => (messages.some((m) => m.type === 'hello') ? resolve() : setTimeout(wait, 5));
    ws.once('open', wait);
  });
  return { ws, messages, traces: () => messages.filter((m) => m.type === 'trace').map((m) => m['trace'] as Trace) };
}

/** The HTTP status a refused upgrade gets, and whether any frame arrived. */
async function refusal(url: string, options: WebSocket.ClientOptions = {}, protocols?: string[]): Promise<{ status: number; frames: number }> {
  let frames = 0;
  const ws = new WebSocket(url, protocols, options);
  ws.on('message', () => frames++);
  const status = await new Promise<number>((resolve) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => resolve(101));
    ws.once('error', () => resolve(-1));
  });
  ws.terminate();
  return { status, frames };
}

async function subscribe(c: Awaited<ReturnType<typeof client>>, msg: unknown): Promise<Msg> {
  const before = c.messages.length;
  c.ws.send(JSON.stringify(msg));
  for (let i = 0; i < 200; i++) {
    const answer = c.messages.slice(before).find((m) => m.type === 'subscribed' || m.type === 'error');
    if (answer) return answer;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no answer to the subscription');
}

describe('stream filters', () => {
  it('each client receives exactly the traces its filter selects', async () => {
    const s = await startServer();
    const all = recordedTraces();
    const filters = [{}, { path: 'same-node' }, { pod: 'default/pod-2-1' }, { path: 'cross-node', outcome: 'delivered' }, { protocol: 'icmp', min_latency: '40us' }];
    const clients = await Promise.all(filters.map(() => client(s.ws)));
    for (const [i, f] of filters.entries()) expect((await subscribe(clients[i]!, { filter: f })).type).toBe('subscribed');
    for (const t of all) s.hub.publish(t);
    for (const [i, f] of filters.entries()) {
      const parsed = parseTraceFilter(f);
      if (!parsed.ok) throw new Error(parsed.error);
      const expected = all.filter((t) => matchesTrace(parsed.filter, t)).map((t) => t.id);
      await until(() => clients[i]!.traces().length >= expected.length);
      await new Promise((r) => setTimeout(r, 50));
      expect(clients[i]!.traces().map((t) => t.id), JSON.stringify(f)).toEqual(expected);
    }
    expect(clients[0]!.traces()).toHaveLength(all.length);
    expect(clients[1]!.traces().every((t) => t.path === 'same-node')).toBe(true);
  });

  it('a bad subscription gets an error naming the word and keeps the previous filter', async () => {
    const s = await startServer();
    const c = await client(s.ws);
    await subscribe(c, { filter: { path: 'same-node' } });
    const answer = await subscribe(c, { filter: { path: 'sideways' } });
    expect(answer).toMatchObject({ type: 'error' });
    expect(String(answer['error'])).toContain('path');
    for (const t of recordedTraces()) s.hub.publish(t);
    await until(() => c.traces().length > 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.traces().every((t) => t.path === 'same-node')).toBe(true);
    const junk = await subscribe(c, 'not an object');
    expect(junk.type).toBe('error');
  });
});

describe('backpressure', () => {
  it('a client that never reads is bounded, its drops counted, then cut; a healthy client gets every trace', async () => {
    const s = await startServer({ maxBufferedBytes: 64 * 1024, maxSlowMs: 500 });
    const healthy = await client(s.ws);
    const stalled = await client(s.ws);
    let stalledClosed = false;
    stalled.ws.on('close', () => (stalledClosed = true));
    // stop reading: the kernel buffers fill, then the server's send buffer
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const base = recordedTraces();
    const big = base.map((t) => ({ ...t, src: { ...t.src, pod: 'p'.repeat(2000) } }));
    const total = 20_000;
    for (let i = 0; i < total; i++) {
      s.hub.publish({ ...big[i % big.length]!, id: `t${i}` });
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    await until(() => healthy.traces().length === total, 20_000);
    expect(healthy.traces().map((t) => t.id)).toEqual(Array.from({ length: total }, (_, i) => `t${i}`));
    expect(s.hub.droppedTotal).toBeGreaterThan(0);
    const metrics = await s.metrics.registry.metrics();
    expect(metrics).toContain(`hopscope_stream_dropped_total ${s.hub.droppedTotal}`);
    await until(() => s.hub.clientCount === 1, 5000);
    (stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await until(() => stalledClosed, 5000);
    expect(healthy.messages.some((m) => m.type === 'dropped')).toBe(false);
  });

  it('tells a client how many messages it lost once it drains', async () => {
    const s = await startServer({ maxBufferedBytes: 16 * 1024, maxSlowMs: 60_000 });
    const c = await client(s.ws);
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const t = { ...recordedTraces()[0]!, src: { ip: '10.244.1.11', pod: 'x'.repeat(4000) } };
    for (let i = 0; i < 5000; i++) {
      s.hub.publish({ ...t, id: `d${i}` });
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    const dropped = s.hub.droppedTotal;
    expect(dropped).toBeGreaterThan(0);
    socket.resume();
    await until(() => c.messages.some((m) => m.type === 'dropped'), 5000);
    const notice = c.messages.find((m) => m.type === 'dropped')!;
    expect(notice['count']).toBe(dropped);
    expect(c.traces().length + dropped).toBe(5000);
  });
});

describe('auth and limits', () => {
  it('401 without or with a wrong token, before any upgrade and without a frame', async () => {
    const s = await startServer({ token: TOKEN });
    expect(await refusal(s.ws)).toEqual({ status: 401, frames: 0 });
    expect(await refusal(s.ws, { headers: { Authorization: 'Bearer wrong-token-of-some-length' } })).toEqual({ status: 401, frames: 0 });
    expect(await refusal(s.ws, {}, ['hopscope', `hopscope.token.${Buffer.from('nope').toString('base64url')}`])).toEqual({ status: 401, frames: 0 });
    expect((await fetch(`${s.url}/api/v1/traces`)).status).toBe(401);
    expect((await fetch(`${s.url}/api/v1/traces`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${s.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });

  it('accepts the token as a header or, for browsers, as a subprotocol', async () => {
    const s = await startServer({ token: TOKEN });
    const viaHeader = await client(s.ws, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(viaHeader.messages[0]).toMatchObject({ type: 'hello', node: 'node-1' });
    const viaProtocol = await client(s.ws, {}, ['hopscope', `hopscope.token.${Buffer.from(TOKEN).toString('base64url')}`]);
    expect(viaProtocol.ws.protocol).toBe('hopscope');
  });

  it('403 for a foreign browser Origin, even with the token; the agent\'s own origin is fine', async () => {
    const s = await startServer({ token: TOKEN, allowedOrigins: ['https://grafana.example.com'] });
    const auth = { Authorization: `Bearer ${TOKEN}` };
    expect(await refusal(s.ws, { headers: { ...auth, Origin: 'https://evil.example.com' } })).toEqual({ status: 403, frames: 0 });
    const own = await client(s.ws, { headers: { ...auth, Origin: s.url } });
    expect(own.messages[0]?.type).toBe('hello');
    const allowed = await client(s.ws, { headers: { ...auth, Origin: 'https://grafana.example.com' } });
    expect(allowed.messages[0]?.type).toBe('hello');
  });

  it('503 beyond the client limit; 1009 for an oversized message', async () => {
    const s = await startServer({ maxClients: 2 });
    const a = await client(s.ws);
    await client(s.ws);
    expect((await refusal(s.ws)).status).toBe(503);
    const code = await new Promise<number>((resolve) => {
      a.ws.once('close', (c) => resolve(c));
      a.ws.send('x'.repeat(10_000));
    });
    expect(code).toBe(1009);
  });
});
