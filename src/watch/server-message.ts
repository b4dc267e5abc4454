/**
 * @module The agent -> client messages of the live stream (docs/stream-protocol.md), parsed from one text frame
 * and checked enough to be used safely: a trace must have the fields the formatter and the joiner read. Never
 * throws; anything else is `{type: 'invalid', error}`.
 */
import type { Trace } from '../trace/trace.js';

export type ServerMessage =
  | { readonly type: 'hello'; readonly node: string; readonly version?: string; readonly sample?: number }
  | {
      readonly type: 'subscribed';
      readonly filter?: unknown;
      readonly granted?: { readonly ip?: string; readonly port?: number; readonly until?: string; readonly budget_events_per_s?: number };
      readonly refused?: string;
    }
  | { readonly type: 'trace'; readonly trace: Trace }
  | { readonly type: 'dropped'; readonly count: number; readonly total?: number }
  | { readonly type: 'stats'; readonly sent?: number; readonly dropped?: number; readonly traces_per_s?: number; readonly clients?: number }
  | { readonly type: 'error'; readonly error: string }
  | { readonly type: 'invalid'; readonly error: string };

export function parseServerMessage(text: string): ServerMessage {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return invalid('not JSON');
  }
  if (!isRecord(msg)) return invalid('not an object');
  switch (msg['type']) {
    case 'hello':
      if (typeof msg['node'] !== 'string') return invalid('hello without a node');
      return {
        type: 'hello',
        node: msg['node'],
        ...(typeof msg['version'] === 'string' ? { version: msg['version'] } : {}),
        ...(typeof msg['sample'] === 'number' ? { sample: msg['sample'] } : {}),
      };
    case 'subscribed': {
      const granted = msg['granted'];
      const refused = msg['refused'];
      return {
        type: 'subscribed',
        filter: msg['filter'],
        ...(isRecord(granted) ? { granted: granted as Extract<ServerMessage, { type: 'subscribed' }>['granted'] } : {}),
        ...(refused !== undefined && refused !== null ? { refused: typeof refused === 'string' ? refused : JSON.stringify(refused) } : {}),
      };
    }
    case 'trace': {
      const problem = traceProblem(msg['trace']);
      return problem ? invalid(`trace: ${problem}`) : { type: 'trace', trace: msg['trace'] as Trace };
    }
    case 'dropped':
      if (typeof msg['count'] !== 'number') return invalid('dropped without a count');
      return { type: 'dropped', count: msg['count'], ...(typeof msg['total'] === 'number' ? { total: msg['total'] } : {}) };
    case 'stats':
      return { type: 'stats', ...msg } as ServerMessage;
    case 'error':
      return { type: 'error', error: typeof msg['error'] === 'string' ? msg['error'] : JSON.stringify(msg['error']) };
    default:
      return invalid(`unknown message type ${JSON.stringify(msg['type'])?.slice(0, 40)}`);
  }
}

/** What is wrong with a trace object, or undefined if it has every field watch reads, of the right type. */
export function traceProblem(t: unknown): string | undefined {
  if (!isRecord(t)) return 'not an object';
  for (const k of ['id', 'node', 'protocol', 'path', 'outcome'] as const) if (typeof t[k] !== 'string') return `${k} is not a string`;
  if (t['reason'] !== undefined && typeof t['reason'] !== 'string') return 'reason is not a string';
  if (typeof t['latency_ns'] !== 'number') return 'latency_ns is not a number';
  for (const k of ['src', 'dst'] as const) {
    const e = t[k];
    if (!isRecord(e) || typeof e['ip'] !== 'string') return `${k}.ip is not a string`;
  }
  if (!isRecord(t['packet'])) return 'packet is not an object';
  const hops = t['hops'];
  if (!Array.isArray(hops)) return 'hops is not an array';
  for (const [i, h] of hops.entries()) {
    if (!isRecord(h)) return `hops[${i}] is not an object`;
    for (const k of ['node', 'interface', 'kind', 'direction', 't'] as const) if (typeof h[k] !== 'string') return `hops[${i}].${k} is not a string`;
    if (typeof h['delta_ns'] !== 'number') return `hops[${i}].delta_ns is not a number`;
  }
  return undefined;
}

function invalid(error: string): ServerMessage {
  return { type: 'invalid', error };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
