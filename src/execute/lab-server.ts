/**
 * The lab's package source, served read-only over HTTP on 127.0.0.1 (the nodes reach it at the
 * gateway's address through the router). A folder laid out as the mirrors it stands in for:
 * kubernetes/ as pkgs.k8s.io, downloads/<host>/<path> as cluster.mirrors.downloads, and its own
 * packages.yaml with the fingerprints and digests of what it serves.
 *
 * Run as a process of its own (`node lab-server.ts <folder> <port>`), started and stopped by the lab.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { resolve, sep } from 'node:path';

/** The file a request path names inside root, or null (outside it, not a file, or not decodable). */
export function fileFor(root: string, urlPath: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]!);
  } catch {
    return null;
  }
  const file = resolve(root, `.${path}`);
  if (file !== root && !file.startsWith(root + sep)) return null;
  try {
    return statSync(file).isFile() ? file : null;
  } catch {
    return null;
  }
}

export function serveFolder(root: string, port: number, log: (line: string) => void = () => undefined): Server {
  const abs = resolve(root);
  const server = createServer((req, res) => {
    const file = req.method === 'GET' || req.method === 'HEAD' ? fileFor(abs, req.url ?? '/') : null;
    log(`${req.method} ${req.url} ${file ? 200 : 404}`);
    if (!file) {
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405).end();
      return;
    }
    res.writeHead(200, { 'content-length': statSync(file).size, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  server.listen(port, '127.0.0.1');
  return server;
}

if (import.meta.main) {
  const [root, port] = process.argv.slice(2);
  serveFolder(root!, Number(port), (line) => process.stdout.write(`${line}\n`)).on('error', (e) => {
    process.stderr.write(`lab source: cannot serve on 127.0.0.1:${port}: ${e.message}\n`);
    process.exit(1);
  });
}
