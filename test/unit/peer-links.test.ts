import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { parsePeer, PeerLinks, peersFromNodes } from '../../src/peers/peer-links.js';
import type { Trace } from '../../src/trace/trace.js';
import { until } from '../fixtures/until.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((r) => s.close(r));
  }
});

/** A stand-in agent stream: says hello, counts open connections, sends one trace on subscription. */
async function fakeAgent(node: string) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  await new Promise((r) => wss.once('listening', r));
  let open = 0;
  wss.on('connection', (ws) => {
    open++;
    ws.on('close', () => open--);
    ws.send(JSON.stringify({ type: 'hello', node }));
    ws.on('message', () => ws.send(JSON.stringify({ type: 'trace', trace: { id: `${node}-1`, node, src: { ip: '10.244.1.11' }, dst: { ip: '10.244.2.11' }, protocol: 'ICMP', path: 'cross-node', hops: [{ node, interface: 'eth0', kind: 'pod', direction: 'egress', t: '1', delta_ns: 0 }], outcome: 'forwarded', latency_ns: 0, packet: { ip_id: 1, length: 84 } } })));
  });
  return { url: `http://127.0.0.1:${(wss.address() as { port: number }).port}`, open: () => open };
}

describe('peersFromNodes', () => {
  it('every other node with an InternalIP, at this agent\'s port', () => {
    const peers = peersFromNodes(
      [
        { name: 'node-b', internalIP: '10.0.0.2' },
        { name: 'node-a', internalIP: '10.0.0.1' },
        { name: 'node-c', internalIP: '' },
        { name: 'node-d', internalIP: 'fd00::4' },
      ],
      'node-a',
      9940,
    );
    expect(peers).toEqual([
      { name: 'node-b', url: 'http://10.0.0.2:9940' },
      { name: 'node-d', url: 'http://[fd00::4]:9940' },
    ]);
  });

  it('parsePeer takes NAME=URL and names --peer on bad input', () => {
    expect(parsePeer('node-2=http://10.0.0.2:9940')).toEqual({ name: 'node-2', url: 'http://10.0.0.2:9940' });
    expect(() => parsePeer('node-2')).toThrow(/--peer/);
  });
});

describe('PeerLinks', () => {
  it('streams each peer\'s traces; a new peer set connects new peers and drops gone ones', async () => {
    const a = await fakeAgent('node-a');
    const b = await fakeAgent('node-b');
    const got: [string, Trace][] = [];
    const links = new PeerLinks({ peers: [{ name: 'node-a', url: a.url }], onTrace: (p, t) => got.push([p, t]), log: () => undefined });
    links.start();
    await until(() => links.connected('node-a') && got.length === 1);
    expect(got[0]![0]).toBe('node-a');
    links.setPeers([{ name: 'node-a', url: a.url }, { name: 'node-b', url: b.url }]);
    await until(() => links.connected('node-b') && got.some(([p]) => p === 'node-b'));
    links.setPeers([{ name: 'node-b', url: b.url }]);
    await until(() => a.open() === 0);
    expect(links.connected('node-a')).toBe(false);
    expect(links.views().map((v) => v.name)).toEqual(['node-b']);
    await links.stop();
    await until(() => b.open() === 0);
  });
});
