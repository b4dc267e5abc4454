/**
 * @module One probe group's bpftrace child: started through execa without buffering, its stdout streamed
 * line by line, readiness known from the group's BEGIN line (bpftrace runs BEGIN once every probe is
 * attached), restarted with backoff when it dies, and stopped cleanly (SIGINT, then SIGKILL). It runs under
 * `setpriv --pdeathsig KILL`, so a SIGKILLed agent takes its bpftrace (and their BPF programs) with it.
 * A group may run a native loader instead of bpftrace (`loader`, the hops group's hopscope-hops): the same
 * positional arguments, lines, readiness line and signals. With `fallBackAfter`, a loader that fails that many
 * times before it ever attaches gives way to bpftrace with the script, in the same process object (its
 * restart count goes on).
 */
import { execa, type ResultPromise } from 'execa';
import { basename } from 'node:path';
import { LineSplitter } from './line-splitter.js';

export type ProbeState = 'starting' | 'attached' | 'backoff' | 'stopped' | 'failed';

export interface BpftraceProcessOptions {
  readonly group: string;
  readonly script: string;
  /** Positional parameters ($1, $2, ...). */
  readonly args: readonly string[];
  readonly bpftrace: string;
  /** A native loader to run instead of `bpftrace -e script` (its path; `args` follow it). */
  readonly loader?: string;
  /** Failures of the loader before any attach after which the script runs instead; absent: never. */
  readonly fallBackAfter?: number;
  /** Told once, when the loader gave way to the script, with why. */
  readonly onFallBack?: (why: string) => void;
  readonly onLine: (line: string) => void;
  readonly onStateChange?: (state: ProbeState, detail: string) => void;
  /** Delay before restarting a child that had attached. */
  readonly restartDelayMs?: number;
  /** Longest delay for a child that keeps dying before it attaches. */
  readonly maxBackoffMs?: number;
  /** A child that stayed up this long resets the backoff. */
  readonly stableAfterMs?: number;
  /** Longest output line kept whole (see LineSplitter); default 64 KiB. */
  readonly maxLineBytes?: number;
}

/** bpftrace's banner before BEGIN runs (`Attaching 5 probes...`). */
const ATTACHING = /^Attaching \d+ probes?\.\.\.$/;

export class BpftraceProcess {
  state: ProbeState = 'stopped';
  restarts = 0;
  lastError = '';
  private child: ResultPromise | undefined;
  private stopping = false;
  private backoffMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly stderrTail: string[] = [];
  /** The native loader while it is what runs (undefined: bpftrace, from the start or after falling back). */
  private activeLoader: string | undefined;
  private everAttached = false;
  private loaderFailures = 0;

  constructor(private readonly o: BpftraceProcessOptions) {
    this.activeLoader = o.loader;
  }

  /** The native loader this runs instead of bpftrace, if it (still) does. */
  get loader(): string | undefined {
    return this.activeLoader;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopping = false;
    this.spawn();
  }

  /** Stops the child: SIGINT (bpftrace detaches and exits), SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    }
    this.setState('stopped', 'stopped');
  }

  private spawn(): void {
    this.stderrTail.length = 0;
    const startedAt = Date.now();
    let attached = false;
    const loader = this.activeLoader;
    const argv = loader ? [loader, ...this.o.args] : [this.o.bpftrace, '-B', 'line', '-e', this.o.script, ...this.o.args];
    const child = execa('setpriv', ['--pdeathsig', 'KILL', '--', ...argv], {
      buffer: false,
      stdin: 'ignore',
      reject: false,
      env: { BPFTRACE_PERF_RB_PAGES: '1024', BPFTRACE_STRLEN: '64' },
      cleanup: true,
    });
    this.child = child;
    this.setState('starting', `pid ${child.pid ?? '?'}`);
    const ready = `HOPSCOPE_READY ${this.o.group}`;
    // lines end at \n only, and are bounded: a child printing without newlines cannot grow our memory
    const out = new LineSplitter((line) => {
      if (!attached) {
        if (line === ready) {
          attached = true;
          this.everAttached = true;
          this.setState('attached', `pid ${child.pid ?? '?'}`);
        } else if (ATTACHING.test(line)) return; // bpftrace 0.17's own banner, on stdout: not an event
      }
      this.o.onLine(line);
    }, this.o.maxLineBytes);
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stdout?.once('end', () => out.end());
    const err = new LineSplitter((line) => {
      // bpftrace reports kernel-side losses on stdout in 0.17, but some builds print them on stderr (and newer
      // ones as a JSON record)
      if (line.startsWith('Lost ') || line.startsWith('{"type":"lost_events"')) this.o.onLine(line);
      else if (!line.includes('RLIMIT_MEMLOCK') && !line.startsWith('Attaching ')) this.rememberStderr(line);
    }, this.o.maxLineBytes);
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.stderr?.once('end', () => err.end());
    // 'close', not 'exit': after stdout and stderr have ended, so the reason holds the child's last words
    child.once('close', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopping) return;
      const why = `${loader ? basename(loader) : 'bpftrace'} exited (${signal ?? `code ${code}`})${this.stderrTail.length ? `: ${this.stderrTail.join(' | ')}` : ''}`;
      this.lastError = why;
      if (loader && !this.everAttached && ++this.loaderFailures === this.o.fallBackAfter) {
        this.activeLoader = undefined;
        this.backoffMs = 0; // the script's first try comes after the base delay, not the loader's backoff
        this.o.onFallBack?.(`its native probe failed ${this.loaderFailures} times before attaching (${why})`);
      }
      const ranMs = Date.now() - startedAt;
      if (ranMs >= (this.o.stableAfterMs ?? 60_000)) this.backoffMs = 0;
      // a child that had attached comes back after the base delay; one that never attached backs off
      const base = this.o.restartDelayMs ?? 500;
      this.backoffMs = attached ? base : Math.min(Math.max(this.backoffMs * 2, 1000), this.o.maxBackoffMs ?? 30_000);
      this.setState('backoff', `${why}; restarting in ${this.backoffMs} ms`);
      this.timer = setTimeout(() => {
        if (this.stopping) return;
        this.restarts++;
        this.spawn();
      }, this.backoffMs);
    });
  }

  private rememberStderr(line: string): void {
    this.stderrTail.push(line.slice(0, 300));
    if (this.stderrTail.length > 5) this.stderrTail.shift();
    if (this.state === 'starting') this.lastError = this.stderrTail.join(' | ');
  }

  private setState(state: ProbeState, detail: string): void {
    this.state = state;
    this.o.onStateChange?.(state, detail);
  }
}
