#!/usr/bin/env node
// Runs bin/cocoon.ts through ts-node (installed with the project): `npx cocoon --help` after `npm link`,
// or `npm run cocoon -- --help` from the checkout.
require('ts-node').register({ transpileOnly: true, compilerOptions: { module: 'commonjs' } });
require('./cocoon.ts').main();
