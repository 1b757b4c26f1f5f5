// One generic image, two machines: both boot the same `build --generic` image under QEMU against
// `imgforge serve` on this host (https, its certificate's issuer baked in with --seed-ca) and each
// comes up as its own node, named by its MAC: its seed, a claim for its secrets (approved by
// --approve-first), its first boot complete as the server hears it. About 3 minutes under TCG:
// CI's boot suite (CI=true) and `npm run test:all`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cli, requireTool, ROOT, tempDir } from '../helpers.ts';
import { boot, type BootResult } from '../../src/execute/vm.ts';
import { reported } from '../../src/execute/vm-test.ts';
import { createOverlay, requireFirmware } from '../../src/tools/qemu.ts';
import { freePort, sshRun } from '../../src/tools/ssh.ts';
import { Agent, fetch } from 'undici';

const enabled = process.env['CI'] === 'true' || process.env['IMGFORGE_BOOT_TESTS'] === '1';
const CACHE = process.env['IMGFORGE_CACHE_DIR'] ?? join(ROOT, '.cache/imgforge');
// The boot-test fixture's two nodes (test/fixtures/qemu.config.mjs), told apart by their MACs only.
const MACHINES = [{ node: 'vm1', mac: '52:54:00:12:34:56', address: '10.0.2.15/24' }, { node: 'vm2', mac: '52:54:00:12:34:57', address: '10.0.2.16/24' }];

