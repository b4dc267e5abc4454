/**
 * End-to-end helpers around a real Prometheus server and promtool (Debian's `prometheus` package, 2.42): a
 * private server on 127.0.0.1 scraping the given targets, with its config and TSDB in a fresh temp dir, and
 * promtool's linters for expositions and rule files.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
}

export interface PromServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly pid: number;
  /** Temp dir holding prometheus.yml and the TSDB (`data/`); removed by stop(). */
  readonly dir: string;
  /** Instant query (/api/v1/query). Throws with Prometheus' error text on a bad query. */
  query(promql: string): Promise<PromSample[]>;
  /** Waits until /api/v1/targets lists at least `count` active targets with health "up". */
  waitForTargetsUp(count: number, timeoutMs?: number): Promise<void>;
  /** Polls an instant query until `predicate` holds; a query Prometheus rejects (bad_data) fails at once. */
  waitForQuery(promql: string, predicate: (s: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  /** /api/v1/alerts: pending and firing alerts. */
  alerts(): Promise<PromAlert[]>;
  /** Last lines Prometheus wrote to stderr (its log). */
  logTail(lines?: number): string[];
  /** SIGTERM to the process this helper started, SIGKILL after 10 s; then removes the temp dir. */
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  /** host:port, e.g. "127.0.0.1:9940" */
  targets: string[];
  scrapeIntervalSeconds?: number;
  evaluationIntervalSeconds?: number;
  ruleFiles?: string[];
  jobName?: string;
}

/** Error from the Prometheus HTTP API, with its `errorType` (e.g. "bad_data") and error text. */
export class PromApiError extends Error {
  constructor(readonly errorType: string, readonly apiError: string, readonly httpStatus: number) {
    super(`prometheus: ${errorType}: ${apiError}`);
  }
}

const LOG_LINES = 200;
const READY_TIMEOUT_MS = 30_000;
const BIND_ATTEMPTS = 5;

export async function startPrometheus(opts: StartPrometheusOptions): Promise<PromServer> {
  const scrape = opts.scrapeIntervalSeconds ?? 1;
  const evaluation = opts.evaluationIntervalSeconds ?? 1;
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-prom-'));
  const configFile = join(dir, 'prometheus.yml');
  // JSON is YAML: no YAML library needed. scrape_timeout must not exceed scrape_interval (the default, 10 s, would).
  const config = {
    global: { scrape_interval: `${scrape}s`, scrape_timeout: `${Math.min(scrape, 10)}s`, evaluation_interval: `${evaluation}s` },
    rule_files: (opts.ruleFiles ?? []).map((f) => resolve(f)),
    scrape_configs: [{ job_name: opts.jobName ?? 'hopscope', metrics_path: '/metrics', scheme: 'http', static_configs: [{ targets: opts.targets }] }],
  };
  await writeFile(configFile, JSON.stringify(config, null, 2));

  const failures: string[] = [];
  try {
    for (let attempt = 1; attempt <= BIND_ATTEMPTS; attempt++) {
      const port = await freePort();
      const started = await launch(dir, configFile, port);
      if ('server' in started) return started.server;
      failures.push(started.error);
      if (!/address already in use/i.test(started.error)) break; // only a lost port race is worth a retry
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`prometheus did not start:\n${failures.join('\n---\n')}`);
}

async function launch(dir: string, configFile: string, port: number): Promise<{ server: PromServer } | { error: string }> {
  const url = `http://127.0.0.1:${port}`;
  // setpriv execs Prometheus in place, so child.pid is Prometheus' PID; pdeathsig kills it if this process dies.
  const child: ResultPromise = execa(
    'setpriv',
    [
      '--pdeathsig', 'KILL', '--',
      PROMETHEUS,
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=info',
    ],
    { reject: false, buffer: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', cwd: dir },
  );
  const log: string[] = [];
  let partial = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line) log.push(line);
    if (log.length > LOG_LINES) log.splice(0, log.length - LOG_LINES);
  });
  let exited = false;
  const done = child.then((r) => {
    exited = true;
    return r;
  });
  const tail = (n = 20) => [...log, ...(partial ? [partial] : [])].slice(-n);

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastProblem = '';
  for (;;) {
    if (exited) {
      const r = await done;
      return { error: `prometheus exited early (${r.signal ?? `code ${r.exitCode}`}${r.failed && r.exitCode === undefined ? `: ${r.message}` : ''}); last log lines:\n${tail().join('\n')}` };
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) break;
      lastProblem = `HTTP ${res.status}`;
    } catch (e) {
      lastProblem = String(e);
    }
    if (Date.now() > deadline) {
      await terminate(child, () => exited, done);
      return { error: `prometheus not ready on ${url} after ${READY_TIMEOUT_MS} ms (${lastProblem}); last log lines:\n${tail().join('\n')}` };
    }
    await Promise.race([sleep(100), done]);
  }

  const api = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let body: { status?: string; data?: T; errorType?: string; error?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`prometheus ${path}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    }
    if (body.status !== 'success') throw new PromApiError(body.errorType ?? `HTTP ${res.status}`, body.error ?? text.slice(0, 500), res.status);
    return body.data as T;
  };

  const query = async (promql: string): Promise<PromSample[]> => {
    const data = await api<{ resultType: string; result: unknown }>('/api/v1/query', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: promql }).toString(),
    });
    return toSamples(data.resultType, data.result);
  };

  let stopped = false;
  const server: PromServer = {
    url,
    pid: child.pid as number,
    dir,
    query,
    logTail: (n = 20) => tail(n),
    async waitForTargetsUp(count: number, timeoutMs = 15_000): Promise<void> {
      let seen = '';
      await poll(async () => {
        const data = await api<{ activeTargets: { scrapeUrl: string; health: string; lastError: string }[] }>('/api/v1/targets?state=active');
        seen = data.activeTargets.map((t) => `${t.scrapeUrl}: ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).join('; ');
        return data.activeTargets.filter((t) => t.health === 'up').length >= count;
      }, timeoutMs, () => `${count} targets up (targets: ${seen || 'none'})`);
    },
    async waitForQuery(promql, predicate, timeoutMs = 15_000): Promise<PromSample[]> {
      let last: PromSample[] | undefined;
      return poll(async () => {
        try {
          last = await query(promql);
        } catch (e) {
          if (e instanceof PromApiError && e.errorType === 'bad_data') throw Object.assign(e, { fatal: true });
          throw e;
        }
        return predicate(last) ? last : undefined;
      }, timeoutMs, () => `query ${promql} (last result: ${JSON.stringify(last)})`);
    },
    async alerts(): Promise<PromAlert[]> {
      const data = await api<{ alerts: { labels?: Record<string, string>; annotations?: Record<string, string>; state: string }[] }>('/api/v1/alerts');
      return data.alerts.map((a) => ({ labels: a.labels ?? {}, annotations: a.annotations ?? {}, state: a.state }));
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await terminate(child, () => exited, done);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return { server };
}

