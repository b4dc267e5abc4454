/**
 * @module Per-flow summaries (directional 5-tuple): packets traced, path, hop sequence, outcomes and latency
 * statistics. Bounded: at capacity the least recently seen flow is evicted and counted.
 */
import { HALVES, splitDecimal } from '../trace/decimal-halves.js';
import type { Endpoint, Hop, Outcome, PathKind, Trace } from '../trace/trace.js';

export interface FlowSummary {
  readonly key: string;
  readonly src: Endpoint;
  readonly dst: Endpoint;
  readonly protocol: string;
  path: PathKind;
  /** Hop kinds and directions of the latest trace, e.g. `pod:egress>veth:ingress>veth:egress>pod:ingress`. */
  hop_sequence: string;
  packets: number;
  outcomes: Partial<Record<Outcome, number>>;
  latency_ns: { min: number; max: number; mean: number; last: number };
  first_seen: string;
  last_seen: string;
}

/**
 * One flow as the table keeps it: flat fields (integers where they fit) instead of the nested objects of
 * FlowSummary, which list() builds on demand. The hop sequence is shared between flows (interned). Its key
 * text is built by list() too: the table finds a flow by a number (flowHash) and compares the 5-tuple.
 */
class FlowEntry {
  packets = 0;
  delivered = 0;
  forwarded = 0;
  dropped = 0;
  routeMiss = 0;
  inFlight = 0;
  latencySum = 0;
  /** Neighbours in recency order (a list through the entries: touching a flow moves it without hashing). */
  prev: FlowEntry | undefined = undefined;
  next: FlowEntry | undefined = undefined;
  /** The next flow whose 5-tuple has the same hash (a chain from the table's entry for the hash). */
  sameHash: FlowEntry | undefined = undefined;
  constructor(
    readonly hash: number,
    readonly sport: number,
    readonly dport: number,
    readonly src: Endpoint,
    readonly dst: Endpoint,
    readonly protocol: string,
    public path: PathKind,
    public hopSequence: string,
    public latencyMin: number,
    public latencyMax: number,
    public latencyLast: number,
    readonly firstSeen: string,
    seen: string,
  ) {
    this.see(seen);
  }

  /**
   * The last hop's wall time of the latest trace, kept as two integers when it is a plain decimal of 10 to 19
   * digits (the usual), else as the text: a text per packet kept here outlived the young generation and was
   * copied twice, once per packet, where numbers are written in place.
   */
  lastHigh = 0;
  lastLow = 0;
  lastText: string | undefined = undefined;

  see(t: string): void {
    const n = t.length;
    if (n >= 10 && n <= 19 && t.charCodeAt(0) !== 48 && splitDecimal(t, 9)) {
      this.lastHigh = HALVES.high;
      this.lastLow = HALVES.low;
      this.lastText = undefined;
      return;
    }
    this.lastText = t;
  }

  get lastSeen(): string {
    return this.lastText ?? String(this.lastHigh) + String(this.lastLow).padStart(9, '0');
  }
}

export class FlowTable {
  /** By flowHash of the 5-tuple: the first flow of that hash (others chained through FlowEntry.sameHash). */
  private readonly flows = new Map<number, FlowEntry>();
  private count = 0;
  evicted = 0;
  /** Least and most recently seen flows, the ends of the list through FlowEntry.prev/next. */
  private oldest: FlowEntry | undefined = undefined;
  private newest: FlowEntry | undefined = undefined;

