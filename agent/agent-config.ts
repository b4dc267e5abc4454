/**
 * @module The agent's configuration from its command line, validated at startup: a bad option fails with a
 * message that names it.
 */

export interface AgentConfig {
  readonly node: string;
  /** Lab: the node's named network namespace. Absent: this kernel is the node (production). */
  readonly netns?: string;
  readonly inventoryPath?: string;
  readonly host: string;
  readonly port: number;
  /** Kernel-side sampling modulus: 1 traces every packet (ICMP and TCP SYN/FIN/RST are always traced). */
  readonly sample: number;
  readonly bpftrace: string;
  readonly bridgeName: string;
  /** No further hop for this long: the trace closes as in-flight. */
  readonly traceTimeoutMs: number;
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
  bridge?: string;
  'trace-timeout'?: string;
}

export function agentConfigFrom(flags: AgentFlags): AgentConfig {
  if (!flags.node) throw new ConfigError('--node NAME is required: the Kubernetes node this agent watches');
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(flags.node)) throw new ConfigError(`--node "${flags.node}" is not a valid node name`);
  if (flags.netns !== undefined && (!/^[A-Za-z0-9_.-]{1,64}$/.test(flags.netns) || /^\.+$/.test(flags.netns))) {
    throw new ConfigError(`--netns "${flags.netns}" is not a namespace name`);
  }
  const { host, port } = parseListen(flags.listen ?? DEFAULT_LISTEN);
  const sample = flags.sample === undefined ? DEFAULT_SAMPLE : wholeNumber(flags.sample);
  if (!Number.isInteger(sample) || sample < 1 || sample > 1_000_000) throw new ConfigError(`--sample ${flags.sample}: must be an integer from 1 (every packet) to 1000000`);
  const timeout = flags['trace-timeout'] === undefined ? 1000 : wholeNumber(flags['trace-timeout']);
  if (!Number.isInteger(timeout) || timeout < 10 || timeout > 60_000) throw new ConfigError(`--trace-timeout ${flags['trace-timeout']}: milliseconds from 10 to 60000`);
  return {
    node: flags.node,
    ...(flags.netns !== undefined ? { netns: flags.netns } : {}),
    ...(flags.inventory !== undefined ? { inventoryPath: flags.inventory } : {}),
    host,
    port,
    sample,
    bpftrace: flags.bpftrace ?? 'bpftrace',
    bridgeName: flags.bridge ?? 'cni0',
    traceTimeoutMs: timeout,
  };
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
