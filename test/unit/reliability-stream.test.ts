/**
 * Hostile stream clients on a real HTTP server (port 0): the subscription change rate limit, and 1,000 random
 * handshakes without a valid token (random paths, headers, Authorization schemes, near-miss tokens, token
 * subprotocols, origins) of which none is accepted. The client limit (503) and the inbound message limit
 * (close 1009) are proven in stream.integration.test.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApp, listen } from '../../src/export/http-server.js';
import { AgentMetrics } from '../../src/export/metrics.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import { FlowTable } from '../../src/model/flow-table.js';
import { NodeCounters } from '../../src/model/node-counters.js';
import { TraceStore } from '../../src/model/trace-store.js';
import { attachStream } from '../../src/stream/attach-stream.js';
import { StreamHub } from '../../src/stream/stream-hub.js';
import { recordedInventory, recordedScope } from '../fixtures/lab-scope.js';

const TOKEN = 'rel-test-token-0123456789abcdef';
const running: { hub: StreamHub; server: Server }[] = [];

async function startServer(token?: string) {
  const hub = new StreamHub({ node: 'node-1', sample: 64, version: 'test', podIps: () => [] });
  const counters = new NodeCounters({ node: 'node-1', bridgeName: 'cni0', scope: recordedScope(1), inventory: () => recordedInventory, dropReasons: new DropReasons(new Map()), requestRescan: () => undefined });
  const flows = new FlowTable();
  const metrics = new AgentMetrics({ node: 'node-1', bridge: 'cni0', counters, probes: () => [], flowsActive: () => 0, flowsEvicted: () => 0, streamClients: () => hub.clientCount, streamDropped: () => 0 }, []);
  const app = createApp({ node: 'node-1', traces: new TraceStore(), flows, metrics, readiness: () => ({ ready: true, reasons: [], probes: [] }), bridges: () => [], ...(token ? { token } : {}) });
  const { server, url } = await listen(app, '127.0.0.1', 0);
  attachStream(server, hub, { ...(token ? { token } : {}), allowedOrigins: [], maxClients: 64 });
  running.push({ hub, server });
  return { hub, server, url, port: Number(new URL(url).port) };
}

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.hub.close();
    r.server.closeAllConnections();
    await new Promise((res) => r.server.close(() => res(undefined)));
  }
});

describe('subscription change rate limit', () => {
  it('at most 5 subscriptions per second: the 6th and later in the same second are refused and the 5th filter stays; a second later one is taken again', async () => {
    const s = await startServer();
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/api/v1/stream`);
    const messages: { type: string; [k: string]: unknown }[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as { type: string }));
    await new Promise((r) => ws.once('open', r));
    const paths = ['same-node', 'cross-node', 'same-pod', 'unrouted', 'same-node', 'cross-node', 'same-pod', 'unrouted', 'same-node', 'cross-node', 'same-pod', 'unrouted'];
    const t0 = Date.now();
    for (const path of paths) ws.send(JSON.stringify({ filter: { path } }));
    const answered = () => messages.filter((m) => m.type === 'subscribed' || m.type === 'error');
    while (answered().length < paths.length) await new Promise((r) => setTimeout(r, 5));
    expect(Date.now() - t0).toBeLessThan(900);
    const a = answered();
    expect(a.slice(0, 5).map((m) => m.type)).toEqual(Array(5).fill('subscribed'));
    expect(a.slice(5).map((m) => m.type)).toEqual(Array(paths.length - 5).fill('error'));
    expect(String(a[5]?.['error'])).toMatch(/too many subscriptions/);
    expect(a[4]?.['filter']).toEqual({ path: 'same-node' });
    await new Promise((r) => setTimeout(r, 1050));
    ws.send(JSON.stringify({ filter: { path: 'unrouted' } }));
    while (answered().length < paths.length + 1) await new Promise((r) => setTimeout(r, 5));
    expect(answered().at(-1)).toMatchObject({ type: 'subscribed', filter: { path: 'unrouted' } });
    ws.terminate();
  });
});

/** One raw upgrade request; resolves with the HTTP status the server answered (101 = accepted). */
function handshake(port: number, path: string, headers: [string, string][]): Promise<number> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    const done = (status: number) => {
      sock.destroy();
      resolve(status);
    };
    sock.setTimeout(5000, () => done(-1));
    sock.on('error', () => done(-2));
    sock.on('data', (d) => {
      data += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) done(Number(m[1]));
    });
    sock.on('close', () => done(data ? -3 : -4));
    const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...headers.map(([k, v]) => `${k}: ${v}`)];
    sock.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  });
}

