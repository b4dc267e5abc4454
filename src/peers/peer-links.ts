/**
 * @module This agent's links to the other nodes' agents (`--peer NAME=URL`): a live-stream subscription to
 * each, kept connected, whose traces feed cross-node stitching and the cluster-wide stream. Real nodes share
 * nothing but the network, so this is the only way halves of a packet meet.
 */
import { StreamClient, streamUrl } from '../watch/stream-client.js';
import type { Trace } from '../trace/trace.js';

export interface Peer {
  readonly name: string;
  readonly url: string;
}

export class PeerError extends Error {
  override readonly name = 'ConfigError';
}

/** `NAME=URL`, e.g. `node-2=http://10.0.0.2:9940`. */
export function parsePeer(text: string): Peer {
  const eq = text.indexOf('=');
  const name = text.slice(0, eq);
  const url = text.slice(eq + 1);
  if (eq <= 0 || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) throw new PeerError(`--peer "${text}": use NAME=URL, e.g. node-2=http://10.0.0.2:9940`);
  try {
    streamUrl(url);
  } catch (e) {
    throw new PeerError(`--peer ${name}: ${(e as Error).message}`);
  }
  return { name, url };
}

export interface PeerLinksOptions {
  readonly peers: readonly Peer[];
  readonly token?: string;
  readonly onTrace: (peer: string, trace: Trace) => void;
  readonly log: (message: string) => void;
}

export class PeerLinks {
  private readonly clients = new Map<string, StreamClient>();
  private started = false;

  constructor(private readonly o: PeerLinksOptions) {
    for (const peer of o.peers) this.clients.set(peer.name, this.client(peer));
  }

  /** Replaces the peer set (discovered peers change): new peers connect, gone ones disconnect. */
  setPeers(peers: readonly Peer[]): void {
    const wanted = new Map(peers.map((p) => [p.name, p]));
    for (const [name, client] of this.clients) {
      const want = wanted.get(name);
      if (!want || streamUrl(want.url) !== client.url) {
        void client.stop();
        this.clients.delete(name);
        this.o.log(`peer ${name}: ${want ? 'moved' : 'gone'}`);
      }
    }
    for (const peer of peers) {
      if (this.clients.has(peer.name)) continue;
      const client = this.client(peer);
      this.clients.set(peer.name, client);
      if (this.started) client.start();
    }
  }

  private client(peer: Peer): StreamClient {
    const o = this.o;
    return new StreamClient({
      url: streamUrl(peer.url),
      ...(o.token !== undefined ? { token: o.token } : {}),
      subscription: () => ({ filter: {} }),
      onMessage: (msg) => {
        if (msg.type === 'trace') o.onTrace(peer.name, msg.trace);
        else if (msg.type === 'hello') o.log(`peer ${peer.name}: connected (${peer.url})`);
        else if (msg.type === 'dropped') o.log(`peer ${peer.name}: ${msg.count} messages dropped by the peer (this agent read too slowly)`);
      },
      onStatus: (text) => o.log(`peer ${peer.name}: ${text}`),
      onFatal: (text) => o.log(`peer ${peer.name}: giving up: ${text}`),
    });
  }

  start(): void {
    this.started = true;
    for (const c of this.clients.values()) c.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.stop()));
  }

  connected(name: string): boolean {
    return this.clients.get(name)?.connected ?? false;
  }

  views(): { name: string; url: string; connected: boolean }[] {
    return [...this.clients].map(([name, c]) => ({ name, url: c.url, connected: c.connected }));
  }
}

/**
 * Peers from the cluster's Nodes: the agent runs with hostNetwork on every node, so each node's agent listens
 * on that node's InternalIP at the same port as this one.
 */
export function peersFromNodes(nodes: readonly { name: string; internalIP: string }[], self: string, port: number): Peer[] {
  return nodes
    .filter((n) => n.name !== self && n.internalIP !== '')
    .map((n) => ({ name: n.name, url: `http://${n.internalIP.includes(':') ? `[${n.internalIP}]` : n.internalIP}:${port}` }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
