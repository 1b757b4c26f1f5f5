// How long `imgforge secrets init` takes for the root example (goal: under 2 s, median of 5),
// side by side in one run with the same secrets made by hand with the openssl CLI, as a shell
// script would: each key and certificate one command after another. Both in RSA-2048 (the
// default) and ECDSA-P256. Time is process start to exit; memory is imgforge's peak RSS.
//   node scripts/bench-secrets.ts [--runs 5]
// Results go to docs/bench-secrets.md.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const i = process.argv.indexOf('--runs');
const runs = i > 0 ? Number(process.argv[i + 1]) : 5;
const work = mkdtempSync(join(tmpdir(), 'imgforge-bench-secrets-'));

/** The root example, with its algorithm set. */
function config(alg: string): string {
  const file = join(work, `images-${alg}.config.ts`);
  const text = readFileSync(join(root, 'images.config.ts'), 'utf8').replace("from 'imgforge'", `from ${JSON.stringify(join(root, 'src/index.ts'))}`);
  writeFileSync(file, text.replace(/(etcd: \{ topology: 'stacked' \},)/, `$1\n    encryptionAlgorithm: '${alg}',`));
  return file;
}

/** One `imgforge secrets init --force` in a process of its own: seconds and peak RSS (MiB). */
function imgforge(file: string): { seconds: number; rssMiB: number } {
  const runner = `const { main } = await import(${JSON.stringify(join(root, 'src/cli/main.ts'))});
const code = await main(['--config', ${JSON.stringify(file)}, 'secrets', 'init', '--force'], { out: () => {}, err: (t) => process.stderr.write(t) });
process.stderr.write(JSON.stringify({ code, rss: process.resourceUsage().maxRSS }));`;
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', runner], { encoding: 'utf8', env: { ...process.env, IMGFORGE_SECRETS_DIR: join(work, 'secrets') } });
  const seconds = (performance.now() - t) / 1000;
  const out = JSON.parse(r.stderr.slice(r.stderr.lastIndexOf('{'))) as { code: number; rss: number };
  if (out.code !== 0) throw new Error(`secrets init exited ${out.code}: ${r.stderr}`);
  return { seconds, rssMiB: out.rss / 1024 };
}

/**
 * The same secrets with openssl: three CAs, the service-account key pair, and worker01's etcd
 * server, peer and healthcheck-client certificates, each key then certificate in turn.
 */
function byHand(alg: string): number {
  const key = alg === 'ECDSA-P256' ? '-algorithm EC -pkeyopt ec_paramgen_curve:P-256' : '-algorithm RSA -pkeyopt rsa_keygen_bits:2048';
  const d = join(work, 'hand');
  const script = `set -e; rm -rf ${d}; mkdir -p ${d}; cd ${d}
for ca in ca front-proxy-ca etcd-ca; do
  openssl genpkey ${key} -out $ca.key 2>/dev/null
  openssl req -x509 -new -key $ca.key -subj "/CN=$ca" -days 3650 -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" -out $ca.crt
done
openssl genpkey ${key} -out sa.key 2>/dev/null; openssl pkey -in sa.key -pubout -out sa.pub
printf 'subjectAltName=DNS:worker01,DNS:localhost,IP:192.168.1.21,IP:127.0.0.1,IP:::1\\nextendedKeyUsage=serverAuth,clientAuth\\n' >ext
for leaf in server peer healthcheck-client; do
  openssl genpkey ${key} -out $leaf.key 2>/dev/null
  openssl req -new -key $leaf.key -subj "/CN=worker01" -out $leaf.csr
  openssl x509 -req -in $leaf.csr -CA etcd-ca.crt -CAkey etcd-ca.key -days 365 -extfile ext -out $leaf.crt 2>/dev/null
done`;
  const t = performance.now();
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl by hand failed: ${r.stderr}`);
  return (performance.now() - t) / 1000;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const lines: string[] = [];
try {
  for (const alg of ['RSA-2048', 'ECDSA-P256']) {
    const file = config(alg);
    copyFileSync(file, `${file}.bak`);
    imgforge(file); byHand(alg); // warm-up: page cache, module compile cache
    const ours: { seconds: number; rssMiB: number }[] = [];
    const hand: number[] = [];
    for (let r = 0; r < runs; r++) {
      // Alternate which goes first, so neither always runs on a warmer machine.
      if (r % 2 === 0) { ours.push(imgforge(file)); hand.push(byHand(alg)); } else { hand.push(byHand(alg)); ours.push(imgforge(file)); }
    }
    const m = median(ours.map((o) => o.seconds)), h = median(hand);
    lines.push(`| ${alg} | ${m.toFixed(2)} s (${ours.map((o) => o.seconds.toFixed(2)).join(', ')}) | ${Math.max(...ours.map((o) => o.rssMiB)).toFixed(0)} MiB | ${h.toFixed(2)} s (${hand.map((x) => x.toFixed(2)).join(', ')}) | ${(m / h).toFixed(2)} |`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(`${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.versions.node}, ${new Date().toISOString().slice(0, 10)}, ${runs} runs each\n\n`);
process.stdout.write('| algorithm | imgforge secrets init: median (runs) | imgforge peak RSS | openssl by hand: median (runs) | imgforge / by hand |\n|---|---|---|---|---|\n');
process.stdout.write(`${lines.join('\n')}\n`);
