/**
 * @module Makes a string from the network safe to print on a terminal: control characters (C0, DEL, C1), the
 * Unicode line and paragraph separators and the bidirectional overrides are shown as `\xNN` / `\uNNNN` escapes,
 * so an interface or pod name such as "\u001b[2J" cannot clear the screen, move the cursor or hide text.
 * A backslash is shown doubled, so an escape in the output always means an escaped character.
 */

// C0 controls, DEL, C1 controls, U+2028/U+2029, bidi embeddings/overrides/isolates, and the backslash
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/g;

/** `value` as printable text; anything that is not a string or a finite number becomes `?`. */
export function sanitizeText(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '?';
  if (typeof value !== 'string') return '?';
  return value.replace(UNSAFE, escapeChar);
}

function escapeChar(c: string): string {
  if (c === '\\') return '\\\\';
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}
