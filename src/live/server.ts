import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { hasToken, hostAllowed, requestPath, SECURITY_HEADERS } from './http-guard.js';
import type { LiveFeed } from './live-feed.js';
import { loadStaticFiles, type StaticFile } from './static-files.js';
import type { LiveStatus } from './status.js';

export interface HttpServerOptions {
  /** 0 picks a free port (tests) */
  port: number;
  bind: string;
  /** required on every path but /healthz when set; null = loopback-only server, Host checked instead */
  token: string | null;
  registry: Registry;
  feed: LiveFeed;
  status: () => LiveStatus;
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

/** Connections beyond the stream viewers: page loads, status polls, scrapes. */
const EXTRA_CONNECTIONS = 32;

/**
 * The daemon's one HTTP server: Prometheus /metrics, /healthz, and the live view (the page, its
 * /stream.mjpeg and /api/status). Read-only: GET and HEAD only, no endpoint changes any state.
 * Every path but /healthz needs the token when one is configured; without one the server is
 * loopback-only and accepts only loopback Host names.
 */
export function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    return Promise.reject(new RangeError(`metrics.http.port must be an integer 0–65535, got ${opts.port}`));
  }
  const files = loadStaticFiles();
  const server: Server = createServer({ maxHeaderSize: 8192, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${(e as Error).message}\n`);
      else res.destroy();
    }
  });
  server.maxConnections = opts.feed.maxViewers + EXTRA_CONNECTIONS;
  server.maxHeadersCount = 64;
  server.keepAliveTimeout = 5000;

  function send(
    res: ServerResponse,
    status: number,
    type: string,
    body: string | Buffer,
    extra: Record<string, string | string[]> = {},
    head = false,
  ): void {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': String(buf.length), ...extra });
    res.end(head ? undefined : buf);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const head = req.method === 'HEAD';
    const text = (status: number, msg: string, extra: Record<string, string | string[]> = {}): void =>
      send(res, status, 'text/plain; charset=utf-8', msg + '\n', { 'cache-control': 'no-store', ...extra }, head);
    if (req.method !== 'GET' && !head) return text(405, 'method not allowed: this server is read-only (GET, HEAD)', { allow: 'GET, HEAD' });
    const p = requestPath(req.url);
    if (p === null) return text(400, 'bad request target');
    if (p === '/healthz') return text(200, 'ok');
    if (opts.token !== null) {
      if (!hasToken(req, opts.token)) {
        return text(401, 'unauthorized: send the token as "Authorization: Bearer <token>" (or as the password of HTTP Basic)', {
          'www-authenticate': 'Basic realm="edgesight", charset="UTF-8"',
        });
      }
    } else if (!hostAllowed(req)) {
      return text(403, 'forbidden: this server answers loopback host names only (set metrics.http.token_file to serve other names)');
    }

    if (p === '/metrics') {
      opts.registry.metrics().then(
        (body) => send(res, 200, opts.registry.contentType, body, { 'cache-control': 'no-store' }, head),
        (err: unknown) => text(500, `metrics collection failed: ${err instanceof Error ? err.message : String(err)}`),
      );
      return;
    }
    if (p === '/api/status') {
      return send(res, 200, 'application/json; charset=utf-8', JSON.stringify(opts.status()), { 'cache-control': 'no-store' }, head);
    }
    if (p === '/stream.mjpeg') {
      if (head) return send(res, 200, 'multipart/x-mixed-replace; boundary=edgesightframe', '', { 'cache-control': 'no-store' }, true);
      if (!opts.feed.addViewer(res, SECURITY_HEADERS as Record<string, string>)) {
        return text(503, `too many viewers (metrics.http.max_viewers is ${opts.feed.maxViewers}); try again later`, { 'retry-after': '10' });
      }
      return;
    }
    const f: StaticFile | undefined = files.get(p);
    if (!f) return text(404, 'not found');
    if (req.headers['if-none-match'] === f.etag) {
      res.writeHead(304, { ...SECURITY_HEADERS, etag: f.etag, 'cache-control': 'no-cache' });
      res.end();
      return;
    }
    return send(res, 200, f.type, f.body, { etag: f.etag, 'cache-control': 'no-cache' }, head);
  }

  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(`metrics.http: cannot listen on ${opts.bind}:${opts.port}: ${err.code ?? err.message}`));
    });
    server.listen(opts.port, opts.bind, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.port;
      resolve({
        port,
        close: () =>
          new Promise<void>((res, rej) => {
            opts.feed.stop();
            server.close((e) => (e ? rej(e) : res()));
            server.closeAllConnections();
          }),
      });
    });
  });
}
