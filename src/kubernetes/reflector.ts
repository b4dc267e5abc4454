/**
 * @module List then watch one kind of object, for as long as the agent runs (client-go's "reflector"): list (in
 * pages) to get the full set and a resourceVersion, watch from that resourceVersion, and on the watch's end watch
 * again from the last version seen. A resourceVersion that expired (HTTP 410 Gone, or a watch ERROR event with
 * code 410) means events were missed: relist. Any other failure is reported and retried with exponential backoff
 * and jitter, so a fleet of agents does not hammer a restarting API server in step.
 *
 * The HTTP work is the real @kubernetes/client-node client's (its `Watch` and a list function from `CoreV1Api`);
 * this module only sequences it. Nothing thrown by a handler escapes a watch callback.
 */
import type { Watch } from '@kubernetes/client-node';
import { describeKubeError, KubeAccessError } from './kube-access-error.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ListResult<T> {
  readonly items: readonly T[];
  readonly metadata?: { readonly resourceVersion?: string; readonly _continue?: string } | undefined;
}

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 800, maxMs: 30_000 };

export interface ReflectorOptions<T> {
  /** For messages: `pods`, `nodes`. */
  readonly resource: string;
  /** The collection's path, e.g. `/api/v1/pods`. */
  readonly path: string;
  readonly fieldSelector?: string;
  /** The API server's URL, for messages. */
  readonly server?: string;
  /** One page of the list (`limit`, and `_continue` after the first page); the field selector is the caller's. */
  readonly list: (page: { readonly limit: number; readonly _continue?: string }) => Promise<ListResult<T>>;
  readonly watch: Pick<Watch, 'watch'>;
  /** The complete set after every (re)list. */
  readonly onList: (items: readonly T[]) => void;
  readonly onEvent: (type: WatchEventType, object: T) => void;
  /** Every failure (not an expired resourceVersion, which is routine), after it happened and before the retry. */
  readonly onError?: (error: KubeAccessError) => void;
  readonly log?: (message: string) => void;
  readonly backoff?: Backoff;
  readonly pageSize?: number;
  /** The server closes a watch after this long (the client re-watches); default 5 to 10 minutes, jittered. */
  readonly watchTimeoutSeconds?: number;
  /** A list that has not answered in this long has failed. */
  readonly listTimeoutMs?: number;
}

interface WatchOutcome {
  readonly expired: boolean;
  readonly events: number;
}

export class Reflector<T> {
  /** Listed at least once: the handlers have seen a complete set. */
  synced = false;
  /** The last failure, cleared by the next successful list or watch. */
  lastError: KubeAccessError | undefined;
  relists = 0;
  events = 0;
  private resourceVersion = '';
  private started = false;
  private stopped = false;
  private controller: AbortController | undefined;
  private wake: (() => void) | undefined;
  private readonly backoff: Backoff;

  constructor(private readonly o: ReflectorOptions<T>) {
    this.backoff = o.backoff ?? DEFAULT_BACKOFF;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    void this.run();
  }

