/**
 * @module A stream client's message -> a subscription: the DESIGN.md filter words and an optional trace-on-
 * demand request. Bad input gets a message naming the field; it never throws.
 */
import { parseTraceFilter, type TraceFilter } from '../filter/trace-filter.js';
import { canonicalIpv6 } from '../net/ipv6.js';

export interface TraceAllRequest {
  /** NAMESPACE/NAME, resolved to the pod's IP by the agent. */
  readonly pod?: string;
  readonly ip?: string;
  readonly port?: number;
  readonly seconds: number;
}

export interface Subscription {
  readonly filter: TraceFilter;
  readonly traceAll?: TraceAllRequest;
  /** `cluster`: this agent's traces and its peers' (fan-in); default `node`: this agent's only. */
  readonly scope: 'node' | 'cluster';
}

export type SubscriptionResult = { readonly ok: true; readonly subscription: Subscription } | { readonly ok: false; readonly error: string };

export function parseSubscription(text: string): SubscriptionResult {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON: send {"filter": {...}}' };
  }
  if (!isRecord(msg)) return { ok: false, error: 'send an object: {"filter": {...}}' };
  for (const key of Object.keys(msg)) {
    if (key !== 'filter' && key !== 'trace_all' && key !== 'scope') return { ok: false, error: `unknown field "${key.slice(0, 40)}"; known: filter, trace_all, scope` };
  }
  const rawFilter = msg['filter'] ?? {};
  if (!isRecord(rawFilter)) return { ok: false, error: 'filter: must be an object of filter words' };
  const { limit: _ignored, ...words } = rawFilter;
  const parsed = parseTraceFilter(words);
  if (!parsed.ok) return { ok: false, error: `filter: ${parsed.error}` };
  const scope = msg['scope'] ?? 'node';
  if (scope !== 'node' && scope !== 'cluster') return { ok: false, error: 'scope: "node" (this agent) or "cluster" (with its peers)' };
  const rawAll = msg['trace_all'];
  if (rawAll === undefined) return { ok: true, subscription: { filter: parsed.filter, scope } };
  if (!isRecord(rawAll)) return { ok: false, error: 'trace_all: must be an object {pod | ip, port?, seconds}' };
  const seconds = rawAll['seconds'];
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0 || seconds > 60) return { ok: false, error: 'trace_all.seconds: a number from 1 to 60' };
  const pod = rawAll['pod'];
  const ip = rawAll['ip'];
  const port = rawAll['port'];
  if ((pod === undefined) === (ip === undefined)) return { ok: false, error: 'trace_all: give exactly one of pod or ip' };
  if (pod !== undefined && (typeof pod !== 'string' || !/^[a-z0-9][-a-z0-9.]{0,252}\/[a-z0-9][-a-z0-9.]{0,252}$/.test(pod))) return { ok: false, error: 'trace_all.pod: NAMESPACE/NAME' };
  if (ip !== undefined && (typeof ip !== 'string' || (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) && canonicalIpv6(ip) === undefined))) return { ok: false, error: 'trace_all.ip: an IPv4 or IPv6 address' };
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) return { ok: false, error: 'trace_all.port: 1 to 65535' };
  const traceAll: TraceAllRequest = {
    seconds,
    ...(typeof pod === 'string' ? { pod } : {}),
    // IPv6 in its canonical text (RFC 5952), as traces name addresses
    ...(typeof ip === 'string' ? { ip: canonicalIpv6(ip) ?? ip } : {}),
    ...(typeof port === 'number' ? { port } : {}),
  };
  return { ok: true, subscription: { filter: parsed.filter, traceAll, scope } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
