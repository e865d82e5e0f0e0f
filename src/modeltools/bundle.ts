import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { checkManifestShape, ModelError, verifyModelFile, type ModelManifest, type Precision } from '../models/manifest.js';
import { loadModel } from '../models/store.js';

/**
 * Model bundles: one tar (optionally gzipped) holding prepared models and their manifests plus a
 * `bundle.json` index of sha256s, so models prepared on a PC can be copied to a Pi. Import checks every
 * byte against the index and the manifests before anything lands in the cache.
 *
 * The tar code is a minimal ustar writer and a strict reader: regular files only, header checksums
 * checked — enough for bundles without a tar dependency.
 */
const BLOCK = 512;

export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

function writeString(buf: Buffer, s: string, off: number, len: number): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > len) throw new TarError(`tar field too long: ${s}`);
  b.copy(buf, off);
}

function writeOctal(buf: Buffer, n: number, off: number, len: number): void {
  // len-1 octal digits + NUL
  const s = Math.floor(n).toString(8);
  if (s.length > len - 1) throw new TarError(`value ${n} does not fit a ${len}-byte tar field`);
  writeString(buf, s.padStart(len - 1, '0') + '\0', off, len);
}

/** Split a path into ustar prefix (≤155) and name (≤100) at a slash. */
function splitName(p: string): [string, string] {
  if (Buffer.byteLength(p) <= 100) return ['', p];
  for (let i = p.length - 1; i > 0; i--) {
    if (p[i] !== '/') continue;
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name) return [prefix, name];
  }
  throw new TarError(`path too long for a ustar archive: ${p}`);
}

export function headerChecksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum;
}

