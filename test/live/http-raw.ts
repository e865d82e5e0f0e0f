import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  raw: string;
}

/**
 * Sends bytes exactly as given (fetch and http.request normalise paths, refuse odd targets and fix
 * headers, which is what a hostile client does not do) and reads until the server closes or `untilBytes`.
 */
export function rawRequest(port: number, request: string | Buffer, opts: { untilBytes?: number; timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      const buf = Buffer.concat(chunks);
      const end = buf.indexOf('\r\n\r\n');
      const head = (end < 0 ? buf : buf.subarray(0, end)).toString('latin1');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) {
          const k = l.slice(0, i).trim().toLowerCase();
          headers[k] = headers[k] !== undefined ? `${headers[k]}, ${l.slice(i + 1).trim()}` : l.slice(i + 1).trim();
        }
      }
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: end < 0 ? Buffer.alloc(0) : buf.subarray(end + 4), raw: head });
    };
    const timer = setTimeout(done, opts.timeoutMs ?? 5000);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (opts.untilBytes !== undefined && size >= opts.untilBytes) done();
    });
    sock.on('end', done);
    sock.on('error', (e) => (chunks.length ? done() : reject(e)));
    sock.write(request);
  });
}

export const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): string =>
  `${method} ${path} HTTP/1.1\r\n${Object.entries({ Host: 'localhost', Connection: 'close', ...headers })
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`;
