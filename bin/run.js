'use strict';
// Shared by the command shims (bin/cocoon.js, bin/cocoon-worker.js, bin/cocoon-verifier.js).
// - Installed from the package (no bin/NAME.ts next to this file): runs dist/bin/NAME.js, the
//   command compiled by `npm run build`, after checking the optional peer dependencies it needs.
//   Nothing on this path loads TypeScript.
// - In a checkout (bin/NAME.ts is here): runs the TypeScript source through ts-node (a dev
//   dependency), so `node bin/NAME.js` never runs a stale build.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

/**
 * @param {string} name the command (dist/bin/NAME.js, or bin/NAME.ts in a checkout)
 * @param {Record<string, string>} needs optional peer dependency -> what the command uses it for
 */
exports.run = function run(name, needs = {}) {
    for (const [dep, why] of Object.entries(needs)) {
        try {
            require.resolve(dep);
        } catch {
            console.error(`${name} needs ${dep} (${why}), an optional peer dependency of cocoon-ton: npm install ${dep}`);
            process.exit(1);
        }
    }
    const source = join(__dirname, `${name}.ts`);
    if (existsSync(source)) {
        require('ts-node').register({ transpileOnly: true, compilerOptions: { module: 'commonjs' } });
        require(source);
        return;
    }
    const compiled = join(__dirname, '..', 'dist', 'bin', `${name}.js`);
    if (!existsSync(compiled)) {
        console.error(`${name}: ${compiled} is missing: the package was not built (npm run build).`);
        process.exit(1);
    }
    require(compiled);
};
