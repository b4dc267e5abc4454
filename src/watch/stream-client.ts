/**
 * @module One agent's live stream (`/api/v1/stream`, docs/stream-protocol.md) as a client that stays connected:
 * it sends the subscription on every (re)connect, hands each server message on, reconnects with exponential
 * backoff and jitter after any failure, and treats a silent server (no message and no ping for
 * `idleTimeoutMs`; the agent pings every 15 s) as dead. HTTP 401, 403 and 404 on the upgrade are fatal:
 * retrying cannot fix a wrong token or a wrong URL.
 */
import WebSocket from 'ws';
import { parseServerMessage, type ServerMessage } from './server-message.js';

export const STREAM_PATH = '/api/v1/stream';

export interface StreamClientOptions {
  /** `ws://` or `wss://` URL of the stream (see {@link streamUrl}). */
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** The subscription message to send after each connect (called each time: it may change). */
  readonly subscription: () => unknown;
  readonly onMessage: (msg: ServerMessage) => void;
  /** Connection news for the user (connected, lost, retrying). */
  readonly onStatus: (text: string) => void;
  /** A failure retrying cannot fix; the client has stopped. */
  readonly onFatal: (text: string) => void;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly idleTimeoutMs?: number;
  /** For tests: the source of jitter in [0, 1). */
  readonly random?: () => number;
}

/** The stream URL of an agent given as `http(s)://HOST:PORT`, `ws(s)://...` or a bare `HOST:PORT`. */
export function streamUrl(agent: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(agent) ? agent : `http://${agent}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`"${agent}" is not a URL such as http://127.0.0.1:9940`);
  }
  const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[url.protocol];
  if (!scheme) throw new Error(`"${agent}": use http://, https://, ws:// or wss://`);
  if (url.username || url.password) throw new Error(`"${agent}": no user or password in the URL; use --token-file`);
  url.protocol = scheme;
  const base = url.pathname.replace(/\/+$/, '');
  url.pathname = base.endsWith(STREAM_PATH) ? base : `${base}${STREAM_PATH}`;
  url.search = '';
  url.hash = '';
  return url.href;
}

export class StreamClient {
  private readonly opts: StreamClientOptions;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly idleTimeoutMs: number;
  private ws: WebSocket | undefined;
  private failures = 0;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed: Promise<void> = Promise.resolve();
  private helloSeen = false;

  constructor(opts: StreamClientOptions) {
    this.opts = opts;
    this.initialDelayMs = opts.initialDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 45_000;
  }

  get url(): string {
    return this.opts.url;
  }

  /** Open, and the agent has said hello. */
  get connected(): boolean {
    return this.helloSeen && this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    if (!this.stopped && !this.ws) this.connect();
  }

  /** Closes the connection (politely, then forcibly after 1 s) and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    const ws = this.ws;
    if (ws) {
      if (ws.readyState === WebSocket.OPEN) {
        ws.close(1000, 'client done');
        const force = setTimeout(() => ws.terminate(), 1000);
        ws.once('close', () => clearTimeout(force));
      } else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    }
    await this.closed;
  }

  private connect(): void {
    const headers: Record<string, string> = {};
    if (this.opts.token !== undefined) headers['Authorization'] = `Bearer ${this.opts.token}`;
    const ws = new WebSocket(this.opts.url, { headers, handshakeTimeout: 10_000, maxPayload: 16 * 1024 * 1024 });
    this.ws = ws;
    let opened = false;
    let httpStatus: number | undefined;
    let lastError: string | undefined;
    let idleCut = false;
    this.closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));

    const armIdle = () => {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => {
        idleCut = true;
        ws.terminate();
      }, this.idleTimeoutMs);
    };
    ws.on('unexpected-response', (_req, res) => {
      httpStatus = res.statusCode;
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      opened = true;
      armIdle();
      ws.send(JSON.stringify(this.opts.subscription()));
    });
    ws.on('ping', armIdle);
    ws.on('message', (data, isBinary) => {
      armIdle();
      if (isBinary) {
        this.opts.onMessage({ type: 'invalid', error: 'a binary message' });
        return;
      }
      const msg = parseServerMessage(rawText(data));
      if (msg.type === 'hello') {
        this.failures = 0; // a working agent: the next failure starts the backoff again
        this.helloSeen = true;
      }
      this.opts.onMessage(msg);
    });
    ws.on('error', (err) => {
      lastError = err.message;
    });
    ws.on('close', (code, reason) => {
      clearTimeout(this.idleTimer);
      this.helloSeen = false;
      if (this.ws === ws) this.ws = undefined;
      if (this.stopped) return;
      const fatal = httpStatus === undefined ? undefined : fatalStatus(httpStatus, this.opts.token !== undefined);
      if (fatal) {
        this.stopped = true;
        this.opts.onFatal(`${this.opts.url}: ${fatal}`);
        return;
      }
      const why = idleCut
        ? `no message or ping for ${Math.round(this.idleTimeoutMs / 1000)} s`
        : httpStatus !== undefined
          ? `HTTP ${httpStatus}${httpStatus === 503 ? ' (the agent has too many stream clients)' : ''}`
          : opened
            ? `connection closed (${code}${reason.length > 0 ? ` ${reason.toString('utf8').slice(0, 120)}` : ''}${code === 1008 ? ': this client fell too far behind' : ''})`
            : `cannot connect (${lastError ?? `code ${code}`})`;
      const delay = this.nextDelay();
      this.opts.onStatus(`${this.opts.url}: ${why}; retrying in ${(delay / 1000).toFixed(1)} s`);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    });
  }

  /** Exponential backoff from initialDelayMs to maxDelayMs, each delay in [50%, 100%] of its step. */
  private nextDelay(): number {
    const step = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.round(step * (0.5 + 0.5 * (this.opts.random ?? Math.random)()));
  }
}

function fatalStatus(status: number, hadToken: boolean): string | undefined {
  if (status === 401) return hadToken ? 'the agent refused the token (HTTP 401): check --token-file' : 'the agent needs a token (HTTP 401): give --token-file FILE';
  if (status === 403) return 'forbidden (HTTP 403)';
  if (status === 404) return 'no live stream here (HTTP 404): is this a hopscope agent URL?';
  return undefined;
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
