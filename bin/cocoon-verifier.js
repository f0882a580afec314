#!/usr/bin/env node
// Runs bin/cocoon-verifier.ts through ts-node (installed with the project): `npx cocoon-verifier --help` after `npm link`,
// or `npm run verifier -- --help` from the checkout.
require('ts-node').register({ transpileOnly: true, compilerOptions: { module: 'commonjs' } });
require('./cocoon-verifier.ts');
