/**
 * @module One trace as one terminal line for `hopscope watch`:
 *
 * `14:03:07.123 default/pod-1-1 -> default/pod-2-1 ICMP echo-request cross-node [node-1] pod:egress(eth0) >
 * veth:ingress(veth1p1) +10.9µs > ... > [node-2] uplink:ingress(eth0) +41.2µs > ... => delivered 152.0µs`
 *
 * The time is the first hop's, local, to the millisecond; `[node]` opens each node's run of hops; `+Δ` is the
 * time since the previous hop. Every string that came from the agent is passed through {@link sanitizeText};
 * ANSI colour is added only when asked for (see {@link colorWanted}).
 */
import type { Endpoint, Trace } from '../trace/trace.js';
import { sanitizeText } from './sanitize-text.js';

export interface FormatOptions {
  readonly color: boolean;
}

/** A trace as the stream serves it, with the optional Service of DESIGN.md. */
export type StreamTrace = Trace & { readonly service?: { readonly namespace?: string; readonly name?: string; readonly ip?: string; readonly port?: number } };

const SGR = { reset: '\u001b[0m', bold: '\u001b[1m', dim: '\u001b[2m', red: '\u001b[31m', green: '\u001b[32m', yellow: '\u001b[33m', blue: '\u001b[34m', magenta: '\u001b[35m', cyan: '\u001b[36m' } as const;
type Style = Exclude<keyof typeof SGR, 'reset'>;

const OUTCOME_STYLE: Record<string, readonly Style[]> = {
  delivered: ['green'],
  forwarded: ['blue'],
  dropped: ['red', 'bold'],
  'route-miss': ['red', 'bold'],
  'in-flight': ['yellow'],
};

const ICMP_NAMES: Record<number, string> = { 0: 'echo-reply', 3: 'unreachable', 8: 'echo-request', 11: 'time-exceeded' };
const ICMPV6_NAMES: Record<number, string> = { 1: 'unreachable', 2: 'packet-too-big', 3: 'time-exceeded', 4: 'parameter-problem', 128: 'echo-request', 129: 'echo-reply' };

export function formatTraceLine(t: StreamTrace, opts: FormatOptions): string {
  const paint = (text: string, ...styles: readonly Style[]) => (opts.color && styles.length > 0 ? `${styles.map((s) => SGR[s]).join('')}${text}${SGR.reset}` : text);
  const parts: string[] = [];
  parts.push(paint(clockTime(t.hops[0]?.t), 'dim'));
  parts.push(`${paint(endpoint(t.src), 'bold')} -> ${paint(endpoint(t.dst), 'bold')}`);
  if (t.service && typeof t.service === 'object') {
    const svc = t.service;
    parts.push(`via service ${sanitizeText(svc.namespace)}/${sanitizeText(svc.name)}${typeof svc.port === 'number' ? `:${svc.port}` : ''}`);
  }
  parts.push(paint(protocolText(t), 'cyan'));
  parts.push(sanitizeText(t.path));
  const hops: string[] = [];
  let node: string | undefined;
  t.hops.forEach((h, i) => {
    let text = '';
    if (h.node !== node) {
      node = h.node;
      text += `${paint(`[${sanitizeText(h.node)}]`, 'magenta')} `;
    }
    // a Service's NAT rewrote the packet on the way into this hop
    if (typeof h.nat === 'string') text += `${paint(`{${sanitizeText(h.nat)}}`, 'yellow')} `;
    // an encapsulated hop (the outer packet at an overlay's uplink) says so: `uplink:egress(eth0 vxlan)`
    const encap = typeof h.encap === 'string' ? ` ${sanitizeText(h.encap)}` : '';
    text += `${sanitizeText(h.kind)}:${sanitizeText(h.direction)}(${sanitizeText(h.interface)}${encap})`;
    if (i > 0) text += ` ${paint(signedDuration(h.delta_ns), 'dim')}`;
    hops.push(text);
  });
  if (hops.length > 0) parts.push(hops.join(' > '));
  const outcome = sanitizeText(t.outcome);
  const reason = t.reason === undefined ? '' : ` (${sanitizeText(t.reason)})`;
  parts.push(`=> ${paint(outcome + reason, ...(OUTCOME_STYLE[t.outcome] ?? []))} ${paint(formatDuration(t.latency_ns), 'bold')}`);
  return parts.join(' ');
}

/** `HH:MM:SS.mmm` in local time from wall-clock nanoseconds since the epoch (a decimal string). */
export function clockTime(tNs: unknown): string {
  if (typeof tNs !== 'string' || !/^\d{1,25}$/.test(tNs)) return '--:--:--.---';
  const d = new Date(Number(BigInt(tNs) / 1_000_000n));
  if (Number.isNaN(d.getTime())) return '--:--:--.---';
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** `850ns`, `12.3µs`, `4.56ms`, `1.234s`; `?` for anything that is not a finite number. */
export function formatDuration(ns: unknown): string {
  if (typeof ns !== 'number' || !Number.isFinite(ns)) return '?';
  const abs = Math.abs(ns);
  if (abs < 1e3) return `${Math.round(ns)}ns`;
  if (abs < 1e6) return `${(ns / 1e3).toFixed(1)}µs`;
  if (abs < 1e9) return `${(ns / 1e6).toFixed(2)}ms`;
  return `${(ns / 1e9).toFixed(3)}s`;
}

function signedDuration(ns: unknown): string {
  const text = formatDuration(ns);
  return text.startsWith('-') || text === '?' ? text : `+${text}`;
}

function endpoint(e: Endpoint | undefined): string {
  if (!e || typeof e !== 'object') return '?';
  const port = typeof e.port === 'number' ? `:${e.port}` : '';
  if (typeof e.pod === 'string') return `${typeof e.namespace === 'string' ? `${sanitizeText(e.namespace)}/` : ''}${sanitizeText(e.pod)}${port}`;
  return `${sanitizeText(e.ip)}${port}`;
}

function protocolText(t: Trace): string {
  const proto = sanitizeText(t.protocol);
  const p = t.packet;
  if (!p || typeof p !== 'object') return proto;
  if (typeof p.tcp_flags === 'string' && p.tcp_flags.length > 0) return `${proto} [${sanitizeText(p.tcp_flags)}]`;
  if (typeof p.icmp_type === 'number' && t.protocol === 'ICMPv6') {
    const name = ICMPV6_NAMES[p.icmp_type] ?? `type ${p.icmp_type}`;
    return `${proto} ${name}${p.icmp_type < 128 ? `/${sanitizeText(p.icmp_code)}` : ''}`;
  }
  if (typeof p.icmp_type === 'number') {
    const name = ICMP_NAMES[p.icmp_type] ?? `type ${p.icmp_type}`;
    return `${proto} ${name}${p.icmp_type === 3 || p.icmp_type === 11 ? `/${sanitizeText(p.icmp_code)}` : ''}`;
  }
  return proto;
}

/**
 * Colour only on a terminal, and never when NO_COLOR is set to a non-empty value (https://no-color.org) or the
 * terminal is `dumb`.
 */
export function colorWanted(stream: { readonly isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): boolean {
  if (stream.isTTY !== true) return false;
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  return env['TERM'] !== 'dumb';
}
