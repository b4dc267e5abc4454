/**
 * @module The filter words of DESIGN.md (pod, namespace, node, path, protocol, outcome, min_latency, limit,
 * and service: the Service a trace names),
 * parsed once from REST query parameters (and later the stream's filter object and `watch` flags) and
 * matched against traces. Bad values are rejected with a message naming the word.
 */
import { OUTCOMES, PATH_KINDS, type Outcome, type PathKind, type Trace } from '../trace/trace.js';

export interface TraceFilter {
  readonly pod?: { readonly namespace: string; readonly name: string };
  readonly namespace?: string;
  readonly node?: string;
  readonly path?: PathKind;
  readonly protocol?: string;
  readonly outcome?: Outcome;
  readonly minLatencyNs?: number;
  readonly limit: number;
  /** A Service (namespace/name) the packet was addressed to or answered for. */
  readonly service?: { readonly namespace: string; readonly name: string };
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

export type FilterResult = { readonly ok: true; readonly filter: TraceFilter } | { readonly ok: false; readonly error: string };

const KNOWN = new Set(['pod', 'namespace', 'node', 'path', 'protocol', 'outcome', 'min_latency', 'limit', 'service']);

/** Parses filter words; `input` values are strings (query parameters) or, from JSON, strings and numbers. */
export function parseTraceFilter(input: Record<string, unknown>): FilterResult {
  const out: { -readonly [K in keyof TraceFilter]: TraceFilter[K] } = { limit: DEFAULT_LIMIT };
  for (const [key, raw] of Object.entries(input)) {
    if (raw === undefined) continue;
    if (!KNOWN.has(key)) return bad(`unknown filter "${clip(key)}"; known: ${[...KNOWN].join(', ')}`);
    if (typeof raw !== 'string' && typeof raw !== 'number') return bad(`${key}: must be a single value`);
    const value = String(raw).trim();
    if (value.length === 0 || value.length > 253) return bad(`${key}: must be 1 to 253 characters`);
    switch (key) {
      case 'pod':
      case 'service': {
        const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(value);
        if (!m) return bad(`${key}: "${clip(value)}" is not NAMESPACE/NAME`);
        out[key] = { namespace: m[1] as string, name: m[3] as string };
        break;
      }
      case 'namespace':
      case 'node':
        if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(value)) return bad(`${key}: "${clip(value)}" is not a valid name`);
        out[key] = value;
        break;
      case 'path':
        if (!(PATH_KINDS as readonly string[]).includes(value)) return bad(`path: "${clip(value)}" is not one of ${PATH_KINDS.join(', ')}`);
        out.path = value as PathKind;
        break;
      case 'outcome':
        if (!(OUTCOMES as readonly string[]).includes(value)) return bad(`outcome: "${clip(value)}" is not one of ${OUTCOMES.join(', ')}`);
        out.outcome = value as Outcome;
        break;
      case 'protocol':
        if (!/^[A-Za-z0-9-]{1,16}$/.test(value)) return bad(`protocol: "${clip(value)}" is not a protocol name such as TCP`);
        out.protocol = value.toUpperCase();
        break;
      case 'min_latency': {
        const ns = parseDurationNs(value);
        if (ns === undefined) return bad(`min_latency: "${clip(value)}" is not a duration such as 500us, 1ms or 2s`);
        out.minLatencyNs = ns;
        break;
      }
      case 'limit': {
        if (!/^\d{1,6}$/.test(value) || Number(value) < 1 || Number(value) > MAX_LIMIT) return bad(`limit: must be an integer from 1 to ${MAX_LIMIT}`);
        out.limit = Number(value);
        break;
      }
    }
  }
  return { ok: true, filter: out };
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9 };

/** `1ms`, `250us`, `1.5s`, `800ns`; a bare number is nanoseconds. */
export function parseDurationNs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s)?$/.exec(text);
  if (!m) return undefined;
  const ns = Number(m[1]) * (UNITS[m[2] ?? 'ns'] as number);
  return Number.isFinite(ns) && ns <= 3600e9 ? Math.round(ns) : undefined;
}

/** What a filter reads of a trace (the trace ring matches its packed traces on this much, without rebuilding them). */
export type FilterView = Pick<Trace, 'path' | 'outcome' | 'protocol' | 'latency_ns' | 'node' | 'src' | 'dst' | 'service'> & { readonly hops: readonly { readonly node: string }[] };

export function matchesTrace(f: TraceFilter, t: FilterView): boolean {
  if (f.path && t.path !== f.path) return false;
  if (f.outcome && t.outcome !== f.outcome) return false;
  // names are compared without case: the filter is upper-cased, and IPv6's is `ICMPv6`
  if (f.protocol && t.protocol !== f.protocol && t.protocol.toUpperCase() !== f.protocol) return false;
  if (f.minLatencyNs !== undefined && t.latency_ns < f.minLatencyNs) return false;
  if (f.node && t.node !== f.node && t.src.node !== f.node && t.dst.node !== f.node && !t.hops.some((h) => h.node === f.node)) return false;
  if (f.namespace && t.src.namespace !== f.namespace && t.dst.namespace !== f.namespace) return false;
  if (f.pod) {
    const { namespace, name } = f.pod;
    const isEnd = (e: Trace['src']) => e.pod === name && e.namespace === namespace;
    if (!isEnd(t.src) && !isEnd(t.dst)) return false;
  }
  if (f.service && (t.service?.name !== f.service.name || t.service.namespace !== f.service.namespace)) return false;
  return true;
}

function bad(error: string): FilterResult {
  return { ok: false, error };
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
