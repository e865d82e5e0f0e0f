import { createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModelError, sha256File } from './manifest.js';
import type { SourceFile } from './catalog.js';
import { repoModelsDir } from './paths.js';

export interface FetchContext {
  cacheDir: string;
  /** local folders tried before the upstream URL (EDGESIGHT_MODELS_MIRROR, --from, demo) */
  mirrors: string[];
  /** false = mirrors only (tests, air-gapped boxes) */
  allowNetwork: boolean;
  log: (msg: string, extra?: Record<string, unknown>) => void;
  /** progress on a TTY: bytes so far and total */
  progress?: (done: number, total: number) => void;
  /** a download ended (finished or failed): end the progress line */
  progressEnd?: () => void;
}

export function mirrorsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.EDGESIGHT_MODELS_MIRROR ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((d) => path.resolve(d));
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * A pinned source file: the package's own copy (models/sources/) when its sha256 matches, else
 * `<cache>/sources/` when its sha256 matches, else taken from a mirror folder, else downloaded
 * (resuming a partial download). A checksum mismatch in a mirror or a download is refused.
 */
export async function obtainSource(src: SourceFile, ctx: FetchContext): Promise<string> {
  if (src.packaged) {
    const shipped = path.join(repoModelsDir(), src.packaged);
    if (await exists(shipped)) {
      const sum = await sha256File(shipped);
      if (sum === src.sha256) return shipped;
      // a damaged install: say so, and still try the cache, mirrors and the URL
      ctx.log(`the packaged ${shipped} has sha256 ${sum}, expected ${src.sha256}: not using it`);
    }
  }
  const dir = path.join(ctx.cacheDir, 'sources');
  await mkdir(dir, { recursive: true });
  const dest = path.join(dir, src.file);
  if ((await exists(dest)) && (await sha256File(dest)) === src.sha256) return dest;

  const tried: string[] = [];
  for (const m of ctx.mirrors) {
    for (const rel of src.mirrorPaths) {
      const cand = path.join(m, rel);
      if (!(await exists(cand))) continue;
      tried.push(cand);
      const sum = await sha256File(cand);
      if (sum !== src.sha256) {
        throw new ModelError(`${cand} has sha256 ${sum}, expected ${src.sha256} for ${src.file}: refusing a file that is not the pinned one`);
      }
      await copyFile(cand, dest + '.part');
      // copyFile keeps the mode, and mirrors are often read-only shares
      await chmod(dest + '.part', 0o644);
      await rename(dest + '.part', dest);
      ctx.log(`took ${src.file} from mirror ${m}`);
      return dest;
    }
  }
  if (!src.url) {
    throw new ModelError(
      `${src.file} is not in this package (models/${src.packaged ?? 'sources/'}) and has no public download URL; put it in a folder and pass it with --from DIR or EDGESIGHT_MODELS_MIRROR=DIR` +
        (ctx.mirrors.length ? ` (looked in: ${ctx.mirrors.join(', ')})` : ''),
    );
  }
  if (!ctx.allowNetwork) throw new ModelError(`${src.file} is not in any mirror (${ctx.mirrors.join(', ') || 'none given'}) and downloads are off`);
  await download(src, dest, ctx);
  return dest;
}

async function download(src: SourceFile, dest: string, ctx: FetchContext): Promise<void> {
  const part = dest + '.part';
  let have = 0;
  try {
    have = (await stat(part)).size;
  } catch {
    have = 0;
  }
  // a .part as long as the file (or longer) cannot be resumed: it is complete or wrong
  if (have >= src.bytes) {
    if (have === src.bytes && (await sha256File(part)) === src.sha256) {
      await rename(part, dest);
      return;
    }
    await rm(part, { force: true });
    have = 0;
  }
  ctx.log(`downloading ${src.file}`, { url: src.url, resume_from: have });
  let res: Response;
  try {
    res = await fetch(src.url!, { headers: have ? { Range: `bytes=${have}-` } : {}, redirect: 'follow' });
  } catch (e) {
    throw new ModelError(`cannot download ${src.url}: ${(e as Error).message} (offline? use --from DIR or EDGESIGHT_MODELS_MIRROR)`);
  }
  if (res.status === 200) have = 0;
  else if (res.status === 206) {
    // the server must resume exactly where the partial file ends, else appending would corrupt it
    const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
    if (start === undefined || Number(start) !== have) {
      await res.body?.cancel();
      await rm(part, { force: true });
      throw new ModelError(
        `download of ${src.url}: server answered range ${res.headers.get('content-range') ?? '(none)'} for a resume at byte ${have}; the partial file was removed, run the command again`,
      );
    }
  } else throw new ModelError(`download of ${src.url} failed: HTTP ${res.status}`);
  if (!res.body) throw new ModelError(`download of ${src.url} returned no body`);
  const out = createWriteStream(part, { flags: have ? 'a' : 'w' });
  let done = have;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      done += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      ctx.progress?.(done, src.bytes);
    }
  } catch (e) {
    throw new ModelError(`download of ${src.url} broke off at byte ${done}: ${(e as Error).message}; run the command again to resume`);
  } finally {
    await new Promise<void>((r) => out.end(r));
    ctx.progressEnd?.();
  }
  if (done < src.bytes) {
    throw new ModelError(`download of ${src.url} ended at byte ${done} of ${src.bytes}; the partial file was kept: run the command again to resume`);
  }
  const sum = await sha256File(part);
  if (sum !== src.sha256) {
    await rm(part, { force: true });
    throw new ModelError(`downloaded ${src.file} has sha256 ${sum}, expected ${src.sha256}; the partial file was removed`);
  }
  await rename(part, dest);
}
