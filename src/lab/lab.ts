/**
 * @module Builds, inspects and removes the simulated cluster: every node, pod and the underlay switch is a
 * network namespace of the lab's own. The root namespace's network configuration is never touched: veth
 * pairs are created directly inside lab namespaces (`ip -n NS link add ... peer ... netns OTHER`). With a delay
 * (`delayMs`), the underlay's switch is the lab-only delay forwarder instead of the bridge `sw0`. With
 * `services`, each node's namespace gets kube-proxy-style nftables rules for the lab's ClusterIP Services.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { runCommand } from '../runner/run-command.js';
import { forwarderState, startForwarder, stopForwarder, type ForwarderState } from './delay-forwarder.js';
import { LabError } from './lab-error.js';
import { servicesRuleset } from './lab-services.js';
import {
  inventoryOf,
  isLabNamespace,
  LAB_STATE_DIR,
  namespacesOf,
  nodeCommands,
  overlayCommands,
  nodeSysctls,
  planLab,
  switchPortCommands,
  underlayCommands,
  type LabOptions,
  type LabPlan,
} from './lab-plan.js';

export { LabError } from './lab-error.js';
export { LAB_STATE_DIR } from './lab-plan.js';

export function defaultInventoryPath(prefix: string): string {
  return `${LAB_STATE_DIR}/lab-${prefix}.json`;
}

export async function listNetns(): Promise<string[]> {
  const out = await runCommand('ip', ['-j', 'netns', 'list']);
  if (out.trim() === '') return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

export interface LabUpResult {
  readonly plan: LabPlan;
  readonly inventoryPath: string;
  /** The delay forwarder's PID, when the lab has a delay. */
  readonly forwarderPid?: number;
}

/** Creates the lab; on any failure removes what it created and rethrows. */
export async function labUp(options: LabOptions, inventoryPath = defaultInventoryPath(options.prefix)): Promise<LabUpResult> {
  const plan = planLab(options);
  const existing = (await listNetns()).filter((n) => isLabNamespace(plan.prefix, n));
  if (existing.length > 0) {
    throw new LabError(
      `a lab with prefix "${plan.prefix}" already exists (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}); ` +
        `run \`hopscope lab down --prefix ${plan.prefix}\` first or pick another --prefix`,
    );
  }
  try {
    for (const ns of namespacesOf(plan)) await runCommand('ip', ['netns', 'add', ns]);
    await ipBatch(plan.underlayNetns, underlayCommands(plan));
    for (const node of plan.nodes) {
      for (const part of nodeCommands(plan, node)) await ipBatch(part.netns, part.lines);
      const fdb = overlayCommands(plan, node).bridge;
      if (fdb.length > 0) await runCommand('bridge', ['-n', node.netns, '-batch', '-'], { input: fdb.join('\n') + '\n' });
      await ipBatch(plan.underlayNetns, switchPortCommands(plan, node));
      for (const sysctl of nodeSysctls(plan)) await runCommand('ip', ['netns', 'exec', node.netns, ...sysctl]);
      if (plan.services.length > 0) {
        // as on a Kubernetes node (kubeadm requires it): bridged IPv4 passes the IP hooks, so conntrack un-NATs
        // a same-node backend's reply that the bridge forwards without routing. Set explicitly in the node's
        // namespace (per-netns sysctl), so the lab does not depend on the kernel's default
        await runCommand('ip', ['netns', 'exec', node.netns, 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=1']).catch((cause: unknown) => {
          throw new LabError(`--services needs bridge netfilter (CONFIG_BRIDGE_NETFILTER, module br_netfilter): ${(cause as Error).message}`, { cause });
        });
        // kube-proxy's rules, inside the node's namespace only (nft never runs in the root namespace)
        await runCommand('ip', ['netns', 'exec', node.netns, 'nft', '-f', '-'], { input: servicesRuleset(plan.services) }).catch((cause: unknown) => {
          throw new LabError(`--services: loading the nftables rules in ${node.netns} failed (is nftables installed?): ${(cause as Error).message}`, { cause });
        });
      }
    }
    const forwarderPid = plan.delayMs > 0 ? await startForwarder(plan) : undefined;
    mkdirSync(dirname(inventoryPath), { recursive: true });
    writeFileSync(inventoryPath, JSON.stringify(inventoryOf(plan), null, 2) + '\n');
    return forwarderPid === undefined ? { plan, inventoryPath } : { plan, inventoryPath, forwarderPid };
  } catch (cause) {
    await labDown(plan.prefix, inventoryPath).catch(() => undefined);
    throw cause;
  }
}

/**
 * Stops the lab's delay forwarder (by the PID in its pid file), then removes every namespace of the prefix
 * (whatever size the lab had) and its inventory file. Idempotent.
 */
export async function labDown(prefix: string, inventoryPath = defaultInventoryPath(prefix)): Promise<string[]> {
  planLab({ prefix, nodes: 1, podsPerNode: 0 }); // validates the prefix before anything is deleted
  await stopForwarder(prefix);
  const mine = (await listNetns()).filter((n) => isLabNamespace(prefix, n));
  // pods first, then nodes, then the switch: deleting a namespace deletes its veth ends with it
  mine.sort((a, b) => rank(prefix, a) - rank(prefix, b));
  for (const ns of mine) await runCommand('ip', ['netns', 'del', ns]);
  rmSync(inventoryPath, { force: true });
  return mine;
}

function rank(prefix: string, ns: string): number {
  if (ns === `${prefix}u`) return 2;
  return ns.includes('p') ? 0 : 1;
}

export interface LabStatus {
  readonly prefix: string;
  readonly namespaces: string[];
  readonly inventoryPath: string;
  readonly inventory?: unknown;
  /** The delay forwarder recorded for the prefix (absent: none, the underlay is the bridge sw0). */
  readonly forwarder?: ForwarderState;
}

export async function labStatus(prefix: string, inventoryPath = defaultInventoryPath(prefix)): Promise<LabStatus> {
  planLab({ prefix, nodes: 1, podsPerNode: 0 });
  const namespaces = (await listNetns()).filter((n) => isLabNamespace(prefix, n)).sort();
  let inventory: unknown;
  try {
    inventory = JSON.parse(readFileSync(inventoryPath, 'utf8'));
  } catch {
    inventory = undefined;
  }
  const forwarder = forwarderState(prefix);
  return {
    prefix,
    namespaces,
    inventoryPath,
    ...(inventory === undefined ? {} : { inventory }),
    ...(forwarder === undefined ? {} : { forwarder }),
  };
}

async function ipBatch(netns: string, lines: string[]): Promise<void> {
  await runCommand('ip', ['-n', netns, '-batch', '-'], { input: lines.join('\n') + '\n' });
}
