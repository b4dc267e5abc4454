/**
 * @module `hopscope lab up|down|status`: the simulated cluster.
 */
import { defaultInventoryPath, labDown, labStatus, labUp } from '../lab/lab.js';
import { LAB_DEFAULTS } from '../lab/lab-plan.js';
import { intFlag, parseFlags, UsageError } from './parse-flags.js';

export const LAB_USAGE = `usage: hopscope lab up|down|status [--prefix P] [--nodes N] [--pods M] [--inventory FILE]
  up      build N nodes (default 2) with M pods each (default 2) in network namespaces named P... (default "hs")
  down    remove every namespace of prefix P and its inventory file
  status  list the namespaces of prefix P and the inventory`;

export async function labCommand(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, { values: ['prefix', 'nodes', 'pods', 'inventory'] });
  const action = flags.positionals[0];
  const prefix = flags.values['prefix'] ?? LAB_DEFAULTS.prefix;
  const inventory = flags.values['inventory'] ?? defaultInventoryPath(prefix);
  switch (action) {
    case 'up': {
      const nodes = intFlag(flags, 'nodes', LAB_DEFAULTS.nodes);
      const pods = intFlag(flags, 'pods', LAB_DEFAULTS.podsPerNode);
      const started = Date.now();
      const { plan, inventoryPath } = await labUp({ prefix, nodes, podsPerNode: pods }, inventory);
      console.log(`lab "${prefix}" up in ${Date.now() - started} ms: ${plan.nodes.length} nodes x ${pods} pods`);
      for (const n of plan.nodes) {
        console.log(`  ${n.name}  netns ${n.netns}  podCIDR ${n.podCIDR}  uplink ${n.internalIP}`);
        for (const p of n.pods) console.log(`    ${p.name}  netns ${p.netns}  ip ${p.ip}  veth ${p.hostVeth}`);
      }
      console.log(`inventory: ${inventoryPath}`);
      return 0;
    }
    case 'down': {
      const removed = await labDown(prefix, inventory);
      console.log(removed.length ? `lab "${prefix}" down: removed ${removed.length} namespaces` : `lab "${prefix}": nothing to remove`);
      return 0;
    }
    case 'status': {
      const s = await labStatus(prefix, inventory);
      if (s.namespaces.length === 0) {
        console.log(`lab "${prefix}": not up`);
        return 1;
      }
      console.log(`lab "${prefix}": ${s.namespaces.length} namespaces: ${s.namespaces.join(' ')}`);
      console.log(s.inventory ? `inventory: ${s.inventoryPath}` : `inventory: missing (${s.inventoryPath})`);
      return 0;
    }
    default:
      throw new UsageError(action ? `unknown lab action "${action}"\n${LAB_USAGE}` : LAB_USAGE);
  }
}
