#!/usr/bin/env node
// Entry for `npx imgforge` and the installed bin; Node >= 22.18 runs the TypeScript sources directly.
import { main } from '../src/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