const b64u = (s: string) => Buffer.from(s).toString('base64url');
/** Header-safe text (visible ASCII and spaces). */
const text = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
/** Tokens that are not the token: random, and near misses (one character changed, cut, extended). */
const wrongToken = fc.oneof(
  text,
  fc.nat(TOKEN.length - 1).chain((i) => fc.constantFrom(...'abcdefxyzABC019-_'.split('')).filter((c) => c !== TOKEN[i]).map((c) => TOKEN.slice(0, i) + c + TOKEN.slice(i + 1))),
  fc.nat(TOKEN.length - 1).map((i) => TOKEN.slice(0, i)),
  fc.string({ unit: fc.constantFrom(...'abcXYZ09-_.'.split('')), minLength: 1, maxLength: 4 }).map((x) => TOKEN + x),
  fc.constant(TOKEN.toUpperCase()),
);
const authHeader = fc.oneof(
  wrongToken.map((t) => `Bearer ${t}`),
  wrongToken.map((t) => `bearer ${TOKEN === t ? 'x' : t}`).map((v) => v.replace(/^bearer /, 'bearer ')),
  fc.constant(`bearer ${TOKEN}`), // the scheme is case-sensitive here: not accepted
  fc.constant(`Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`),
  fc.constant(`Token ${TOKEN}`),
  fc.constant(`${TOKEN}`),
  fc.constant('Bearer'),
  fc.constant('Bearer '),
  text,
);
const subprotocols = fc.array(
  fc.oneof(
    fc.constant('hopscope'),
    wrongToken.map((t) => `hopscope.token.${b64u(t)}`),
    text.map((t) => `hopscope.token.${t.replace(/[ ,]/g, '')}`),
    fc.constant(`hopscope.token.${Buffer.from(TOKEN).toString('hex')}`),
    fc.constant(`hopscope.token.`),
    fc.constant(`hopscope.tokens.${b64u(TOKEN)}`),
    fc.constant(`Hopscope.Token.${b64u(TOKEN)}`),
    fc.constant(TOKEN),
    fc.stringMatching(/^[a-z.]{1,20}$/),
  ),
  { maxLength: 4 },
);
const handshakeArb = fc.record({
  path: fc.constantFrom('/api/v1/stream', `/api/v1/stream?token=${TOKEN}`, `/api/v1/stream?access_token=${b64u(TOKEN)}`, '/api/v1/stream/', '//api/v1/stream', '/api/v1/stream#x', '/API/v1/stream', '/api/v1/stream?'),
  auth: fc.option(authHeader, { nil: undefined }),
  protocols: subprotocols,
  origin: fc.option(fc.constantFrom('http://127.0.0.1', 'https://evil.example.com', 'null', 'file://'), { nil: undefined }),
  extra: fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/), text), { maxLength: 4 }),
  cookie: fc.option(fc.constant(`token=${TOKEN}`), { nil: undefined }),
  version: fc.constantFrom('13', '13', '13', '8', ''),
});

describe('handshakes without a valid token', () => {
  it('1,000 random handshakes: 0 accepted, no client ever added', async () => {
    const s = await startServer(TOKEN);
    // control: a real client with the token gets in, so the refusals below are about the token
    const ok = await handshake(s.port, '/api/v1/stream', [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', randomBytes(16).toString('base64')], ['Sec-WebSocket-Version', '13'], ['Authorization', `Bearer ${TOKEN}`]]);
    expect(ok).toBe(101);
    await new Promise((r) => setTimeout(r, 50));
    const baseline = s.hub.clientCount;
    const samples = fc.sample(handshakeArb, { numRuns: 1000, seed: 8 });
    const statuses = new Map<number, number>();
    let maxClients = baseline;
    for (let i = 0; i < samples.length; i += 50) {
      const batch = samples.slice(i, i + 50).map((h) => {
        const headers: [string, string][] = [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', randomBytes(16).toString('base64')]];
        if (h.version) headers.push(['Sec-WebSocket-Version', h.version]);
        if (h.auth !== undefined) headers.push(['Authorization', h.auth]);
        if (h.protocols.length) headers.push(['Sec-WebSocket-Protocol', h.protocols.join(', ')]);
        if (h.origin !== undefined) headers.push(['Origin', h.origin]);
        if (h.cookie !== undefined) headers.push(['Cookie', h.cookie]);
        for (const [k, v] of h.extra) if (!/^(authorization|sec-websocket|upgrade|connection|host|content-length|transfer-encoding)/i.test(k)) headers.push([k, v]);
        return handshake(s.port, h.path, headers);
      });
      for (const status of await Promise.all(batch)) statuses.set(status, (statuses.get(status) ?? 0) + 1);
      maxClients = Math.max(maxClients, s.hub.clientCount);
    }
    expect(statuses.get(101) ?? 0).toBe(0);
    expect(maxClients).toBe(baseline);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(1000);
    // nearly all are refused by the token check itself (the rest: 404 for other paths, 400 for bad requests)
    expect(statuses.get(401) ?? 0).toBeGreaterThan(600);
    for (const status of statuses.keys()) expect([400, 401, 404]).toContain(status);
  }, 60_000);
});
