/**
 * @module Kernel-supplied text (device names) made safe before it reaches a terminal or a page.
 */

/** Makes kernel-supplied text safe for terminals and browsers: control and non-ASCII bytes become \xNN. */
export function escapeControl(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
