/**
 * Creates the root pino logger from the config (one per process, injected everywhere). Secrets are
 * redacted: authorization and cookie headers, tokens, passwords and storage credentials.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { Config } from '../config/schema.js';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-auth-token"]',
  'req.headers["x-auth-key"]',
  'res.headers["set-cookie"]',
  'res.headers["x-docker-token"]',
  '*.password',
  '*.secret',
  '*.secretkey',
  '*.accesskey',
  '*.token',
  'config.http.secret',
  'config.storage.params.password',
  'config.storage.params.secretkey',
  'config.storage.params.accesskey',
  'config.storage.params.key',
];

export function createLogger(config: Pick<Config, 'log'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.log.level,
    base: { service: 'berth' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
