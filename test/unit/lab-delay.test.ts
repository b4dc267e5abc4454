/**
 * `--delay-ms`: option validation, the underlay layout with and without a delay, the forwarder's command line,
 * and the forwarder's own argument checks and switching decisions (run with python3, no root: nothing binds).
 */
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DELAY_FORWARDER_SCRIPT, forwarderLogPath, forwarderPidPath, forwarderState, isRunning } from '../../src/lab/delay-forwarder.js';
import {
  forwarderCommand,
  inventoryOf,
  LAB_DEFAULTS,
  LAB_MAX_DELAY_MS,
  LabOptionError,
  nodeCommands,
  planLab,
  switchPortCommands,
  underlayCommands,
  validateLabOptions,
} from '../../src/lab/lab-plan.js';

function errorOf(fn: () => unknown): LabOptionError {
  try {
    fn();
  } catch (e) {
    if (e instanceof LabOptionError) return e;
    throw e;
  }
  throw new Error('expected a LabOptionError');
}

describe('--delay-ms validation', () => {
  it.each([-1, 1001, 2.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects %s, naming --delay-ms', (delayMs) => {
    expect(errorOf(() => planLab({ ...LAB_DEFAULTS, delayMs })).message).toBe(
      `--delay-ms ${delayMs}: must be an integer from 0 to 1000 (milliseconds, one way)`,
    );
  });

  it('accepts 0 to 1000, and no delay at all', () => {
    expect(LAB_MAX_DELAY_MS).toBe(1000);
    for (const delayMs of [0, 1, 10, 1000]) expect(validateLabOptions({ ...LAB_DEFAULTS, delayMs }).delayMs).toBe(delayMs);
    expect(validateLabOptions(LAB_DEFAULTS).delayMs).toBeUndefined();
  });

  it('defaults to 0 in the plan', () => {
    expect(planLab(LAB_DEFAULTS).delayMs).toBe(0);
    expect(planLab({ ...LAB_DEFAULTS, delayMs: 0 }).delayMs).toBe(0);
    expect(planLab({ ...LAB_DEFAULTS, delayMs: 25 }).delayMs).toBe(25);
  });
});

describe('the underlay with and without a delay', () => {
  const plain = planLab({ prefix: 'hs', nodes: 3, podsPerNode: 2 });
  const delayed = planLab({ prefix: 'hs', nodes: 3, podsPerNode: 2, delayMs: 10 });

  it('without a delay: the bridge sw0 with every node port enslaved', () => {
    expect(underlayCommands(plain)).toEqual(['link set lo up', 'link add sw0 type bridge', 'link set sw0 up']);
    expect(plain.nodes.map((n) => switchPortCommands(plain, n))).toEqual([['link set n1 master sw0 up'], ['link set n2 master sw0 up'], ['link set n3 master sw0 up']]);
    expect(forwarderCommand(plain, '/x/delay-forwarder.py')).toBeUndefined();
  });

  it('with a delay: no bridge, the ports only brought up, for the forwarder', () => {
    const lines = [...underlayCommands(delayed), ...delayed.nodes.flatMap((n) => switchPortCommands(delayed, n))];
    expect(lines).toEqual(['link set lo up', 'link set n1 up', 'link set n2 up', 'link set n3 up']);
    expect(lines.filter((l) => /sw0|master|bridge/.test(l))).toEqual([]);
  });

  it('runs the forwarder in the underlay namespace with the delay and every node port', () => {
    expect(forwarderCommand(delayed, '/x/delay-forwarder.py')).toEqual({
      file: 'ip',
      args: ['netns', 'exec', 'hsu', 'python3', '/x/delay-forwarder.py', '--delay-ms', '10', 'n1', 'n2', 'n3'],
    });
  });

  it('changes nothing else: same nodes, node and pod commands, and inventory', () => {
    expect(delayed.nodes).toEqual(plain.nodes);
    for (const [i, node] of delayed.nodes.entries()) expect(nodeCommands(delayed, node)).toEqual(nodeCommands(plain, plain.nodes[i]!));
    expect(inventoryOf(delayed)).toEqual(inventoryOf(plain));
  });
});

