/**
 * @module Starts, finds and stops the lab's delay forwarder (delay-forwarder.py, lab-only, never part of the
 * agent): with `--delay-ms D` it replaces the underlay bridge and delays every frame between nodes by D ms.
 * It is started detached so that it outlives `hopscope lab up`; its PID is kept in
 * /run/hopscope/lab-PREFIX.forwarder.pid and `lab down` stops exactly that PID (after checking that it still
 * is the forwarder), never a process found by name.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { packagePath } from '../package-root.js';
import { LabError } from './lab-error.js';
import { forwarderCommand, LAB_STATE_DIR, type LabPlan } from './lab-plan.js';
const SCRIPT_NAME = 'delay-forwarder.py';

/** The forwarder script, which lives only in src/lab (the build does not copy it). */
export const DELAY_FORWARDER_SCRIPT = packagePath(`src/lab/${SCRIPT_NAME}`);

export const forwarderPidPath = (prefix: string): string => `${LAB_STATE_DIR}/lab-${prefix}.forwarder.pid`;
export const forwarderLogPath = (prefix: string): string => `${LAB_STATE_DIR}/lab-${prefix}.forwarder.log`;

const READY_TIMEOUT_MS = 10_000;
const TERM_GRACE_MS = 2_000;

export interface ForwarderState {
  /** The PID recorded in the pid file. */
  readonly pid: number;
  /** Whether that PID is alive and still the forwarder. */
  readonly running: boolean;
  /** Its one-way delay, read from its command line; absent when it does not run. */
  readonly delayMs?: number;
  readonly pidPath: string;
  readonly logPath: string;
}

/**
 * Starts the forwarder of a lab with a delay, detached (own session, output to its log file), waits until it
 * prints `ready` (every port's socket bound), records its PID and returns it. Kills it again if it does not
 * become ready.
 */
export async function startForwarder(plan: LabPlan, script = DELAY_FORWARDER_SCRIPT): Promise<number> {
  const command = forwarderCommand(plan, script);
  if (!command) throw new LabError(`lab "${plan.prefix}" has no delay: no forwarder to start`);
  if (!existsSync(script)) throw new LabError(`the delay forwarder ${script} is missing`);
  mkdirSync(LAB_STATE_DIR, { recursive: true });
  const logPath = forwarderLogPath(plan.prefix);
  const log = openSync(logPath, 'w');
  let child;
  try {
    child = spawn(command.file, command.args, { detached: true, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = signal ? `was killed by ${signal}` : `exited with ${code}`));
  child.once('error', (e) => (exited = `could not start: ${e.message}`));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const out = readText(logPath);
    if (/^ready$/m.test(out)) break;
    if (exited !== undefined || Date.now() > deadline) {
      const why = exited ?? `did not print "ready" within ${READY_TIMEOUT_MS / 1000} s`;
      if (exited === undefined && child.pid !== undefined) await stopPid(child.pid);
      throw new LabError(`the delay forwarder (${command.file} ${command.args.join(' ')}) ${why}; its output:\n${out.trim() || '(none)'}`);
    }
    await sleep(20);
  }
  const pid = child.pid as number;
  writeFileSync(forwarderPidPath(plan.prefix), `${pid}\n`);
  child.unref();
  return pid;
}

/** The forwarder recorded for a prefix, or undefined when there is no pid file. */
export function forwarderState(prefix: string): ForwarderState | undefined {
  const pidPath = forwarderPidPath(prefix);
  const pid = readPid(pidPath);
  if (pid === undefined) return undefined;
  const args = forwarderArgs(pid);
  const logPath = forwarderLogPath(prefix);
  if (args === undefined) return { pid, running: false, pidPath, logPath };
  const i = args.indexOf('--delay-ms');
  const delayMs = Number(args[i + 1]);
  return i >= 0 && Number.isInteger(delayMs) ? { pid, running: true, delayMs, pidPath, logPath } : { pid, running: true, pidPath, logPath };
}

/**
 * Stops the forwarder recorded for a prefix (SIGTERM, then SIGKILL after 2 s), only if its PID still is the
 * forwarder, and removes the pid and log files. Returns the PID it stopped, if any. Idempotent.
 */
export async function stopForwarder(prefix: string): Promise<number | undefined> {
  const pidPath = forwarderPidPath(prefix);
  const pid = readPid(pidPath);
  let stopped: number | undefined;
  if (pid !== undefined && forwarderArgs(pid) !== undefined) {
    await stopPid(pid);
    stopped = pid;
  }
  rmSync(pidPath, { force: true });
  rmSync(forwarderLogPath(prefix), { force: true });
  return stopped;
}

async function stopPid(pid: number): Promise<void> {
  signal(pid, 'SIGTERM');
  if (await exitsWithin(pid, TERM_GRACE_MS)) return;
  signal(pid, 'SIGKILL');
  if (!(await exitsWithin(pid, TERM_GRACE_MS))) throw new LabError(`the delay forwarder (pid ${pid}) survived SIGKILL`);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

/** Alive and not a zombie (a forwarder started by this very process stays one until Node reaps it). */
export function isRunning(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== '' && state !== 'Z' && state !== 'X';
}

/** The forwarder's arguments when `pid` is a running delay forwarder, else undefined (gone, or PID reused). */
function forwarderArgs(pid: number): string[] | undefined {
  if (!isRunning(pid)) return undefined;
  const args = readText(`/proc/${pid}/cmdline`).split('\0');
  return args.some((a) => a.endsWith(`/${SCRIPT_NAME}`) || a === SCRIPT_NAME) ? args : undefined;
}

function readPid(path: string): number | undefined {
  const pid = Number(readText(path).trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
