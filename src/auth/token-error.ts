/**
 * TokenError: a bearer or refresh token that must not be honoured. The reason is what the
 * challenge's `error=` says (`invalid_token`); the message names the check that failed (never the
 * token itself), for debug logs.
 */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly reason = 'invalid_token' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
