/**
 * Each node's seed as the server hands it out, rendered by the planner `imgforge render` uses
 * (planCluster) with the bundle URL the server gives that rendering: the same function of the
 * same inputs, so the bytes served are the bytes `imgforge render <node> --bundle-url <url>`
 * writes. Pure, like planCluster: the enrolment secrets are derived before, from the key read.
 */
import type { Cluster } from '../config/resolve.ts';
import { enrolmentSecret } from '../secrets/enrolment.ts';
import { planCluster, type PlanInputs } from './index.ts';
import { bundleUrls, type NodeSeeds } from './serve.ts';

/** Every node's enrolment secret, by hostname (pure, given the cluster's key). */
export function enrolments(cluster: Cluster, key: Buffer): Map<string, string> {
  return new Map(cluster.nodes.map((n) => [n.config.hostname, enrolmentSecret(key, cluster.config.cluster.name, n.config.hostname)]));
}

/** Render both seeds of every node: one plan per node and rendering, since a plan's bundle URLs are the same for all its nodes. */
export async function planServeSeeds(cluster: Cluster, inputs: PlanInputs, url: string, secrets: ReadonlyMap<string, string>): Promise<NodeSeeds[]> {
  const out: NodeSeeds[] = [];
  for (const n of cluster.nodes) {
    const host = n.config.hostname;
    const enrolment = secrets.get(host)!;
    const urls = bundleUrls(url, host, enrolment);
    const render = async (bundleUrl: string): Promise<NodeSeeds['open']> =>
      (await planCluster(cluster, [host], { ...inputs, bundleSources: [bundleUrl as `http://${string}`] })).seeds.get(host)!;
    const open = await render(urls.open);
    // The two renderings differ in user-data alone: a file with the same bytes is kept once (the
    // bundle, about 170 KB, would otherwise be held twice per node from here on: 170 MiB for 1000).
    const enrolled = (await render(urls.enrolled)).map((f) => {
      const o = open.find((x) => x.name === f.name);
      return o && typeof o.content !== 'string' && typeof f.content !== 'string' && o.content.equals(f.content) ? o : f;
    });
    out.push({
      hostname: host, role: n.config.role, mac: n.config.mac ?? null, serial: n.config.serial ?? null, uuid: n.config.uuid ?? null,
      enrolment, open, enrolled,
    });
  }
  return out;
}
