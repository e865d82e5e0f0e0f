import type { ServerResponse } from 'node:http';
import type { FrameResult } from '../pipeline/pipeline.js';
import type { ClassMap } from '../postprocess/segmentation.js';
import { imageForViewer, type ViewerImage } from './viewer-image.js';

export const MJPEG_BOUNDARY = 'edgesightframe';

export interface LiveFeedOptions {
  /** most JPEGs encoded per second (metrics.http.live_fps) */
  fps: number;
  /** most simultaneous stream viewers (metrics.http.max_viewers) */
  maxViewers: number;
  /** how a frame becomes a JPEG; default imageForViewer (tests and the bench count calls through this) */
  encode?: (r: FrameResult) => Promise<ViewerImage>;
  onError?: (e: Error) => void;
}

interface Viewer {
  res: ServerResponse;
  /** frames not sent because this viewer's socket was still busy with earlier ones */
  dropped: number;
}

/**
 * The latest processed frame for the live view, and the MJPEG viewers. Nothing is encoded while nobody
 * watches; with viewers, at most `fps` JPEGs per second, each only for a frame not encoded before, on
 * sharp's thread pool (never the pinned inference thread). One encode is shared by every viewer; a
 * viewer whose connection cannot keep up skips frames rather than queueing them.
 */
export class LiveFeed {
  private latest: FrameResult | null = null;
  private mask: { map: ClassMap; frameId: number } | null = null;
  private readonly viewers = new Set<Viewer>();
  private timer: NodeJS.Timeout | null = null;
  private encoding: Promise<void> | null = null;
  /** a viewer connected before any frame was encoded: the next pushed frame is encoded at once */
  private firstWanted = false;
  private lastEncodedId = -1;
  private current: ViewerImage | null = null;
  private stopped = false;
  /** JPEGs encoded since start (the bench and tests read this) */
  encoded = 0;
  /** frames a slow viewer skipped */
  dropped = 0;
  private readonly encode: (r: FrameResult) => Promise<ViewerImage>;

  constructor(private readonly opts: LiveFeedOptions) {
    if (!(opts.fps > 0) || !Number.isFinite(opts.fps)) throw new RangeError(`live view fps must be > 0, got ${opts.fps}`);
    if (!Number.isInteger(opts.maxViewers) || opts.maxViewers < 1)
      throw new RangeError(`live view max viewers must be an integer ≥ 1, got ${opts.maxViewers}`);
    this.encode = opts.encode ?? ((r) => imageForViewer(r));
  }

  /** Every processed frame goes through here: a reference is kept, nothing else happens on the frame path. */
  push(r: FrameResult): void {
    this.latest = r;
    if (r.segmentation) this.mask = { map: r.segmentation, frameId: r.frameId };
    // a viewer that connected before the first frame would otherwise stare at nothing until the next tick
    if (this.firstWanted) this.tick();
  }

  /** Resolves when the encode in flight (if any) has finished; the bench reads `encoded` after this. */
  async idle(): Promise<void> {
    await this.encoding;
  }

  latestResult(): FrameResult | null {
    return this.latest;
  }

  latestMask(): { map: ClassMap; frameId: number } | null {
    return this.mask;
  }

  /** the frame the viewers see now (null before the first encode) */
  currentImage(): ViewerImage | null {
    return this.current;
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  get maxViewers(): number {
    return this.opts.maxViewers;
  }

  get fps(): number {
    return this.opts.fps;
  }

  /** Starts a multipart/x-mixed-replace stream on `res`; false (nothing written) when the viewer limit is reached. */
  addViewer(res: ServerResponse, headers: Record<string, string>): boolean {
    if (this.stopped || this.viewers.size >= this.opts.maxViewers) return false;
    const v: Viewer = { res, dropped: 0 };
    this.viewers.add(v);
    // no chunked framing: the multipart boundaries are the framing, and simple MJPEG clients expect the raw stream
    res.useChunkedEncodingByDefault = false;
    res.writeHead(200, {
      ...headers,
      'content-type': `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`,
      'cache-control': 'no-store, no-cache, must-revalidate',
      pragma: 'no-cache',
      connection: 'close',
    });
    // headers now: a client waits for them before the first frame exists
    res.flushHeaders();
    const gone = (): void => this.removeViewer(v);
    res.once('close', gone);
    res.once('error', gone);
    if (this.current) this.send(v, this.current);
    else this.firstWanted = true;
    this.startTimer();
    return true;
  }

  private removeViewer(v: Viewer): void {
    if (!this.viewers.delete(v)) return;
    if (this.viewers.size === 0) this.stopTimer();
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), 1000 / this.opts.fps);
    this.timer.unref();
    this.tick();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const r = this.latest;
    if (this.encoding || !r || r.frameId === this.lastEncodedId || this.viewers.size === 0) return;
    this.firstWanted = false;
    this.lastEncodedId = r.frameId;
    this.encoding = this.encode(r)
      .then(
        (img) => {
          this.encoded++;
          this.current = img;
          for (const v of this.viewers) this.send(v, img);
        },
        (e: unknown) => this.opts.onError?.(e instanceof Error ? e : new Error(String(e))),
      )
      .finally(() => {
        this.encoding = null;
      });
  }

  private send(v: Viewer, img: ViewerImage): void {
    const res = v.res;
    if (res.destroyed || res.writableEnded) return this.removeViewer(v);
    // one frame may still be in flight to a slow client; more would queue without bound
    if (res.writableLength > img.jpeg.length) {
      v.dropped++;
      this.dropped++;
      return;
    }
    const head = `--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${img.jpeg.length}\r\nX-Frame-Id: ${img.frameId}\r\n\r\n`;
    res.write(Buffer.concat([Buffer.from(head, 'latin1'), img.jpeg, Buffer.from('\r\n', 'latin1')]));
  }

  /** Ends every stream (daemon stop). */
  stop(): void {
    this.stopped = true;
    this.stopTimer();
    for (const v of this.viewers) v.res.end();
    this.viewers.clear();
  }
}
