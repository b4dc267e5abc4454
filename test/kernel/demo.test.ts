/**
 * `hopscope demo` end to end: it shows live traces, and Ctrl-C (SIGINT) leaves no namespace, no bpftrace and
 * no BPF program behind.
 */
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { listNetns, labDown } from '../../src/lab/lab.js';
import { isLabNamespace } from '../../src/lab/lab-plan.js';
import { bpfProgramIds, CLI, isAlive, traces, waitFor } from './support/lab-agents.js';

const PREFIX = 'hkd';
const PORT = 19940;

afterAll(async () => {
  await labDown(PREFIX);
});

async function descendants(pid: number): Promise<number[]> {
  const out = await execa('ps', ['-e', '-o', 'pid=,ppid=']);
  const byParent = new Map<number, number[]>();
  for (const line of out.stdout.split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (p && pp) byParent.set(pp, [...(byParent.get(pp) ?? []), p]);
  }
  const all: number[] = [];
  const walk = (p: number) => (byParent.get(p) ?? []).forEach((c) => (all.push(c), walk(c)));
  walk(pid);
  return all;
}

describe('hopscope demo', () => {
  it('shows live traces and removes everything on Ctrl-C', async () => {
    const programsBefore = await bpfProgramIds();
    const demo = execa(process.execPath, [CLI, 'demo', '--prefix', PREFIX, '--port', String(PORT)], { reject: false, all: true, buffer: true });
    let output = '';
    demo.all?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await waitFor(async () => output.includes('Ctrl-C stops everything'), 60_000, 'the demo to be up');
      expect(output).toContain(`http://127.0.0.1:${PORT}/api/v1/traces`);
      const found = await waitFor(async () => {
        const [a, b] = await Promise.all([traces(`http://127.0.0.1:${PORT}`), traces(`http://127.0.0.1:${PORT + 1}`)]);
        const paths = new Set([...a, ...b].map((t) => t.path));
        return paths.has('same-node') && paths.has('cross-node') ? paths : undefined;
      }, 20_000, 'same-node and cross-node traces from the demo traffic');
      expect(found.has('cross-node')).toBe(true);
      await waitFor(async () => /\[node-\d\] (ICMP|TCP) /.test(output), 10_000, 'traces printed live');
      const children = await descendants(demo.pid!);
      const demoPrograms = [...(await bpfProgramIds())].filter((id) => !programsBefore.has(id));
      expect(demoPrograms.length).toBeGreaterThan(0);
      expect(children.length).toBeGreaterThanOrEqual(6);
      demo.kill('SIGINT');
      const result = await demo;
      expect(result.exitCode).toBe(0);
      expect(output).toContain('nothing left behind');
      expect((await listNetns()).filter((n) => isLabNamespace(PREFIX, n))).toEqual([]);
      await waitFor(async () => children.every((p) => !isAlive(p)), 5000, 'every process the demo started to exit');
      await waitFor(async () => {
        const now = await bpfProgramIds();
        return demoPrograms.every((id) => !now.has(id));
      }, 5000, 'every BPF program of the demo to be unloaded');
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
  });
});
