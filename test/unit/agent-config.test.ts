import { describe, expect, it } from 'vitest';
import { agentConfigFrom, ConfigError, DEFAULT_LISTEN, DEFAULT_SAMPLE, parseListen, type AgentFlags } from '../../agent/agent-config.js';
import { intFlag, parseFlags, UsageError, type FlagSpec } from '../../src/cli/parse-flags.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error('expected a UsageError');
}

describe('agentConfigFrom', () => {
  it('fills the defaults from only --node', () => {
    expect(DEFAULT_LISTEN).toBe('127.0.0.1:9940');
    expect(DEFAULT_SAMPLE).toBe(64);
    const config = agentConfigFrom({ node: 'node-1' });
    expect(config).toEqual({
      node: 'node-1',
      host: '127.0.0.1',
      port: 9940,
      sample: 64,
      bpftrace: 'bpftrace',
      probes: 'auto',
      bridgeName: 'cni0',
      traceTimeoutMs: 1000,
      allowedOrigins: [],
      maxStreamClients: 64,
      focusBudget: 5000,
      peers: [],
      clockSkewMs: 0,
    });
    expect(config).not.toHaveProperty('netns');
    expect(config).not.toHaveProperty('inventoryPath');
  });

  it('takes every option', () => {
    expect(
      agentConfigFrom({
        node: 'ip-10-0-1-5.ec2.internal',
        netns: 'hsn1',
        inventory: '/tmp/inv.json',
        listen: '0.0.0.0:0',
        sample: '1',
        bpftrace: '/usr/local/bin/bpftrace',
        probes: 'bpftrace',
        bridge: 'br0',
        'trace-timeout': '60000',
        'token-file': '/etc/hopscope/token',
        'max-stream-clients': '8',
        'focus-budget': '100',
        'test-clock-offset-ms': '-5',
      }, { insecureListen: false, allowOrigins: ['https://grafana.example.com'], peers: ['node-2=http://10.0.0.2:9940'] }),
    ).toEqual({
      node: 'ip-10-0-1-5.ec2.internal',
      netns: 'hsn1',
      inventoryPath: '/tmp/inv.json',
      host: '0.0.0.0',
      port: 0,
      sample: 1,
      bpftrace: '/usr/local/bin/bpftrace',
      probes: 'bpftrace',
      bridgeName: 'br0',
      traceTimeoutMs: 60000,
      tokenFile: '/etc/hopscope/token',
      allowedOrigins: ['https://grafana.example.com'],
      maxStreamClients: 8,
      focusBudget: 100,
      peers: [{ name: 'node-2', url: 'http://10.0.0.2:9940' }],
      clockSkewMs: -5,
    });
  });

  it('serves only loopback without a token, unless told --insecure-listen', () => {
    expect(() => agentConfigFrom({ node: 'n1', listen: '0.0.0.0:9940' })).toThrow(/--listen 0\.0\.0\.0:9940: without --token-file/);
    expect(agentConfigFrom({ node: 'n1', listen: '0.0.0.0:9940' }, { insecureListen: true, allowOrigins: [] }).host).toBe('0.0.0.0');
    expect(agentConfigFrom({ node: 'n1', listen: '127.0.0.2:1' }).host).toBe('127.0.0.2');
    expect(agentConfigFrom({ node: 'n1', listen: '[::1]:1' }).host).toBe('::1');
  });

  it('takes --probes auto, native or bpftrace, and names the choices for anything else', () => {
    for (const choice of ['auto', 'native', 'bpftrace'] as const) expect(agentConfigFrom({ node: 'n', probes: choice }).probes).toBe(choice);
    expect(configError(() => agentConfigFrom({ node: 'n', probes: 'libbpf' })).message).toBe('--probes libbpf: one of auto, native, bpftrace');
  });

  it('requires --node', () => {
    const e = configError(() => agentConfigFrom({}));
    expect(e.name).toBe('ConfigError');
    expect(e.message).toMatch(/^--node NAME is required/);
    expect(configError(() => agentConfigFrom({ node: '' })).message).toMatch(/^--node /);
  });

  it.each<[string, AgentFlags, RegExp]>([
    ['node upper case', { node: 'Node-1' }, /^--node "Node-1" is not a valid node name$/],
    ['node with a space', { node: 'node 1' }, /^--node "node 1"/],
    ['node ending in a dash', { node: 'node-' }, /^--node /],
    ['node too long', { node: 'a'.repeat(254) }, /^--node /],
    ['netns with a slash', { node: 'n1', netns: '../etc' }, /^--netns "\.\.\/etc" is not a namespace name$/],
    ['netns empty', { node: 'n1', netns: '' }, /^--netns /],
    ['netns too long', { node: 'n1', netns: 'a'.repeat(65) }, /^--netns /],
    ['listen without port', { node: 'n1', listen: '127.0.0.1' }, /^--listen "127.0.0.1": use HOST:PORT, e\.g\. 127\.0\.0\.1:9940$/],
    ['listen without host', { node: 'n1', listen: ':9940' }, /^--listen /],
    ['listen port too big', { node: 'n1', listen: '127.0.0.1:65536' }, /^--listen /],
    ['listen port not a number', { node: 'n1', listen: 'localhost:http' }, /^--listen /],
    ['listen with a path', { node: 'n1', listen: 'http://localhost:9940' }, /^--listen /],
    ['sample 0', { node: 'n1', sample: '0' }, /^--sample 0: must be an integer from 1 \(every packet\) to 1000000$/],
    ['sample negative', { node: 'n1', sample: '-4' }, /^--sample -4:/],
    ['sample fraction', { node: 'n1', sample: '2.5' }, /^--sample 2\.5:/],
    ['sample too big', { node: 'n1', sample: '1000001' }, /^--sample 1000001:/],
    ['sample words', { node: 'n1', sample: 'lots' }, /^--sample lots:/],
    ['sample empty', { node: 'n1', sample: '' }, /^--sample :/],
    ['trace-timeout too small', { node: 'n1', 'trace-timeout': '9' }, /^--trace-timeout 9: milliseconds from 10 to 60000$/],
    ['trace-timeout too big', { node: 'n1', 'trace-timeout': '60001' }, /^--trace-timeout 60001:/],
    ['trace-timeout words', { node: 'n1', 'trace-timeout': '1s' }, /^--trace-timeout 1s:/],
  ])('rejects %s, naming the option', (_name, flags, message) => {
    expect(configError(() => agentConfigFrom(flags)).message).toMatch(message);
  });

  it('accepts the bounds of --sample, --trace-timeout and a 253-character node name', () => {
    expect(agentConfigFrom({ node: 'n1', sample: '1000000' }).sample).toBe(1_000_000);
    expect(agentConfigFrom({ node: 'n1', 'trace-timeout': '10' }).traceTimeoutMs).toBe(10);
    expect(agentConfigFrom({ node: 'a'.repeat(253) }).node).toHaveLength(253);
    expect(agentConfigFrom({ node: '1' }).node).toBe('1');
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:9940', '127.0.0.1', 9940],
    ['localhost:80', 'localhost', 80],
    ['0.0.0.0:65535', '0.0.0.0', 65535],
    ['[::1]:9940', '::1', 9940],
    ['[::]:0', '::', 0],
  ])('reads %s', (text, host, port) => {
    expect(parseListen(text)).toEqual({ host, port });
  });

  it.each(['', '9940', '::1:9940', 'host:123456', 'host:-1', 'host name:80', '[::1]9940', 'a:b:80'])('rejects %j naming --listen', (text) => {
    expect(configError(() => parseListen(text)).message).toBe(`--listen "${text}": use HOST:PORT, e.g. 127.0.0.1:9940`);
  });
});

