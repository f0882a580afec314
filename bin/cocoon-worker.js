#!/usr/bin/env node
// Runs bin/cocoon-worker.ts through ts-node (installed with the project): `npx cocoon-worker --help` after `npm link`,
// or `npm run worker -- --help` from the checkout.
require('ts-node').register({ transpileOnly: true, compilerOptions: { module: 'commonjs' } });
require('./cocoon-worker.ts').run();
