// The lab under QEMU (boot suite: CI=true or IMGFORGE_BOOT_TESTS=1): two nodes on one LAN, one of
// them an ODROID-M1 run as an x86 VM, offline on the Debian base built from packages. Asserted on
// the nodes' events (lab status), on what the nodes reach, and on the host's processes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { labFixture, type LabFixture } from '../lab/fixture.ts';
import { cli, requireTool, ROOT } from '../helpers.ts';

const enabled = process.env['CI'] === 'true' || process.env['IMGFORGE_BOOT_TESTS'] === '1';
const CACHE = process.env['IMGFORGE_CACHE_DIR'] ?? join(ROOT, '.cache/imgforge');

interface Status {
  formed: boolean;
  lan: string;
  nodes: { hostname: string; board: string; runsAs: string | null; power: string; boots: number; reported: string | null; stage: string | null }[];
}

/** Processes working in the lab folder: every QEMU of the lab runs there. */
const labProcesses = (dir: string): number[] => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
  try {
    return readlinkSync(`/proc/${p}/cwd`) === dir ? [Number(p)] : [];
  } catch {
    return [];
  }
});

describe('lab', { skip: !enabled && 'set IMGFORGE_BOOT_TESTS=1 (CI runs them)', concurrency: false }, () => {
  let config = '', lab = '';
  let ssh: LabFixture['ssh'] = () => Promise.reject(new Error('no lab fixture'));
  let server: Server | undefined;
  const run = (args: string[]) => cli(['--config', config, 'lab', ...args]);
  const status = async (): Promise<Status> => JSON.parse((await run(['status', '--json'])).stdout) as Status;

  before(() => {
    for (const t of ['qemu-system-x86_64', 'qemu-img', 'mmdebstrap', 'ssh', 'ssh-keygen']) requireTool(t);
    // vm2 is an ODROID-M1 worker: the lab runs it as an x86 VM and says so. No self-assembly here:
    // the lab is proven as a LAN of booted nodes; the assembly lab test builds on it.
    ({ config, lab, ssh } = labFixture(`export default { ...base, cluster: { ...base.cluster, selfAssembly: false }, users,
  nodes: [{ ...vm1, overrides: undefined }, { ...vm2, board: 'odroid-m1', overrides: undefined }] };`));
  });

  after(async () => {
    server?.close();
    if (existsSync(join(lab, 'lab.json'))) await run(['down']);
  });

  test('lab up --offline: both nodes boot on one LAN and report; the ODROID runs as an x86 VM, said in the output', async () => {
    const r = await run(['up', '--offline', '--json', '--timeout', '1200', '--cache-dir', CACHE]);
    const up = JSON.parse(r.stdout) as Status & { outcome: string };
    assert.equal(r.code, 0, r.stdout);
    assert.equal(up.outcome, 'formed');
    assert.deepEqual(up.nodes.map((n) => [n.hostname, n.board, n.runsAs, n.power, n.reported]), [['vm1', 'x86-debian', null, 'on', 'ok'], ['vm2', 'odroid-m1', 'x86-debian', 'on', 'ok']]);
    for (const f of ['router.log', 'switch.log', 'vm1.qemu.log', 'vm1.console', 'vm2.events']) assert.ok(existsSync(join(lab, f)), `${f} is in the lab folder`);
    const text = await run(['status']);
    assert.match(text.stdout, /vm2 +on +worker +odroid-m1 as x86-debian/);
  });

  test('the nodes share the LAN at their config addresses, reach the host at the gateway, and lab ssh returns the command\'s status', async () => {
    assert.match((await ssh('vm1', 'timeout 10 bash -c "echo > /dev/tcp/10.0.2.16/22" && echo vm2-answers')).out, /vm2-answers/);
    server = createServer((_q, s) => s.end('served-by-the-host\n'));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const got = await ssh('vm2', `timeout 10 bash -c 'exec 3<>/dev/tcp/10.0.2.2/${port}; printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3'`);
    assert.match(got.out, /served-by-the-host/);
    assert.equal((await ssh('vm2', 'exit 7')).code, 7);
    assert.equal((await ssh('vm1', 'hostname')).out.trim(), 'vm1');
  });

  test('lab kill cuts a node\'s power (the other no longer reaches it); lab start boots the same disk again', async () => {
    assert.equal((await run(['kill', 'vm2'])).code, 0);
    assert.equal((await status()).nodes[1]!.power, 'off');
    assert.notEqual((await ssh('vm1', 'timeout 5 bash -c "echo > /dev/tcp/10.0.2.16/22"')).code, 0, 'nothing answers for a node without power');
    assert.equal((await ssh('vm2', 'true')).code, 2, 'ssh to a node without power is refused by the lab');
    assert.equal((await run(['start', 'vm2'])).code, 0);
    let vm2 = (await status()).nodes[1]!;
    for (let i = 0; i < 120 && !(vm2.boots === 2 && vm2.reported === 'ok'); i++) {
      await new Promise((r) => setTimeout(r, 5000));
      vm2 = (await status()).nodes[1]!;
    }
    assert.deepEqual([vm2.power, vm2.boots, vm2.reported], ['on', 2, 'ok'], 'the second boot of the same disk reported');
  });

  test('lab down ends every QEMU of the lab and its state; the images stay', async () => {
    assert.ok(labProcesses(lab).length >= 4, 'switch, router and two VMs were running');
    const r = await run(['down']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(labProcesses(lab), [], 'no QEMU is left');
    assert.deepEqual(readdirSync(lab), ['images']);
    assert.equal((await run(['status'])).code, 2);
  });
});