describe('parseFlags', () => {
  const SPEC: FlagSpec = { values: ['node', 'listen'], repeatable: ['peer'], booleans: ['json', 'drops'] };

  it('reads --name value and --name=value', () => {
    const f = parseFlags(['--node', 'node-1', '--listen=0.0.0.0:1'], SPEC);
    expect(f.values).toEqual({ node: 'node-1', listen: '0.0.0.0:1' });
    expect(f.lists).toEqual({});
    expect([...f.booleans]).toEqual([]);
    expect(f.positionals).toEqual([]);
  });

  it('keeps everything after the first = as the value', () => {
    expect(parseFlags(['--node=a=b', '--peer=n2=http://h:1/?x=1'], SPEC)).toMatchObject({ values: { node: 'a=b' }, lists: { peer: ['n2=http://h:1/?x=1'] } });
  });

  it('collects repeatable flags in order', () => {
    const f = parseFlags(['--peer', 'n2=http://a:1', '--node', 'n1', '--peer=n3=http://b:2', '--peer', 'n4=http://c:3'], SPEC);
    expect(f.lists).toEqual({ peer: ['n2=http://a:1', 'n3=http://b:2', 'n4=http://c:3'] });
    expect(f.values).toEqual({ node: 'n1' });
  });

  it('sets booleans without consuming the next argument', () => {
    const f = parseFlags(['--json', 'up', '--drops', '--json'], SPEC);
    expect([...f.booleans].sort()).toEqual(['drops', 'json']);
    expect(f.positionals).toEqual(['up']);
  });

  it('keeps positionals in order between flags', () => {
    expect(parseFlags(['lab', '--node', 'n1', 'up', 'extra'], SPEC).positionals).toEqual(['lab', 'up', 'extra']);
  });

  it('accepts a value that starts with a single dash', () => {
    expect(parseFlags(['--node', '-1'], SPEC).values).toEqual({ node: '-1' });
  });

  it.each<[string, string[], string]>([
    ['an unknown flag', ['--colour', 'red'], 'unknown option --colour'],
    ['an unknown flag with =', ['--colour=red'], 'unknown option --colour'],
    ['a flag only in another command', ['--inventory', 'x.json'], 'unknown option --inventory'],
    ['a boolean with a value', ['--json=true'], '--json takes no value'],
    ['a missing value at the end', ['--node'], '--node needs a value'],
    ['a flag in place of a value', ['--node', '--json'], '--node needs a value'],
    ['a repeatable flag without a value', ['--peer'], '--peer needs a value'],
    ['a single-valued flag twice', ['--node', 'a', '--node=b'], '--node given twice'],
  ])('rejects %s, naming the flag', (_name, argv, message) => {
    expect(usageError(() => parseFlags(argv, SPEC)).message).toBe(message);
  });

  it('is a UsageError', () => {
    const e = usageError(() => parseFlags(['--x'], {}));
    expect(e.name).toBe('UsageError');
    expect(e.message).toBe('unknown option --x');
  });

  it('feeds agentConfigFrom as the agent command does', () => {
    const f = parseFlags(['--node', 'node-2', '--sample=1', '--listen', '127.0.0.1:0'], {
      values: ['node', 'netns', 'inventory', 'listen', 'sample', 'bpftrace', 'bridge', 'trace-timeout'],
    });
    expect(agentConfigFrom(f.values as AgentFlags)).toMatchObject({ node: 'node-2', sample: 1, host: '127.0.0.1', port: 0 });
  });
});