  /** `hash`: the 5-tuple hash, replaceable so that a test can make every flow collide. */
  constructor(
    readonly capacity = 65_536,
    private readonly hash: typeof flowHash = flowHash,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`flow table capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.count;
  }

  record(t: Trace): void {
    // the 5-tuple as a number and a comparison (the key text per packet was built, hashed and dropped)
    const src = t.src;
    const dst = t.dst;
    const sport = src.port ?? 0;
    const dport = dst.port ?? 0;
    const hash = this.hash(t.protocol, src.ip, sport, dst.ip, dport);
    const hops = t.hops;
    const seen = hops[hops.length - 1]?.t ?? '0';
    const sequence = hopSequence(hops);
    let f = this.flows.get(hash);
    while (f !== undefined && !(f.sport === sport && f.dport === dport && f.src.ip === src.ip && f.dst.ip === dst.ip && f.protocol === t.protocol)) f = f.sameHash;
    if (f) {
      this.unlink(f); // appended again below: list order is recency order
      f.path = t.path;
      f.hopSequence = sequence;
      if (t.latency_ns < f.latencyMin) f.latencyMin = t.latency_ns;
      if (t.latency_ns > f.latencyMax) f.latencyMax = t.latency_ns;
      f.see(seen);
    } else {
      if (this.count >= this.capacity) this.evictOldest();
      f = new FlowEntry(hash, sport, dport, src, dst, t.protocol, t.path, sequence, t.latency_ns, t.latency_ns, 0, hops[0]?.t ?? seen, seen);
      f.sameHash = this.flows.get(hash);
      this.flows.set(hash, f);
      this.count++;
    }
    f.packets++;
    switch (t.outcome) {
      case 'delivered':
        f.delivered++;
        break;
      case 'forwarded':
        f.forwarded++;
        break;
      case 'dropped':
        f.dropped++;
        break;
      case 'route-miss':
        f.routeMiss++;
        break;
      case 'in-flight':
        f.inFlight++;
        break;
    }
    f.latencySum += t.latency_ns;
    f.latencyLast = t.latency_ns;
    this.append(f);
  }

  /** Most recently seen first. */
  list(limit: number, match: (f: FlowSummary) => boolean = () => true): FlowSummary[] {
    const out: FlowSummary[] = [];
    for (let f = this.newest; f !== undefined && out.length < limit; f = f.prev) {
      // a fresh object: callers keep what they were given while the table goes on counting
      const summary = summaryOf(f);
      if (match(summary)) out.push(summary);
    }
    return out;
  }

  private append(f: FlowEntry): void {
    f.prev = this.newest;
    f.next = undefined;
    if (this.newest) this.newest.next = f;
    else this.oldest = f;
    this.newest = f;
  }

  private unlink(f: FlowEntry): void {
    if (f.prev) f.prev.next = f.next;
    else this.oldest = f.next;
    if (f.next) f.next.prev = f.prev;
    else this.newest = f.prev;
    f.prev = undefined;
    f.next = undefined;
  }

  /**
   * Forgets every flow whose source or destination is `ip` (a deleted pod's address): its per-pod state goes
   * with the pod, and a later pod given the same address starts clean. Returns how many flows were removed.
   */
  forgetAddress(ip: string): number {
    let removed = 0;
    for (let f = this.oldest; f !== undefined; ) {
      const next = f.next;
      if (f.src.ip === ip || f.dst.ip === ip) {
        this.remove(f);
        removed++;
      }
      f = next;
    }
    return removed;
  }

  private evictOldest(): void {
    const oldest = this.oldest;
    if (oldest) {
      this.remove(oldest);
      this.evicted++;
    }
  }

  /** Out of its hash chain and the recency list. */
  private remove(f: FlowEntry): void {
    const head = this.flows.get(f.hash);
    if (head === f) {
      if (f.sameHash) this.flows.set(f.hash, f.sameHash);
      else this.flows.delete(f.hash);
    } else {
      let p = head;
      while (p !== undefined && p.sameHash !== f) p = p.sameHash;
      if (p) p.sameHash = f.sameHash;
    }
    f.sameHash = undefined;
    this.unlink(f);
    this.count--;
  }
}

/** A 32-bit hash of a directional 5-tuple (FNV-1a over the protocol's and addresses' characters and the ports). */
export function flowHash(protocol: string, sip: string, sport: number, dip: string, dport: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < protocol.length; i++) h = Math.imul(h ^ protocol.charCodeAt(i), 0x01000193);
  for (let i = 0; i < sip.length; i++) h = Math.imul(h ^ sip.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (sport & 0xffff), 0x01000193);
  for (let i = 0; i < dip.length; i++) h = Math.imul(h ^ dip.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (dport & 0xffff), 0x01000193);
  return h | 0;
}

function summaryOf(f: FlowEntry): FlowSummary {
  const outcomes: Partial<Record<Outcome, number>> = {};
  if (f.delivered) outcomes.delivered = f.delivered;
  if (f.forwarded) outcomes.forwarded = f.forwarded;
  if (f.dropped) outcomes.dropped = f.dropped;
  if (f.routeMiss) outcomes['route-miss'] = f.routeMiss;
  if (f.inFlight) outcomes['in-flight'] = f.inFlight;
  return {
    key: `${f.protocol} ${f.src.ip}:${f.sport} > ${f.dst.ip}:${f.dport}`,
    src: f.src,
    dst: f.dst,
    protocol: f.protocol,
    path: f.path,
    hop_sequence: f.hopSequence,
    packets: f.packets,
    outcomes,
    latency_ns: { min: f.latencyMin, max: f.latencyMax, mean: Math.round(f.latencySum / f.packets), last: f.latencyLast },
    first_seen: f.firstSeen,
    last_seen: f.lastSeen,
  };
}

/** Hop kinds and directions as one digit each (1..10), so a sequence is a number to intern its text by. */
const KIND_DIGIT: Readonly<Record<string, number>> = { pod: 1, veth: 3, bridge: 5, overlay: 7, uplink: 9 };
const SEQUENCES = new Map<number, string>();

/** `kind:direction>kind:direction...`, one shared string per distinct sequence. */
function hopSequence(hops: readonly Hop[]): string {
  let code = 0;
  if (hops.length <= 14) {
    for (const h of hops) {
      const k = KIND_DIGIT[h.kind];
      if (k === undefined || (h.direction !== 'egress' && h.direction !== 'ingress')) {
        code = -1;
        break;
      }
      code = code * 11 + k + (h.direction === 'egress' ? 0 : 1);
    }
  } else {
    code = -1;
  }
  let text = code >= 0 ? SEQUENCES.get(code) : undefined;
  if (text === undefined) {
    text = hops.map((h) => `${h.kind}:${h.direction}`).join('>');
    if (code >= 0) {
      if (SEQUENCES.size >= 4096) SEQUENCES.clear();
      SEQUENCES.set(code, text);
    }
  }
  return text;
}
