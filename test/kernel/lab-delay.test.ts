/**
 * `hopscope lab up --delay-ms 10`: the underlay forwarder delays every frame between nodes by 10 ms one way
 * (this kernel has no netem), same-node traffic stays fast, bulk TCP (GSO super-frames) crosses it intact,
 * and `lab down` stops the forwarder by its PID and removes every namespace.
 *
 * 2 nodes x 2 pods, so that the same-node check is a real pod-to-pod path through cni0.
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwarderPidPath, isRunning } from '../../src/lab/delay-forwarder.js';
import { labDown, listNetns } from '../../src/lab/lab.js';
import { isLabNamespace } from '../../src/lab/lab-plan.js';
import { CLI, nsExec, waitFor } from './support/lab-agents.js';

const PREFIX = 'hy';
const INVENTORY = `/run/hopscope/test-${PREFIX}.json`;
const DELAY_MS = 10;
const BULK = fileURLToPath(new URL('../fixtures/tcp-bulk.mjs', import.meta.url));
const POD_1_1 = { netns: 'hyn1p1', ip: '10.244.1.11' };
const POD_1_2 = { netns: 'hyn1p2', ip: '10.244.1.12' };
const POD_2_1 = { netns: 'hyn2p1', ip: '10.244.2.11' };

const started: ResultPromise[] = [];
let forwarderPid = 0;

const hopscope = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false, timeout: 60_000 });
const labNamespaces = async () => (await listNetns()).filter((n) => isLabNamespace(PREFIX, n));

/** Every reply's round-trip time in ms from `ping -c COUNT` (after one warm-up ping that resolves ARP). */
async function pingRtts(from: string, to: string, count: number): Promise<number[]> {
  await nsExec(from, 'ping', ['-c', '1', '-W', '2', to]);
  const r = await nsExec(from, 'ping', ['-c', String(count), '-i', '0.2', '-W', '2', to]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  return [...r.stdout.matchAll(/icmp_seq=\d+ ttl=\d+ time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

beforeAll(async () => {
  await labDown(PREFIX, INVENTORY); // leftovers of a killed run
});

afterAll(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await labDown(PREFIX, INVENTORY); // stops the forwarder by its pid file, even when a test failed
});

describe('lab with --delay-ms', () => {
  it('lab up starts a detached forwarder in the underlay namespace that outlives the command', async () => {
    const up = await hopscope(['lab', 'up', '--prefix', PREFIX, '--nodes', '2', '--pods', '2', '--delay-ms', String(DELAY_MS), '--inventory', INVENTORY]);
    expect(up.exitCode, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(new RegExp(`delay ${DELAY_MS} ms one way between nodes: forwarder pid \\d+ in netns ${PREFIX}u`));

    forwarderPid = Number(readFileSync(forwarderPidPath(PREFIX), 'utf8').trim());
    expect(up.stdout).toContain(`forwarder pid ${forwarderPid} `);
    expect(isRunning(forwarderPid)).toBe(true); // `lab up` has exited; its forwarder runs on
    const cmdline = readFileSync(`/proc/${forwarderPid}/cmdline`, 'utf8').split('\0');
    expect(cmdline.some((a) => a.endsWith('src/lab/delay-forwarder.py'))).toBe(true);
    expect(cmdline.filter((a) => a !== '').slice(-4)).toEqual(['--delay-ms', String(DELAY_MS), 'n1', 'n2']);
    expect((await execa('ip', ['netns', 'identify', String(forwarderPid)])).stdout.trim()).toBe(`${PREFIX}u`);

    // no bridge in the underlay: the ports are masterless, up, and only the forwarder joins them
    const links = JSON.parse((await execa('ip', ['-n', `${PREFIX}u`, '-j', 'link', 'show'])).stdout) as { ifname: string; master?: string; flags: string[] }[];
    expect(links.map((l) => l.ifname).sort()).toEqual(['lo', 'n1', 'n2']);
    expect(links.filter((l) => l.master !== undefined)).toEqual([]);
    expect(links.every((l) => l.flags.includes('UP'))).toBe(true);

    const status = await hopscope(['lab', 'status', '--prefix', PREFIX, '--inventory', INVENTORY]);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain(`delay: ${DELAY_MS} ms one way, forwarder running (pid ${forwarderPid},`);
  });

  it('delays cross-node traffic by 2 x 10 ms per round trip and leaves same-node traffic alone', async () => {
    const cross = await pingRtts(POD_1_1.netns, POD_2_1.ip, 10);
    const same = await pingRtts(POD_1_1.netns, POD_1_2.ip, 10);
    console.log(`cross-node RTT ms: ${cross.join(' ')}\nsame-node RTT ms: ${same.join(' ')}`);
    expect(cross).toHaveLength(10);
    // every round trip pays both delays; the median stays close to them (a single late sample on a busy shared
    // machine is scheduling, not the forwarder)
    for (const rtt of cross) expect(rtt).toBeGreaterThanOrEqual(2 * DELAY_MS);
    const median = [...cross].sort((a, b) => a - b)[5] as number;
    expect(median).toBeLessThanOrEqual(2 * DELAY_MS + 2);
    expect(cross.filter((rtt) => rtt > 2 * DELAY_MS + 5).length).toBeLessThanOrEqual(1);
    expect(same).toHaveLength(10);
    for (const rtt of same) expect(rtt).toBeLessThan(2);
  });

  it('carries a 2 MB TCP transfer across nodes intact (GSO super-frames through the forwarder)', async () => {
    const server = execa('ip', ['netns', 'exec', POD_2_1.netns, process.execPath, BULK, 'server', '7000'], { reject: false, buffer: false, stdin: 'ignore' });
    started.push(server);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('tcp-bulk server did not listen')), 10_000);
      server.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && (clearTimeout(timer), resolve()));
      server.once('exit', (code) => reject(new Error(`tcp-bulk server exited with ${code}`)));
    });
    const bytes = 2 * 1024 * 1024;
    const client = await nsExec(POD_1_1.netns, process.execPath, [BULK, 'client', POD_2_1.ip, '7000', String(bytes)], 30_000);
    expect(client.exitCode, client.stderr).toBe(0);
    const result = JSON.parse(client.stdout) as { sent: number; received: number; sentSha256: string; receivedSha256: string; ms: number };
    console.log(`2 MB across nodes with ${DELAY_MS} ms one way: ${result.ms} ms`);
    expect(result.received).toBe(bytes);
    expect(result.receivedSha256).toBe(result.sentSha256);
    expect(result.ms).toBeGreaterThanOrEqual(2 * 2 * DELAY_MS); // handshake + data + answer: at least two round trips
  });

  it('lab down stops the forwarder by its PID and removes every namespace', async () => {
    expect(forwarderPid).toBeGreaterThan(1);
    const down = await hopscope(['lab', 'down', '--prefix', PREFIX, '--inventory', INVENTORY]);
    expect(down.exitCode, down.stdout + down.stderr).toBe(0);
    expect(isRunning(forwarderPid)).toBe(false);
    await waitFor(async () => !existsSync(`/proc/${forwarderPid}`), 10_000, `forwarder pid ${forwarderPid} to be gone`);
    expect(existsSync(forwarderPidPath(PREFIX))).toBe(false);
    expect(await labNamespaces()).toEqual([]);
    const status = await hopscope(['lab', 'status', '--prefix', PREFIX, '--inventory', INVENTORY]);
    expect(status.stdout).toContain(`lab "${PREFIX}": not up`);
  });
});
