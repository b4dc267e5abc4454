/**
 * The native probes (build/native/hopscope-hops and hopscope-drops, probes/hops.bpf.c and drops.bpf.c) against
 * the bpftrace scripts they replace, on the real kernel: each pair attached at once, the same packets crossing
 * a lab. Every line one of them prints, the other prints too, field for field but the timestamp: for hops the
 * same interfaces, skbs, addresses, ports, flags, sequence numbers, lengths and CPUs, for IPv4, IPv6 and
 * VXLAN-encapsulated hops; for drops the same skbs, reasons, addresses and failed route lookups (no route,
 * prohibit, IPv6 prohibit). Then an agent told `--probes bpftrace` still traces, and `--probes native` runs
 * the loaders; and a ring buffer too small for a ping flood loses events that the loader counts and the agent
 * exports (hopscope_events_lost_total), and a ring size the kernel would not take is refused with what to give.
 */
import { execa, type ResultPromise } from 'execa';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabPod } from '../../src/lab/lab-plan.js';
import { decodeLine } from '../../src/decode/decode-line.js';
import { NATIVE_PROBES, nativeDir } from '../../src/probes/native-probes.js';
import { PROBES_DIR } from '../../src/probes/probe-catalog.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import { sampleValue, scrape } from './support/metrics-text.js';
import { untilReadyLine } from '../fixtures/ready-line.js';
import { childPids, hopSequence, ip, nsExec, startAgentProcess, startLab, waitFor, waitForTraces, type TestLab } from './support/lab-agents.js';

const HOPS = `${nativeDir()}${NATIVE_PROBES['hops']?.binary}`;
const DROPS = `${nativeDir()}${NATIVE_PROBES['drops']?.binary}`;
const started: ResultPromise[] = [];
const labs: TestLab[] = [];

afterAll(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const lab of labs) await lab.down();
});

interface Probe {
  readonly lines: string[];
  stop(): Promise<void>;
}

/** One probe program (argv), until it prints its group's READY line. */
async function startProbe(group: string, argv: string[]): Promise<Probe> {
  const child = execa('setpriv', ['--pdeathsig', 'KILL', '--', ...argv], { reject: false, buffer: false, stdin: 'ignore' });
  started.push(child);
  const lines: string[] = [];
  await untilReadyLine(child, `HOPSCOPE_READY ${group}`, { onLine: (l) => lines.push(l), what: argv[0] });
  return {
    lines,
    stop: async () => {
      child.kill('SIGINT');
      await child;
    },
  };
}

/** Hop (or drop) lines about the given addresses, each without its timestamp, sorted. */
function about(type: 'hop' | 'drop', lines: readonly string[], addresses: ReadonlySet<string>): string[] {
  const timestampField = type === 'hop' ? 2 : 1;
  return lines
    .filter((l) => {
      const d = decodeLine(l);
      return d.ok && d.event.type === type && (addresses.has(d.event.saddr) || addresses.has(d.event.daddr));
    })
    .map((l) => l.split(' ').filter((_, i) => i !== timestampField).join(' '))
    .sort();
}

/**
 * Runs `traffic` with a group's bpftrace script and its native loader both attached; returns each one's lines
 * about `addresses`. hops: every packet traced (`1`), no trace-on-demand sender (`0`); drops: this kernel's
 * NOT_SPECIFIED.
 */
async function bothSee(group: 'hops' | 'drops', addresses: ReadonlySet<string>, traffic: () => Promise<void>, sample = 1): Promise<{ bpftrace: string[]; native: string[] }> {
  const args = group === 'hops' ? [String(sample), '0', '1000'] : [String(DropReasons.fromKernel().notSpecified())];
  const bt = await startProbe(group, ['bpftrace', '-B', 'line', `${PROBES_DIR}${group}.bt`, ...args]);
  const native = await startProbe(group, [group === 'hops' ? HOPS : DROPS, ...args]);
  try {
    await traffic();
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    await native.stop();
    await bt.stop();
  }
  const type = group === 'hops' ? 'hop' : 'drop';
  return { bpftrace: about(type, bt.lines, addresses), native: about(type, native.lines, addresses) };
}

/** The first pod of node 1 and of node 2. */
function firstPods(lab: TestLab): [LabPod, LabPod] {
  const [a, b] = [lab.plan.nodes[0]?.pods[0], lab.plan.nodes[1]?.pods[0]];
  if (!a || !b) throw new Error('the lab has no pods');
  return [a, b];
}

const udp = (netns: string, ip: string, port: number) => nsExec(netns, 'bash', ['-c', `echo hopscope > /dev/udp/${ip}/${port}`]);
// a SYN to a closed port: the SYN and the RST that answers it
const closedTcp = (netns: string, ip: string) => nsExec(netns, 'bash', ['-c', `exec 3<>/dev/tcp/${ip}/9 || true`]);

