/**
 * @module Reads a bridge's forwarding database from the kernel (`bridge -j fdb show br NAME`), to seed the
 * agent's mirror before the FDB tracepoints keep it current.
 */
import { fdbEntriesFromJson, type FdbEntry } from '../model/bridge-fdb.js';
import { runCommand } from '../runner/run-command.js';

export async function readFdb(bridge: string, netns?: string): Promise<FdbEntry[]> {
  const out = await runCommand('bridge', [...(netns ? ['-n', netns] : []), '-j', 'fdb', 'show', 'br', bridge]);
  return fdbEntriesFromJson(bridge, JSON.parse(out.trim() || '[]'));
}
