/**
 * `hopscope doctor --netns` on a real lab node (prefix `hdc`, 2 nodes x 1 pod): it reads the node's links and
 * routes with `ip` and names the layout; a namespace that does not exist is a clear failed check, not a crash.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startLab, type TestLab } from './support/lab-agents.js';

interface DoctorJson {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string; fix?: string }[];
  cni?: { kind: string; evidence: string[]; canTrace: string[]; cannotTrace: string[] };
  costAccounting: { enabled?: boolean; detail: string };
  nativeProbes: { group: string; kind: 'native' | 'bpftrace'; why: string }[];
}

let lab: TestLab | undefined;
beforeAll(async () => {
  lab = await startLab('hdc', 2, 1);
});
afterAll(async () => {
  await lab?.down();
});

const doctor = async (netns: string): Promise<{ exitCode: number | undefined; json: DoctorJson }> => {
  const r = await execa(process.execPath, [CLI, 'doctor', '--json', '--netns', netns], { reject: false });
  return { exitCode: r.exitCode, json: JSON.parse(r.stdout) as DoctorJson };
};

describe('doctor: which program runs each probe group', () => {
  it('on this kernel, with the loaders built, hops and drops run native; the text output says so per group', async () => {
    const { json } = await doctor('hdcn1');
    expect(json.nativeProbes.map((p) => [p.group, p.kind])).toEqual([
      ['hops', 'native'],
      ['drops', 'native'],
    ]);
    const text = await execa(process.execPath, [CLI, 'doctor', '--netns', 'hdcn1'], { reject: false });
    const lines = text.stdout.split('\n').filter((l) => l.startsWith('probe group '));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^probe group hops runs: native \(.+\)$/);
    expect(lines[1]).toMatch(/^probe group drops runs: native \(.+\)$/);
  });
});

describe('doctor: the node network layout', () => {
  it('a lab node is a cni0 bridge with veth ports and a host route to the other node', async () => {
    const { json } = await doctor('hdcn1');
    expect(json.cni?.kind).toBe('bridge-host-routes');
    expect(json.cni?.evidence).toEqual(['cni0', '10.244.2.0/24 via 192.168.254.2 dev eth0']);
  });

  it('says whether the kernel accounts BPF run time (hopscope_bpf_*), as the sysctl does, without failing a check', async () => {
    const { json } = await doctor('hdcn1');
    const on = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() === '1';
    expect(json.costAccounting.enabled).toBe(on);
    expect(json.costAccounting.detail).toContain(on ? 'measured' : 'sysctl -w kernel.bpf_stats_enabled=1');
    expect(json.checks.some((c) => /bpf_stats/.test(c.name))).toBe(false);
  });

  it('a namespace that does not exist fails one check that says how to find the name', async () => {
    const { exitCode, json } = await doctor('hdc-no-such-netns');
    expect(exitCode).toBe(1);
    expect(json.cni).toBeUndefined();
    const check = json.checks.find((c) => c.name === 'network layout');
    expect(check?.ok).toBe(false);
    expect(check?.fix).toMatch(/ip netns list/);
  });
});