export function tarHeader(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const [prefix, base] = splitName(name);
  writeString(h, base, 0, 100);
  writeOctal(h, 0o644, 100, 8);
  writeOctal(h, 0, 108, 8);
  writeOctal(h, 0, 116, 8);
  writeOctal(h, size, 124, 12);
  writeOctal(h, mtime, 136, 12);
  h[156] = 0x30; // '0' regular file
  writeString(h, 'ustar\0', 257, 6);
  writeString(h, '00', 263, 2);
  writeString(h, prefix, 345, 155);
  const sum = headerChecksum(h);
  writeString(h, sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

export const TAR_END = Buffer.alloc(BLOCK * 2);

export interface TarEntryHeader {
  name: string;
  size: number;
  /** '0' regular file, '5' directory; anything else is refused by the reader */
  type: '0' | '5';
}

function readString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function readOctal(b: Buffer, off: number, len: number, what: string): number {
  const s = readString(b, off, len).trim();
  if (!/^[0-7]+$/.test(s)) throw new TarError(`tar header field ${what} is not an octal number ('${s}')`);
  return parseInt(s, 8);
}

export function parseHeader(h: Buffer, index: number): TarEntryHeader {
  const stored = readOctal(h, 148, 8, 'checksum');
  if (stored !== headerChecksum(h)) throw new TarError(`tar header ${index} has a bad checksum: the archive is corrupt`);
  if (readString(h, 257, 6) !== 'ustar') throw new TarError(`tar header ${index} is not a ustar header`);
  const name = readString(h, 0, 100);
  const prefix = readString(h, 345, 155);
  const full = prefix ? `${prefix}/${name}` : name;
  const flag = String.fromCharCode(h[156]!);
  const type = flag === '\0' ? '0' : flag;
  if (type !== '0' && type !== '5') {
    const kind: Record<string, string> = {
      '1': 'a hard link',
      '2': 'a symbolic link',
      '3': 'a device',
      '4': 'a device',
      '6': 'a FIFO',
      x: 'a pax header',
      g: 'a pax header',
      L: 'a GNU long name',
    };
    throw new TarError(`tar entry '${full}' is ${kind[type] ?? `of type '${type}'`}; a model bundle holds regular files only`);
  }
  return { name: full, size: readOctal(h, 124, 12, 'size'), type };
}

/**
 * Reads entries from a byte stream. `onEntry` gets each header and an async iterable of its body
 * (which it must consume fully before the next entry is read).
 */
export async function readTar(
  source: AsyncIterable<Buffer>,
  onEntry: (h: TarEntryHeader, body: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  const it = source[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  let ended = false;
  const fill = async (n: number): Promise<boolean> => {
    while (buf.length < n && !ended) {
      const r = await it.next();
      if (r.done) ended = true;
      else buf = buf.length ? Buffer.concat([buf, r.value]) : r.value;
    }
    return buf.length >= n;
  };
  let index = 0;
  for (;;) {
    if (!(await fill(BLOCK))) throw new TarError(`tar archive is truncated (no end marker after ${index} entries)`);
    const h = buf.subarray(0, BLOCK);
    buf = buf.subarray(BLOCK);
    if (h.every((b) => b === 0)) return;
    const header = parseHeader(h, index);
    let left = header.size;
    const pad = (BLOCK - (header.size % BLOCK)) % BLOCK;
    const name = header.name;
    const body: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        while (left > 0) {
          if (!buf.length && !(await fill(1))) throw new TarError(`tar entry '${name}' is truncated (${left} bytes missing)`);
          const take = Math.min(left, buf.length);
          const piece = buf.subarray(0, take);
          buf = buf.subarray(take);
          left -= take;
          yield piece;
        }
      },
    };
    await onEntry(header, body);
    if (left > 0) throw new Error(`internal: tar entry '${name}' body was not consumed`);
    if (!(await fill(pad))) throw new TarError(`tar entry '${name}' is truncated (padding missing)`);
    buf = buf.subarray(pad);
    index++;
  }
}

export const BUNDLE_VERSION = 1;
export const BUNDLE_INDEX = 'bundle.json';

export interface BundleFile {
  path: string;
  sha256: string;
  bytes: number;
}

export interface BundleModel {
  name: string;
  precision: Precision;
  task: ModelManifest['task'];
  /** archive paths */
  manifest: string;
  file: string;
}

export interface BundleIndex {
  bundle_version: number;
  created_at: string;
  producer: string;
  models: BundleModel[];
  files: BundleFile[];
}

export interface CachedModel {
  name: string;
  precision: Precision;
  manifestPath: string;
}

const PRECISIONS: readonly Precision[] = ['fp32', 'int8', 'qdq-faithful'];
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Every `<cache>/<name>/<precision>.json` (the cache's sources/ and dot-folders are not models). */
export async function listCachedManifests(cacheDir: string): Promise<CachedModel[]> {
  let names: string[];
  try {
    names = (await readdir(cacheDir, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && d.name !== 'sources' && !d.name.startsWith('.'))
      .map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: CachedModel[] = [];
  for (const name of names.sort()) {
    for (const precision of PRECISIONS) {
      const manifestPath = path.join(cacheDir, name, `${precision}.json`);
      try {
        await stat(manifestPath);
        out.push({ name, precision, manifestPath });
      } catch {
        // not prepared at this precision
      }
    }
  }
  return out;
}

async function sha256Stream(file: string, onChunk?: (b: Buffer) => void): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    onChunk?.(chunk as Buffer);
  }
  return { sha256: hash.digest('hex'), bytes };
}

export interface ExportOptions {
  /** model names to include (all precisions of each); default: everything in the cache */
  names?: string[];
  /** only these precisions */
  precisions?: Precision[];
  producer: string;
  /** gzip the archive (default: by the output name: .gz / .tgz) */
  gzip?: boolean;
}

/**
 * Writes a bundle of verified cached models to `out` (atomically: `out.part` then rename). A model whose
 * file does not match its manifest is refused rather than copied on.
 */
export async function exportBundle(cacheDir: string, out: string, opts: ExportOptions): Promise<BundleIndex> {
  const all = await listCachedManifests(cacheDir);
  const wanted = all.filter(
    (m) => (!opts.names?.length || opts.names.includes(m.name)) && (!opts.precisions?.length || opts.precisions.includes(m.precision)),
  );
  for (const n of opts.names ?? []) {
    if (!wanted.some((m) => m.name === n)) {
      throw new ModelError(
        `model '${n}' is not prepared in ${cacheDir}${opts.precisions?.length ? ` at ${opts.precisions.join('/')}` : ''}; run \`edgesight models fetch ${n}\` first`,
      );
    }
  }
  if (!wanted.length) throw new ModelError(`no prepared models in ${cacheDir} to export; run \`edgesight models fetch\` first`);

  const entries: Array<{ archivePath: string; file: string; sha256: string; bytes: number }> = [];
  const models: BundleModel[] = [];
  for (const m of wanted) {
    const loaded = await loadModel(m.manifestPath);
    if (loaded.manifest.name !== m.name || loaded.manifest.precision !== m.precision) {
      throw new ModelError(
        `${m.manifestPath} says it is ${loaded.manifest.name} ${loaded.manifest.precision}, but sits at ${m.name}/${m.precision}.json`,
      );
    }
    if (path.dirname(loaded.file) !== path.dirname(m.manifestPath)) {
      throw new ModelError(
        `${m.manifestPath} names a model file outside its folder (${loaded.manifest.file}); a bundle carries only files beside their manifest`,
      );
    }
    const manifestStat = await sha256Stream(m.manifestPath);
    const mPath = `${m.name}/${m.precision}.json`;
    const fPath = `${m.name}/${path.basename(loaded.file)}`;
    entries.push({ archivePath: mPath, file: m.manifestPath, ...manifestStat });
    entries.push({ archivePath: fPath, file: loaded.file, sha256: loaded.manifest.sha256, bytes: loaded.manifest.bytes });
    models.push({ name: m.name, precision: m.precision, task: loaded.manifest.task, manifest: mPath, file: fPath });
  }
  const index: BundleIndex = {
    bundle_version: BUNDLE_VERSION,
    created_at: new Date().toISOString(),
    producer: opts.producer,
    models,
    files: entries.map((e) => ({ path: e.archivePath, sha256: e.sha256, bytes: e.bytes })),
  };
  const indexBytes = Buffer.from(JSON.stringify(index, null, 2) + '\n');
  const mtime = Math.floor(Date.now() / 1000);

  async function* archive(): AsyncGenerator<Buffer> {
    yield tarHeader(BUNDLE_INDEX, indexBytes.length, mtime);
    yield indexBytes;
    yield tarPadding(indexBytes.length);
    for (const e of entries) {
      yield tarHeader(e.archivePath, e.bytes, mtime);
      const hash = createHash('sha256');
      let n = 0;
      for await (const chunk of createReadStream(e.file)) {
        hash.update(chunk as Buffer);
        n += (chunk as Buffer).length;
        if (n > e.bytes) break;
        yield chunk as Buffer;
      }
      // the header already promised this size: a file changed mid-export must not produce a bad bundle
      if (n !== e.bytes || hash.digest('hex') !== e.sha256)
        throw new ModelError(`${e.file} changed while it was being exported; run the export again`);
      yield tarPadding(e.bytes);
    }
    yield TAR_END;
  }

  const gzip = opts.gzip ?? /\.(gz|tgz)$/i.test(out);
  const part = `${out}.part`;
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  try {
    if (gzip) await pipeline(Readable.from(archive()), createGzip(), createWriteStream(part));
    else await pipeline(Readable.from(archive()), createWriteStream(part));
    await rename(part, out);
  } catch (e) {
    await rm(part, { force: true });
    throw e;
  }
  return index;
}

/** A safe archive path: at most `<name>/<file>`, plain segments only (no '..', no absolute paths, no backslashes). */
export function checkArchivePath(p: string): string | null {
  if (p.startsWith('/')) return 'is an absolute path';
  if (p.includes('\\')) return 'contains a backslash';
  const segs = p.replace(/\/$/, '').split('/');
  if (segs.some((s) => s === '..' || s === '.')) return "contains '.' or '..' segments";
  if (segs.some((s) => !SEGMENT.test(s))) return 'has an empty or unusual path segment (allowed: letters, digits, . _ -, not leading)';
  if (segs.length > 2) return 'is nested deeper than <model>/<file>';
  return null;
}

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** True when the file starts like a bundle (gzip or ustar), so `models import` can tell it from an ONNX. */
export async function looksLikeBundle(file: string): Promise<boolean> {
  if (await isGzip(file)) return true;
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(BLOCK);
    const { bytesRead } = await fh.read(b, 0, BLOCK, 0);
    return bytesRead === BLOCK && b.toString('latin1', 257, 262) === 'ustar';
  } finally {
    await fh.close();
  }
}

export interface ImportedModel {
  name: string;
  precision: Precision;
  status: 'installed' | 'identical' | 'replaced';
  manifestPath: string;
}

function parseIndex(text: string, where: string): BundleIndex {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new ModelError(`${where}: ${BUNDLE_INDEX} is not valid JSON: ${(e as Error).message}`);
  }
  const idx = j as Partial<BundleIndex>;
  if (typeof j !== 'object' || j === null) throw new ModelError(`${where}: ${BUNDLE_INDEX} is not a JSON object`);
  if (idx.bundle_version !== BUNDLE_VERSION)
    throw new ModelError(`${where}: bundle_version ${String(idx.bundle_version)} is not supported (this edgesight reads version ${BUNDLE_VERSION})`);
  if (!Array.isArray(idx.files) || !Array.isArray(idx.models)) throw new ModelError(`${where}: ${BUNDLE_INDEX} needs 'files' and 'models' arrays`);
  for (const f of idx.files) {
    if (typeof f?.path !== 'string' || typeof f.sha256 !== 'string' || typeof f.bytes !== 'number')
      throw new ModelError(`${where}: ${BUNDLE_INDEX} has a malformed files entry: ${JSON.stringify(f)}`);
  }
  for (const m of idx.models) {
    if (typeof m?.name !== 'string' || typeof m.manifest !== 'string' || typeof m.file !== 'string' || !PRECISIONS.includes(m.precision)) {
      throw new ModelError(`${where}: ${BUNDLE_INDEX} has a malformed models entry: ${JSON.stringify(m)}`);
    }
  }
  return idx as BundleIndex;
}

/** Largest single entry accepted (a guard against a crafted header filling the disk). */
const MAX_ENTRY_BYTES = 2 ** 31;

/**
 * Unpacks a bundle into a staging folder inside the cache, checks every file against the index and
 * every model against its manifest, then moves the models in (file first, manifest last, each a rename).
 * Nothing is installed unless the whole bundle checks out. An existing different model is replaced only
 * with `force`.
 */
export async function importBundle(bundlePath: string, cacheDir: string, opts: { force?: boolean } = {}): Promise<ImportedModel[]> {
  try {
    await stat(bundlePath);
  } catch {
    throw new ModelError(`bundle ${bundlePath} does not exist`);
  }
  await mkdir(cacheDir, { recursive: true });
  const staging = path.join(cacheDir, `.bundle-import-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging);
  try {
    const staged = new Map<string, { sha256: string; bytes: number }>();
    const source = createReadStream(bundlePath);
    const stream: AsyncIterable<Buffer> = (await isGzip(bundlePath)) ? source.pipe(createGunzip()) : source;
    try {
      await readTar(stream, async (h, body) => {
        const bad = checkArchivePath(h.name);
        if (bad) throw new ModelError(`bundle entry '${h.name}' ${bad}: refusing the bundle`);
        if (h.type === '5') {
          for await (const _ of body) void _;
          return;
        }
        if (staged.has(h.name)) throw new ModelError(`bundle entry '${h.name}' appears twice: refusing the bundle`);
        if (h.size > MAX_ENTRY_BYTES) throw new ModelError(`bundle entry '${h.name}' claims ${h.size} bytes: too large for a model`);
        const dest = path.join(staging, ...h.name.split('/'));
        await mkdir(path.dirname(dest), { recursive: true });
        const hash = createHash('sha256');
        let bytes = 0;
        const out = createWriteStream(dest, { flags: 'wx' });
        await pipeline(
          (async function* () {
            for await (const chunk of body) {
              hash.update(chunk);
              bytes += chunk.length;
              yield chunk;
            }
          })(),
          out,
        );
        staged.set(h.name, { sha256: hash.digest('hex'), bytes });
      });
    } catch (e) {
      if (e instanceof TarError) throw new ModelError(`bundle ${bundlePath}: ${e.message}`);
      if ((e as NodeJS.ErrnoException).code === 'Z_DATA_ERROR' || (e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') {
        throw new ModelError(`bundle ${bundlePath}: the gzip stream is corrupt or truncated (${(e as Error).message})`);
      }
      throw e;
    }

    if (!staged.has(BUNDLE_INDEX)) throw new ModelError(`bundle ${bundlePath} has no ${BUNDLE_INDEX} index: not an edgesight model bundle`);
    const index = parseIndex(await readFile(path.join(staging, BUNDLE_INDEX), 'utf8'), bundlePath);
    const listed = new Set(index.files.map((f) => f.path));
    for (const f of index.files) {
      const got = staged.get(f.path);
      if (!got) throw new ModelError(`bundle ${bundlePath}: ${f.path} is listed in the index but missing from the archive`);
      if (got.bytes !== f.bytes || got.sha256 !== f.sha256) {
        throw new ModelError(
          `bundle ${bundlePath}: ${f.path} is ${got.bytes} bytes with sha256 ${got.sha256}, but the index pins ${f.bytes} bytes, ${f.sha256}: corrupt bundle, nothing was imported`,
        );
      }
    }
    for (const name of staged.keys()) {
      if (name !== BUNDLE_INDEX && !listed.has(name))
        throw new ModelError(`bundle ${bundlePath}: ${name} is not listed in the index: refusing the bundle`);
    }

    const plan: Array<{ m: BundleModel; manifest: ModelManifest; stagedManifest: string; stagedFile: string; destDir: string }> = [];
    for (const m of index.models) {
      if (!listed.has(m.manifest) || !listed.has(m.file))
        throw new ModelError(`bundle ${bundlePath}: model ${m.name} ${m.precision} refers to files not in the index`);
      if (m.manifest !== `${m.name}/${m.precision}.json` || path.posix.dirname(m.file) !== m.name) {
        throw new ModelError(`bundle ${bundlePath}: model ${m.name} ${m.precision} is not laid out as <name>/<precision>.json beside its file`);
      }
      const stagedManifest = path.join(staging, ...m.manifest.split('/'));
      const manifest = checkManifestShape(JSON.parse(await readFile(stagedManifest, 'utf8')) as unknown, `bundle ${bundlePath}: ${m.manifest}`);
      if (manifest.name !== m.name || manifest.precision !== m.precision) {
        throw new ModelError(`bundle ${bundlePath}: ${m.manifest} describes ${manifest.name} ${manifest.precision}, not ${m.name} ${m.precision}`);
      }
      if (manifest.file !== path.posix.basename(m.file))
        throw new ModelError(`bundle ${bundlePath}: ${m.manifest} names file '${manifest.file}', but the bundle carries ${m.file}`);
      await verifyModelFile(stagedManifest, manifest);
      plan.push({ m, manifest, stagedManifest, stagedFile: path.join(staging, ...m.file.split('/')), destDir: path.join(cacheDir, m.name) });
    }

    // decide every model before moving any, so a conflict leaves the cache untouched
    const decisions: Array<ImportedModel['status']> = [];
    const conflicts: string[] = [];
    for (const p of plan) {
      const destManifest = path.join(p.destDir, `${p.m.precision}.json`);
      let existing: ModelManifest | null = null;
      try {
        existing = (await loadModel(destManifest)).manifest;
      } catch {
        existing = null;
      }
      let present = true;
      try {
        await stat(destManifest);
      } catch {
        present = false;
      }
      if (existing && existing.sha256 === p.manifest.sha256) decisions.push('identical');
      else if (!present) decisions.push('installed');
      else if (opts.force) decisions.push('replaced');
      else {
        conflicts.push(
          `${p.m.name} ${p.m.precision} (cache: ${existing ? existing.sha256.slice(0, 12) : 'unreadable/corrupt'}, bundle: ${p.manifest.sha256.slice(0, 12)})`,
        );
        decisions.push('replaced');
      }
    }
    if (conflicts.length)
      throw new ModelError(`the cache already holds different models: ${conflicts.join('; ')}. Nothing was imported; use --force to replace them`);

    const result: ImportedModel[] = [];
    for (const [i, p] of plan.entries()) {
      const status = decisions[i]!;
      const destManifest = path.join(p.destDir, `${p.m.precision}.json`);
      if (status !== 'identical') {
        await mkdir(p.destDir, { recursive: true });
        await rename(p.stagedFile, path.join(p.destDir, p.manifest.file));
        await rename(p.stagedManifest, destManifest);
      }
      result.push({ name: p.m.name, precision: p.m.precision, status, manifestPath: destManifest });
    }
    return result;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
