/**
 * npm's prepack and postpack steps. The repository runs its TypeScript sources directly; Node will
 * not strip types under node_modules, so the package ships JavaScript and declarations:
 *   before: compile src/ to lib/ (tsconfig.build.json) and point package.json's exports at lib/;
 *   after:  put package.json back as it was and remove lib/.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = join(root, 'package.json');
const saved = join(root, '.package.json.prepack');

const step = process.argv[2];
if (step === 'before') {
  rmSync(join(root, 'lib'), { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  copyFileSync(manifest, saved);
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
  pkg['exports'] = { '.': { types: './lib/index.d.ts', default: './lib/index.js' }, './package.json': './package.json' };
  pkg['types'] = './lib/index.d.ts';
  writeFileSync(manifest, `${JSON.stringify(pkg, null, 2)}\n`);
} else if (step === 'after') {
  if (existsSync(saved)) {
    copyFileSync(saved, manifest);
    rmSync(saved);
  }
  rmSync(join(root, 'lib'), { recursive: true, force: true });
} else {
  process.stderr.write('usage: node scripts/pack.ts before|after\n');
  process.exit(2);
}
