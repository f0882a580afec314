#!/usr/bin/env node
// `cocoon-verifier`, the TDX quote verifier (check and serve), from the compiled JavaScript (`npm run
// build` makes it in a checkout; `npm run verifier -- --help` runs the TypeScript directly).
require('./run').run('cocoon-verifier');