describe('native probes and the bpftrace scripts, side by side, dual-stack lab', () => {
  let lab: TestLab;
  let p11: LabPod;
  let p21: LabPod;
  beforeAll(async () => {
    lab = await startLab('hnh', 2, 2, 0, { ipv6: true });
    labs.push(lab);
    [p11, p21] = firstPods(lab);
    if (!p11.ip6 || !p21.ip6) throw new Error('the lab has no IPv6 pods');
  }, 60_000);

  it('hops: the same lines, but for timestamps, for ICMP, UDP, TCP over IPv4 and ICMPv6 and UDP over IPv6', async () => {
    // neighbours resolved first, so both probes see the same packets whatever the timing
    await nsExec(p11.netns, 'ping', ['-c', '1', '-W', '2', p21.ip]);
    await nsExec(p11.netns, 'ping', ['-6', '-c', '1', '-W', '2', p21.ip6 as string]);
    const seen = await bothSee('hops', new Set([p11.ip, p21.ip, p11.ip6 as string, p21.ip6 as string]), async () => {
      await nsExec(p11.netns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', p21.ip]);
      await nsExec(p11.netns, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', p21.ip6 as string]);
      await udp(p11.netns, p21.ip, 9999);
      await udp(p11.netns, p21.ip6 as string, 9999);
      await closedTcp(p11.netns, p21.ip);
      // record route: 40 bytes of IP options, the L4 header read apart from the IP header
      await nsExec(p11.netns, 'ping', ['-R', '-c', '2', '-i', '0.2', '-W', '2', p21.ip]);
    });
    // 3 echo requests and replies cross 10 interfaces each way, per family; the datagrams and the SYN/RST too
    expect(seen.bpftrace.filter((l) => l.startsWith('H ')).length).toBeGreaterThanOrEqual(60 + 10 + 20);
    expect(seen.bpftrace.filter((l) => l.startsWith('H6 ')).length).toBeGreaterThanOrEqual(60 + 10);
    expect(seen.native).toEqual(seen.bpftrace);
  }, 120_000);

  it('hops, 1 in 7 flows sampled: the same flows selected by the same hash (of 60 UDP flows some, not all)', async () => {
    const seen = await bothSee(
      'hops',
      new Set([p11.ip, p21.ip]),
      async () => {
        for (let port = 9000; port < 9060; port++) await udp(p11.netns, p21.ip, port);
      },
      7,
    );
    // field 11 of a hop line without its timestamp is the raw destination port (l4b)
    const udpFlows = new Set(seen.bpftrace.filter((l) => l.split(' ')[8] === '17').map((l) => l.split(' ')[11]));
    expect(udpFlows.size).toBeGreaterThan(0);
    expect(udpFlows.size).toBeLessThan(60);
    expect(seen.native).toEqual(seen.bpftrace);
  }, 120_000);

  it('drops: the same lines, but for timestamps, for no route, prohibit and IPv6 prohibit, with the failed lookup\'s error', async () => {
    const n1 = `hnhn1`;
    const seen = await bothSee('drops', new Set([p11.ip, p21.ip, p11.ip6 as string, p21.ip6 as string]), async () => {
      try {
        await ip(n1, 'route', 'del', '10.244.2.0/24');
        await nsExec(p11.netns, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', p21.ip]);
        await ip(n1, 'route', 'add', 'prohibit', '10.244.2.0/24');
        await nsExec(p11.netns, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', p21.ip]);
        await ip(n1, '-6', 'route', 'replace', 'prohibit', 'fd00:10:244:2::/64');
        await nsExec(p11.netns, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '1', p21.ip6 as string]);
      } finally {
        await ip(n1, 'route', 'replace', '10.244.2.0/24', 'via', '192.168.254.2', 'dev', 'eth0');
        await ip(n1, '-6', 'route', 'replace', 'fd00:10:244:2::/64', 'via', 'fd00:192:168:254::2', 'dev', 'eth0');
      }
    });
    const d4 = seen.bpftrace.filter((l) => l.startsWith('D '));
    // 2 pings with no route (fib err -101 or -113), 2 against prohibit (-13); 2 IPv6 against prohibit (-13)
    expect(d4.length).toBeGreaterThanOrEqual(4);
    expect(d4.filter((l) => l.endsWith(' -13')).length).toBeGreaterThanOrEqual(2);
    expect(seen.bpftrace.filter((l) => l.startsWith('D6 ') && l.endsWith(' -13')).length).toBeGreaterThanOrEqual(2);
    expect(seen.native).toEqual(seen.bpftrace);
  }, 120_000);
});

describe('native hop probe and hops.bt, side by side, VXLAN overlay lab', () => {
  it('print the same hop lines for encapsulated hops: the inner packet, the tunnel port, the outer length', async () => {
    const lab = await startLab('hnv', 2, 2, 0, { overlay: 'vxlan' });
    labs.push(lab);
    const [p11, p21] = firstPods(lab);
    await nsExec(p11.netns, 'ping', ['-c', '1', '-W', '2', p21.ip]);
    const seen = await bothSee('hops', new Set([p11.ip, p21.ip]), async () => {
      await nsExec(p11.netns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', p21.ip]);
      await udp(p11.netns, p21.ip, 9999);
    });
    const encapsulated = (lines: string[]) => lines.filter((l) => l.endsWith(' 8472'));
    // each way, both nodes' uplinks carry the packet inside the tunnel
    expect(encapsulated(seen.bpftrace).length).toBeGreaterThanOrEqual(3 * 2 * 2);
    expect(seen.native).toEqual(seen.bpftrace);
  }, 120_000);
});

describe('choosing the probes', () => {
  it('--probes bpftrace runs the scripts and still traces a cross-node ping hop by hop; --probes native runs both loaders', async () => {
    const lab = await startLab('hnc', 2, 1);
    labs.push(lab);
    const [p11, p21] = firstPods(lab);
    const commands = async (pid: number) => (await childPids(pid)).map((c) => readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0'));
    for (const choice of ['bpftrace', 'native'] as const) {
      const agent = await startAgentProcess('node-1', 'hncn1', lab.inventoryPath, ['--probes', choice]);
      try {
        const programs = (await commands(agent.pid)).map((a) => a[0]);
        for (const loader of [HOPS, DROPS]) expect(programs.includes(loader), `${choice}: ${JSON.stringify(programs)}`).toBe(choice === 'native');
        expect(programs.filter((p) => p === 'bpftrace').length).toBe(choice === 'native' ? 2 : 4);
        for (const group of ['hops', 'drops']) expect(agent.log.join('\n')).toContain(`probe group ${group}: ${choice}`);
        await nsExec(p11.netns, 'ping', ['-c', '1', '-W', '2', p21.ip]);
        const [t] = await waitForTraces(agent.url, (x) => x.protocol === 'ICMP' && x.src.ip === p11.ip && x.packet.icmp_type === 8, `${choice}: the echo request's trace`);
        expect(hopSequence(t!)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress', 'uplink:egress']);
      } finally {
        await agent.stop();
      }
    }
  }, 120_000);
});

describe('a ring buffer too small for the traffic', () => {
  it('a 4 KiB ring under a ping flood: the loader counts what the kernel could not write, the agent exports it and keeps tracing', async () => {
    const lab = await startLab('hnl', 2, 1);
    labs.push(lab);
    const [p11, p21] = firstPods(lab);
    await nsExec(p11.netns, 'ping', ['-c', '1', '-W', '2', p21.ip]);
    const agent = await startAgentProcess('node-1', 'hnln1', lab.inventoryPath, ['--probes', 'native'], { HOPSCOPE_RING_BYTES: '4096' });
    try {
      // NaN when the series is missing: the first check below must see it at 0, not absent
      const lost = async () => sampleValue(await scrape(agent.url), 'hopscope_events_lost_total', { probe: 'hops' }) ?? NaN;
      expect(await lost()).toBe(0);
      // every ICMP packet is selected: some 16 hop records per echo and reply, a 4 KiB ring holds about 40
      await nsExec(p11.netns, 'ping', ['-f', '-c', '5000', '-W', '1', p21.ip], 60_000);
      // the loader reports its losses once a second
      const n = await waitFor(async () => ((await lost()) > 0 ? lost() : undefined), 5000, 'hopscope_events_lost_total{probe="hops"} above 0');
      expect(n).toBeGreaterThan(0);
      // the agent still traces after the flood: an echo of a size the flood's (56-byte) pings do not have
      await nsExec(p11.netns, 'ping', ['-c', '1', '-s', '321', '-W', '2', p21.ip]);
      await waitForTraces(agent.url, (t) => t.protocol === 'ICMP' && t.src.ip === p11.ip && t.packet.length >= 321, 'the 321-byte echo traced after the flood');
    } finally {
      await agent.stop();
    }
  }, 120_000);

  it('a ring size the kernel would not take: the loader refuses it and says what to give', async () => {
    for (const bad of ['5000', '1024', 'lots']) {
      const r = await execa(HOPS, ['--check', ...(NATIVE_PROBES['hops']?.placeholderArgs ?? [])], { reject: false, env: { HOPSCOPE_RING_BYTES: bad } });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toBe(`hopscope-hops: HOPSCOPE_RING_BYTES=${bad} is not a ring size: give a power of two from 4096 to 1073741824 (bytes)`);
    }
    const ok = await execa(HOPS, ['--check', ...(NATIVE_PROBES['hops']?.placeholderArgs ?? [])], { reject: false, env: { HOPSCOPE_RING_BYTES: '65536' } });
    expect(ok.stdout.trim()).toBe('ok');
  });
});
