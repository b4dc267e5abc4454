/**
 * @module Runs short helper commands (ip, bridge, bpftrace -l) and turns their failure into one error that
 * names the command and what it printed.
 */
import { execa } from 'execa';

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly command: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface CommandOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
}

export async function runCommand(file: string, args: readonly string[], options: CommandOptions = {}): Promise<string> {
  const command = [file, ...args].join(' ');
  try {
    const result = await execa(file, args, {
      input: options.input,
      timeout: options.timeoutMs ?? 30_000,
      stripFinalNewline: false,
    });
    return result.stdout;
  } catch (cause) {
    const e = cause as { stderr?: string; code?: string; shortMessage?: string };
    if (e.code === 'ENOENT') {
      throw new CommandError(`${file} is not installed (needed for: ${command})`, command, '', { cause });
    }
    const stderr = (e.stderr ?? '').trim();
    throw new CommandError(`${command} failed: ${stderr || e.shortMessage || String(cause)}`, command, stderr, { cause });
  }
}
