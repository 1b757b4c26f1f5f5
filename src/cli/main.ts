#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { imgforgeError, isImgforgeError } from '../errors/error.ts';
import type { BuildFlags } from './commands/build.ts';
import type { PlanFlags } from './commands/plan.ts';
import type { TestFlags } from './commands/test.ts';
import type { LabFlags } from './commands/lab.ts';
import type { FlashFlags } from './commands/flash.ts';
import type { ServeFlags } from './commands/serve.ts';
import type { GlobalOptions } from './context.ts';
import { VERSION } from './version.ts';
import { errorJson, formatBug, formatError, json, processIo, type Io } from './output.ts';

function httpUrl(value: string): string {
  let url: URL | undefined;
  try { url = new URL(value); } catch { /* reported below */ }
  if (!url || !['http:', 'https:'].includes(url.protocol) || /[\s'"\\]/.test(value)) throw new InvalidArgumentError(`takes an http:// or https:// URL, not "${value}"`);
  return value;
}

function program(io: Io, done: (code: number) => void): Command {
  const cli = new Command('imgforge')
    .description('Flashable Ubuntu images that assemble an HA kubeadm cluster on power-on')
    .version(VERSION)
    .option('-c, --config <file>', 'cluster config', './images.config.ts')
    .option('--json', 'machine-readable output', false)
    .option('--debug', 'show stacks and tool commands on errors', false)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => undefined });
  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  // Each command's modules load when it runs: a process holds only what its command needs
  // (start-up memory counts against the build's RSS budget).
  const commands = {
    profiles: () => import('./commands/profiles.ts'), check: () => import('./commands/check.ts'), render: () => import('./commands/render.ts'),
    plan: () => import('./commands/plan.ts'), build: () => import('./commands/build.ts'), inspect: () => import('./commands/inspect.ts'),
    test: () => import('./commands/test.ts'), secrets: () => import('./commands/secrets.ts'), audit: () => import('./commands/audit.ts'),
    init: () => import('./commands/init.ts'), lab: () => import('./commands/lab.ts'), flash: () => import('./commands/flash.ts'),
    serve: () => import('./commands/serve.ts'), status: () => import('./commands/status.ts'), approve: () => import('./commands/approve.ts'),
  };
  cli.command('init').description('write a commented starter images.config.ts (at --config) for the boards named, and .imgforge/.gitignore for the secrets')
    .argument('[boards...]', 'board profile names, one node each (default: x86)')
    .option('--force', 'replace an existing config', false)
    .option('--json', 'machine-readable output')
    .action(async (boards: string[], _o, cmd: Command) => done(await (await commands.init()).initCommand(boards, { ...globals(cmd), ...cmd.opts<{ force: boolean }>() }, io)));
  cli.command('profiles').description('list the board profiles')
    .option('--json', 'machine-readable output')
    .action(async (_o, cmd: Command) => done(await (await commands.profiles()).profilesCommand(globals(cmd), io)));
  cli.command('check').description('validate the config and the cluster topology')
    .option('--json', 'machine-readable output')
    .action(async (_o, cmd: Command) => done(await (await commands.check()).checkCommand(globals(cmd), io)));
  cli.command('render').description("write a node's NoCloud seed (user-data, meta-data, network-config, vendor-data), its bundle, and tree/ with every file the node receives")
    .argument('<node>', 'node hostname')
    .requiredOption('-o, --out <dir>', 'output folder')
    .option('--bundle-url <url>', 'the node fetches its bundle from this http(s) URL instead of the CIDATA partition (a stock cloud image driven by a seed alone)', httpUrl)
    .option('--force', 'render even when check finds errors', false)
    .option('--json', 'machine-readable output')
    .action(async (node: string, _o, cmd: Command) => done(await (await commands.render()).renderCommand(node, { ...globals(cmd), ...cmd.opts<{ out: string; force: boolean; bundleUrl?: string }>() }, io)));
  cli.command('plan').description('print the resolved plan for the targets (node hostnames or board names; default all): stages, bundle, seed, and the image\'s partition table once its base is cached')
    .argument('[targets...]', 'node hostnames or board profile names')
    .option('--force', 'plan even when check finds errors', false)
    .option('--base <file|url>', 'plan the image from this base instead of the profile\'s')
    .option('--disk-size <size>', 'plan the final partition table for a disk of this size, as build --disk-size writes it')
    .option('--cache-dir <dir>', 'where bases are cached (default: $XDG_CACHE_HOME/imgforge)')
    .option('--json', 'machine-readable output')
    .action(async (targets: string[], _o, cmd: Command) => done(await (await commands.plan()).planCommand(targets, { ...globals(cmd), ...cmd.opts<PlanFlags>() }, io)));
  cli.command('build').description('build flashable images for the targets (node hostnames or board names; default all)')
    .argument('[targets...]', 'node hostnames or board profile names')
    .option('-o, --out <dir>', 'output folder', 'dist')
    .option('--base <file|url>', 'base image to use instead of the profile\'s')
    .option('--disk-size <size>', 'size of the target disk (e.g. 1TB): write the final partition table')
    .addOption(new Option('--compress <kind>', 'also write a compressed copy').choices(['zstd', 'xz']))
    .option('--allow-unverified', 'use a base that has no checksum to verify', false)
    .option('--cache-dir <dir>', 'where verified bases are kept (default: $XDG_CACHE_HOME/imgforge)')
    .option('--force', 'build even when check finds errors', false)
    .option('--generic <board>', 'one image for every node of this board, which takes its seed from imgforge serve (see --seed-url)')
    .option('--seed-url <url>', 'with --generic: the seed server\'s https URL as nodes reach it, ending in / (https://192.168.1.5:8443/)')
    .addOption(new Option('--match <id>', 'with --generic: what names a machine to the seed server (default mac; lan: its MAC as the server\'s neighbour table sees it)').choices(['mac', 'uuid', 'serial', 'lan']))
    .option('--seed-ca <file>', 'with --generic: the certificate nodes trust for the seed server (its issuer, or itself), when the base does not')
    .option('--json', 'machine-readable output')
    .action(async (targets: string[], _o, cmd: Command) => done(await (await commands.build()).buildCommand(targets, { ...globals(cmd), ...cmd.opts<BuildFlags>() }, io)));
  cli.command('flash').description('write an image (or a node\'s, built if missing) to a drive or file: only its mapped blocks, checked as read, the final partition table for the drive\'s size, then read back')
    .argument('[image|node]', 'image file, or a node hostname')
    .argument('[drive]', 'whole drive (/dev/sdb, /dev/disk/by-id/...) or a file')
    .option('--map <node=drive,...>', 'flash several nodes, each to its own drive, at once')
    .option('--yes', 'write without asking (required when stdin is not a terminal)', false)
    .option('--no-verify', 'skip reading the drive back')
    .option('--wipe', 'overwrite a drive that holds data (file systems, LVM, Ceph, ZFS, mdraid, LUKS)', false)
    .option('-o, --out <dir>', 'where a node\'s image is found or built', 'dist')
    .option('--base <file|url>', 'base image to build a node from')
    .option('--allow-unverified', 'build from a base that has no checksum to verify', false)
    .option('--cache-dir <dir>', 'base image cache')
    .option('--json', 'JSON lines: the plan, progress and result events')
    .action(async (image: string | undefined, drive: string | undefined, _o, cmd: Command) => done(await (await commands.flash()).flashCommand(image, drive, { ...globals(cmd), ...cmd.opts<FlashFlags>() }, io)));
  cli.command('serve').description('serve every node\'s NoCloud seed and bundle on the LAN (by hostname, MAC, SMBIOS serial or UUID), its secrets only to its enrolment secret; keep the events nodes post')
    .option('--listen <address:port>', 'where to listen', '127.0.0.1:8080')
    .option('--url <url>', 'the http(s)://host:port nodes reach the server at (default: from --listen)')
    .option('--tls-cert <file>', 'serve https with this PEM certificate (chain); nodes fetch their secrets over https only')
    .option('--tls-key <file>', 'its PEM private key')
    .option('--state-dir <dir>', 'events, fetches, unknown machines and the log of served secrets (default: .imgforge/serve beside the config)')
    .option('--rate <n>', 'requests per minute per address (0: no limit)', '600')
    .option('--stale-after <seconds>', 'a node silent this long mid-boot shows as stale', '900')
    .option('--dry-run', 'print the plan (routes, nodes, files, which need the enrolment secret) and exit', false)
    .option('--reveal', 'with --dry-run: print each node\'s enrolled seed URL, which carries its enrolment secret', false)
    .option('--force', 'serve even when check finds errors', false)
    .option('--approve-first', 'approve a node\'s first claim (a machine booted from a generic image) as it is made, unseen: trust on first use, for a lab or a trusted LAN only', false)
    .option('--json', 'machine-readable output')
    .action(async (_o, cmd: Command) => done(await (await commands.serve()).serveCommand({ ...globals(cmd), ...cmd.opts<ServeFlags>() }, io)));
  cli.command('approve').description('approve the claim of a machine booted from a generic image: imgforge serve answers its next poll with the node\'s enrolment secret')
    .argument('<node>', 'node hostname')
    .argument('[claim-id]', 'the claim to approve, as imgforge status lists it (needed when the node has several pending)')
    .option('--state-dir <dir>', 'imgforge serve\'s state folder (default: .imgforge/serve beside the config)')
    .option('--json', 'machine-readable output')
    .action(async (node: string, id: string | undefined, _o, cmd: Command) =>
      done(await (await commands.approve()).approveCommand(node, id, { ...globals(cmd), ...cmd.opts<{ stateDir?: string }>() }, io)));
  cli.command('status').description('each node\'s phase, stage and last problem, and the unknown machines, as a running imgforge serve knows them')
    .argument('[nodes...]', 'also show these nodes\' timelines and last messages')
    .option('--server <url>', 'the seed server', httpUrl, 'http://127.0.0.1:8080')
    .option('--json', 'machine-readable output')
    .action(async (nodes: string[], _o, cmd: Command) => done(await (await commands.status()).statusCommand({ ...globals(cmd), ...cmd.opts<{ server: string }>(), nodes }, io)));
  const secrets = cli.command('secrets').description('the cluster\'s CAs, keys, bootstrap token and certificates, kept beside the config (.imgforge/secrets/<cluster>.yaml)');
  secrets.command('init').description('make the cluster\'s secrets; build and render do it on first use')
    .option('--force', 'replace existing secrets (every image built before becomes stale)', false)
    .option('--json', 'machine-readable output')
    .action(async (_o, cmd: Command) => done(await (await commands.secrets()).secretsInit({ ...globals(cmd), ...cmd.opts<{ force: boolean }>() }, io)));
  secrets.command('show').description('kinds, fingerprints, algorithms, validity, the CA hash and the token\'s id and expiry; never a key\'s bytes')
    .option('--json', 'machine-readable output')
    .action(async (_o, cmd: Command) => done(await (await commands.secrets()).secretsShow(globals(cmd), io)));
  secrets.command('rotate-token').description('a new bootstrap token, valid for cluster.bootstrapTokenTtl: for the named nodes (flashed late; no other seed changes), else for every node')
    .argument('[nodes...]', 'hostnames of the nodes flashed late')
    .option('--json', 'machine-readable output')
    .action(async (nodes: string[], _o, cmd: Command) => done(await (await commands.secrets()).secretsRotateToken(nodes, globals(cmd), io)));
  secrets.command('issue').description('certificates for etcd members that are new or readdressed; the CAs and the rest stay')
    .option('--json', 'machine-readable output')
    .action(async (_o, cmd: Command) => done(await (await commands.secrets()).secretsIssue(globals(cmd), io)));
  cli.command('inspect').description('show an image\'s partitions, seed and manifest, and whether it verifies; or, given a flashed drive, its node, seed and image, and whether the parts that stay as flashed do')
    .argument('<image|drive>', 'image file, or a flashed drive')
    .option('--image <file>', 'a drive: the image it was flashed from (default: <out>/<node>.img)')
    .option('-o, --out <dir>', 'a drive: where its node\'s image is', 'dist')
    .option('--json', 'machine-readable output')
    .action(async (image: string, _o, cmd: Command) => done(await (await commands.inspect()).inspectCommand(image, { ...globals(cmd), ...cmd.opts<{ image?: string; out: string }>() }, io)));
  cli.command('audit').description('every private key an image, seed folder or render tree carries, by kind and the node\'s role; exit 1 when a node other than a control plane holds a CA or service-account key, or a key file is not 0600')
    .argument('<image|folder...>', 'image files or folders')
    .option('--json', 'machine-readable output')
    .action(async (targets: string[], _o, cmd: Command) => done(await (await commands.audit()).auditCommand(targets, globals(cmd), io)));
  cli.command('test').description('boot an image (or build and boot a node) under QEMU and check what the node reports against its plan')
    .argument('<image|node>', 'image file, or a node hostname to build first')
    .option('--disk-size <size>', 'virtual disk size, larger than the image to exercise the layout stage', '16GiB')
    .option('--timeout <seconds>', 'per boot', '900')
    .option('--keep', 'keep the overlay disk and console logs', false)
    .option('--kill-at <regex>', 'cut the power when a console line matches, then boot again (crash safety)')
    .option('--plant-stale', 'write a stale signature where the first raw reserved partition will go', false)
    .addOption(new Option('--firmware <kind>', 'boot by UEFI (OVMF) or legacy BIOS (SeaBIOS); default: the first the board\'s profile lists').choices(['uefi', 'bios']))
    .addOption(new Option('--accel <kind>', 'KVM, or TCG emulation; auto takes KVM where it can run the guest').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--memory <MiB>', 'guest memory', '2048')
    .option('--cpus <n>', 'guest CPUs', '2')
    .option('--ssh-key <file>', 'private key of the config\'s first user, for the checks made over SSH (--plant-osd)')
    .option('--plant-osd', 'after the first boot, write a Ceph OSD label on the first raw reserved partition and delete /var/lib/imgforge over SSH; the second boot must keep the OSD', false)
    .option('-o, --out <dir>', 'where a node is built', 'dist')
    .option('--base <file|url>', 'base image to build a node from')
    .option('--cache-dir <dir>', 'base image cache')
    .option('--json', 'machine-readable output')
    .action(async (target: string, _o, cmd: Command) => done(await (await commands.test()).testCommand(target, { ...globals(cmd), ...cmd.opts<TestFlags>() }, io)));
  const lab = cli.command('lab').description('boot the config\'s nodes together in QEMU on one LAN, without root, and watch the cluster assemble');
  const labOpts = (c: Command): Command => c.option('--dir <dir>', 'lab folder (default: .imgforge/lab beside the config)').option('--json', 'machine-readable output');
  const labFlags = (cmd: Command): GlobalOptions & LabFlags => ({ ...globals(cmd), ...cmd.opts<LabFlags>() });
  labOpts(lab.command('up').description('build the nodes\' images, boot them on the lab LAN and follow their events until the cluster has formed or --timeout passes; the VMs stay up')
    .argument('[nodes...]', 'node hostnames or board names (default: all)')
    .option('--offline', 'every node on the Debian base built from packages, nothing downloaded from the internet (air-gapped sites, CI)')
    .option('--source <dir>', 'a package source the lab serves to the nodes: kubernetes/ (as pkgs.k8s.io), downloads/<host>/<path>, and its packages.yaml with their fingerprints and digests')
    .option('--timeout <seconds>', 'how long to wait for the cluster to form', '3600')
    .option('--no-follow', 'return once the VMs are started (then lab status)')
    .option('--memory <MiB>', 'memory per VM', '1280')
    .option('--cpus <n>', 'CPUs per VM', '1')
    .option('--cache-dir <dir>', 'base image cache'))
    .action(async (nodes: string[], _o, cmd: Command) => done(await (await commands.lab()).labUpCommand(nodes, labFlags(cmd), io)));
  labOpts(lab.command('status').description('each node\'s power, stage and report, and whether the cluster has formed'))
    .action(async (_o, cmd: Command) => done(await (await commands.lab()).labStatusCommand(labFlags(cmd), io)));
  for (const action of ['kill', 'start'] as const) {
    labOpts(lab.command(action).description(action === 'kill' ? 'cut a node\'s power (as pulling its plug)' : 'power a node on again (its disk as it was)').argument('<node>'))
      .action(async (node: string, _o, cmd: Command) => done(await (await commands.lab()).labPowerCommand(action, node, labFlags(cmd), io)));
  }
  labOpts(lab.command('ssh').description('a shell on a node, or run a command there and exit with its status, as ssh does')
    .argument('<node>').argument('[command...]', 'after --: the command and its arguments')
    .option('--key <file>', 'private key (default: ssh\'s own keys and agent)'))
    .action(async (node: string, command: string[], _o, cmd: Command) => done(await (await commands.lab()).labSshCommand(node, command, labFlags(cmd))));
  labOpts(lab.command('down').description('power off every VM of the lab and remove its state (the built images stay)'))
    .action(async (_o, cmd: Command) => done(await (await commands.lab()).labDownCommand(labFlags(cmd), io)));
  return cli;
}

/** Run the CLI; returns the exit code. The only place that prints errors and decides exit codes. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let code = 0;
  const cli = program(io, (c) => { code = c; });
  const wantsJson = argv.includes('--json');
  const debug = argv.includes('--debug');
  try {
    await cli.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    let error = e;
    if (e instanceof CommanderError || e instanceof InvalidArgumentError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      error = imgforgeError('BadFlag', { detail: e.message.replace(/^error: /, '') });
    }
    if (isImgforgeError(error)) {
      if (wantsJson) io.out(json(errorJson(error)));
      io.err(formatError(error, debug));
      return error.exitCode;
    }
    io.err(formatBug(error, VERSION, debug));
    return 70;
  }
}

/** The process entry (bin/imgforge.js, or this file run directly): the only place that sets the exit code. */
export async function entry(argv: readonly string[]): Promise<void> {
  // A reader that stops early (`imgforge plan | head`) closes the pipe: the rest is unwanted, as
  // with any Unix filter, and the command still finishes what it writes to disk.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'EPIPE') throw e; });
  process.exitCode = await main(argv);
}

if (import.meta.main) await entry(process.argv.slice(2));
