/**
 * @module `hopscope doctor`: what this machine supports (root, bpftrace, BTF, tracefs, each probe's
 * tracepoints, helper commands) and, for each missing item, what to do.
 */
import { PROBE_GROUPS } from '../probes/probe-catalog.js';
import { checkBpftrace, checkBtf, checkRoot, ensureTracefs, listTracepoints, type Check } from '../runner/preflight.js';
import { runCommand } from '../runner/run-command.js';
import { parseFlags } from './parse-flags.js';

export async function doctorCommand(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, { values: ['bpftrace'], booleans: ['json'] });
  const bpftrace = flags.values['bpftrace'] ?? 'bpftrace';
  const checks: Check[] = [checkRoot(), await checkBpftrace(bpftrace), checkBtf(), await ensureTracefs(false)];
  for (const [tool, pkg, versionFlag] of [['setpriv', 'util-linux', '--version'], ['ip', 'iproute2', '-V']] as const) {
    try {
      await runCommand(tool, [versionFlag], { timeoutMs: 5000 });
      checks.push({ name: tool, ok: true, detail: 'present' });
    } catch {
      checks.push({ name: tool, ok: false, detail: 'missing', fix: `apt-get install -y ${pkg}` });
    }
  }
  const bpftraceOk = checks[1]?.ok === true;
  const present = bpftraceOk ? await listTracepoints(bpftrace, PROBE_GROUPS.flatMap((g) => g.tracepoints)) : new Map<string, boolean>();
  for (const group of PROBE_GROUPS) {
    for (const tp of group.tracepoints) {
      const ok = present.get(tp) === true;
      checks.push({
        name: `probe ${group.name}: tracepoint:${tp}`,
        ok,
        detail: ok ? `present (${group.purpose})` : bpftraceOk ? 'absent on this kernel' : 'not checked (no bpftrace)',
        ...(ok ? {} : { fix: bpftraceOk ? `without it hopscope loses: ${group.purpose}; needs a kernel with this tracepoint` : 'install bpftrace first' }),
      });
    }
  }
  if (flags.booleans.has('json')) {
    console.log(JSON.stringify({ ok: checks.every((c) => c.ok), checks }, null, 2));
  } else {
    for (const c of checks) {
      console.log(`${c.ok ? 'ok     ' : 'MISSING'}  ${c.name}: ${c.detail}${c.ok || !c.fix ? '' : `\n         -> ${c.fix}`}`);
    }
    const missing = checks.filter((c) => !c.ok).length;
    console.log(missing === 0 ? '\nall set: hopscope can trace on this machine' : `\n${missing} item(s) missing; see -> lines`);
  }
  return checks.every((c) => c.ok) ? 0 : 1;
}
