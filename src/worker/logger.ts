// Structured logs. Nothing secret is ever passed to the logger; the redaction is a second guard.
import pino, { Logger } from 'pino';

export const REDACTED_PATHS = [
    'seed', '*.seed', 'privateKey', '*.privateKey', 'secretKey', '*.secretKey', 'mnemonic', '*.mnemonic',
    'apiKey', '*.apiKey', 'headers.authorization', '*.headers.authorization', 'keyPem', '*.keyPem',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
    return pino({ name: 'cocoon-worker', level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
}

export type { Logger };