/** SIGTERM to the started process by its PID (only while it has not exited), SIGKILL after 10 s. */
async function terminate(child: ResultPromise, isExited: () => boolean, done: Promise<unknown>): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || isExited()) {
    await done;
    return;
  }
  process.kill(pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (!isExited()) process.kill(pid, 'SIGKILL');
  }, 10_000);
  await done;
  clearTimeout(timer);
}

function toSamples(resultType: string, result: unknown): PromSample[] {
  switch (resultType) {
    case 'vector':
      return (result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({ metric: r.metric, value: promNumber(r.value[1]) }));
    case 'scalar':
      return [{ metric: {}, value: promNumber((result as [number, string])[1]) }];
    case 'matrix': // a range selector in an instant query: the newest sample of each series
      return (result as { metric: Record<string, string>; values: [number, string][] }[]).map((r) => ({
        metric: r.metric,
        value: promNumber(r.values[r.values.length - 1]?.[1] ?? 'NaN'),
      }));
    default:
      throw new Error(`prometheus: unsupported result type ${resultType}: ${JSON.stringify(result)}`);
  }
}

/** Prometheus writes sample values as strings, with "+Inf", "-Inf" and "NaN". */
function promNumber(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolvePort(port) : reject(new Error('no free port'))));
    });
  });
}

async function poll<T>(probe: () => Promise<T | undefined | false>, timeoutMs: number, what: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      if ((e as { fatal?: boolean }).fatal) throw e;
      lastError = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}${lastError ? `: ${String(lastError)}` : ''}`);
    await sleep(200);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * `promtool check metrics` on an exposition (fed on stdin). promtool prints lint problems to stderr, one a line
 * ("foo counter metrics should have \"_total\" suffix") and exits 3; a parse error exits 1
 * ("error while linting: text format parsing error in line …"). ok only when it exits 0 with nothing to say.
 */
export async function promtoolCheckMetrics(exposition: string): Promise<{ ok: boolean; problems: string[] }> {
  const r = await execa(PROMTOOL, ['check', 'metrics'], { input: exposition, reject: false, timeout: 30_000 });
  const problems = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean);
  if (r.exitCode !== 0 && problems.length === 0) problems.push(r.message ?? `promtool exited with ${r.exitCode}`);
  return { ok: r.exitCode === 0 && problems.length === 0, problems };
}

/** `promtool check rules FILE…`: ok when it exits 0; output is its stdout and stderr together. */
export async function promtoolCheckRules(files: string[]): Promise<{ ok: boolean; output: string }> {
  const r = await execa(PROMTOOL, ['check', 'rules', ...files], { reject: false, all: true, timeout: 30_000 });
  return { ok: r.exitCode === 0, output: r.all || (r.message ?? '') };
}

/**
 * `promtool test rules FILE…` (rule unit tests: input series, expected firing alerts with labels and annotations).
 * ok when it exits 0; output is its stdout and stderr together (on failure: each failed case, expected vs got).
 */
export async function promtoolTestRules(testFiles: string[], cwd?: string): Promise<{ ok: boolean; output: string }> {
  const r = await execa(PROMTOOL, ['test', 'rules', ...testFiles], { reject: false, all: true, timeout: 60_000, ...(cwd ? { cwd } : {}) });
  return { ok: r.exitCode === 0, output: r.all || (r.message ?? '') };
}