describe('a generic image boots as two nodes against imgforge serve', { skip: !enabled && 'set IMGFORGE_BOOT_TESTS=1 (CI runs it)', concurrency: false }, () => {
  const dir = tempDir('imgforge-generic-boot-');
  let config = '', key = '', image = '', port = 0, ca = '';
  let server: ChildProcess | undefined;
  let serverLog = '';
  const results = new Map<string, BootResult & { seen: Record<string, string> }>();

  before(async () => {
    for (const t of ['qemu-system-x86_64', 'qemu-img', 'mmdebstrap', 'ssh', 'ssh-keygen']) requireTool(t);
    key = join(dir, 'id_ed25519');
    assert.equal(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ops@generic-boot', '-f', key]).status, 0);
    const pub = readFileSync(`${key}.pub`, 'utf8').trim();
    config = join(dir, 'images.config.mjs');
    writeFileSync(config, `import base from ${JSON.stringify(join(ROOT, 'test/fixtures/qemu.config.mjs'))};\nexport default { ...base, users: [{ name: 'ops', sshAuthorizedKeys: [${JSON.stringify(pub)}] }] };\n`);
    port = await freePort();
    // QEMU's user network reaches this host's loopback at 10.0.2.2: that is the URL nodes are told,
    // and the name the server's certificate carries, issued by a CA of this test's own.
    const told = `https://10.0.2.2:${port}`;
    const ossl = (...args: string[]): void => { const r = spawnSync('openssl', args, { encoding: 'utf8' }); assert.equal(r.status, 0, r.stderr); };
    ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=generic boot test CA',
      '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'));
    ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=10.0.2.2', '-keyout', join(dir, 'seed.key'), '-out', join(dir, 'seed.csr'));
    writeFileSync(join(dir, 'seed.ext'), 'subjectAltName = IP:10.0.2.2, IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
    ossl('x509', '-req', '-in', join(dir, 'seed.csr'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '2',
      '-extfile', join(dir, 'seed.ext'), '-out', join(dir, 'seed.pem'));
    ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const b = await cli(['--config', config, 'build', '--generic', 'x86-debian', '--seed-url', `${told}/`, '--seed-ca', join(dir, 'ca.pem'),
      '--out', join(dir, 'out'), '--cache-dir', CACHE, '--json']);
    assert.equal(b.code, 0, b.stderr);
    image = (JSON.parse(b.stdout) as { artifacts: { image: string }[] }).artifacts[0]!.image;
    server = spawn(process.execPath, [join(ROOT, 'bin/imgforge.js'), '--config', config, 'serve', '--listen', `127.0.0.1:${port}`, '--url', told,
      '--tls-cert', join(dir, 'seed.pem'), '--tls-key', join(dir, 'seed.key'), '--approve-first', '--state-dir', join(dir, 'state'), '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stderr!.on('data', (c: Buffer) => { serverLog += c.toString(); });
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: server!.stdout! }).once('line', resolve);
      server!.once('exit', (code) => reject(new Error(`serve exited ${code}: ${serverLog}`)));
    });
    assert.equal((JSON.parse(first) as { event: string }).event, 'listening');

    const fw = requireFirmware('amd64');
    // Both at once, as two boards flashed with the same image would be: each its own overlay of it.
    await Promise.all(MACHINES.map(async ({ node, mac, address }) => {
      const work = join(dir, node);
      spawnSync('mkdir', ['-p', work]);
      await createOverlay(image, join(work, 'disk.qcow2'), 8 * 2 ** 30);
      copyFileSync(fw.vars, join(work, 'vars.fd'));
      const sshPort = await freePort();
      const seen: Record<string, string> = {};
      const ask = async (what: string, command: string): Promise<void> => { seen[what] = (await sshRun({ host: '127.0.0.1', port: sshPort, user: 'ops', key }, command)).trim(); };
      const r = await boot({
        arch: 'amd64', firmware: 'uefi', disk: join(work, 'disk.qcow2'), code: fw.code, vars: join(work, 'vars.fd'), kvm: false,
        memoryMiB: 1024, cpus: 1, mac, qmp: join(work, 'qmp.sock'), events: join(work, 'events'), sshPort, sshGuest: address.split('/')[0], reachHost: true,
      }, {
        timeoutMs: 1_200_000,
        doneOn: reported,
        giveUpOn: (e) => e.stage === 'bundle' && e.state === 'fail',
        beforePowerOff: async () => {
          // cloud-init makes the user and its key in the same stage that starts the installer: wait for them.
          for (let i = 0; ; i++) {
            try { await ask('hostname', 'hostname'); break; } catch (e) { if (i >= 30) throw e; await new Promise((res) => setTimeout(res, 10_000)); }
          }
          await ask('seedfrom', 'cat /etc/cloud/cloud.cfg.d/99_imgforge-seed.cfg');
          await ask('instance', 'cat /var/lib/cloud/data/instance-id');
          await ask('addresses', "ip -4 -o addr show scope global | awk '{print $4}'");
          await ask('secrets', 'sudo sh -c "cd / && sha256sum -c --quiet usr/local/lib/imgforge/SECRETS.SHA256SUMS && echo whole"');
          // The node posts its report to the server (post-events, a few seconds after the spool
          // changes): keep it running until the server has heard it.
          for (let i = 0; i < 90 && (await nodeStatus(node))?.phase !== 'complete'; i++) await new Promise((res) => setTimeout(res, 1000));
        },
      });
      writeFileSync(join(work, 'console.log'), r.lines.map((l) => `[${l.t.toFixed(1)}] ${l.text}\n`).join(''));
      results.set(node, { ...r, seen });
    }));
  });

  type NodeSeen = { hostname: string; phase: string; claims: { state: string }[] };
  const nodeStatus = async (node: string): Promise<NodeSeen | undefined> => {
    const r = await fetch(`https://127.0.0.1:${port}/status.json`, { dispatcher: new Agent({ connect: { ca } }) });
    return ((await r.json()) as { nodes: NodeSeen[] }).nodes.find((n) => n.hostname === node);
  };

  after(() => {
    server?.kill('SIGTERM');
  });

  test('each machine takes its own seed by its MAC over https, its hostname and address, claims its secrets and completes its first boot', async () => {
    for (const { node, mac, address } of MACHINES) {
      const r = results.get(node)!;
      assert.equal(r.outcome, 'done', `${node}: ${r.outcome} ${r.hookError ?? ''}\n${r.lines.slice(-30).map((l) => l.text).join('\n')}`);
      assert.equal(r.hookError, undefined, `${node}: ${r.hookError}`);
      assert.equal(r.seen['hostname'], node);
      assert.match(r.seen['seedfrom']!, new RegExp(`seedfrom: https://10\\.0\\.2\\.2:${port}/by-mac/${mac}/`));
      assert.match(r.seen['instance']!, new RegExp(`^iid-${node}-[0-9a-f]{16}$`));
      // Its own address from the config, not the DHCP lease both machines got first (10.0.2.15).
      assert.equal(r.seen['addresses'], address, `${node}: ${r.seen['addresses']}`);
      assert.equal(r.seen['secrets'], 'whole', `${node}: its secrets installed, as node.json pins them`);
      const report = r.events.find((e) => reported(e.event))!.event;
      assert.equal(report.state, 'ok', `${node}: ${JSON.stringify(report)}`);
      assert.ok(r.events.some((e) => e.event.stage === 'bundle' && e.event.state === 'note' && /claim [0-9a-f]{12} approved/.test(e.event.msg ?? '')), `${node}: its claim was approved`);
    }
  });

  test('the server saw both: each node\'s seed fetched by MAC, then its bundle; both complete in its status, their claims approved', async () => {
    const fetches = readFileSync(join(dir, 'state/fetches.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { node: string; file: string; by?: string; path?: string });
    for (const { node } of MACHINES) {
      const mine = fetches.filter((f) => f.node === node).map((f) => f.file);
      for (const f of ['meta-data', 'user-data', 'vendor-data', 'imgforge-bundle.tar']) assert.ok(mine.includes(f), `${node} fetched ${f}: ${mine.join(', ')}`);
    }
    // The nodes post their stages once their claims give them the secret: both complete, as the server heard it.
    for (const { node } of MACHINES) {
      const s = (await nodeStatus(node))!;
      assert.equal(s.phase, 'complete', `${node}: ${JSON.stringify(s)}`);
      assert.deepEqual(s.claims.map((c) => c.state), ['approved'], node);
    }
    const served = readFileSync(join(dir, 'state/secrets-served.jsonl'), 'utf8');
    for (const { node } of MACHINES) assert.match(served, new RegExp(`"node":"${node}"`), `${node}'s secrets were served, and logged`);
    assert.match(serverLog, /"path":"\/by-mac\/52:54:00:12:34:56\/meta-data","status":200/);
    assert.match(serverLog, /"path":"\/by-mac\/52:54:00:12:34:57\/meta-data","status":200/);
  });
});
