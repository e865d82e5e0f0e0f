import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:net';

const run = promisify(execFile);

/** One certificate + key pair on disk (PEM). */
export interface CertFiles {
  cert: string;
  key: string;
}

/** Everything the TLS tests need, generated fresh with openssl in a temp dir. */
export interface TestPki {
  dir: string;
  /** the CA the good certificates chain to (the file to give `mqtt.ca`) */
  ca: string;
  /** a second CA nobody trusts */
  otherCa: string;
  /** CN/SAN localhost + 127.0.0.1, signed by `ca` */
  server: CertFiles;
  /** SAN wrong.example.invalid only, signed by `ca` */
  wrongHost: CertFiles;
  /** SAN localhost + 127.0.0.1 but valid only in 2020, signed by `ca` */
  expired: CertFiles;
  /** SAN localhost + 127.0.0.1, signed by `otherCa` */
  untrusted: CertFiles;
  /** clientAuth certificate signed by `ca` */
  client: CertFiles;
  /** clientAuth certificate signed by `otherCa` (the broker must reject it) */
  clientUntrusted: CertFiles;
  remove(): Promise<void>;
}

// `openssl ca` (not `x509 -req`) because OpenSSL 3.0 can only backdate a certificate there (-startdate/-enddate).
const CA_CONF = (dir: string): string => `
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ server_localhost ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
authorityKeyIdentifier = keyid
[ server_wrong ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example.invalid
authorityKeyIdentifier = keyid
[ client ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (e) {
    const err = e as Error & { stderr?: string; code?: string };
    if (err.code === 'ENOENT') throw new Error('openssl is not installed (Debian package openssl)');
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
  }
}

async function makeCa(root: string, name: string): Promise<{ dir: string; cert: string; key: string; conf: string }> {
  const dir = path.join(root, name);
  await run('mkdir', ['-p', path.join(dir, 'newcerts')]);
  await writeFile(path.join(dir, 'index.txt'), '');
  await writeFile(path.join(dir, 'serial'), '1000\n');
  const conf = path.join(dir, 'openssl.cnf');
  await writeFile(conf, CA_CONF(dir));
  const key = path.join(dir, 'ca.key');
  const cert = path.join(dir, 'ca.crt');
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
  await openssl(
    ['req', '-config', conf, '-new', '-x509', '-key', key, '-out', cert, '-days', '3', '-subj', `/CN=edgesight test ${name}`, '-extensions', 'v3_ca'],
    dir,
  );
  return { dir, cert, key, conf };
}

async function issue(
  ca: { dir: string; cert: string; key: string; conf: string },
  name: string,
  cn: string,
  extensions: string,
  dates?: { start: string; end: string },
): Promise<CertFiles> {
  const key = path.join(ca.dir, `${name}.key`);
  const csr = path.join(ca.dir, `${name}.csr`);
  const cert = path.join(ca.dir, `${name}.crt`);
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], ca.dir);
  await openssl(['req', '-config', ca.conf, '-new', '-key', key, '-out', csr, '-subj', `/CN=${cn}`], ca.dir);
  const validity = dates ? ['-startdate', dates.start, '-enddate', dates.end] : ['-days', '3'];
  await openssl(
    [
      'ca',
      '-config',
      ca.conf,
      '-batch',
      '-notext',
      '-in',
      csr,
      '-out',
      cert,
      '-cert',
      ca.cert,
      '-keyfile',
      ca.key,
      '-extensions',
      extensions,
      ...validity,
    ],
    ca.dir,
  );
  return { cert, key };
}

/** Generates a test PKI (EC P-256, a second or so). Call `remove()` when done. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgesight-pki-'));
  try {
    const ca = await makeCa(dir, 'ca');
    const other = await makeCa(dir, 'other-ca');
    // sequential: `openssl ca` rewrites the CA's index and serial files
    const server = await issue(ca, 'server', 'localhost', 'server_localhost');
    const wrongHost = await issue(ca, 'wrong-host', 'wrong.example.invalid', 'server_wrong');
    const expired = await issue(ca, 'expired', 'localhost', 'server_localhost', { start: '20200101000000Z', end: '20200102000000Z' });
    const client = await issue(ca, 'client', 'edgesight-client', 'client');
    const untrusted = await issue(other, 'untrusted', 'localhost', 'server_localhost');
    const clientUntrusted = await issue(other, 'client-untrusted', 'edgesight-client', 'client');
    await readableByBroker(dir);
    return {
      dir,
      ca: ca.cert,
      otherCa: other.cert,
      server,
      wrongHost,
      expired,
      untrusted,
      client,
      clientUntrusted,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * mosquitto started as root drops to the `mosquitto` user before it reads certificates and password
 * files, so the (throw-away) test material must be readable by others.
 */
export async function readableByBroker(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await readableByBroker(p);
    else await chmod(p, 0o644);
  }
}

/** A mosquitto password file (`mosquitto_passwd -b`) with these users, readable by the broker. */
export async function makePasswordFile(file: string, users: Record<string, string>): Promise<void> {
  let first = true;
  for (const [user, password] of Object.entries(users)) {
    try {
      await run('mosquitto_passwd', ['-b', ...(first ? ['-c'] : []), file, user, password]);
    } catch (e) {
      const err = e as Error & { stderr?: string; code?: string };
      if (err.code === 'ENOENT') throw new Error('mosquitto_passwd is not installed (Debian package mosquitto)');
      throw new Error(`mosquitto_passwd failed: ${err.stderr ?? err.message}`);
    }
    first = false;
  }
  await chmod(file, 0o644);
}

// --- probes for the daemon runs of the TLS and Home Assistant e2e tests ---

/** A free loopback port (for the metrics endpoint, so the test knows where to scrape). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** `edgesight_frames_total{result="processed"}` from a running daemon's /metrics, or null while it is not up. */
export async function framesProcessed(port: number): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = /^edgesight_frames_total\{result="processed"\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Polls `check` every 100 ms until it returns a value (not undefined/null/false) or `timeoutMs` passes. */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
  detail: () => string = () => '',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail() ? `\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The daemon keeps processing frames: frames_processed grows past the first reading. */
export async function assertFramesGrow(metricsPort: number, output: () => string): Promise<void> {
  const first = await waitUntil(() => framesProcessed(metricsPort).then((n) => (n !== null && n > 0 ? n : null)), 60_000, 'frames processed', output);
  await waitUntil(() => framesProcessed(metricsPort).then((n) => n !== null && n > first), 30_000, `frames_processed to grow past ${first}`, output);
}
