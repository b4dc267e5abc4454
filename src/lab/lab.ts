/**
 * @module Builds, inspects and removes the simulated cluster: every node, pod and the underlay switch is a
 * network namespace of the lab's own. The root namespace's network configuration is never touched: veth
 * pairs are created directly inside lab namespaces (`ip -n NS link add ... peer ... netns OTHER`).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { runCommand } from '../runner/run-command.js';
import { inventoryOf, isLabNamespace, namespacesOf, nodeCommands, planLab, type LabOptions, type LabPlan } from './lab-plan.js';

export const LAB_STATE_DIR = '/run/hopscope';

export function defaultInventoryPath(prefix: string): string {
  return `${LAB_STATE_DIR}/lab-${prefix}.json`;
}

export class LabError extends Error {
  override readonly name = 'LabError';
}

export async function listNetns(): Promise<string[]> {
  const out = await runCommand('ip', ['-j', 'netns', 'list']);
  if (out.trim() === '') return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

export interface LabUpResult {
  readonly plan: LabPlan;
  readonly inventoryPath: string;
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
    await ipBatch(plan.underlayNetns, ['link set lo up', 'link add sw0 type bridge', 'link set sw0 up']);
    for (const node of plan.nodes) {
      for (const part of nodeCommands(plan, node)) await ipBatch(part.netns, part.lines);
      await ipBatch(plan.underlayNetns, [`link set ${node.switchPort} master sw0 up`]);
      await runCommand('ip', ['netns', 'exec', node.netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }
    mkdirSync(dirname(inventoryPath), { recursive: true });
    writeFileSync(inventoryPath, JSON.stringify(inventoryOf(plan), null, 2) + '\n');
    return { plan, inventoryPath };
  } catch (cause) {
    await labDown(plan.prefix, inventoryPath).catch(() => undefined);
    throw cause;
  }
}

/** Removes every namespace of the prefix (whatever size the lab had) and its inventory file. Idempotent. */
export async function labDown(prefix: string, inventoryPath = defaultInventoryPath(prefix)): Promise<string[]> {
  planLab({ prefix, nodes: 1, podsPerNode: 0 }); // validates the prefix before anything is deleted
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
  return inventory === undefined ? { prefix, namespaces, inventoryPath } : { prefix, namespaces, inventoryPath, inventory };
}

async function ipBatch(netns: string, lines: string[]): Promise<void> {
  await runCommand('ip', ['-n', netns, '-batch', '-'], { input: lines.join('\n') + '\n' });
}
