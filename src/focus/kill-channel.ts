/**
 * @module Delivers a focus command to the hops probe: kill(2) with signal 0 to a PID above any pid_max, which
 * the kernel refuses with ESRCH without signalling anyone; the probe reads the PID argument at
 * tracepoint:syscalls:sys_enter_kill, filtered on this process's PID (see probes/hops.bt, "Focus").
 */
import type { FocusCommand } from './trace-focus.js';

const TAG = 0x40000000;

export function sendFocusCommand(c: FocusCommand): boolean {
  try {
    process.kill(TAG | (c.cmd << 28) | (((c.sub ?? 0) & 0xf) << 16) | (c.data & 0xffff), 0);
  } catch (e) {
    // ESRCH is the expected answer: no such process, nothing signalled
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  return false; // a process answered: never expected above pid_max (4194304 at most)
}
