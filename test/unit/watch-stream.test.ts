/**
 * `hopscope watch` end to end: the built CLI (dist/, as users run it) as a child process against real `ws`
 * servers on loopback port 0 that speak the stream protocol of docs/stream-protocol.md.
 */
import { execa } from 'execa';
import type { IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Trace } from '../../src/trace/trace.js';
import { hop, receiverHalf, sameNode, senderHalf, T0 } from '../fixtures/watch-traces.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'watch-test-token-0123456789';

interface Connection {
  readonly headers: IncomingHttpHeaders;
  readonly path: string | undefined;
  readonly subscriptions: unknown[];
}

interface FakeAgent {
  readonly url: string;
  readonly connections: Connection[];
  close(): Promise<void>;
}

/**
 * A stream server: says hello on connect, answers each subscription with `subscribed` (plus `extra`) and then
 * calls `onSubscribe` to send what the test wants.
 */
async function fakeAgent(
  node: string,
  onSubscribe: (ws: WebSocket, connection: number) => void,
  opts: { refuse?: number; subscribed?: Record<string, unknown> } = {},
): Promise<FakeAgent> {
  const connections: Connection[] = [];
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    ...(opts.refuse ? { verifyClient: (_info: unknown, cb: (ok: boolean, code?: number) => void) => cb(false, opts.refuse) } : {}),
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  wss.on('connection', (ws, req) => {
    const conn: Connection = { headers: req.headers, path: req.url, subscriptions: [] };
    const index = connections.push(conn) - 1;
    ws.send(JSON.stringify({ type: 'hello', node, version: '0.1.0', sample: 1 }));
    ws.on('message', (data) => {
      const sub = JSON.parse(String(data)) as { filter?: unknown };
      conn.subscriptions.push(sub);
      ws.send(JSON.stringify({ type: 'subscribed', filter: sub.filter ?? {}, ...opts.subscribed }));
      onSubscribe(ws, index);
    });
  });
  return {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

const sendTrace = (ws: WebSocket, trace: Trace) => ws.send(JSON.stringify({ type: 'trace', trace }));

function watch(args: string[]) {
  return execa(process.execPath, ['bin/hopscope.js', 'watch', ...args], { cwd: ROOT, reject: false, timeout: 20_000, env: { NO_COLOR: '' } });
}

const lines = (text: string) => (text === '' ? [] : text.split('\n'));

let dir: string;
const agents: FakeAgent[] = [];

beforeAll(async () => {
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
  dir = mkdtempSync(join(tmpdir(), 'hopscope-watch-'));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
}, 120_000);

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('hopscope watch against a stream server', () => {
  it('--json --count 2 prints exactly the first two traces as NDJSON, sends the subscription and the token', async () => {
    const first = sameNode();
    const second = receiverHalf();
    const agent = await fakeAgent('node-1', (ws) => {
      sendTrace(ws, first);
      ws.send(JSON.stringify({ type: 'dropped', count: 3, total: 3 }));
      ws.send(JSON.stringify({ type: 'stats', sent: 2, dropped: 3, traces_per_s: 1, clients: 1 }));
      sendTrace(ws, second);
      sendTrace(ws, sameNode({ id: 'third-never-printed' }));
    });
    agents.push(agent);
    const r = await watch(['--agent', agent.url, '--json', '--count', '2', '--token-file', join(dir, 'token'), '--pod', 'default/pod-1-1', '--path', 'cross-node', '--min-latency', '10us']);
    expect(r.exitCode).toBe(0);
    expect(lines(r.stdout)).toEqual([JSON.stringify(first), JSON.stringify(second)]);
    expect(r.stderr).toContain('connected to node-1');
    expect(r.stderr).toContain('3 messages dropped by the agent (3 in total)');
    expect(agent.connections).toHaveLength(1);
    expect(agent.connections[0]?.path).toBe('/api/v1/stream');
    expect(agent.connections[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(agent.connections[0]?.subscriptions).toEqual([{ filter: { pod: 'default/pod-1-1', path: 'cross-node', min_latency: '10us' } }]);
  });

  it('prints readable, sanitised lines; --drops keeps only drops; --trace-all asks and reports the answer', async () => {
    const hostile = sameNode({
      id: 'drop-1',
      outcome: 'dropped',
      reason: 'NETFILTER_DROP',
      hops: [hop('node-1', 'pod', 'egress', '\u001b[2J', T0, 0), hop('node-1', 'veth', 'ingress', 'veth1p1', T0 + 2_000n, 2_000)],
      latency_ns: 2_000,
    });
    const agent = await fakeAgent(
      'node-1',
      (ws) => {
        sendTrace(ws, sameNode()); // delivered: not a drop
        sendTrace(ws, hostile);
      },
      { subscribed: { granted: { ip: '10.244.1.11', until: '2030-01-01T00:00:30Z', budget_events_per_s: 5000 } } },
    );
    agents.push(agent);
    const r = await watch(['--agent', agent.url, '--pod', 'default/pod-1-1', '--trace-all', '10', '--drops', '--count', '1']);
    expect(r.exitCode).toBe(0);
    expect(agent.connections[0]?.subscriptions).toEqual([{ filter: { pod: 'default/pod-1-1' }, trace_all: { pod: 'default/pod-1-1', seconds: 10 } }]);
    const out = lines(r.stdout);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} default\/pod-1-1 -> default\/pod-1-2 ICMP echo-request same-node \[node-1\] pod:egress\(\\x1b\[2J\) > veth:ingress\(veth1p1\) \+2\.0µs => dropped \(NETFILTER_DROP\) 2\.0µs$/);
    expect(r.stdout).not.toContain('\u001b'); // not a TTY: no colour, and nothing from the server unescaped
    expect(r.stderr).toMatch(/trace_all granted for 10\.244\.1\.11 until \d\d:\d\d:\d\d \(budget 5000 events\/s\)/);
  });

  it('prints the refusal of trace_all on stderr', async () => {
    const agent = await fakeAgent('node-1', (ws) => sendTrace(ws, sameNode()), { subscribed: { refused: 'another trace_all is active until 12:00:00' } });
    agents.push(agent);
    const r = await watch(['--agent', agent.url, '--pod', 'default/pod-1-1', '--trace-all', '5', '--count', '1', '--json']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('trace_all refused: another trace_all is active until 12:00:00');
    expect(lines(r.stdout)).toEqual([JSON.stringify(sameNode())]);
  });

  it('reconnects with backoff after the agent goes away and subscribes again', async () => {
    const agent = await fakeAgent('node-1', (ws, connection) => {
      if (connection === 0) ws.close(1011, 'agent restarting');
      else sendTrace(ws, sameNode());
    });
    agents.push(agent);
    const r = await watch(['--agent', agent.url, '--json', '--count', '1', '--node', 'node-1']);
    expect(r.exitCode).toBe(0);
    expect(lines(r.stdout)).toEqual([JSON.stringify(sameNode())]);
    expect(r.stderr).toMatch(/connection closed \(1011 agent restarting\); retrying in \d\.\d s/);
    expect(agent.connections.map((c) => c.subscriptions)).toEqual([[{ filter: { node: 'node-1' } }], [{ filter: { node: 'node-1' } }]]);
  });

  it('fails with exit code 1 when the agent refuses the token', async () => {
    const agent = await fakeAgent('node-1', () => {}, { refuse: 401 });
    agents.push(agent);
    const r = await watch(['--agent', agent.url, '--json']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('the agent needs a token (HTTP 401): give --token-file FILE');
  });

  it('with two agents prints the two halves of a cross-node packet as one trace', async () => {
    const a = await fakeAgent('node-1', (ws) => sendTrace(ws, senderHalf()));
    const b = await fakeAgent('node-2', (ws) => setTimeout(() => sendTrace(ws, receiverHalf()), 100));
    agents.push(a, b);
    const r = await watch(['--agent', a.url, '--agent', b.url, '--json', '--count', '1', '--outcome', 'delivered']);
    expect(r.exitCode).toBe(0);
    const out = lines(r.stdout).map((l) => JSON.parse(l) as Trace);
    expect(out).toHaveLength(1);
    expect(out[0]?.node).toBe('node-1,node-2');
    expect(out[0]?.hops.map((h) => `${h.node}/${h.kind}:${h.direction}`)).toEqual([
      'node-1/pod:egress',
      'node-1/veth:ingress',
      'node-1/bridge:ingress',
      'node-1/uplink:egress',
      'node-2/uplink:ingress',
      'node-2/bridge:egress',
      'node-2/veth:egress',
      'node-2/pod:ingress',
    ]);
    expect(out[0]?.latency_ns).toBe(82_019);
    expect(out[0]?.outcome).toBe('delivered');
    // the agents do not filter the outcome: the forwarded half must reach watch to be joined
    expect(a.connections[0]?.subscriptions).toEqual([{ filter: {} }]);
  });

  it('with two agents prints a half alone when its partner does not come within the window', async () => {
    const a = await fakeAgent('node-1', (ws) => sendTrace(ws, senderHalf()));
    const b = await fakeAgent('node-2', () => {});
    agents.push(a, b);
    const started = Date.now();
    const r = await watch(['--agent', a.url, '--agent', b.url, '--json', '--count', '1']);
    expect(r.exitCode).toBe(0);
    expect(lines(r.stdout)).toEqual([JSON.stringify(senderHalf())]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });
});
