/**
 * @module The agent's probe groups on this kernel: each group's script composed from the tracepoints that
 * exist, one bpftrace child per group (or the group's native loader, with the same tracepoints), and what
 * they say about readiness and health. With `--probes auto` a native loader that keeps failing before it ever
 * attaches is replaced by the group's script.
 */
import type { Readiness } from '../src/export/http-server.js';
import type { ProgramHost } from '../src/export/bpf-cost-metrics.js';
import type { ProbeView } from '../src/export/metrics.js';
import { composeScript, PROBE_GROUPS, readProbeSource, type ComposedScript } from '../src/probes/probe-catalog.js';
import type { GroupProgram } from '../src/probes/native-probes.js';
import { BpftraceProcess, type ProbeState } from '../src/runner/bpftrace-process.js';

export interface ProbeSetOptions {
  readonly bpftrace: string;
  /** What runs each group: its native loader or bpftrace with its script (src/probes/native-probes.ts); bpftrace when absent. */
  readonly programs: readonly GroupProgram[];
  /** Which tracepoints exist (from `bpftrace -l`). */
  readonly present: ReadonlyMap<string, boolean>;
  /** Positional arguments of a group's script. */
  readonly args: (group: string) => string[];
  readonly onLine: (group: string, line: string) => void;
  readonly onStateChange: (group: string, state: ProbeState, detail: string) => void;
  readonly log: (message: string) => void;
  /** `--probes auto`: a native loader that fails NATIVE_TRIES times before it ever attaches gives way to the script. */
  readonly fallBackToScript?: boolean;
}

/** Failures before a first attach after which an `auto` group leaves its native loader for its script. */
export const NATIVE_TRIES = 2;

interface RunningGroup {
  readonly composed: ComposedScript;
  /** `process.loader` says whether the native loader or the script runs. */
  readonly process: BpftraceProcess;
}

/** The group's native loader, when it is to run one. */
function nativeLoader(programs: readonly GroupProgram[], group: string): string | undefined {
  const p = programs.find((x) => x.group === group);
  return p?.kind === 'native' ? p.loader : undefined;
}

export class ProbeSet {
  private readonly running: RunningGroup[] = [];
  /** Groups none of whose tracepoints exist here, with why. */
  private readonly unavailable: { name: string; why: string }[] = [];

  constructor(private readonly o: ProbeSetOptions) {
    for (const group of PROBE_GROUPS) {
      const composed = composeScript(group, readProbeSource(group), (tp) => o.present.get(tp) === true);
      if (composed.attached.length === 0) {
        this.unavailable.push({ name: group.name, why: `probe group ${group.name} unavailable: missing tracepoint(s) ${composed.missing.join(', ')}` });
        continue;
      }
      if (composed.missing.length) o.log(`probe group ${group.name}: tracepoints ${composed.missing.join(', ')} missing on this kernel; running without them`);
      this.running.push({ composed, process: this.processFor(composed, nativeLoader(o.programs, group.name)) });
    }
  }

  /**
   * The group's child: its native loader or bpftrace with its script. Under `--probes auto` a loader that fails
   * NATIVE_TRIES times before it ever attaches gives way to the script (same arguments, same lines), and the
   * log says why.
   */
  private processFor(composed: ComposedScript, loader: string | undefined): BpftraceProcess {
    const group = composed.group.name;
    return new BpftraceProcess({
      group,
      script: composed.script,
      args: this.o.args(group),
      bpftrace: this.o.bpftrace,
      ...(loader !== undefined ? { loader } : {}),
      ...(loader !== undefined && this.o.fallBackToScript ? { fallBackAfter: NATIVE_TRIES } : {}),
      onFallBack: (why) => this.o.log(`probe group ${group}: ${why}; running its bpftrace script instead`),
      onStateChange: (state, detail) => this.o.onStateChange(group, state, detail),
      onLine: (line) => this.o.onLine(group, line),
    });
  }

  get processes(): readonly BpftraceProcess[] {
    return this.running.map((r) => r.process);
  }

  start(): void {
    for (const r of this.running) r.process.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.running.map((r) => r.process.stop()));
  }

  /** Attached, and its script has this tracepoint. */
  attachedWith(group: string, tracepoint: string): boolean {
    const r = this.running.find((x) => x.composed.group.name === group);
    return r !== undefined && r.process.state === 'attached' && r.composed.attached.includes(tracepoint);
  }

  /** Every group, the unavailable ones down, so alerts on probe_up see them. */
  views(): ProbeView[] {
    return [
      ...this.running.map((r) => ({ name: r.composed.group.name, up: r.process.state === 'attached', restarts: r.process.restarts, native: r.process.loader !== undefined })),
      ...this.unavailable.map((u) => ({ name: u.name, up: false, restarts: 0, native: false })),
    ];
  }

  /** Each running group's bpftrace (PID while it runs) and its tracepoints: where hopscope's BPF programs are. */
  programHosts(): ProgramHost[] {
    return this.running.map((r) => ({ probe: r.composed.group.name, pid: r.process.pid, tracepoints: r.composed.attached }));
  }

  /** Ready once the hops group is attached and every running group is. */
  readiness(): Readiness {
    const states = this.running.map((r) => ({
      name: r.composed.group.name,
      state: r.process.state,
      detail: r.process.state === 'attached' ? 'attached' : r.process.lastError,
    }));
    const down = states.filter((s) => s.state !== 'attached').map((s) => `probe group ${s.name} is ${s.state}${s.detail ? `: ${s.detail}` : ''}`);
    const hopsUp = states.some((s) => s.name === 'hops' && s.state === 'attached');
    // a group running without some of its tracepoints is up, but says what it cannot see
    const partial = this.running
      .filter((r) => r.composed.missing.length > 0)
      .map((r) => `probe group ${r.composed.group.name} runs without tracepoint(s) ${r.composed.missing.join(', ')} (missing on this kernel)`);
    return { ready: hopsUp && down.length === 0, reasons: [...this.unavailable.map((u) => u.why), ...partial, ...down], probes: states };
  }
}
