/**
 * @module Splits a child's output into lines on `\n` only (bpftrace ends every record with it), with a bound
 * on a line's length: a child that prints without ever ending a line cannot grow the agent's memory. A line
 * longer than `maxLineBytes` is cut to that length and delivered once (the decoder rejects it and it is
 * counted); the rest of it, up to the next `\n`, is skipped. Invalid UTF-8 becomes U+FFFD; `\r`, NUL and
 * other control bytes stay inside the line for the decoder to judge.
 */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Inside an overlong line that was already delivered: skip to its end. */
  private skipping = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      // nearly every line lies whole inside one chunk: decoded straight from it, no Buffer view or decoder
      if (nl !== -1 && this.partBytes === 0 && !this.skipping && end - start <= this.maxLineBytes) {
        this.onLine(chunk.toString('utf8', start, end));
        start = nl + 1;
        continue;
      }
      if (!this.skipping) this.append(chunk.subarray(start, end));
      if (nl === -1) return;
      if (this.skipping) this.skipping = false;
      else this.emit();
      start = nl + 1;
    }
  }

  /** End of stream: a last line without `\n` is still a line. */
  end(): void {
    if (!this.skipping && this.partBytes > 0) this.emit();
    this.skipping = false;
  }

  private append(piece: Buffer): void {
    if (piece.length === 0) return;
    const room = this.maxLineBytes - this.partBytes;
    if (piece.length <= room) {
      this.parts.push(piece);
      this.partBytes += piece.length;
      return;
    }
    // one byte past the bound, so the line is recognisably longer than any record; then skip the rest
    this.parts.push(piece.subarray(0, room + 1));
    this.partBytes += room + 1;
    this.emit();
    this.skipping = true;
  }

  private emit(): void {
    const buf = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    this.onLine(buf.toString('utf8'));
  }
}
