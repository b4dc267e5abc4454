/**
 * @module `hopscope doctor`: what this machine supports (root, bpftrace, BTF, tracefs, each probe's
 * tracepoints, helper commands) and, for each missing item, what to do; then which pod network layout the
 * node has (bridge + host routes, VXLAN overlay, Calico, Cilium) and what hopscope can trace on it.
 * `--netns NAME` looks at a named namespace instead of this one (a lab node).
 */
import { chooseGroupProgram, NATIVE_PROBES, type GroupProgram } from '../probes/native-probes.js';
import { PROBE_GROUPS } from '../probes/probe-catalog.js';
import { checkBpftrace, checkBtf, checkRoot, ensureTracefs, listTracepoints, type Check } from '../runner/preflight.js';
import { runCommand } from '../runner/run-command.js';
import { detectCni, linksFromIpJson, routesFromIpJson, type CniLayout } from '../scope/detect-cni.js';
import { bpfStatsEnabled } from '../runner/bpf-program-stats.js';
import { parseFlags } from './parse-flags.js';

export async function doctorCommand(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, { values: ['bpftrace', 'netns'], booleans: ['json'] });
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
  // optional, never a failed check: a group without its native probe runs its bpftrace script
  const nativeProbes: GroupProgram[] = await Promise.all(
    Object.keys(NATIVE_PROBES).map((group) => (checks[0]?.ok ? chooseGroupProgram(group, 'auto', present) : { group, kind: 'bpftrace' as const, why: 'not checked (needs root)' })),
  );
  const netns = flags.values['netns'];
  const cni = await readCniLayout(netns);
  if (!('kind' in cni)) checks.push(cni);
  if (flags.booleans.has('json')) {
    console.log(JSON.stringify({ ok: checks.every((c) => c.ok), checks, ...('kind' in cni ? { cni } : {}), costAccounting: costAccounting(), nativeProbes }, null, 2));
  } else {
    for (const c of checks) {
      console.log(`${c.ok ? 'ok     ' : 'MISSING'}  ${c.name}: ${c.detail}${c.ok || !c.fix ? '' : `\n         -> ${c.fix}`}`);
    }
    if ('kind' in cni) printLayout(cni, netns);
    console.log('');
    for (const p of nativeProbes) console.log(`probe group ${p.group} runs: ${p.kind} (${p.why})`);
    console.log(`hopscope's own kernel cost: ${costAccounting().detail}`);
    const missing = checks.filter((c) => !c.ok).length;
    console.log(missing === 0 ? '\nall set: hopscope can trace on this machine' : `\n${missing} item(s) missing; see -> lines`);
  }
  return checks.every((c) => c.ok) ? 0 : 1;
}

/** The node's links and routes (of `netns` when given) -> its layout, or a failed check saying why not. */
async function readCniLayout(netns: string | undefined): Promise<CniLayout | Check> {
  const ns = netns === undefined ? [] : ['-n', netns];
  try {
    const links = await runCommand('ip', [...ns, '-j', '-d', 'link', 'show'], { timeoutMs: 5000 });
    const routes = await runCommand('ip', [...ns, '-j', 'route', 'show'], { timeoutMs: 5000 });
    return detectCni(linksFromIpJson(JSON.parse(links)), routesFromIpJson(JSON.parse(routes)));
  } catch (err) {
    const where = netns === undefined ? 'this namespace' : `netns ${netns}`;
    return { name: 'network layout', ok: false, detail: `cannot read the links of ${where}: ${(err as Error).message.split('\n')[0]}`, fix: netns === undefined ? 'apt-get install -y iproute2' : `check the name with \`ip netns list\`` };
  }
}

function printLayout(cni: CniLayout, netns: string | undefined): void {
  console.log(`\nnetwork layout${netns === undefined ? '' : ` of netns ${netns}`}: ${cni.kind}\n  ${cni.summary}`);
  if (cni.evidence.length > 0) console.log(`  found: ${cni.evidence.join(', ')}`);
  for (const t of cni.canTrace) console.log(`  traces:   ${t}`);
  for (const t of cni.cannotTrace) console.log(`  not seen: ${t}`);
}

/** Whether hopscope_bpf_* can show hopscope's own kernel cost here (optional: never a failed check). */
function costAccounting(): { enabled: boolean | undefined; detail: string } {
  const enabled = bpfStatsEnabled();
  const detail =
    enabled === undefined
      ? 'unknown (cannot read /proc/sys/kernel/bpf_stats_enabled)'
      : enabled
        ? 'measured (kernel.bpf_stats_enabled=1): hopscope_bpf_run_seconds_total and hopscope_bpf_runs_total count'
        : 'not measured (kernel.bpf_stats_enabled=0, the default): `sysctl -w kernel.bpf_stats_enabled=1` makes hopscope_bpf_* count (the kernel then reads the clock twice around every BPF program run)';
  return { enabled, detail };
}
