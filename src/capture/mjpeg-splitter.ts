/**
 * Streaming splitter for concatenated JPEGs (rpicam-vid / ffmpeg MJPEG on a pipe).
 *
 * It walks the JPEG marker structure instead of searching for FFD8/FFD9 byte pairs: marker segments are
 * skipped by their length (so an EXIF thumbnail's own SOI/EOI cannot end a frame early) and only the
 * entropy-coded data after SOS is scanned for markers, where 0xFF is always stuffed (FF00) or a real
 * marker. State survives chunk boundaries, so chunks may be cut anywhere, even between 0xFF and its code.
 *
 * Memory is bounded by `maxFrameBytes`: a frame that grows past it is dropped and the splitter discards
 * input until the next SOI.
 */

export interface MjpegSplitterStats {
  frames: number;
  /** bytes outside any frame (before the first SOI, between frames, or after a dropped frame) */
  garbageBytes: number;
  /** frames dropped because they grew past maxFrameBytes */
  oversizeDrops: number;
  /** frames dropped because their structure broke (truncated by a new SOI, bad marker, bad length) */
  corruptDrops: number;
}

export interface MjpegSplitterOptions {
  /** default 8 MiB: far above any MJPEG frame a Pi camera produces, small enough to bound memory */
  maxFrameBytes?: number;
  /** called for every dropped frame, with a reason that names what was wrong */
  onDrop?: (reason: string) => void;
}

