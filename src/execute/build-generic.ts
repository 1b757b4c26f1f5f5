import { obtainBase } from '../base/obtain.ts';
import { readBlobs } from '../base/blobs.ts';
import type { Cluster } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';
import { probeBase } from '../image/probe.ts';
import { chooseBase } from '../plan/base.ts';
import { genericName, genericRootFiles, type GenericRequest } from '../plan/generic.ts';
import { planImage } from '../plan/image.ts';
import { secretsFor } from '../secrets/ensure.ts';
import type { BuildAllOptions } from './build-all.ts';
import { buildImage, type Artifact } from './build.ts';
import { discardOnSignal, PendingOutputs } from './image/outputs.ts';

/**
 * Build one generic image for a board (docs/serve.md, "Generic images"): the board's base laid
 * out as a node's image of it, CIDATA left empty, and the files that point cloud-init at the seed
 * server written into root. The base, blobs and layout are those of the config's first node on
 * that board (nodes of one board share them unless a node overrides its profile). No seed and no
 * secret goes in: the audit that every build runs checks the image holds no key of the cluster.
 */
export async function buildGeneric(cluster: Cluster, req: GenericRequest, opts: BuildAllOptions): Promise<Artifact> {
  const node = cluster.nodes.find((n) => n.config.board === req.board);
  if (!node) throw imgforgeError('UnknownTarget', { target: req.board, known: [...new Set(cluster.nodes.map((n) => n.config.board))].join(', ') });
  const name = genericName(req.board);
  const outputs = new PendingOutputs();
  const stopListening = discardOnSignal(outputs);
  try {
    await outputs.sweep(opts.out);
    const secrets = await secretsFor(cluster, { create: true, say: opts.say });
    opts.say?.(`${name}: base and layout of board ${req.board} as node ${node.config.hostname} has them\n`);
    const base = await obtainBase(chooseBase(node, opts.base), {
      cacheDir: opts.cacheDir, allowUnverified: opts.allowUnverified, templates: opts.inputs.templates, epoch: opts.epoch,
      onStep: (s) => opts.say?.(`${name}: ${s}\n`),
    });
    const blobs = await readBlobs(cluster, node);
    const image = planImage({ cluster: cluster.config.cluster.name, node: name, basePath: base.raw, base: probeBase(base.raw), profile: node.profile,
      diskBytes: null, blobBytes: blobs.map((b) => b.data.length) });
    const added = genericRootFiles(opts.inputs.runtime, req);
    const artifact = await buildImage(cluster, {
      name,
      manifest: { node: null, role: null, profile: req.board, generic: { seedUrl: req.seedUrl, match: req.match, layoutOf: node.config.hostname } },
    }, { ...image, edits: { ...image.edits, write: added.files, link: added.links } }, [], base, blobs,
    { ...opts, secrets, onStep: (n, s) => opts.say?.(`${n}: ${s}\n`) }, outputs);
    await outputs.commit();
    await outputs.close();
    return artifact;
  } catch (e) {
    await outputs.discard();
    throw e;
  } finally {
    stopListening();
  }
}
