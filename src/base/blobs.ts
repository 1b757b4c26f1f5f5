import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';

/** The profile's boot blobs, read relative to the config. */
export async function readBlobs(cluster: Cluster, n: ResolvedNode): Promise<{ offsetBytes: number; data: Buffer }[]> {
  return Promise.all(n.profile.boot.blobs.map(async (b) => {
    const path = resolve(dirname(cluster.path), b.file);
    const data = await readFile(path).catch((e: Error) => { throw imgforgeError('ReadFailed', { path, detail: e.message }); });
    return { offsetBytes: b.offsetBytes, data };
  }));
}