const enum S {
  Seek, // outside a frame, looking for FF D8
  Marker, // inside a frame header, expecting FF <code>
  Len1,
  Len2,
  Skip, // skipping a marker segment's payload
  Entropy, // entropy-coded data after SOS
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;

export class MjpegSplitter {
  readonly maxFrameBytes: number;
  private readonly onDrop: ((reason: string) => void) | undefined;
  private state: S = S.Seek;
  private sawFF = false;
  private marker = 0;
  private lenHi = 0;
  private skipLeft = 0;
  private seenSos = false;
  /** completed pieces of the current frame from earlier chunks */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private readonly stats_: MjpegSplitterStats = { frames: 0, garbageBytes: 0, oversizeDrops: 0, corruptDrops: 0 };

  constructor(opts: MjpegSplitterOptions = {}) {
    const max = opts.maxFrameBytes ?? 8 * 1024 * 1024;
    if (!Number.isInteger(max) || max < 4) throw new RangeError(`maxFrameBytes must be an integer >= 4, got ${max}`);
    this.maxFrameBytes = max;
    this.onDrop = opts.onDrop;
  }

  get stats(): Readonly<MjpegSplitterStats> {
    return { ...this.stats_ };
  }

  /** bytes currently held for an unfinished frame (never more than maxFrameBytes) */
  get bufferedBytes(): number {
    return this.partsBytes;
  }

  /** Feed the next chunk; returns the frames it completed, each a fresh Buffer from SOI to EOI inclusive. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    // start of the current frame inside this chunk (-1: frame began in an earlier chunk, or no frame)
    let start = -1;
    const n = chunk.length;
    let i = 0;

    const dropFrame = (why: string, oversize: boolean): void => {
      if (oversize) this.stats_.oversizeDrops++;
      else this.stats_.corruptDrops++;
      this.parts = [];
      this.partsBytes = 0;
      start = -1;
      this.state = S.Seek;
      this.sawFF = false;
      this.onDrop?.(why);
    };
    // A new frame begins at the FF D8 whose D8 is at index `d8` of this chunk.
    const beginFrame = (d8: number): void => {
      this.parts = [];
      this.partsBytes = 0;
      if (d8 >= 1) {
        start = d8 - 1;
      } else {
        // the FF was the last byte of the previous chunk
        this.parts.push(Buffer.from([0xff]));
        this.partsBytes = 1;
        start = 0;
      }
      this.state = S.Marker;
      this.sawFF = false;
      this.seenSos = false;
    };
    const frameLenAt = (idx: number): number => this.partsBytes + (start >= 0 ? idx - start : idx);

    while (i < n) {
      switch (this.state) {
        case S.Seek: {
          const b = chunk[i]!;
          if (this.sawFF && b === SOI) {
            beginFrame(i);
            i++;
            continue;
          }
          if (b === 0xff) {
            // a preceding unmatched FF was garbage; this one may start a marker
            if (this.sawFF) this.stats_.garbageBytes++;
            this.sawFF = true;
          } else {
            this.stats_.garbageBytes += this.sawFF ? 2 : 1;
            this.sawFF = false;
          }
          i++;
          continue;
        }
        case S.Marker: {
          const b = chunk[i]!;
          if (!this.sawFF) {
            if (b !== 0xff) {
              dropFrame(`expected a JPEG marker, found byte 0x${b.toString(16)}`, false);
              continue; // re-examine this byte while seeking
            }
            this.sawFF = true;
            i++;
            continue;
          }
          if (b === 0xff) {
            i++; // fill byte
            continue;
          }
          this.sawFF = false;
          if (b === SOI) {
            dropFrame('frame truncated: new SOI before EOI', false);
            beginFrame(i);
            i++;
            continue;
          }
          if (b === EOI) {
            i++;
            if (!this.seenSos) {
              dropFrame('frame has no image data (EOI before SOS)', false);
              continue;
            }
            out.push(this.finishFrame(chunk, start, i));
            start = -1;
            continue;
          }
          if (b === 0x00 || b === 0x01 || (b >= 0xd0 && b <= 0xd7)) {
            i++; // standalone markers carry no length
            continue;
          }
          this.marker = b;
          this.state = S.Len1;
          i++;
          continue;
        }
        case S.Len1:
          this.lenHi = chunk[i]!;
          this.state = S.Len2;
          i++;
          continue;
        case S.Len2: {
          const len = (this.lenHi << 8) | chunk[i]!;
          i++;
          if (len < 2) {
            dropFrame(`JPEG segment 0x${this.marker.toString(16)} has invalid length ${len}`, false);
            continue;
          }
          this.skipLeft = len - 2;
          this.state = this.skipLeft > 0 ? S.Skip : this.afterSegment();
          break;
        }
        case S.Skip: {
          const take = Math.min(this.skipLeft, n - i);
          this.skipLeft -= take;
          i += take;
          if (this.skipLeft === 0) this.state = this.afterSegment();
          break;
        }
        case S.Entropy: {
          if (!this.sawFF) {
            const ff = chunk.indexOf(0xff, i);
            if (ff < 0) {
              i = n;
              break;
            }
            this.sawFF = true;
            i = ff + 1;
            break;
          }
          const b = chunk[i]!;
          if (b === 0xff) {
            i++;
            break;
          }
          this.sawFF = false;
          if (b === 0x00 || (b >= 0xd0 && b <= 0xd7)) {
            i++; // stuffed byte or restart marker: still entropy data
            break;
          }
          if (b === EOI) {
            i++;
            out.push(this.finishFrame(chunk, start, i));
            start = -1;
            continue;
          }
          if (b === SOI) {
            dropFrame('frame truncated: new SOI inside image data', false);
            beginFrame(i);
            i++;
            continue;
          }
          // another segment (progressive/multi-scan JPEGs: DHT, SOS, …)
          this.marker = b;
          this.state = S.Len1;
          i++;
          break;
        }
      }
      // only states that stay inside a frame reach here
      if (frameLenAt(i) > this.maxFrameBytes) {
        dropFrame(`frame larger than maxFrameBytes=${this.maxFrameBytes}`, true);
      }
    }

    if (this.state !== S.Seek) {
      const piece = chunk.subarray(start >= 0 ? start : 0);
      if (piece.length > 0) {
        this.parts.push(piece);
        this.partsBytes += piece.length;
      }
      if (this.partsBytes > this.maxFrameBytes) dropFrame(`frame larger than maxFrameBytes=${this.maxFrameBytes}`, true);
    }
    return out;
  }

  /** Forget any partial frame (e.g. the producing process restarted). */
  reset(): void {
    this.parts = [];
    this.partsBytes = 0;
    this.state = S.Seek;
    this.sawFF = false;
  }

  private afterSegment(): S {
    if (this.marker === SOS) {
      this.seenSos = true;
      return S.Entropy;
    }
    return S.Marker;
  }

  private finishFrame(chunk: Buffer, start: number, end: number): Buffer {
    const tail = chunk.subarray(start >= 0 ? start : 0, end);
    const frame = this.parts.length === 0 ? Buffer.from(tail) : Buffer.concat([...this.parts, tail]);
    this.parts = [];
    this.partsBytes = 0;
    this.state = S.Seek;
    this.sawFF = false;
    this.stats_.frames++;
    return frame;
  }
}
