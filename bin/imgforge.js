#!/usr/bin/env node
// Entry for `npx imgforge` and the installed bin. Plain JavaScript, so that an old Node gets a clear
// message instead of a loader error: Node >= 22.18 runs imgforge's TypeScript sources directly.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `Node.js is too old: Node ${process.versions.node} cannot load TypeScript files natively.\n` +
      'hint: Install Node 22.18 or newer (24 LTS preferred); `npm install node@24` provides it without root.\n',
  );
  process.exit(4);
}
// In the repository, the TypeScript sources; in the installed package, the JavaScript built from
// them (Node does not strip types under node_modules; npm pack builds lib/).
const { existsSync } = await import('node:fs');
// V8's code cache for the modules below (Node's module.enableCompileCache, in $TMPDIR/node-compile-cache):
// start-up falls from about 0.6 s to 0.2 s, which short commands such as flash feel.
(await import('node:module')).enableCompileCache?.();
const main = existsSync(new URL('../src/cli/main.ts', import.meta.url)) ? '../src/cli/main.ts' : '../lib/cli/main.js';
const { entry } = await import(main);
await entry(process.argv.slice(2));
