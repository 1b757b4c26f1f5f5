/**
 * `imgforge serve` as a plan, pure: every file each node is served, at which URLs, which of them
 * need the node's enrolment secret, how nodes are found by MAC, SMBIOS serial and UUID, and the
 * server's limits. The executor (execute/serve*.ts) looks requests up in it and decides nothing.
 *
 * Each node is served two renderings of its seed, each the bytes `imgforge render <node>
 * --bundle-url <its bundle URL>` writes: the open one, whose bundle URL is public
 * (<url>/nodes/<host>/imgforge-bundle.tar), and the enrolled one, whose bundle URL carries the
 * node's enrolment secret (<url>/nodes/<host>/<secret>/imgforge-bundle.tar). The bootstrap fetches
 * the secrets tar from beside its bundle URL (runtime/bootstrap.sh), so only a node booted from its
 * enrolled seed URL ever asks for its secrets where the path itself proves it.
 */
import { SECRETS_NAME } from './bundle.ts';
import { sha256, type SeedFile } from './seed.ts';
import { proofOf } from '../secrets/enrolment.ts';

/** Per-address request limit (a token bucket) and body size, the server's only defences against a noisy LAN. */
export interface ServeLimits {
  /** Largest request body (an event post), bytes. */
  readonly bodyBytes: number;
  /** Requests per minute per address once the burst is spent; 0: no limit. */
  readonly perMinute: number;
  readonly burst: number;
  /** Distinct unknown machines remembered; later ones are counted, not listed. */
  readonly unknownMax: number;
}

export interface ServeOptions {
  readonly listen: { readonly host: string; readonly port: number };
  /** What nodes are told the server is (their bundle URLs start with it); no trailing slash. */
  readonly url: string;
  readonly tls: boolean;
  /** Where events, unknown machines and the log of served secrets are kept across restarts. */
  readonly stateDir: string;
  readonly limits: ServeLimits;
  /** A node that fetched its seed or began booting and then said nothing this long shows as stale. */
  readonly staleAfterSeconds: number;
  /** Approve a node's first claim as it is made (trust on first use: a lab or a trusted LAN). */
  readonly approveFirst: boolean;
}

/** Who a node is, as the config says and requests are matched by. */
export interface NodeIdentity {
  readonly hostname: string;
  readonly role: string;
  readonly mac: string | null;
  readonly serial: string | null;
  readonly uuid: string | null;
}

/** A node's seed as rendered for the server: its identity, its enrolment secret, both renderings. */
export interface NodeSeeds extends NodeIdentity {
  readonly enrolment: string;
  readonly open: readonly SeedFile[];
  readonly enrolled: readonly SeedFile[];
}

export interface ServedFile {
  readonly name: SeedFile['name'];
  readonly bytes: number;
  readonly sha256: string;
  /** Holds private keys or tokens: served only with the node's enrolment secret, and logged. */
  readonly secret: boolean;
  readonly content: string | Buffer;
}

export interface ServedNode extends NodeIdentity {
  /** SHA-256 of the enrolment secret: the plan holds no secret, only what checks one. */
  readonly proof: string;
  readonly open: readonly ServedFile[];
  readonly enrolled: readonly ServedFile[];
}

export interface RouteDoc {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly what: string;
  readonly needs: 'nothing' | 'enrolment secret' | typeof CLAIM_NEEDS;
}

export interface ServePlan {
  readonly cluster: string;
  readonly options: ServeOptions;
  readonly routes: readonly RouteDoc[];
  readonly nodes: readonly ServedNode[];
  /** Hostname by normalised identifier. */
  readonly by: Readonly<Record<'hostname' | 'mac' | 'serial' | 'uuid', ReadonlyMap<string, string>>>;
  readonly warnings: readonly string[];
}

/** What a claim needs: it proves nothing, and is answered once the user approved it. */
export const CLAIM_NEEDS = 'a claim token; answered with the enrolment secret once approved';

/** The URL layout: cloud-init's nocloud-net appends the file name to the seedfrom URL, which must end in "/". */
export const ROUTES: readonly RouteDoc[] = [
  { method: 'GET', path: '/nodes/<hostname>/<file>', needs: 'nothing',
    what: 'the open seed (meta-data, user-data, vendor-data, network-config) and bundle; the secrets tar with Authorization: Bearer <enrolment secret>' },
  { method: 'GET', path: '/nodes/<hostname>/<enrolment secret>/<file>', needs: 'enrolment secret',
    what: 'the enrolled seed: its bundle URL sits here, so the bootstrap fetches imgforge-secrets.tar from here (over https)' },
  { method: 'GET', path: '/by-mac/<mac>/<file>', needs: 'nothing',
    what: 'the open seed of the node with this MAC (aa:bb:.., aa-bb-.. or aabb..: U-Boot ${ethaddr}, iPXE ${mac})' },
  { method: 'GET', path: '/by-lan/<file>', needs: 'nothing',
    what: 'the open seed of the node whose MAC this host\'s neighbour table gives the requester\'s address (same LAN, no router or NAT between)' },
  { method: 'GET', path: '/by-serial/<serial>/<file>', needs: 'nothing',
    what: 'the open seed of the node with this SMBIOS serial (cloud-init __dmi.system-serial-number__)' },
  { method: 'GET', path: '/by-uuid/<uuid>/<file>', needs: 'nothing',
    what: 'the open seed of the node with this SMBIOS UUID (cloud-init __dmi.system-uuid__, iPXE ${uuid})' },
  { method: 'POST', path: '/events/<hostname>', needs: 'enrolment secret',
    what: 'events (src/protocol/events.ts, or cloud-init reporting webhook posts), with Authorization: Bearer <enrolment secret>' },
  { method: 'POST', path: '/events/<hostname>/<enrolment secret>', needs: 'enrolment secret',
    what: 'the same, for clients that set no header (cloud-init\'s webhook reporter)' },
  { method: 'POST', path: '/claims/<hostname>', needs: CLAIM_NEEDS,
    what: 'a claim of a node booted from a generic image, with Authorization: Bearer <claim token>: 202 while pending, 200 with the enrolment secret once approved (https only)' },
  { method: 'GET', path: '/status.json', needs: 'nothing', what: 'each node\'s phase, stage, last problem and last fetch; the unknown machines' },
  { method: 'GET', path: '/unknown.json', needs: 'nothing', what: 'machines that asked for a seed under an identifier no node has' },
  { method: 'GET', path: '/', needs: 'nothing', what: 'the live page: the status as a table, kept current from /stream' },
  { method: 'GET', path: '/stream', needs: 'nothing', what: 'server-sent events: the status on every change (at most 4 a second) and every 15 s' },
];

