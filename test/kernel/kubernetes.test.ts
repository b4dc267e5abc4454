/**
 * The agent with --kubernetes on the real kernel: pods and nodes come from an API server (an in-test stand-in
 * answering list and watch, talked to by the real @kubernetes/client-node), not from an inventory file. Traces
 * carry the pods' names; a deleted pod's flows go, and its address names nobody any more.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKubeApi, type FakeKubeApi } from '../fixtures/fake-kube-api.js';
import { CLI, nsExec, startLab, traces, waitFor, type TestLab } from './support/lab-agents.js';
import { execa, type ResultPromise } from 'execa';

const PREFIX = 'hn';
const TOKEN = 'kube-test-token-0123456789';
let lab: TestLab | undefined;
let api: FakeKubeApi | undefined;
let agent: ResultPromise | undefined;
let url = '';
let dir = '';

const node = (name: string, n: number) => ({
  metadata: { name },
  spec: { podCIDR: `10.244.${n}.0/24` },
  status: { addresses: [{ type: 'InternalIP', address: `192.168.254.${n}` }] },
});
const pod = (namespace: string, name: string, nodeName: string, ip: string) => ({
  metadata: { name, namespace },
  spec: { nodeName },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
});

beforeAll(async () => {
  lab = await startLab(PREFIX);
  api = await startFakeKubeApi({ token: TOKEN });
  api.set('nodes', node('node-1', 1));
  api.set('nodes', node('node-2', 2));
  api.set('pods', pod('shop', 'frontend-7d9f', 'node-1', '10.244.1.11'));
  api.set('pods', pod('shop', 'cart-5b6c', 'node-1', '10.244.1.12'));
  api.set('pods', pod('shop', 'payments-0', 'node-2', '10.244.2.11'));
  dir = mkdtempSync(join(tmpdir(), 'hopscope-kube-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // plain HTTP to the in-test server: the client allows it only with TLS verification off
      clusters: [{ name: 'lab', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'agent', user: { token: TOKEN } }],
      contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'agent' } }],
      'current-context': 'lab',
    }),
  );
  agent = execa(process.execPath, [CLI, 'agent', '--node', 'node-1', '--netns', `${PREFIX}n1`, '--kubernetes', '--kubeconfig', kubeconfig, '--listen', '127.0.0.1:0'], { reject: false, buffer: false });
  let out = '';
  agent.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  agent.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  url = await waitFor(async () => /listening on (http:\/\/\S+)/.exec(out)?.[1], 30_000, 'the agent to listen');
  await waitFor(async () => (await fetch(`${url}/readyz`)).ok, 30_000, 'the agent to be ready (probes attached, pods and nodes listed)');
});

afterAll(async () => {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await agent;
  }
  await api?.close();
  await lab?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('--kubernetes', () => {
  it('names pods and nodes from the API server, watching only this node\'s pods', async () => {
    expect((await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '1', '-W', '2', '10.244.1.12'])).exitCode).toBe(0);
    expect((await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '1', '-W', '2', '10.244.2.11'])).exitCode).toBe(0);
    const [same] = await waitFor(async () => {
      const t = (await traces(url)).filter((x) => x.src.ip === '10.244.1.11' && x.dst.ip === '10.244.1.12');
      return t.length ? t : undefined;
    }, 10_000, 'a same-node trace');
    expect(same).toMatchObject({ path: 'same-node', src: { pod: 'frontend-7d9f', namespace: 'shop', node: 'node-1' }, dst: { pod: 'cart-5b6c', namespace: 'shop', node: 'node-1' } });
    // node-2's pods are not watched by node-1's agent, but node-2 owns their Pod CIDR
    const [cross] = await waitFor(async () => {
      const t = (await traces(url)).filter((x) => x.dst.ip === '10.244.2.11');
      return t.length ? t : undefined;
    }, 10_000, 'a cross-node trace');
    expect(cross).toMatchObject({ path: 'cross-node', dst: { node: 'node-2' } });
    expect(cross!.dst.pod).toBeUndefined();
    const podRequests = api!.requests.filter((r) => r.kind === 'pods');
    expect(podRequests.length).toBeGreaterThan(0);
    expect(podRequests.every((r) => r.query.get('fieldSelector') === 'spec.nodeName=node-1')).toBe(true);
    expect(podRequests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('a deleted pod\'s flows disappear and its address names nobody', async () => {
    const flowsOf = async (ip: string) =>
      ((await (await fetch(`${url}/api/v1/flows?limit=10000`)).json()) as { flows: { src: { ip: string }; dst: { ip: string } }[] }).flows.filter((f) => f.src.ip === ip || f.dst.ip === ip);
    expect((await flowsOf('10.244.1.12')).length).toBeGreaterThan(0);
    api!.remove('pods', 'cart-5b6c', 'shop');
    await waitFor(async () => (await flowsOf('10.244.1.12')).length === 0, 10_000, 'the deleted pod\'s flows to go');
    await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '1', '-W', '2', '10.244.1.12']);
    const after = await waitFor(async () => {
      const t = (await traces(url)).filter((x) => x.dst.ip === '10.244.1.12' && x.packet.icmp_type === 8);
      return t.length >= 2 ? t : undefined;
    }, 10_000, 'a new trace to the old address');
    expect(after[0]!.dst.pod).toBeUndefined();
    expect(after[0]!.src.pod).toBe('frontend-7d9f');
  });
});
