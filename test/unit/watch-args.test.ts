import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { parseWatchArgs } from '../../src/cli/watch-command.js';
import { streamUrl } from '../../src/watch/stream-client.js';
import { passesLocalFilter, subscriptionMessage } from '../../src/watch/watch-session.js';
import { receiverHalf, sameNode, senderHalf } from '../fixtures/watch-traces.js';
import { HalfJoiner } from '../../src/watch/join-halves.js';
import type { Trace } from '../../src/trace/trace.js';

const noFile = (path: string): string => {
  throw new Error(`ENOENT: no such file, open '${path}'`);
};

function errorOf(argv: string[], readFile: (p: string) => string = noFile): string {
  try {
    parseWatchArgs(argv, { readFile });
  } catch (e) {
    expect((e as Error).name).toBe('UsageError');
    return (e as Error).message;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('watch flags -> subscription', () => {
  it('defaults: the local agent, everything, human output, no end', () => {
    const o = parseWatchArgs([]);
    expect(o.agents).toEqual(['ws://127.0.0.1:9940/api/v1/stream']);
    expect(subscriptionMessage(o)).toEqual({ filter: {} });
    expect(o).toMatchObject({ json: false, local: {} });
    expect(o.count).toBeUndefined();
    expect(o.token).toBeUndefined();
  });

  it('sends every filter flag as its DESIGN.md word to a single agent', () => {
    const o = parseWatchArgs(['--pod', 'default/pod-1-1', '--namespace', 'default', '--node', 'node-2', '--path', 'cross-node', '--protocol', 'tcp', '--outcome', 'dropped', '--min-latency=1ms', '--json', '--count', '3']);
    expect(JSON.stringify(subscriptionMessage(o))).toBe(
      '{"filter":{"pod":"default/pod-1-1","namespace":"default","node":"node-2","path":"cross-node","protocol":"TCP","outcome":"dropped","min_latency":"1ms"}}',
    );
    expect(o.local).toEqual({});
    expect(o.json).toBe(true);
    expect(o.count).toBe(3);
  });

  it('with several agents, outcome and min-latency are checked here after the join, not by the agents', () => {
    const o = parseWatchArgs(['--agent', 'http://127.0.0.1:9940', '--agent', 'https://node-2.example:9941/', '--agent', '127.0.0.1:9942', '--outcome', 'delivered', '--min-latency', '500us', '--path', 'cross-node']);
    expect(o.agents).toEqual(['ws://127.0.0.1:9940/api/v1/stream', 'wss://node-2.example:9941/api/v1/stream', 'ws://127.0.0.1:9942/api/v1/stream']);
    expect(subscriptionMessage(o)).toEqual({ filter: { path: 'cross-node' } });
    expect(o.local).toEqual({ outcomes: ['delivered'], minLatencyNs: 500_000 });
  });

  it('with several agents, --service is checked here after the join: the receiver\'s half cannot name the Service', () => {
    const o = parseWatchArgs(['--agent', '127.0.0.1:9940', '--agent', '127.0.0.1:9941', '--service', 'shop/storefront', '--protocol', 'tcp']);
    expect(subscriptionMessage(o)).toEqual({ filter: { protocol: 'TCP' } });
    expect(o.local).toEqual({ service: { namespace: 'shop', name: 'storefront' } });
    const service = { namespace: 'shop', name: 'storefront', ip: '10.96.0.10', port: 80 };
    const joiner = new HalfJoiner();
    expect(joiner.push(senderHalf({ service }), 0)).toEqual([]);
    const [joined] = joiner.push(receiverHalf(), 1) as [Trace];
    expect(joined.hops.length).toBe(senderHalf().hops.length + receiverHalf().hops.length);
    expect(passesLocalFilter(o.local, joined)).toBe(true);
    expect(passesLocalFilter(o.local, receiverHalf())).toBe(false);
    expect(passesLocalFilter(o.local, senderHalf({ service: { ...service, name: 'other' } }))).toBe(false);
    // one agent: the agent filters (its stitched trace names the Service)
    expect(subscriptionMessage(parseWatchArgs(['--service', 'shop/storefront']))).toEqual({ filter: { service: 'shop/storefront' } });
  });

  it('--drops filters here on dropped or route-miss and sends no outcome', () => {
    const o = parseWatchArgs(['--drops', '--pod', 'default/pod-1-1']);
    expect(subscriptionMessage(o)).toEqual({ filter: { pod: 'default/pod-1-1' } });
    expect(o.local).toEqual({ outcomes: ['dropped', 'route-miss'] });
    expect(passesLocalFilter(o.local, sameNode({ outcome: 'route-miss' }))).toBe(true);
    expect(passesLocalFilter(o.local, sameNode({ outcome: 'dropped' }))).toBe(true);
    expect(passesLocalFilter(o.local, sameNode())).toBe(false);
    expect(passesLocalFilter({ minLatencyNs: 2_000_000 }, sameNode())).toBe(false);
    expect(passesLocalFilter({ minLatencyNs: 1_250_000 }, sameNode())).toBe(true);
  });

  it('--trace-all asks for the --pod for N seconds, and for what is left of them after a reconnect', () => {
    const o = parseWatchArgs(['--pod', 'default/pod-1-1', '--trace-all', '30']);
    expect(subscriptionMessage(o)).toEqual({ filter: { pod: 'default/pod-1-1' }, trace_all: { pod: 'default/pod-1-1', seconds: 30 } });
    expect(subscriptionMessage(o, 12)).toEqual({ filter: { pod: 'default/pod-1-1' }, trace_all: { pod: 'default/pod-1-1', seconds: 12 } });
    expect(subscriptionMessage(o, 0)).toEqual({ filter: { pod: 'default/pod-1-1' } });
  });

  it('reads the token from --token-file, trimmed', () => {
    const o = parseWatchArgs(['--token-file', '/etc/tok'], { readFile: (p) => (p === '/etc/tok' ? 's3cret-token-0123456789\n' : noFile(p)) });
    expect(o.token).toBe('s3cret-token-0123456789');
  });
});

describe('watch flag errors name the flag', () => {
  it.each([
    [['--path', 'nowhere'], '--path "nowhere" is not one of same-pod, same-node, cross-node, unrouted'],
    [['--min-latency', '5 parsecs'], '--min-latency "5 parsecs" is not a duration such as 500us, 1ms or 2s'],
    [['--pod', 'pod-1-1'], '--pod "pod-1-1" is not NAMESPACE/NAME'],
    [['--namespace', 'Bad_NS'], '--namespace "Bad_NS" is not a valid name'],
    [['--protocol', 'tcp/udp'], '--protocol "tcp/udp" is not a protocol name such as TCP'],
    [['--outcome', 'lost'], '--outcome "lost" is not one of delivered, forwarded, dropped, route-miss, in-flight'],
    [['--drops', '--outcome', 'dropped'], '--drops and --outcome cannot be combined'],
    [['--trace-all', '10'], '--trace-all needs --pod'],
    [['--pod', 'a/b', '--trace-all', '61'], '--trace-all 61: seconds from 1 to 60'],
    [['--pod', 'a/b', '--trace-all', 'ten'], '--trace-all "ten": must be a whole number'],
    [['--count', '0'], '--count must be at least 1'],
    [['--agent', 'ftp://host:21'], '--agent "ftp://host:21": use http://, https://, ws:// or wss://'],
    [['--agent', 'http://[::1'], '--agent "http://[::1" is not a URL'],
    [['--agent', 'http://me:pw@host:1'], 'no user or password in the URL; use --token-file'],
    [['--colour'], 'unknown option --colour'],
    [['node-1'], 'unexpected argument "node-1"'],
    [['--token-file', '/nope'], "--token-file /nope: cannot read it (ENOENT: no such file, open '/nope')"],
  ])('%j', (argv, message) => {
    expect(errorOf(argv)).toContain(message);
  });

  it('rejects an empty token and one that cannot go in a header', () => {
    expect(errorOf(['--token-file', 't'], () => ' \n')).toBe('--token-file t: the file is empty');
    expect(errorOf(['--token-file', 't'], () => 'two words')).toContain('--token-file t: the token must be one line');
    expect(errorOf(['--token-file', 't'], () => 'a\r\nX-Evil: 1')).toContain('--token-file t: the token must be one line');
  });

  describe('through the hopscope command', () => {
    afterEach(() => vi.restoreAllMocks());
    it('exits 2 with one line naming the flag', async () => {
      const errors: string[] = [];
      vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.join(' ')));
      expect(await runCli(['watch', '--path', 'nowhere'])).toBe(2);
      expect(errors).toEqual(['hopscope watch: --path "nowhere" is not one of same-pod, same-node, cross-node, unrouted']);
    });

    it('has its own --help', async () => {
      const lines: string[] = [];
      vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
      expect(await runCli(['watch', '--help'])).toBe(0);
      expect(lines.join('\n')).toMatch(/^usage: hopscope watch \[--agent URL\]\.\.\./);
    });
  });
});

describe('streamUrl', () => {
  it('maps http to ws and https to wss and appends the stream path once', () => {
    expect(streamUrl('http://127.0.0.1:9940')).toBe('ws://127.0.0.1:9940/api/v1/stream');
    expect(streamUrl('https://agent.example')).toBe('wss://agent.example/api/v1/stream');
    expect(streamUrl('ws://127.0.0.1:9940/api/v1/stream')).toBe('ws://127.0.0.1:9940/api/v1/stream');
    expect(streamUrl('http://proxy.example/node-1/')).toBe('ws://proxy.example/node-1/api/v1/stream');
    expect(streamUrl('localhost:9941')).toBe('ws://localhost:9941/api/v1/stream');
  });
});
