/**
 * imgforge init [boards...]: a commented starter images.config.ts for the boards named (one node
 * each; the first three are control planes when there are three or more, else the first), the
 * user's own SSH key when ~/.ssh has one, and .imgforge/.gitignore for the secrets folder.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { imgforgeError } from '../../errors/error.ts';
import { BUILTIN_PROFILE_DIR, loadProfileFiles } from '../../profiles/load.ts';
import { resolveProfiles } from '../../profiles/resolve.ts';
import { ignoreSecrets } from '../../secrets/store.ts';
import { json, type Io } from '../output.ts';
import type { GlobalOptions } from '../context.ts';

const KEY_FILES = ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub'];

async function userKey(): Promise<string | undefined> {
  for (const f of KEY_FILES) {
    const text = await readFile(join(process.env['HOME'] ?? homedir(), '.ssh', f), 'utf8').catch(() => undefined);
    const line = text?.split('\n').find((l) => /^(ssh-|ecdsa-)/.test(l.trim()));
    if (line) return line.trim();
  }
  return undefined;
}

/** The starter's text: every value a reader must change is said so. */
export function starter(boards: readonly string[], key: string | undefined): string {
  const cps = boards.length >= 3 ? 3 : 1;
  const nodes = boards.map((b, i) => {
    const cp = i < cps;
    const host = cp ? `cp${String(i + 1).padStart(2, '0')}` : `worker${String(i - cps + 1).padStart(2, '0')}`;
    return `    { hostname: '${host}', board: '${b}', role: '${cp ? 'control-plane' : 'worker'}', address: '192.168.1.${cp ? 11 + i : 21 + i - cps}/24' },`;
  });
  return `// imgforge cluster config: \`imgforge check\` validates it, \`imgforge plan\` shows what each node
// gets, \`imgforge build\` writes the images. Every field is documented in your editor; the forms
// values take (sizes, addresses) are in imgforge's docs/config.md.
import { defineConfig } from 'imgforge';

export default defineConfig({
  cluster: {
    name: 'homelab',
    kubernetesVersion: '1.35.3',
    // A free address on the nodes' LAN, held by one control plane at a time: the API's address.
    controlPlaneEndpoint: { vip: '192.168.1.10', provider: 'keepalived' },
    cni: { plugin: 'cilium', version: '1.19.3', kubeProxyReplacement: true },
  },
  // The LAN the nodes share: change these to yours.
  network: { gateway: '192.168.1.1', dns: ['192.168.1.1'] },
  users: [
    // The account you log in with over SSH${key ? ' (your key from ~/.ssh)' : ': put your public key here'}.
    { name: 'ops', sshAuthorizedKeys: ['${(key ?? 'REPLACE WITH YOUR SSH PUBLIC KEY (ssh-ed25519 AAAA... you@laptop)').replace(/[\\']/g, (ch) => `\\${ch}`)}'] },
  ],
  // One entry per machine. ${cps === 1 ? 'With one control plane, etcd survives no failure: three, or a worker with etcd: true, survive one.' : 'Three control planes: etcd survives one failure.'}
  nodes: [
${nodes.join('\n')}
  ],
});
`;
}

export async function initCommand(boards: readonly string[], opts: GlobalOptions & { force: boolean }, io: Io): Promise<number> {
  const known = [...resolveProfiles(await loadProfileFiles([BUILTIN_PROFILE_DIR])).keys()];
  const wanted = boards.length > 0 ? boards : ['x86'];
  for (const b of wanted) if (!known.includes(b)) throw imgforgeError('UnknownBoardName', { board: b, known: known.join(', ') });
  const path = resolve(opts.config);
  if (!opts.force && (await stat(path).catch(() => undefined))) throw imgforgeError('ConfigExists', { path });
  const key = await userKey();
  await writeFile(path, starter(wanted, key));
  await ignoreSecrets(join(dirname(path), '.imgforge'));
  if (opts.json) io.out(json({ config: path, boards: wanted, sshKey: key ? 'from ~/.ssh' : 'placeholder' }));
  else io.out(`wrote ${path} (${wanted.length} node${wanted.length === 1 ? '' : 's'}: ${wanted.join(', ')})${key ? '' : '; put your SSH public key in users[0]'}\nnext: imgforge check\n`);
  return 0;
}
