#!/usr/bin/env node
// `cocoon`, the client command, from the compiled JavaScript (`npm run build` makes it in a checkout;
// `npm run cocoon -- --help` runs the TypeScript directly). `--network sandbox` also needs
// @ton/sandbox and better-sqlite3 (it starts worker nodes on a local chain).
require('./run').run('cocoon');
