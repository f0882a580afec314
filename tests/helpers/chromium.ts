// Finding Debian's Chromium for the browser tests (apt-get install -y chromium). The flags it needs
// here (closed network, root, no GPU) are in tests/browser/dashboard.mjs.
import { existsSync } from 'node:fs';

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** $COCOON_CHROMIUM, else the first browser found at the usual paths; null when none is installed. */
export function findChromium(): string | null {
    const env = process.env.COCOON_CHROMIUM;
    if (env) return existsSync(env) ? env : null;
    return CHROMIUM_CANDIDATES.find((p) => existsSync(p)) ?? null;
}
