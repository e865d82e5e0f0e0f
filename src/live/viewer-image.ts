import sharp from 'sharp';
import type { FrameResult } from '../pipeline/pipeline.js';
import { yuv420ToRgb } from '../preprocess/preprocess.js';
import { obscureFrame, privacyEnabled, type PrivacyOptions, type PrivacySources } from '../privacy/obscure.js';

export interface ViewerImage {
  jpeg: Buffer;
  width: number;
  height: number;
  frameId: number;
}

/** Longest side of a live-view frame: enough to aim a camera, cheap to encode on a Pi. */
export const MAX_VIEWER_SIDE = 1280;

/**
 * The one place an image leaves the daemon for a viewer: every JPEG the live view serves is made here,
 * so an image policy (e.g. obscuring people from the latest mask and boxes) applies to all of them by
 * changing this function only. Overlays (boxes, mask, zones) are drawn by the page from /api/status, so
 * the image is the plain frame and one encode serves every viewer whatever they toggle.
 */
export async function imageForViewer(
  r: FrameResult,
  quality = 75,
  privacy?: { options: PrivacyOptions; sources: PrivacySources },
): Promise<ViewerImage> {
  const f = r.frame;
  let img =
    f.kind === 'encoded'
      ? sharp(f.data, { failOn: 'error' })
      : sharp(f.format === 'rgb24' ? f.data : yuv420ToRgb(f.data, f.width, f.height, f.stride), {
          raw: { width: f.width, height: f.height, channels: 3 },
        });
  img = img.removeAlpha();
  if (privacy && privacyEnabled(privacy.options)) {
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    const res = await obscureFrame({ data, width: info.width, height: info.height }, privacy.options, privacy.sources);
    // never an unmasked frame: the viewer keeps the previous image and the failure is counted by the feed
    if (!res.image) throw new PrivacyWithheldError(res.reason);
    img = sharp(res.image.data, { raw: { width: res.image.width, height: res.image.height, channels: 3 } });
  }
  if (r.width > MAX_VIEWER_SIDE || r.height > MAX_VIEWER_SIDE) img = img.resize(MAX_VIEWER_SIDE, MAX_VIEWER_SIDE, { fit: 'inside' });
  const { data, info } = await img.jpeg({ quality, mozjpeg: false }).toBuffer({ resolveWithObject: true });
  return { jpeg: data, width: info.width, height: info.height, frameId: r.frameId };
}

/** Privacy is on and this frame could not be masked: it is not served. */
export class PrivacyWithheldError extends Error {
  constructor(reason: string) {
    super(`frame withheld from the live view: ${reason}`);
  }
}