/** Where a node's bundle is fetched from, open or enrolled (the seed's user-data pins it). */
export function bundleUrls(url: string, hostname: string, enrolment: string): { open: string; enrolled: string } {
  return { open: `${url}/nodes/${hostname}/imgforge-bundle.tar`, enrolled: `${url}/nodes/${hostname}/${enrolment}/imgforge-bundle.tar` };
}

const served = (files: readonly SeedFile[]): ServedFile[] => files.map((f) => ({
  name: f.name, bytes: Buffer.byteLength(f.content), sha256: sha256(f.content), secret: f.name === SECRETS_NAME, content: f.content,
}));

/** The whole plan (pure): the same seeds and options give the same plan. */
export function planServe(cluster: string, seeds: readonly NodeSeeds[], options: ServeOptions): ServePlan {
  const nodes: ServedNode[] = seeds.map((s) => ({
    hostname: s.hostname, role: s.role, mac: s.mac, serial: s.serial, uuid: s.uuid,
    proof: proofOf(s.enrolment), open: served(s.open), enrolled: served(s.enrolled),
  }));
  const index = (key: (n: ServedNode) => string | null): Map<string, string> =>
    new Map(nodes.flatMap((n) => (key(n) === null ? [] : [[key(n)!, n.hostname] as const])));
  const warnings: string[] = [];
  const withSecrets = nodes.filter((n) => n.open.some((f) => f.secret)).map((n) => n.hostname);
  // runtime/bootstrap.sh: "Secrets only over TLS: on a LAN anyone can read plain HTTP."
  if (!options.tls && withSecrets.length > 0) {
    warnings.push(`served over http: the nodes' bootstrap fetches its secrets tar over https only, so ${withSecrets.join(', ')} `
      + 'get no secrets from this server (pass --tls-cert and --tls-key)');
  }
  if (/^https?:\/\/(localhost|127\.|\[::1\])/.test(options.url)) {
    warnings.push(`nodes are told ${options.url}, this host's loopback: only a node on this host reaches it (pass --url)`);
  }
  if (options.limits.perMinute === 0) warnings.push('no per-address request limit (--rate 0)');
  if (!options.tls && !options.url.startsWith('https:')) warnings.push('claims are refused (403) over http: their answer is an enrolment secret');
  if (options.approveFirst) warnings.push('--approve-first: each node\'s first claim is approved unseen (a lab or a trusted LAN only)');
  return {
    cluster, options, routes: ROUTES, nodes, warnings,
    by: { hostname: index((n) => n.hostname), mac: index((n) => n.mac), serial: index((n) => n.serial), uuid: index((n) => n.uuid) },
  };
}

/**
 * The plan as `serve --dry-run --json` prints it: no file contents, and no enrolment secret
 * unless `reveal` is given one per node (the enrolled seed URL to bake into that node's boot).
 */
export function describeServe(plan: ServePlan, reveal?: ReadonlyMap<string, string>): unknown {
  const file = (f: ServedFile, enrolled: boolean): unknown =>
    ({ name: f.name, bytes: f.bytes, sha256: f.sha256, needs: f.secret || enrolled ? 'enrolment secret' : 'nothing', logged: f.secret });
  const enrolledUrl = (host: string): string | null => (reveal?.get(host) !== undefined ? `${plan.options.url}/nodes/${host}/${reveal.get(host)}/` : null);
  return {
    cluster: plan.cluster, url: plan.options.url, listen: plan.options.listen, tls: plan.options.tls, stateDir: plan.options.stateDir,
    limits: plan.options.limits, staleAfterSeconds: plan.options.staleAfterSeconds, approveFirst: plan.options.approveFirst, routes: plan.routes,
    nodes: plan.nodes.map((n) => ({
      hostname: n.hostname, role: n.role, mac: n.mac, serial: n.serial, uuid: n.uuid,
      seedUrl: `${plan.options.url}/nodes/${n.hostname}/`, enrolledSeedUrl: enrolledUrl(n.hostname),
      open: n.open.map((f) => file(f, false)), enrolled: n.enrolled.map((f) => file(f, true)),
    })),
    warnings: plan.warnings,
  };
}
