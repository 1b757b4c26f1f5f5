/**
 * Every error imgforge reports, in one place. Library code throws these; only the CLI prints
 * them and turns their category into an exit code (see exitCodes). The errors of the commands
 * that act on drives and machines (flash, lab) are in catalogue-machines.ts; the seed server's in
 * catalogue-serve.ts.
 */
import { entry, type Entry } from './entry.ts';
import { machineEntries } from './catalogue-machines.ts';
import { serveEntries } from './catalogue-serve.ts';

export { exitCodes, type Category, type Entry } from './entry.ts';

export const catalogue = {
  ...machineEntries,
  ...serveEntries,
  ConfigNotFound: entry<{ path: string }>({
    category: 'input',
    title: 'Config file not found',
    message: (a) => `There is no config file at ${a.path}.`,
    hint: () => 'Create images.config.ts (see examples/) or pass --config <file>.',
  }),
  ConfigExtension: entry<{ path: string }>({
    category: 'input',
    title: 'Unsupported config file type',
    message: (a) => `${a.path} is not a .ts, .mts, .js, .mjs, .json, .yaml or .yml file.`,
    hint: () => 'Rename the config to one of those extensions.',
  }),
  ConfigSyntax: entry<{ path: string; detail: string }>({
    category: 'input',
    title: 'The config file could not be read',
    message: (a) => `${a.path}: ${a.detail}`,
    hint: () =>
      'TypeScript configs run without a bundler: use erasable syntax only (no enum, namespace or parameter properties) and write imports with their .ts extension.',
  }),
  ConfigImportMissing: entry<{ path: string }>({
    category: 'input',
    title: 'The config imports imgforge, which is not installed beside it',
    message: (a) => `${a.path} imports "imgforge", but no imgforge package is installed in its folder or above it.`,
    hint: () => 'Run `npm i -D imgforge` (or `npm i -D <imgforge tarball>`) in the config\'s folder; or export a plain object (`export default { ... }`), which needs no import.',
  }),
  ConfigDataSyntax: entry<{ path: string; detail: string }>({
    category: 'input',
    title: 'The config file could not be parsed',
    message: (a) => `${a.path}: ${a.detail}`,
  }),
  ConfigThrew: entry<{ path: string; detail: string }>({
    category: 'input',
    title: 'The config file failed while running',
    message: (a) => `${a.path} threw while it ran: ${a.detail}`,
    hint: () => 'Run the file with node to see where it fails.',
  }),
  UnknownNode: entry<{ node: string; known: string }>({
    category: 'input',
    title: 'Unknown node',
    message: (a) => `There is no node with hostname "${a.node}".`,
    hint: (a) => `Nodes: ${a.known}.`,
  }),
  ConfigNoExport: entry<{ path: string }>({
    category: 'input',
    title: 'The config file exports nothing',
    message: (a) => `${a.path} has no default export.`,
    hint: () => 'End the file with `export default defineConfig({ ... })`.',
  }),
  ConfigInvalid: entry<{ path: string; count: number }>({
    category: 'input',
    title: 'The config is invalid',
    message: (a) => `${a.path} has ${a.count} problem${a.count === 1 ? '' : 's'}:`,
    hint: () => 'Each line names the field as a dotted path; your editor shows the same errors in images.config.ts.',
  }),
  ProfileInvalid: entry<{ path: string; count: number }>({
    category: 'input',
    title: 'A board profile is invalid',
    message: (a) => `${a.path} has ${a.count} problem${a.count === 1 ? '' : 's'}:`,
    hint: () => 'Profiles are checked against profiles/profile.schema.json; editors with the YAML language server show the errors inline.',
  }),
  ProfileExtends: entry<{ chain: string; reason: string }>({
    category: 'input',
    title: 'A board profile extends something it cannot',
    message: (a) => `${a.chain}: ${a.reason}`,
    hint: () => '`extends` names another profile by its name; chains must not loop.',
  }),
  UnknownTarget: entry<{ target: string; known: string }>({
    category: 'input',
    title: 'Unknown target',
    message: (a) => `"${a.target}" is neither a node hostname nor a board profile used by the config.`,
    hint: (a) => `Targets: ${a.known}.`,
  }),
  OutputNotEmpty: entry<{ path: string }>({
    category: 'input',
    title: 'The output folder holds other files',
    message: (a) => `${a.path} exists and holds files imgforge did not write; it will not replace them.`,
    hint: () => 'Pass --out with an empty or new folder, or one imgforge wrote before.',
  }),
  Findings: entry<{ errors: number }>({
    category: 'findings',
    title: 'The cluster has errors',
    message: (a) => `imgforge check found ${a.errors} error${a.errors === 1 ? '' : 's'} in the cluster described.`,
    hint: () => 'Run `imgforge check` to see them with hints; --force renders anyway.',
  }),
  ConfigExists: entry<{ path: string }>({
    category: 'input',
    title: 'A config is already there',
    message: (a) => `${a.path} exists; imgforge init will not replace it.`,
    hint: () => 'Pass --force to replace it, or --config <file> to write another.',
  }),
  UnknownBoardName: entry<{ board: string; known: string }>({
    category: 'input',
    title: 'Unknown board',
    message: (a) => `There is no board profile named "${a.board}".`,
    hint: (a) => `Boards: ${a.known}.`,
  }),
  BadFlag: entry<{ detail: string }>({
    category: 'input',
    title: 'Invalid command line',
    message: (a) => a.detail,
    hint: () => 'Run `imgforge --help` or `imgforge <command> --help`.',
  }),
  NodeTooOld: entry<{ version: string }>({
    category: 'environment',
    title: 'Node.js is too old',
    message: (a) => `Node ${a.version} cannot load TypeScript files natively.`,
    hint: () => 'Install Node 22.18 or newer (24 LTS preferred); `npm install node@24` provides it without root.',
  }),
  TemplateFailed: entry<{ template: string; detail: string }>({
    category: 'bug',
    title: 'A template failed to render',
    message: (a) => `${a.template}: ${a.detail}`,
    hint: () => 'Templates ship with imgforge; this is a bug. Please report it with `imgforge plan --json` output.',
  }),
  RenderedInvalid: entry<{ node: string; file: string; detail: string }>({
    category: 'bug',
    title: 'A rendered seed file is not valid',
    message: (a) => `${a.node}/${a.file}: ${a.detail}`,
    hint: () => 'The templates produced a file cloud-init would reject; this is a bug. Please report it.',
  }),
  WriteFailed: entry<{ path: string; detail: string }>({
    category: 'io',
    title: 'Could not write output',
    message: (a) => `${a.path}: ${a.detail}`,
    hint: () => 'Nothing was left under the final name; check the folder exists and is writable.',
  }),
  ReadFailed: entry<{ path: string; detail: string }>({
    category: 'io',
    title: 'Could not read a file',
    message: (a) => `${a.path}: ${a.detail}`,
  }),
  ToolMissing: entry<{ tool: string; pkg: string }>({
    category: 'environment',
    title: 'A required tool is missing',
    message: (a) => `${a.tool} is not installed.`,
    hint: (a) => `Install the Debian/Ubuntu package ${a.pkg} (apt-get install ${a.pkg}).`,
  }),
  ForeignArch: entry<{ arch: string; host: string; detail: string }>({
    category: 'environment',
    title: 'This machine cannot run the base\'s programs',
    message: (a) => `A ${a.arch} base is built by running its packages' setup scripts, and this ${a.host} machine cannot run ${a.arch} programs (arch-test: ${a.detail}).`,
    hint: () => 'Install qemu-user-static and binfmt-support (apt-get install qemu-user-static binfmt-support); in a container, mount binfmt_misc first (mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc) and run update-binfmts --enable.',
  }),
  ToolFailed: entry<{ tool: string; status: string; stderr: string }>({
    category: 'dependency',
    title: 'An external tool failed',
    message: (a) => `${a.tool} ${a.status}${a.stderr ? `: ${a.stderr}` : ''}`,
    hint: () => 'Run again with --debug to see the full command.',
  }),
  DownloadFailed: entry<{ url: string; detail: string }>({
    category: 'io',
    title: 'Download failed',
    message: (a) => `${a.url}: ${a.detail}`,
    hint: () => 'The partial download is kept and resumed next time; the cache holds only verified files.',
  }),
  DownloadUnreachable: entry<{ url: string; host: string; code: string }>({
    category: 'io',
    title: 'Download failed',
    message: (a) => `${a.url}: ${a.host} cannot be reached from here (${a.code}); nothing was downloaded.`,
    hint: () => 'Check the network; or download the image on a machine that can and pass it with --base <file>, or point the download at a mirror (overrides.base.download.url).',
  }),
  ChecksumMismatch: entry<{ what: string; expected: string; actual: string }>({
    category: 'input',
    title: 'Checksum mismatch',
    message: (a) => `${a.what} has SHA-256 ${a.actual}, expected ${a.expected}.`,
    hint: () => 'The file is corrupt or not the one the profile names; it was not cached or used.',
  }),
  Unverified: entry<{ what: string; reason: string }>({
    category: 'input',
    title: 'Base image cannot be verified',
    message: (a) => `${a.what} has no checksum to verify against: ${a.reason}`,
    hint: () => 'Pin its SHA-256 (overrides.base.download.sha256), or pass --allow-unverified to use it anyway.',
  }),
  BaseInvalid: entry<{ path: string; detail: string }>({
    category: 'input',
    title: 'The base image is not usable',
    message: (a) => `${a.path}: ${a.detail}`,
    hint: () => 'Check that the file is a complete disk image of the board\'s base (see `imgforge profiles`).',
  }),
  NotAnImage: entry<{ path: string; detail: string }>({
    category: 'input',
    title: 'Not a disk image',
    message: (a) => `${a.path} is not a disk image: ${a.detail}.`,
    hint: () => 'imgforge inspect reads the .img files imgforge build writes (raw, sparse).',
  }),
  ImageInvalid: entry<{ path: string; check: string; detail: string }>({
    category: 'assembly',
    title: 'The image failed its own checks',
    message: (a) => `${a.path} was assembled but ${a.check} found problems: ${a.detail}`,
    hint: () => 'Nothing was written under a final name. This points at the base or at imgforge; run again with --debug and report it with the output.',
  }),
  SecretsLeak: entry<{ path: string; node: string; violations: string }>({
    category: 'assembly',
    title: 'The image carries secrets its node must not hold',
    message: (a) => `${a.path} (${a.node}) was assembled, but the secrets audit found: ${a.violations}`,
    hint: () => 'Nothing was written under a final name. A key in the base itself (an image taken from another node, or a base with keys baked in) reaches every node built from it: build from a clean base. `imgforge audit <image>` lists every key an image carries.',
  }),
  SecretsInvalid: entry<{ path: string; detail: string; fix?: string }>({
    category: 'input',
    title: 'The secrets bundle is not usable',
    message: (a) => `${a.path}: ${a.detail}.`,
    hint: (a) => a.fix ?? 'Restore it from your backup. `imgforge secrets init --force` makes new secrets, and every image built before then becomes stale.',
  }),
  SecretsMissing: entry<{ path: string; cluster: string }>({
    category: 'input',
    title: 'No secrets yet',
    message: (a) => `Cluster ${a.cluster} has no secrets bundle at ${a.path}.`,
    hint: () => 'Run `imgforge secrets init`; `imgforge build` and `render` make one on first use.',
  }),
  SecretsExist: entry<{ path: string; stale: string }>({
    category: 'input',
    title: 'The cluster already has secrets',
    message: (a) => `${a.path} exists; new secrets would make these nodes' images stale: ${a.stale}.`,
    hint: () => 'Pass --force to replace them (rebuild and reflash those nodes), or keep using them.',
  }),
  SecretsStale: entry<{ path: string }>({
    category: 'input',
    title: 'The secrets bundle does not fit the config',
    message: (a) => `${a.path} was made for another shape of this cluster:`,
    hint: () => '`imgforge secrets issue` certifies etcd members that are new or readdressed and keeps the rest; `imgforge secrets init --force` makes all new secrets.',
  }),
  Unsupported: entry<{ what: string }>({
    category: 'unsupported',
    title: 'Not supported yet',
    message: (a) => `${a.what} is not supported by this version of imgforge.`,
  }),
  NoSpace: entry<{ path: string; needed: string; available: string }>({
    category: 'io',
    title: 'Not enough disk space',
    message: (a) => `${a.path} needs ${a.needed} but its file system has ${a.available} free.`,
    hint: () => 'Free space or pass --out on a larger file system; nothing was left under a final name.',
  }),
} as const;

export type Code = keyof typeof catalogue;
export type ArgsOf<K extends Code> = (typeof catalogue)[K] extends Entry<infer A> ? A : never;
