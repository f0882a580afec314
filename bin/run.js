'use strict';
// Shared by the command shims (bin/cocoon.js, bin/cocoon-worker.js): runs dist/bin/NAME.js, the
// command compiled by `npm run build`, after checking the optional peer dependencies it needs.
// Nothing here loads TypeScript; from a checkout, `npm run cocoon` / `npm run worker` run the sources.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

/**
 * @param {string} name the command (dist/bin/NAME.js)
 * @param {Record<string, string>} needs optional peer dependency -> what the command uses it for
 */
exports.run = function run(name, needs = {}) {
    const compiled = join(__dirname, '..', 'dist', 'bin', `${name}.js`);
    if (!existsSync(compiled)) {
        console.error(`${name}: ${compiled} is missing; in a checkout, run \`npm run build\` first.`);
        process.exit(1);
    }
    for (const [dep, why] of Object.entries(needs)) {
        try {
            require.resolve(dep);
        } catch {
            console.error(`${name} needs ${dep} (${why}), an optional peer dependency of cocoon-ton: npm install ${dep}`);
            process.exit(1);
        }
    }
    require(compiled);
};