  /** Stops at once: aborts the open watch; a list in flight is ignored when it answers. */
  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    this.controller = undefined;
    this.wake?.();
  }

  private async run(): Promise<void> {
    let delay = this.backoff.initialMs;
    let quickEnds = 0;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === '') await this.relist();
        if (this.stopped) return;
        const startedAt = Date.now();
        const outcome = await this.watchOnce();
        if (this.stopped) return;
        this.lastError = undefined;
        if (outcome.expired) {
          this.o.log?.(`kubernetes: ${this.o.resource} watch: resourceVersion expired (410 Gone); relisting`);
          this.resourceVersion = '';
        }
        // a healthy watch lasts minutes or brings events; one that keeps ending at once must not spin
        if (outcome.events > 0 || Date.now() - startedAt > 2000) {
          quickEnds = 0;
          delay = this.backoff.initialMs;
          continue;
        }
        if (++quickEnds <= 1) continue;
      } catch (err) {
        if (this.stopped) return;
        const e = describeKubeError(err, this.request());
        if (e.expired) {
          this.o.log?.(e.message);
          this.resourceVersion = '';
          if (++quickEnds <= 1) continue;
        } else {
          this.lastError = e;
          try {
            this.o.onError?.(e);
          } catch {
            // a reporting handler must not stop the loop
          }
        }
      }
      await this.sleep(jitter(delay));
      delay = Math.min(delay * 2, this.backoff.maxMs);
    }
  }

  private request(verb: 'list' | 'watch' = this.resourceVersion === '' ? 'list' : 'watch') {
    return {
      verb,
      resource: this.o.resource,
      ...(this.o.fieldSelector !== undefined ? { fieldSelector: this.o.fieldSelector } : {}),
      ...(this.o.server !== undefined ? { server: this.o.server } : {}),
    };
  }

  private async relist(): Promise<void> {
    const items: T[] = [];
    let next: string | undefined;
    let resourceVersion = '';
    let pages = 0;
    do {
      const page = await withTimeout(
        this.o.list({ limit: this.o.pageSize ?? 500, ...(next !== undefined ? { _continue: next } : {}) }),
        this.o.listTimeoutMs ?? 60_000,
        () => new KubeAccessError(`--kubernetes: list ${this.o.resource}: no answer from the API server${this.o.server ? ` at ${this.o.server}` : ''} in ${Math.round((this.o.listTimeoutMs ?? 60_000) / 1000)} s`, 'unreachable'),
      );
      if (this.stopped) return;
      if (Array.isArray(page?.items)) items.push(...page.items);
      resourceVersion = page?.metadata?.resourceVersion ?? '';
      next = page?.metadata?._continue || undefined;
    } while (next !== undefined && ++pages < 100_000);
    this.relists++;
    this.resourceVersion = resourceVersion;
    this.lastError = undefined;
    this.synced = true;
    try {
      this.o.onList(items);
    } catch (e) {
      this.o.log?.(`kubernetes: ${this.o.resource}: list handler failed (${(e as Error).message}); continuing`);
    }
  }

  private watchOnce(): Promise<WatchOutcome> {
    return new Promise<WatchOutcome>((resolve, reject) => {
      let expired = false;
      let events = 0;
      let errorEvent: { code?: unknown; message?: unknown; reason?: unknown } | undefined;
      let settled = false;
      const timeoutSeconds = this.o.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
      // the server ends the watch after timeoutSeconds; one still open well past that is a dead connection
      const watchdog = setTimeout(() => {
        this.controller?.abort();
        finish(null);
      }, (timeoutSeconds + 30) * 1000);
      watchdog.unref();
      const finish = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        this.controller = undefined;
        if (this.stopped) resolve({ expired, events });
        else if (err) reject(err);
        else if (errorEvent && !expired) reject(watchErrorEvent(errorEvent));
        else resolve({ expired, events });
      };
      const onLine = (type: string, object: unknown) => {
        try {
          if (settled || this.stopped) return;
          if (type === 'ERROR') {
            const status = (object ?? {}) as { code?: unknown; message?: unknown; reason?: unknown };
            if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') expired = true;
            else errorEvent = status;
            return;
          }
          const rv = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
          if (typeof rv === 'string' && rv !== '') this.resourceVersion = rv;
          if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return; // BOOKMARK: only the version
          if (typeof object !== 'object' || object === null) return;
          events++;
          this.events++;
          this.o.onEvent(type, object as T);
        } catch (e) {
          this.o.log?.(`kubernetes: ${this.o.resource} watch: ${type} handler failed (${(e as Error).message}); continuing`);
        }
      };
      const params: Record<string, string | number | boolean> = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
      if (this.o.fieldSelector !== undefined) params['fieldSelector'] = this.o.fieldSelector;
      this.o.watch.watch(this.o.path, params, onLine, finish).then(
        (controller) => {
          if (settled || this.stopped) controller.abort();
          else this.controller = controller;
        },
        (err: unknown) => finish(err ?? new Error('watch failed')),
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}

/** A watch ERROR event other than 410: a Status object; its code stands in for an HTTP status. */
function watchErrorEvent(status: { code?: unknown; message?: unknown; reason?: unknown }): Error & { statusCode?: number; body?: unknown } {
  const e: Error & { statusCode?: number; body?: unknown } = new Error(typeof status.message === 'string' ? status.message : `watch ERROR event ${String(status.reason ?? '')}`);
  if (typeof status.code === 'number') e.statusCode = status.code;
  e.body = status;
  return e;
}

/** ±20 %: agents that failed together retry apart. */
function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

function withTimeout<V>(p: Promise<V>, ms: number, error: () => Error): Promise<V> {
  return new Promise<V>((resolve, reject) => {
    const timer = setTimeout(() => reject(error()), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
