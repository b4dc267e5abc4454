/**
 * @module The DaemonSet agent for one node: wires probes -> runner -> decoder -> assembler -> model ->
 * exporters, in that one direction.
 */
import type { Server } from 'node:http';
import { existsSync } from 'node:fs';
import { SystemWallClock } from '../src/clock/wall-clock.js';
import { DropReasons } from '../src/decode/drop-reasons.js';
import { createApp, listen, type Readiness } from '../src/export/http-server.js';
import { BpfCostTally, registerBpfCostMetrics } from '../src/export/bpf-cost-metrics.js';
import { AgentMetrics } from '../src/export/metrics.js';
import { ServiceMetrics } from '../src/export/service-metrics.js';
import { Inventory, loadInventoryFile, podAddresses } from '../src/inventory/inventory.js';
import { KubeInventory } from '../src/kubernetes/kube-inventory.js';
import { kubeConfigFromFile } from '../src/kubernetes/in-cluster-config.js';
import { FlowTable } from '../src/model/flow-table.js';
import { NodeCounters } from '../src/model/node-counters.js';
import { readFdb } from '../src/scope/read-fdb.js';
import { TraceStore } from '../src/model/trace-store.js';
import { chooseGroupProgram, NATIVE_PROBES } from '../src/probes/native-probes.js';
import { PROBE_GROUPS } from '../src/probes/probe-catalog.js';
import type { BpftraceProcess } from '../src/runner/bpftrace-process.js';
import { checkBpftrace, checkRoot, ensureTracefs, listTracepoints } from '../src/runner/preflight.js';
import { discoverScope } from '../src/scope/discover-scope.js';
import { NodeScope } from '../src/scope/node-scope.js';
import { TraceAssembler } from '../src/trace/trace-assembler.js';
import { readTokenFile } from '../src/export/auth.js';
import { ClockOffsetEstimator } from '../src/cross/clock-offset.js';
import { CrossNodeJoiner } from '../src/cross/cross-node-joiner.js';
import { PeerLinks, peersFromNodes } from '../src/peers/peer-links.js';
import type { Trace } from '../src/trace/trace.js';
import { sendFocusCommand } from '../src/focus/kill-channel.js';
import { TraceFocus } from '../src/focus/trace-focus.js';
import { attachStream } from '../src/stream/attach-stream.js';
import { StreamHub } from '../src/stream/stream-hub.js';
import { ConfigError, type AgentConfig } from './agent-config.js';
import { ProbeSet } from './probe-set.js';
import { probeLineHandler } from './probe-lines.js';

export const VERSION = '0.1.0';

export interface RunningAgent {
  readonly url: string;
  readonly probes: readonly BpftraceProcess[];
  stop(): Promise<void>;
}

export type Log = (message: string) => void;

