/**
 * @module The agent's configuration from its command line, validated at startup: a bad option fails with a
 * message that names it.
 */
import { parsePeer, type Peer } from '../src/peers/peer-links.js';
import { PROBE_CHOICES, RING_BYTES_ENV, ringBytesProblem, type ProbeChoice } from '../src/probes/native-probes.js';

export interface AgentConfig {
  readonly node: string;
  /** Lab: the node's named network namespace. Absent: this kernel is the node (production). */
  readonly netns?: string;
  readonly inventoryPath?: string;
  /** --kubernetes: pods and nodes from the API server (in-cluster configuration) instead of --inventory. */
  readonly kubernetes?: boolean;
  /** With --kubernetes, outside a pod: a kubeconfig file instead of the in-cluster configuration. */
  readonly kubeconfig?: string;
  readonly host: string;
  readonly port: number;
  /** Kernel-side sampling modulus: 1 traces every packet (ICMP and TCP SYN/FIN/RST are always traced). */
  readonly sample: number;
  readonly bpftrace: string;
  /** What runs the hops and drops groups (src/probes/native-probes.ts): native loaders when they can (`auto`), or the one named. */
  readonly probes: ProbeChoice;
  readonly bridgeName: string;
  /** No further hop for this long: the trace closes as in-flight. */
  readonly traceTimeoutMs: number;
  /** With it, /api/* and the stream need `Authorization: Bearer <token>`. */
  readonly tokenFile?: string;
  /** Browser origins, besides the agent's own, allowed to open the stream. */
  readonly allowedOrigins: readonly string[];
  readonly maxStreamClients: number;
  /** Events/s the hops probe may emit for a trace-on-demand widening. */
  readonly focusBudget: number;
  /** The other nodes' agents, for stitching cross-node traces and the cluster-wide stream. */
  readonly peers: readonly Peer[];
  /** Test only: shifts this agent's wall clock, as if its node's clock were off by this much. */
  readonly clockSkewMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const DEFAULT_LISTEN = '127.0.0.1:9940';
export const DEFAULT_SAMPLE = 64;

export interface AgentFlags {
  node?: string;
  netns?: string;
  inventory?: string;
  listen?: string;
  sample?: string;
  bpftrace?: string;
  probes?: string;
  bridge?: string;
  'trace-timeout'?: string;
  'token-file'?: string;
  'max-stream-clients'?: string;
  'focus-budget'?: string;
  'test-clock-offset-ms'?: string;
  kubeconfig?: string;
}

export interface AgentSwitches {
  readonly insecureListen: boolean;
  readonly kubernetes?: boolean;
  /** With --kubernetes, outside a pod: a kubeconfig file instead of the in-cluster configuration. */
  readonly kubeconfig?: string;
  readonly allowOrigins: readonly string[];
  readonly peers?: readonly string[];
}

/** `env`: the agent's environment, which its probe loaders inherit (HOPSCOPE_RING_BYTES is checked here). */
export function agentConfigFrom(flags: AgentFlags, switches: AgentSwitches = { insecureListen: false, allowOrigins: [] }, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  if (!flags.node) throw new ConfigError('--node NAME is required: the Kubernetes node this agent watches');
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(flags.node)) throw new ConfigError(`--node "${flags.node}" is not a valid node name`);
  if (flags.netns !== undefined && (!/^[A-Za-z0-9_.-]{1,64}$/.test(flags.netns) || /^\.+$/.test(flags.netns))) {
    throw new ConfigError(`--netns "${flags.netns}" is not a namespace name`);
  }
  if (switches.kubernetes && flags.inventory !== undefined) throw new ConfigError('--kubernetes and --inventory FILE both say where pods and nodes come from: give one');
  if (flags.kubeconfig !== undefined && !switches.kubernetes) throw new ConfigError('--kubeconfig FILE is for --kubernetes: add --kubernetes');
  const { host, port } = parseListen(flags.listen ?? DEFAULT_LISTEN);
  const sample = flags.sample === undefined ? DEFAULT_SAMPLE : wholeNumber(flags.sample);
  if (!Number.isInteger(sample) || sample < 1 || sample > 1_000_000) throw new ConfigError(`--sample ${flags.sample}: must be an integer from 1 (every packet) to 1000000`);
  const timeout = flags['trace-timeout'] === undefined ? 1000 : wholeNumber(flags['trace-timeout']);
  if (!Number.isInteger(timeout) || timeout < 10 || timeout > 60_000) throw new ConfigError(`--trace-timeout ${flags['trace-timeout']}: milliseconds from 10 to 60000`);
  if (flags['token-file'] === undefined && !isLoopback(host) && !switches.insecureListen) {
    throw new ConfigError(`--listen ${host}:${port}: without --token-file the agent serves only loopback; give --token-file, or --insecure-listen to serve anyone who can reach it`);
  }
  const maxClients = flags['max-stream-clients'] === undefined ? 64 : wholeNumber(flags['max-stream-clients']);
  if (!Number.isInteger(maxClients) || maxClients < 1 || maxClients > 10_000) throw new ConfigError(`--max-stream-clients ${flags['max-stream-clients']}: an integer from 1 to 10000`);
  const focusBudget = flags['focus-budget'] === undefined ? 5000 : wholeNumber(flags['focus-budget']);
  if (!Number.isInteger(focusBudget) || focusBudget < 1 || focusBudget > 1_000_000) throw new ConfigError(`--focus-budget ${flags['focus-budget']}: events per second, 1 to 1000000`);
  const probes = (flags.probes ?? 'auto') as ProbeChoice;
  if (!PROBE_CHOICES.includes(probes)) throw new ConfigError(`--probes ${flags.probes}: one of ${PROBE_CHOICES.join(', ')}`);
  const ring = env[RING_BYTES_ENV];
  const ringProblem = ring === undefined || ring === '' ? undefined : ringBytesProblem(ring);
  if (ringProblem !== undefined) throw new ConfigError(ringProblem);
  const skewText = flags['test-clock-offset-ms'];
  const clockSkewMs = skewText === undefined ? 0 : /^-?\d{1,7}$/.test(skewText) ? Number(skewText) : NaN;
  if (Number.isNaN(clockSkewMs)) throw new ConfigError(`--test-clock-offset-ms ${skewText}: whole milliseconds, may be negative`);
  const peers = (switches.peers ?? []).map(parsePeer);
  if (peers.some((p) => p.name === flags.node)) throw new ConfigError(`--peer ${flags.node}: that is this agent's own node`);
  for (const origin of switches.allowOrigins) {
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) throw new ConfigError(`--allow-origin ${origin}: use scheme://host[:port], e.g. https://grafana.example.com`);
  }
  return {
    node: flags.node,
    ...(flags['token-file'] !== undefined ? { tokenFile: flags['token-file'] } : {}),
    allowedOrigins: switches.allowOrigins,
    maxStreamClients: maxClients,
    focusBudget,
    peers,
    clockSkewMs,
    ...(flags.netns !== undefined ? { netns: flags.netns } : {}),
    ...(flags.inventory !== undefined ? { inventoryPath: flags.inventory } : {}),
    ...(switches.kubernetes ? { kubernetes: true } : {}),
    ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
    host,
    port,
    sample,
    bpftrace: flags.bpftrace ?? 'bpftrace',
    probes,
    bridgeName: flags.bridge ?? 'cni0',
    traceTimeoutMs: timeout,
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Plain decimal digits only (Number() would also take 0x40, 1e3 and spaces); NaN otherwise. */
function wholeNumber(text: string): number {
  return /^\d{1,9}$/.test(text) ? Number(text) : NaN;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new ConfigError(`--listen "${text}": use HOST:PORT, e.g. ${DEFAULT_LISTEN}`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}
