/**
 * @module `hopscope demo`: a lab, one agent per node, traffic between pods, and where to look; Ctrl-C removes
 * everything it started (agents, traffic, namespaces). With `--services`, the lab's ClusterIP Services too, and a
 * client reaching `web` through kube-proxy-style NAT; with `--overlay vxlan` flannel's overlay between nodes; with
 * `--ipv6` a dual-stack lab and an IPv6 ping as well.
 */
import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { labDown, labUp } from '../lab/lab.js';
import type { LabPlan } from '../lab/lab-plan.js';
import { intFlag, parseFlags } from './parse-flags.js';
import { overlayFlag } from './lab-command.js';
import { packagePath } from '../package-root.js';
import type { Trace } from '../trace/trace.js';

const CLI = packagePath('bin/hopscope.js');
const TCP_ECHO = fileURLToPath(new URL('../lab/tcp-echo.js', import.meta.url));

export async function demoCommand(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, { values: ['prefix', 'nodes', 'pods', 'delay-ms', 'port', 'sample', 'overlay'], booleans: ['services', 'ipv6'] });
  const services = flags.booleans.has('services');
  const ipv6 = flags.booleans.has('ipv6');
  const prefix = flags.values['prefix'] ?? 'hsdemo';
  const basePort = intFlag(flags, 'port', 9940);
  const children: ResultPromise[] = [];
  const spawn = (file: string, args: string[]) => {
    const child = execa('setpriv', ['--pdeathsig', 'KILL', '--', file, ...args], { reject: false, buffer: false, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit' });
    children.push(child);
    return child;
  };
  let cleaning: Promise<void> | undefined; // one cleanup however many signals arrive
  const cleanup = () =>
    (cleaning ??= (async () => {
      console.log('\nstopping: agents, traffic, lab namespaces');
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      const force = setTimeout(() => {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }, 15_000);
      await Promise.all(children);
      clearTimeout(force);
      await labDown(prefix).catch((e: Error) => console.error(`lab down failed: ${e.message}`));
      console.log('demo stopped; nothing left behind');
    })());
  // `on`, not `once`: execa's exit hook re-raises a signal that has no other listener left
  const stopped = new Promise<void>((resolve) => {
    process.on('SIGINT', () => void cleanup().then(resolve));
    process.on('SIGTERM', () => void cleanup().then(resolve));
  });

  await labDown(prefix); // leftovers of an earlier demo that was killed
  const { plan, inventoryPath } = await labUp({
    prefix,
    nodes: intFlag(flags, 'nodes', 2),
    podsPerNode: intFlag(flags, 'pods', 2),
    delayMs: intFlag(flags, 'delay-ms', 0),
    overlay: overlayFlag(flags.values['overlay']),
    ...(services ? { services } : {}),
    ...(ipv6 ? { ipv6 } : {}),
  });
  console.log(`lab "${prefix}" up: ${plan.nodes.length} nodes, inventory ${inventoryPath}${plan.delayMs ? `, ${plan.delayMs} ms one-way delay between nodes` : ''}`);
  const urls = plan.nodes.map((n, i) => {
    const url = `http://127.0.0.1:${basePort + i}`;
    // every agent knows the others: cross-node traces are stitched and the latency between nodes measured
    const peers = plan.nodes.flatMap((p, j) => (j === i ? [] : ['--peer', `${p.name}=http://127.0.0.1:${basePort + j}`]));
    spawn(process.execPath, [CLI, 'agent', '--node', n.name, '--netns', n.netns, '--inventory', inventoryPath, '--listen', `127.0.0.1:${basePort + i}`, '--sample', flags.values['sample'] ?? '1', ...peers]);
    return url;
  });
  await waitReady(urls, 60_000);
  startTraffic(plan, spawn);
  if (services) startServiceTraffic(plan, spawn);

  console.log('\nhopscope demo is running. Where to look:');
  plan.nodes.forEach((n, i) => {
    console.log(`  ${n.name}: ${urls[i]}/api/v1/traces?limit=5   (hop traces, newest first)`);
    console.log(`  ${' '.repeat(n.name.length)}  ${urls[i]}/api/v1/flows   ${urls[i]}/api/v1/bridges   ${urls[i]}/api/v1/peers`);
  });
  console.log(`  filters: ?path=same-node|cross-node|same-pod|unrouted  &pod=default/pod-1-1  &min_latency=100us${services ? '  &service=default/web' : ''}`);
  console.log(`  live web view: ${urls.map((u) => `${u}/`).join('   ')}`);
  console.log(`  metrics:       ${urls.map((u) => `${u}/metrics`).join('   ')}`);
  console.log('  its own cost:  hopscope_bpf_run_seconds_total in /metrics (after `sysctl -w kernel.bpf_stats_enabled=1`)');
  console.log(`  live CLI:      npx hopscope watch ${urls.map((u) => `--agent ${u}`).join(' ')}`);
  console.log('Ctrl-C stops everything.\n');
  const printed = new Set<string>();
  const printer = setInterval(() => void printNew(urls, printed), 2000);
  await stopped;
  clearInterval(printer);
  return 0;
}

function startTraffic(plan: LabPlan, spawn: (file: string, args: string[]) => ResultPromise): void {
  const [n1, n2] = plan.nodes;
  const a = n1?.pods[0];
  const b = n1?.pods[1];
  const c = n2?.pods[0];
  if (a && b) spawn('ip', ['netns', 'exec', a.netns, 'ping', '-q', '-i', '1', b.ip]);
  if (a && c) spawn('ip', ['netns', 'exec', a.netns, 'ping', '-q', '-i', '1.5', c.ip]);
  if (c) {
    spawn('ip', ['netns', 'exec', c.netns, process.execPath, TCP_ECHO, 'server', '8080']);
    if (a) spawn('ip', ['netns', 'exec', a.netns, process.execPath, TCP_ECHO, 'client', c.ip, '8080', '2000']);
  }
  if (a) spawn('ip', ['netns', 'exec', a.netns, 'ping', '-q', '-i', '5', '10.99.0.1']);
  // dual-stack lab: the same cross-node ping over IPv6
  if (a && c?.ip6) spawn('ip', ['netns', 'exec', a.netns, 'ping', '-6', '-q', '-i', '2', c.ip6]);
}

/**
 * Backends for `web` (the last node's pods; the first node's first pod already serves 8080 when it is one of them)
 * and a client on the first node reaching web's cluster IP every 2.5 s.
 */
function startServiceTraffic(plan: LabPlan, spawn: (file: string, args: string[]) => ResultPromise): void {
  const web = plan.services.find((s) => s.name === 'web');
  const client = plan.nodes[0]?.pods[0];
  const last = plan.nodes[plan.nodes.length - 1];
  if (!web || !client || !last) return;
  const alreadyServing = last === plan.nodes[1] ? last.pods[0]?.ip : undefined; // startTraffic's server
  for (const pod of last.pods) if (pod.ip !== alreadyServing) spawn('ip', ['netns', 'exec', pod.netns, process.execPath, TCP_ECHO, 'server', '8080']);
  spawn('ip', ['netns', 'exec', client.netns, process.execPath, TCP_ECHO, 'client', web.clusterIP, String(web.ports[0]?.port ?? 80), '2500']);
}

async function waitReady(urls: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) {
    for (;;) {
      try {
        if ((await fetch(`${url}/readyz`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`agent at ${url} not ready after ${timeoutMs / 1000} s; see its log above`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Prints traces not printed before, oldest first, a few per agent per round so the terminal stays readable. */
async function printNew(urls: string[], printed: Set<string>): Promise<void> {
  for (const url of urls) {
    try {
      const body = (await (await fetch(`${url}/api/v1/traces?limit=4`)).json()) as { traces: Trace[] };
      for (const t of body.traces.reverse()) {
        if (printed.has(t.id)) continue;
        printed.add(t.id);
        console.log(formatTrace(t));
      }
    } catch {
      // the agent is stopping
    }
  }
  if (printed.size > 10_000) printed.clear();
}

export function formatTrace(t: Trace): string {
  const end = (e: Trace['src']) => `${e.pod ? `${e.namespace}/${e.pod}` : e.ip}${e.port ? `:${e.port}` : ''}`;
  const hops = t.hops.map((h) => `${h.kind}:${h.direction}(${h.interface})${h.delta_ns ? ` +${(h.delta_ns / 1000).toFixed(1)}us` : ''}`).join(' > ');
  const via = t.service ? ` via service ${t.service.namespace}/${t.service.name}` : '';
  return `[${t.node}] ${t.protocol} ${end(t.src)} -> ${end(t.dst)}${via} ${t.path} ${t.outcome}${t.reason ? ` (${t.reason})` : ''} ${(t.latency_ns / 1000).toFixed(1)}us: ${hops}`;
}
