#!/usr/bin/env node
// `cocoon-worker`, the worker node, from the compiled JavaScript (`npm run build` makes it in a
// checkout; `npm run worker -- --help` runs the TypeScript directly).
require('./run').run('cocoon-worker', { 'better-sqlite3': 'the receipt ledger' });
