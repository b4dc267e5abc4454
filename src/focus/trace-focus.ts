/**
 * @module Trace on demand: widens the kernel's packet selection to every packet to or from one address (and
 * port) for a bounded time, within an events/s budget the probe enforces, then restores the default. One
 * widening at a time per agent; its owner (a stream client) may renew it or give it up. The address is IPv4 or
 * IPv6; a dual-stack pod is focused on both of its addresses at once (`ips`).
 */
import { parseIpv4 } from '../net/ipv4.js';
import { parseIpv6 } from '../net/ipv6.js';

export interface FocusTarget {
  /** The address (a pod's first, IPv4 when it has one). */
  readonly ip: string;
  /** Every address focused, when more than `ip`: at most one IPv4 and one IPv6 (a dual-stack pod). */
  readonly ips?: readonly string[];
  readonly port?: number;
}

/** Every address a target focuses: `ips` when given, else `ip`. */
export function focusedAddresses(t: FocusTarget): readonly string[] {
  return t.ips ?? [t.ip];
}

export interface FocusGrant extends FocusTarget {
  /** ISO time at which the default selection comes back. */
  readonly until: string;
  readonly budget_events_per_s: number;
}

export type FocusAnswer = { readonly granted: FocusGrant } | { readonly refused: string };

/** Commands the hops probe understands (probes/hops.bt, "Focus"); `sub` 1..8: an IPv6 address's pieces. */
export type FocusCommand = { readonly cmd: 0 | 1 | 2 | 3; readonly data: number; readonly sub?: number };

export interface TraceFocusOptions {
  /** Delivers a command to the running hops probe; false when it cannot (probe down). */
  readonly send: (c: FocusCommand) => boolean;
  /** Whether the running probe has the focus channel (its tracepoint exists). */
  readonly available: () => boolean;
  readonly budgetEventsPerSecond: number;
  readonly maxSeconds?: number;
  readonly now?: () => number;
}

export class TraceFocus {
  private active: { owner: object; target: FocusTarget; untilMs: number } | undefined;
  private readonly maxSeconds: number;
  private readonly now: () => number;

  constructor(private readonly o: TraceFocusOptions) {
    this.maxSeconds = o.maxSeconds ?? 60;
    this.now = o.now ?? Date.now;
  }

  get current(): FocusGrant | undefined {
    return this.active ? this.grantOf(this.active.target, this.active.untilMs) : undefined;
  }

  request(owner: object, target: FocusTarget, seconds: number): FocusAnswer {
    if (!this.o.available()) return { refused: 'trace on demand is unavailable: the hops probe is down or this kernel lacks tracepoint syscalls:sys_enter_kill' };
    const addresses = focusedAddresses(target);
    const bad = addresses.find((ip) => parseIpv4(ip) === undefined && parseIpv6(ip) === undefined);
    if (bad !== undefined) return { refused: `"${bad}" is not an IPv4 or IPv6 address` };
    if (addresses.filter((ip) => parseIpv4(ip) !== undefined).length > 1 || addresses.filter((ip) => parseIpv6(ip) !== undefined).length > 1) {
      return { refused: 'at most one IPv4 and one IPv6 address at a time' };
    }
    if (target.port !== undefined && (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535)) return { refused: 'port must be 1 to 65535' };
    if (!Number.isFinite(seconds) || seconds <= 0) return { refused: 'seconds must be a positive number' };
    this.expire();
    if (this.active && this.active.owner !== owner) {
      return { refused: `another client is tracing ${describe(this.active.target)} until ${new Date(this.active.untilMs).toISOString()}` };
    }
    const untilMs = this.now() + Math.min(seconds, this.maxSeconds) * 1000;
    if (!this.apply(target)) return { refused: 'the hops probe did not take the command' };
    this.active = { owner, target, untilMs };
    return { granted: this.grantOf(target, untilMs) };
  }

  /** The owner left or asked to stop: back to the default selection. */
  release(owner: object): void {
    if (this.active?.owner !== owner) return;
    this.active = undefined;
    this.o.send({ cmd: 3, data: 0 });
  }

  /** Ends an expired widening; call periodically. */
  expire(): void {
    if (this.active && this.now() >= this.active.untilMs) {
      this.active = undefined;
      this.o.send({ cmd: 3, data: 0 });
    }
  }

  /** The hops probe restarted (its maps start empty): send the active widening again. */
  reapply(): void {
    this.expire();
    if (this.active) this.apply(this.active.target);
  }

  private apply(t: FocusTarget): boolean {
    const port = t.port === undefined ? 0 : ((t.port & 0xff) << 8) | (t.port >>> 8);
    // the previous widening's addresses go first (a renewal may drop one family); the port before any arming
    const commands: FocusCommand[] = [{ cmd: 3, data: 0 }, { cmd: 2, data: port }];
    for (const ip of focusedAddresses(t)) {
      const groups = parseIpv6(ip);
      if (groups === undefined) {
        const raw = rawAddress(ip);
        commands.push({ cmd: 0, data: raw & 0xffff }, { cmd: 1, data: raw >>> 16 });
      } else {
        rawPieces6(groups).forEach((data, i) => commands.push({ cmd: 0, sub: i + 1, data }));
        commands.push({ cmd: 1, sub: 1, data: 0 });
      }
    }
    return commands.every((c) => this.o.send(c));
  }

  private grantOf(t: FocusTarget, untilMs: number): FocusGrant {
    return { ...t, until: new Date(untilMs).toISOString(), budget_events_per_s: this.o.budgetEventsPerSecond };
  }
}

/** The address as the probe reads it from packet memory: a little-endian u32 of the network-order bytes. */
export function rawAddress(ip: string): number {
  const o = ip.split('.').map(Number);
  return ((o[0] ?? 0) | ((o[1] ?? 0) << 8) | ((o[2] ?? 0) << 16) | ((o[3] ?? 0) << 24)) >>> 0;
}

/**
 * An IPv6 address as eight 16-bit pieces of packet memory read little-endian (the probe reassembles them into
 * the two 8-byte words it reads from the header): each big-endian group with its bytes swapped.
 */
export function rawPieces6(groups: readonly number[]): number[] {
  return groups.map((g) => ((g & 0xff) << 8) | (g >>> 8));
}

function describe(t: FocusTarget): string {
  const where = focusedAddresses(t).join(' and ');
  return t.port === undefined ? where : `${where} port ${t.port}`;
}
