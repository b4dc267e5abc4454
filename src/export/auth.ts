/**
 * @module Bearer-token auth for /api/* and the stream (DESIGN.md "Auth"): the token from `--token-file`, in an
 * `Authorization: Bearer` header or, for browsers, in the WebSocket subprotocol `hopscope.token.<base64url>`.
 * /metrics, /healthz and /readyz stay open for scrapers and probes. Plus the Origin check for the stream.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

export const TOKEN_SUBPROTOCOL_PREFIX = 'hopscope.token.';

export class TokenFileError extends Error {
  override readonly name = 'ConfigError';
}

export function readTokenFile(path: string): string {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new TokenFileError(`--token-file ${path}: cannot read it (${(e as Error).message})`);
  }
  if (token.length < 16) throw new TokenFileError(`--token-file ${path}: the token must be at least 16 characters`);
  if (/\s/.test(token)) throw new TokenFileError(`--token-file ${path}: the token must be one line without spaces`);
  return token;
}

/** The token a request presents, from the header or the WebSocket subprotocols. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  const protocols = req.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    for (const p of protocols.split(',').map((s) => s.trim())) {
      if (p.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) {
        try {
          return Buffer.from(p.slice(TOKEN_SUBPROTOCOL_PREFIX.length), 'base64url').toString('utf8');
        } catch {
          return undefined;
        }
      }
    }
  }
  return undefined;
}

export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Express middleware for /api/*: 401 without the right token. */
export function requireToken(token: string | undefined) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (token === undefined || tokenMatches(token, presentedToken(req))) {
      next();
      return;
    }
    res.status(401).set('WWW-Authenticate', 'Bearer realm="hopscope"').json({ error: 'unauthorized: send Authorization: Bearer <token>' });
  };
}

/** Browsers send Origin; only the agent's own origin (or an allowed one) may open the stream. */
export function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser: auth is the token's job
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  return host === req.headers.host || allowed.includes(origin);
}
