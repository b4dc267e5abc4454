/**
 * @module The `hopscope` command: dispatches to agent, lab, demo, watch and doctor; turns configuration and usage
 * errors into one clear line and exit code 2.
 */
import { agentCommand, AGENT_USAGE } from './agent-command.js';
import { demoCommand } from './demo-command.js';
import { doctorCommand } from './doctor-command.js';
import { labCommand, LAB_USAGE } from './lab-command.js';
import { watchCommand, WATCH_USAGE } from './watch-command.js';

const USAGE = `hopscope: hop-by-hop packet traces through a Kubernetes node

commands:
  agent   run one node's agent               (${AGENT_USAGE.split('\n')[0]?.replace('usage: ', '')})
  lab     up|down|status a simulated cluster  (hopscope lab --help)
  demo    lab + one agent per node + traffic, until Ctrl-C (--services: also through ClusterIP Services)
  watch   live hop traces from agents' streams (hopscope watch --help)
  doctor  what this machine supports and what is missing`;

export async function runCli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command === 'agent' ? AGENT_USAGE : command === 'lab' ? LAB_USAGE : command === 'watch' ? WATCH_USAGE : USAGE);
    return 0;
  }
  try {
    switch (command) {
      case 'agent':
        return await agentCommand(rest);
      case 'lab':
        return await labCommand(rest);
      case 'demo':
        return await demoCommand(rest);
      case 'watch':
        return await watchCommand(rest);
      case 'doctor':
        return await doctorCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`hopscope: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    const err = e as Error;
    const known = ['UsageError', 'ConfigError', 'LabError', 'LabOptionError', 'InventoryError', 'CommandError', 'KubeAccessError', 'NativeProbeError'].includes(err.name);
    console.error(`hopscope ${command}: ${known ? err.message : err.stack ?? String(err)}`);
    return known ? 2 : 1;
  }
}
