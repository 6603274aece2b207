/**
 * THE table of registry error codes: wire code → HTTP status and default message. Nothing else in
 * Berth defines an error status. v2 codes are the OCI distribution-spec's (plus distribution's
 * Docker extensions); `test/errors-doc.test.ts` keeps README's table in sync with this one.
 */

export interface ErrorDescriptor {
  /** HTTP status the code is sent with (unless a documented case overrides it). */
  readonly status: number;
  /** Default human-readable message. */
  readonly message: string;
  /** Longer description for docs. */
  readonly description: string;
}

export const ERROR_CODES = {
  BLOB_UNKNOWN: {
    status: 404,
    message: 'blob unknown to registry',
    description: 'The blob is not in the repository (or not at all).',
  },
  BLOB_UPLOAD_INVALID: {
    status: 400,
    message: 'blob upload invalid',
    description: 'The upload request is malformed or does not fit the upload session.',
  },
  BLOB_UPLOAD_UNKNOWN: {
    status: 404,
    message: 'blob upload unknown to registry',
    description: 'The upload session does not exist (finished, cancelled, purged or never started).',
  },
  DIGEST_INVALID: {
    status: 400,
    message: 'provided digest did not match uploaded content',
    description: 'The digest is malformed, uses an unsupported algorithm, or does not match the content.',
  },
  MANIFEST_BLOB_UNKNOWN: {
    status: 400,
    message: 'manifest references a manifest or blob unknown to registry',
    description: 'A descriptor in the manifest points to content the repository does not have.',
  },
  MANIFEST_INVALID: {
    status: 400,
    message: 'manifest invalid',
    description: 'The manifest is not valid JSON or does not follow its media type.',
  },
  MANIFEST_UNKNOWN: {
    status: 404,
    message: 'manifest unknown to registry',
    description: 'No manifest with this tag or digest in the repository (or none the client accepts).',
  },
  MANIFEST_UNVERIFIED: {
    status: 400,
    message: 'manifest failed signature verification',
    description: 'A signed schema1 manifest whose signature does not verify.',
  },
  NAME_INVALID: {
    status: 400,
    message: 'invalid repository name',
    description: 'The repository name does not follow the distribution-spec grammar.',
  },
  NAME_UNKNOWN: {
    status: 404,
    message: 'repository name not known to registry',
    description: 'The repository does not exist.',
  },
  SIZE_INVALID: {
    status: 400,
    message: 'provided length did not match content length',
    description: 'A length (Content-Length, Content-Range, size) is wrong; 413 when a body exceeds a limit.',
  },
  TAG_INVALID: {
    status: 400,
    message: 'manifest tag did not match URI',
    description: 'The tag is malformed, or a schema1 manifest names another tag.',
  },
  UNAUTHORIZED: {
    status: 401,
    message: 'authentication required',
    description: 'Credentials are missing or wrong; the WWW-Authenticate header says how to authenticate.',
  },
  DENIED: {
    status: 403,
    message: 'requested access to the resource is denied',
    description: 'The credentials are valid but do not grant this action on this resource.',
  },
  UNSUPPORTED: {
    status: 405,
    message: 'The operation is unsupported.',
    description: 'The operation is disabled by configuration (deletes, read-only mode) or not implemented; 404 for an unknown API endpoint.',
  },
  TOOMANYREQUESTS: {
    status: 429,
    message: 'too many requests',
    description: 'The client exceeded a rate limit.',
  },
  RANGE_INVALID: {
    status: 416,
    message: 'invalid content range',
    description: 'The Content-Range does not start at the current end of the upload, or is malformed.',
  },
  PAGINATION_NUMBER_INVALID: {
    status: 400,
    message: 'invalid number of results requested',
    description: 'The n parameter is not a non-negative integer or exceeds the maximum page size.',
  },
  UNAVAILABLE: {
    status: 503,
    message: 'service unavailable',
    description: 'The storage backend (or, for a pull-through cache, the upstream registry with nothing cached) cannot be reached; retry later.',
  },
  V1_IMAGE_UNKNOWN: {
    status: 404,
    message: 'Image not found',
    description: 'v1: no image with this ID (or the ID is malformed), or its JSON was not pushed before its layer or checksum.',
  },
  V1_IMAGE_EXISTS: {
    status: 409,
    message: 'Image already exists',
    description: 'v1: the image was already pushed completely (docker then skips it); also a checksum PUT for an image not being pushed.',
  },
  V1_IMAGE_IN_PROGRESS: {
    status: 400,
    message: 'Image is being uploaded, retry later',
    description: 'v1: the image has no checksum yet, so it cannot be pulled or tagged.',
  },
  V1_INVALID: {
    status: 400,
    message: 'Invalid data',
    description: 'v1: a malformed body or header: invalid JSON, a missing or mismatched id, an unknown parent, an invalid tag name, an unsupported layer; 412 for a layer push from docker < 0.10.',
  },
  V1_CHECKSUM_INVALID: {
    status: 400,
    message: 'Checksum mismatch',
    description: 'v1: X-Docker-Checksum-Payload does not match the pushed JSON and layer (the image is discarded); 412 when the header is missing.',
  },
  V1_TAG_UNKNOWN: {
    status: 404,
    message: 'Tag not found',
    description: 'v1: the repository has no such tag.',
  },
  V1_REPOSITORY_UNKNOWN: {
    status: 404,
    message: 'Repository not found',
    description: 'v1: the repository does not exist.',
  },
  UNKNOWN: {
    status: 500,
    message: 'unknown error',
    description: 'An unexpected server error (details are in the server log, never in the response).',
  },
} as const satisfies Record<string, ErrorDescriptor>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: string): value is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}