export async function startAgent(config: AgentConfig, log: Log = (m) => console.error(m)): Promise<RunningAgent> {
  // configuration first: bad options fail before anything starts
  const token = config.tokenFile === undefined ? undefined : readTokenFile(config.tokenFile);
  const fileInventory = config.inventoryPath ? loadInventoryFile(config.inventoryPath) : Inventory.empty();
  if (config.inventoryPath && !fileInventory.node(config.node)) {
    throw new ConfigError(`--node ${config.node}: not in the inventory ${config.inventoryPath} (nodes: ${fileInventory.data.nodes.map((n) => n.name).join(', ') || 'none'})`);
  }
  // --kubernetes: throws a KubeAccessError naming what is missing when there is no in-cluster configuration;
  // watches from kube.start() below (current() is empty until the first list, status() says so)
  const kube = config.kubernetes
    ? new KubeInventory({ node: config.node, log, ...(config.kubeconfig ? { kubeConfig: kubeConfigFromFile(config.kubeconfig) } : {}) })
    : undefined;
  const inventory = (): Inventory => kube?.current() ?? fileInventory;
  if (config.netns && !existsSync(`/run/netns/${config.netns}`)) {
    throw new ConfigError(`--netns ${config.netns}: no such network namespace (ip netns list shows the named ones)`);
  }
  for (const check of [checkRoot(), await checkBpftrace(config.bpftrace), await ensureTracefs(true)]) {
    if (!check.ok) throw new ConfigError(`${check.name}: ${check.detail}; ${check.fix ?? ''}`);
  }

  const scopeTarget = { ...(config.netns ? { netns: config.netns } : {}), bridgeName: config.bridgeName };
  const scope = new NodeScope(await discoverScope(scopeTarget));
  const clock = new SystemWallClock(60_000, BigInt(config.clockSkewMs) * 1_000_000n);
  const dropReasons = DropReasons.fromKernel();
  let rescanSoon: () => void = () => undefined;
  const counters = new NodeCounters({
    node: config.node,
    bridgeName: config.bridgeName,
    scope,
    inventory,
    dropReasons,
    requestRescan: () => rescanSoon(),
  });
  await seedFdb(counters, config, log);
  const traces = new TraceStore();
  const flows = new FlowTable();
  // a deleted pod's per-pod state (its flows) goes with it
  kube?.onPodDeleted((p) => flows.forgetAddress(p.ip));
  // the probe set is created below; until then nothing can be attached
  let probes: ProbeSet | undefined;
  const focus = new TraceFocus({
    budgetEventsPerSecond: config.focusBudget,
    available: () => probes?.attachedWith('hops', 'syscalls:sys_enter_kill') ?? false,
    send: (c) => (probes?.attachedWith('hops', 'syscalls:sys_enter_kill') ? sendFocusCommand(c) : false),
  });
  const hub = new StreamHub({
    node: config.node,
    sample: config.sample,
    version: VERSION,
    focus,
    podIps: (pod) => {
      const [namespace, name] = pod.split('/');
      const p = inventory().data.pods.find((x) => x.namespace === namespace && x.name === name);
      return p ? podAddresses(p) : [];
    },
  });
  const offsets = new ClockOffsetEstimator();
  let peerLinks: PeerLinks | undefined;
  const peerViews = () =>
    (peerLinks?.views() ?? []).map((p) => {
      const est = offsets.estimate(p.name, Date.now());
      return { ...p, ...(est ? { offsetNs: est.offsetNs, errorNs: est.errorNs, samplesOut: est.samplesOut, samplesIn: est.samplesIn } : {}) };
    });
  const metrics = new AgentMetrics(
    {
      peers: peerViews,
      node: config.node,
      bridge: config.bridgeName,
      counters,
      probes: () => probes?.views() ?? [],
      flowsActive: () => flows.size,
      flowsEvicted: () => flows.evicted,
      streamClients: () => hub.clientCount,
      streamDropped: () => hub.droppedTotal,
    },
    PROBE_GROUPS.map((g) => g.name),
  );
  registerBpfCostMetrics(metrics.registry, new BpfCostTally(() => probes?.programHosts() ?? []));
  const services = new ServiceMetrics(metrics.registry, config.node, inventory);
  const assembler = new TraceAssembler({
    node: config.node,
    scope,
    inventory,
    clock,
    dropReasons,
    timeoutNs: config.traceTimeoutMs * 1e6,
    onTrace: (t) => joiner.onLocal(t),
  });
  // every trace this node reports goes through the cross-node joiner, which may hold an arriving half
  // briefly for the sender's half from the peer agent
  const report = (t: Trace) => {
    traces.add(t, assembler.packedFor(t));
    flows.record(t);
    metrics.recordTrace(t);
    services.record(t);
    hub.publish(t);
  };
  const joiner = new CrossNodeJoiner({ node: config.node, offsets, peerConnected: (n) => peerLinks?.connected(n) ?? false, emit: report });
  peerLinks = new PeerLinks({
    peers: config.peers,
    ...(token !== undefined ? { token } : {}),
    log,
    onTrace: (peer, t) => {
      joiner.onPeer(peer, t);
      hub.publishFromPeer(t);
    },
  });
  const links = peerLinks;

  const present = await listTracepoints(config.bpftrace, PROBE_GROUPS.flatMap((g) => g.tracepoints));
  // throws (NativeProbeError) only for --probes native that cannot run
  const programs = await Promise.all(PROBE_GROUPS.map((g) => chooseGroupProgram(g.name, config.probes, present)));
  for (const p of programs) if (NATIVE_PROBES[p.group]) log(`probe group ${p.group}: ${p.kind} (${p.why})`);
  probes = new ProbeSet({
    bpftrace: config.bpftrace,
    programs,
    fallBackToScript: config.probes === 'auto',
    present,
    log,
    args: (group) =>
      group === 'hops'
        ? [String(config.sample), String(process.pid), String(config.focusBudget)]
        : group === 'drops'
          ? [String(dropReasons.notSpecified())]
          : [],
    onStateChange: (group, state, detail) => {
      log(`probe ${group}: ${state} (${detail})`);
      if (group === 'hops' && state === 'starting') counters.onProbeRestart();
      if (group === 'hops' && state === 'attached') focus.reapply();
    },
    onLine: probeLineHandler(metrics, { assembler, counters }),
  });
  const probeSet = probes;
  const readiness = (): Readiness => {
    const r = probeSet.readiness();
    if (!kube) return r;
    const k = kube.status();
    return { ...r, ready: r.ready && k.ready, reasons: [...r.reasons, ...k.reasons] };
  };

  const bridges = () => [{ name: config.bridgeName, entries: counters.fdb.list(), counters: { ...counters.fdb.counts, ...counters.frames } }];
  const app = createApp({ node: config.node, traces, flows, metrics, readiness, bridges, peers: peerViews, ...(token !== undefined ? { token } : {}) });
  const { server, url } = await listen(app, config.host, config.port);
  attachStream(server, hub, { ...(token !== undefined ? { token } : {}), allowedOrigins: config.allowedOrigins, maxClients: config.maxStreamClients });
  probeSet.start();
  kube?.start();

  links.start();
  // with --kubernetes and no --peer: every other node's agent, at its InternalIP (hostNetwork) and this port
  const discoverPeers = kube && config.peers.length === 0 ? () => links.setPeers(peersFromNodes(inventory().data.nodes, config.node, config.port)) : undefined;
  const peerRefresh = discoverPeers ? setInterval(discoverPeers, 5000) : undefined;
  const tick = setInterval(() => {
    assembler.tick(clock.nowMonoNs());
    joiner.tick();
  }, 20);
  let refreshing = false;
  let again = false;
  const rescan = () => {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    discoverScope(scopeTarget)
      .then((s) => {
        scope.update(s);
        counters.onScopeRefreshed();
      })
      .catch((e: Error) => log(`scope refresh failed: ${e.message}`))
      .finally(() => {
        refreshing = false;
        if (again) {
          again = false;
          rescan();
        }
      });
  };
  let rescanTimer: NodeJS.Timeout | undefined;
  rescanSoon = () => (rescanTimer ??= setTimeout(() => ((rescanTimer = undefined), rescan()), 50));
  const refresh = setInterval(rescan, 5000);
  const fdbResync = setInterval(() => void seedFdb(counters, config, log), 30_000);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      hub.close(1001, 'agent stopping');
      await kube?.stop();
      focus.expire();
      clearInterval(refresh);
      if (peerRefresh) clearInterval(peerRefresh);
      clearInterval(fdbResync);
      if (rescanTimer) clearTimeout(rescanTimer);
      await probeSet.stop();
      await links.stop();
      clearInterval(tick);
      assembler.flush();
      joiner.flush();
      await closeServer(server);
    })());
  return { url, probes: probeSet.processes, stop };
}

/** Seeds (and re-syncs) the FDB mirror from the kernel; a node without the bridge keeps an empty mirror. */
async function seedFdb(counters: NodeCounters, config: AgentConfig, log: Log): Promise<void> {
  try {
    counters.fdb.seed(await readFdb(config.bridgeName, config.netns));
  } catch (e) {
    log(`bridge ${config.bridgeName}: FDB not readable (${(e as Error).message.split('\n')[0]}); the mirror starts empty`);
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
