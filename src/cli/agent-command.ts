/**
 * @module `hopscope agent`: runs one node's agent until SIGINT or SIGTERM.
 */
import { agentConfigFrom, type AgentFlags } from '../../agent/agent-config.js';
import { startAgent } from '../../agent/agent.js';
import { parseFlags } from './parse-flags.js';

export const AGENT_USAGE = `usage: hopscope agent --node NAME [--netns NETNS] [--inventory FILE | --kubernetes] [--listen HOST:PORT] [--sample N]
  --node       the node this agent watches (required)
  --netns      lab: the node's network namespace; without it this kernel is the node
  --inventory  nodes (Pod CIDRs) and pods (IPs) as JSON; see README
  --kubernetes pods of this node and all nodes from the API server, in a pod (docs/deploy.md)
  --kubeconfig FILE    with --kubernetes outside a pod: the cluster and credentials to use
  --listen     HTTP address (default 127.0.0.1:9940)
  --sample     trace 1 in N flows by a symmetric hash (default 64; 1 = every packet); ICMP and TCP SYN/FIN/RST always
  --token-file  a file holding the bearer token that /api/* and the stream require
  --insecure-listen    allow a non-loopback --listen without --token-file
  --allow-origin URL   a browser origin (besides the agent's own) allowed to open the stream; repeatable
  --max-stream-clients N   live stream clients at once (default 64)
  --focus-budget N     events/s the probe may emit for trace on demand (default 5000)
  --probes auto|native|bpftrace   what runs the per-packet probes (hops, drops): native is hopscope-hops and
                       hopscope-drops (BTF-typed raw tracepoints, a fraction of bpftrace's cost per packet), bpftrace
                       runs probes/hops.bt and drops.bt; auto (default) runs each native probe that is built and
                       verified by the kernel, else its script, and logs why
  --bpftrace PATH      the bpftrace that runs the scripts (bridge, neigh, and hops/drops where they run as scripts)
  --peer NAME=URL      another node's agent: stitches cross-node traces, measures one-way latency; repeatable`;

export async function agentCommand(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, {
    values: ['node', 'netns', 'inventory', 'listen', 'sample', 'bpftrace', 'probes', 'bridge', 'trace-timeout', 'token-file', 'max-stream-clients', 'focus-budget', 'test-clock-offset-ms', 'kubeconfig'],
    repeatable: ['allow-origin', 'peer'],
    booleans: ['insecure-listen', 'kubernetes'],
  });
  const config = agentConfigFrom(flags.values as AgentFlags, {
    insecureListen: flags.booleans.has('insecure-listen'),
    kubernetes: flags.booleans.has('kubernetes'),
    allowOrigins: flags.lists['allow-origin'] ?? [],
    peers: flags.lists['peer'] ?? [],
  });
  const agent = await startAgent(config);
  console.log(`hopscope agent for ${config.node} listening on ${agent.url}`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.error(`received ${signal}, stopping`);
      void agent.stop().then(resolve);
    };
    // `on`, not `once`: execa's exit hook re-raises a signal that has no other listener left
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });
  return 0;
}