describe('the forwarder files', () => {
  it('finds the script in src/lab (the .py is not built into dist)', () => {
    expect(DELAY_FORWARDER_SCRIPT.endsWith('/src/lab/delay-forwarder.py')).toBe(true);
    expect(existsSync(DELAY_FORWARDER_SCRIPT)).toBe(true);
  });

  it('opens with a header saying what it is, its arguments and that it is lab-only', () => {
    const head = readFileSync(DELAY_FORWARDER_SCRIPT, 'utf8').slice(0, 2500);
    expect(head).toMatch(/^#!\/usr\/bin\/env python3\n"""Lab-only delay forwarder/);
    expect(head).toContain('never part of the agent');
    expect(head).toContain('Usage:  python3 delay-forwarder.py --delay-ms D PORT [PORT ...]');
  });

  it('keeps its pid and log under /run/hopscope, per prefix', () => {
    expect(forwarderPidPath('hy')).toBe('/run/hopscope/lab-hy.forwarder.pid');
    expect(forwarderLogPath('hy')).toBe('/run/hopscope/lab-hy.forwarder.log');
    expect(forwarderState('zq9')).toBeUndefined(); // no pid file, no forwarder
  });

  it('tells a running process from one that has exited', async () => {
    expect(isRunning(process.pid)).toBe(true);
    const child = execa('true');
    const pid = child.pid as number;
    await child;
    expect(isRunning(pid)).toBe(false);
  });
});

describe('delay-forwarder.py (python3, no sockets opened)', () => {
  it.each([
    [['--delay-ms', '1001', 'n1', 'n2'], /--delay-ms 1001: must be an integer from 0 to 1000/],
    [['--delay-ms', '-5', 'n1'], /--delay-ms -5: must be an integer from 0 to 1000/],
    [['--delay-ms', 'ten', 'n1'], /argument --delay-ms: invalid int value/],
    [['--delay-ms', '5', 'n1', 'n1'], /a port is given twice/],
    [['--delay-ms', '5'], /the following arguments are required: ports/],
    [['n1', 'n2'], /the following arguments are required: --delay-ms/],
  ])('rejects %j with exit code 2', async (args, message) => {
    const r = await execa('python3', [DELAY_FORWARDER_SCRIPT, ...args], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).not.toContain('ready');
  });

  it('switches like a learning bridge: known unicast to one port, the rest flooded, never back out', async () => {
    // loads the module (its main() does not run on import) and drives send() with recording sockets
    const program = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("fwd", sys.argv[1])
fwd = importlib.util.module_from_spec(spec); spec.loader.exec_module(fwd)
class Port:
    def __init__(self): self.frames = []
    def send(self, frame): self.frames.append(frame)
ports = {n: Port() for n in ("n1", "n2", "n3")}
mac = lambda i: bytes([2, 0, 0, 0, 0, i])
fdb = {mac(1): "n1", mac(2): "n2"}
frame = lambda dst, src: bytes(fwd.VNET_HDR_LEN) + dst + src + b"\\x08\\x00" + b"x" * 46
stats = {}
cases = {"known": ("n1", mac(2)), "unknown": ("n1", mac(9)), "broadcast": ("n2", b"\\xff" * 6),
         "multicast": ("n3", bytes([0x33, 0x33, 0, 0, 0, 1])), "same-port": ("n1", mac(1))}
out = {}
for name, (ingress, dst) in cases.items():
    for p in ports.values(): p.frames.clear()
    fwd.send(frame(dst, mac(7)), ingress, fdb, ports, __import__("collections").Counter())
    out[name] = sorted(n for n, p in ports.items() if p.frames)
    assert all(p.frames == [frame(dst, mac(7))] for p in ports.values() if p.frames)
print(json.dumps(out))
`;
    const r = await execa('python3', ['-B', '-c', program, DELAY_FORWARDER_SCRIPT]); // -B: no __pycache__ in src/lab
    expect(JSON.parse(r.stdout)).toEqual({
      known: ['n2'],
      unknown: ['n2', 'n3'],
      broadcast: ['n1', 'n3'],
      multicast: ['n1', 'n2'],
      'same-port': [],
    });
  });
});