describe('intFlag', () => {
  const flags = parseFlags(['--nodes', '3', '--pods=x', '--port', '1.5'], { values: ['nodes', 'pods', 'port', 'prefix'] });

  it('reads whole numbers and falls back when absent', () => {
    expect(intFlag(flags, 'nodes', 2)).toBe(3);
    expect(intFlag(flags, 'prefix', 7)).toBe(7);
  });

  it('rejects other text, naming the flag', () => {
    expect(usageError(() => intFlag(flags, 'pods', 2)).message).toBe('--pods "x": must be a whole number');
    expect(usageError(() => intFlag(flags, 'port', 2)).message).toBe('--port "1.5": must be a whole number');
  });
});

describe('agentConfigFrom rejects look-alike values', () => {
  it.each(['.', '..', '...'])('--netns %s', (netns) => {
    expect(() => agentConfigFrom({ node: 'node-1', netns })).toThrow(/--netns/);
  });
  it.each(['0x40', ' 8 ', '1e3', '0b11', '8.0'])('--sample %j', (sample) => {
    expect(() => agentConfigFrom({ node: 'node-1', sample })).toThrow(/--sample/);
  });
  it('--trace-timeout 1e3', () => {
    expect(() => agentConfigFrom({ node: 'node-1', 'trace-timeout': '1e3' })).toThrow(/--trace-timeout/);
  });
});

describe('--peer', () => {
  it.each(['node-2', '=http://x:1', 'Node_2=http://x:1', 'node-2=ftp://x:1'])('rejects %j with a message naming --peer', (peer) => {
    expect(() => agentConfigFrom({ node: 'node-1' }, { insecureListen: false, allowOrigins: [], peers: [peer] })).toThrow(/--peer/);
  });
  it('refuses its own node as a peer', () => {
    expect(() => agentConfigFrom({ node: 'node-1' }, { insecureListen: false, allowOrigins: [], peers: ['node-1=http://127.0.0.1:1'] })).toThrow(/own node/);
  });
});

describe('HOPSCOPE_RING_BYTES (the native loaders inherit the agent environment)', () => {
  it('a size the kernel would not take stops the agent with what to give, rather than the loaders falling back to bpftrace', () => {
    for (const bad of ['5000', '1024', '2147483648', 'lots', ' 4096', '+4096', '-18446744073709547520']) {
      const e = configError(() => agentConfigFrom({ node: 'node-1' }, undefined, { HOPSCOPE_RING_BYTES: bad }));
      expect(e.message).toBe(`HOPSCOPE_RING_BYTES=${bad} is not a ring size: give a power of two from 4096 to 1073741824 (bytes)`);
    }
  });

  it('a power of two in range, an empty value or none is taken', () => {
    for (const env of [{ HOPSCOPE_RING_BYTES: '4096' }, { HOPSCOPE_RING_BYTES: '1073741824' }, { HOPSCOPE_RING_BYTES: '' }, {}]) {
      expect(agentConfigFrom({ node: 'node-1' }, undefined, env).node).toBe('node-1');
    }
  });
});
