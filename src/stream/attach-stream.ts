/**
 * @module Serves the stream at /api/v1/stream on the agent's HTTP server. Every refusal happens before the
 * upgrade, as a plain HTTP answer: 401 (token), 403 (Origin), 503 (too many clients), 404 (other paths).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { originAllowed, presentedToken, tokenMatches } from '../export/auth.js';
import type { StreamHub } from './stream-hub.js';

export const STREAM_PATH = '/api/v1/stream';

export interface StreamAccess {
  readonly token?: string;
  readonly allowedOrigins: readonly string[];
  readonly maxClients: number;
  /** Largest message a client may send; above it the connection closes with 1009. */
  readonly maxMessageBytes?: number;
}

export function attachStream(server: Server, hub: StreamHub, access: StreamAccess): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: access.maxMessageBytes ?? 64 * 1024,
    handleProtocols: (protocols) => (protocols.has('hopscope') ? 'hopscope' : false),
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    if (path !== STREAM_PATH) return refuse(socket, 404, 'Not Found');
    if (access.token !== undefined && !tokenMatches(access.token, presentedToken(req))) return refuse(socket, 401, 'Unauthorized');
    if (!originAllowed(req, access.allowedOrigins)) return refuse(socket, 403, 'Forbidden');
    if (hub.clientCount >= access.maxClients) return refuse(socket, 503, 'Service Unavailable');
    wss.handleUpgrade(req, socket, head, (ws) => hub.add(ws));
  });
  return wss;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.on('error', () => undefined);
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  setTimeout(() => socket.destroy(), 1000).unref();
}
