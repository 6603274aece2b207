/**
 * Types of the SmartOS side: the image manifest imgadm builds for each Docker layer
 * (imgmanifest's `imgManifestFromDockerInfo`), the IMGAPI image (that manifest plus `state` and
 * `files`), the input and output of the pure translation (translate.ts), and zod schemas of the
 * manifest and the IMGAPI image that tests (and anyone checking Berth's output) validate against.
 * Key order matters for byte-exact comparisons with imgadm: the interfaces list keys in the order
 * imgadm inserts them, and the translation builds objects in that order.
 */
import { z } from 'zod';

/** Any JSON value (what a Docker config may hold under keys imgadm copies verbatim). */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** `tags["docker:config"]`: exactly these keys of the image config's `config`, those present. */
export interface DockerConfigSubset {
  readonly Cmd?: JsonValue;
  readonly Entrypoint?: JsonValue;
  readonly Env?: JsonValue;
  readonly WorkingDir?: JsonValue;
}

export type DockerTagKey = `docker:tag:${string}`;

/** `tags` of a docker-type image, in imgadm's key order. */
export interface SmartOsDockerTags {
  /** The repository's local name: `host[:port]/remote/name`. */
  readonly 'docker:repo': string;
  /** v2 scheme: this layer's digest (`sha256:…`); v1 scheme: the bare 64-hex v1 image id. */
  readonly 'docker:id': string;
  /** The config's `architecture`, copied as is; absent when the config has none. */
  readonly 'docker:architecture'?: JsonValue;
  /** `docker:tag:<tag>: true`, top layer only. */
  readonly [tag: DockerTagKey]: true;
  readonly 'docker:config'?: DockerConfigSubset;
}

/** The SmartOS image manifest imgadm writes for one Docker layer (v2 manifest format). */
export interface SmartOsImageManifest {
  readonly v: 2;
  readonly uuid: string;
  readonly owner: string;
  readonly name: 'docker-layer';
  /** First 12 hex characters of the layer digest (v2) or of the v1 id (v1). */
  readonly version: string;
  readonly disabled: false;
  readonly public: true;
  /** `new Date(config.created).toISOString()`: millisecond precision, `Z`. */
  readonly published_at: string;
  readonly type: 'docker';
  /** Only `"linux"`; absent for any other Docker os (imgadm leaves it undefined). */
  readonly os?: 'linux';
  readonly description: string;
  readonly tags: SmartOsDockerTags;
  readonly origin?: string;
}

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'none';

export interface ImgapiFile {
  readonly sha1: string;
  readonly size: number;
  readonly compression: Compression;
}

/** What `GET /imgapi/images/:uuid` serves: the imgadm manifest plus IMGAPI's `state` and `files`. */
export interface ImgapiImage extends SmartOsImageManifest {
  readonly state: 'active';
  readonly files: readonly [ImgapiFile];
}

/** Which UUID scheme to compute: imgadm ≥ 3.8 (`v2`, digest chain) or 3.5–3.7.4 (`v1`, v1 ids). */
export type UuidScheme = 'v2' | 'v1';

/** A layer as the manifest describes it. */
export interface LayerDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly urls?: readonly string[];
}

/** The image to translate, as stored: a schema 2 (Docker v2 or OCI) manifest, or a schema 1 one. */
export type ImageSource =
  | {
      readonly kind: 'schema2';
      /** The manifest's media type (Docker schema 2 or OCI image manifest). */
      readonly manifestMediaType: string;
      /** `config.mediaType`: a container image config, or the manifest is an artifact. */
      readonly configMediaType: string;
      /** The config blob's bytes exactly as stored (the v1 top id hashes them). */
      readonly config: Uint8Array | string;
      readonly layers: readonly LayerDescriptor[];
    }
  | {
      readonly kind: 'schema1';
      /** `fsLayers[].blobSum` as descriptors (gzip layers, sizes from storage), newest first. */
      readonly fsLayers: readonly LayerDescriptor[];
      /** `history[].v1Compatibility`, as in the manifest (newest first). */
      readonly v1Compatibility: readonly string[];
      /** Whether the manifest carries JWS signatures (imgadm refuses unsigned schema 1). */
      readonly signed: boolean;
    };

export interface TranslateInput {
  /** `host[:port]` as written in the imgadm import argument (the first component of the ref). */
  readonly registry: string;
  /** The repository path on the registry (imgadm's `remoteName`), e.g. `tools/mongo`. */
  readonly repository: string;
  /** The tag imgadm is given (`latest` when none); undefined when translating a digest reference. */
  readonly tag?: string;
  /** The manifest digest (for the `name@digest` form of the reference when there is no tag). */
  readonly digest?: string;
  readonly image: ImageSource;
  /** Default `v2`. */
  readonly scheme?: UuidScheme;
  /**
   * v1 scheme only: every tag of the repository whose image has the same top v1 id (imgadm 3.5–3.7
   * put all of them on the top image). Defaults to `[tag]`.
   */
  readonly v1Tags?: readonly string[];
  /**
   * v1 scheme only: the v1 view of the image as the registry's v1 API serves it (base first: each
   * image's JSON as `GET /v1/images/<id>/json` returns it, and its layer). When absent it is
   * derived from `image` with distribution's schema2→schema1 rules.
   */
  readonly v1Chain?: readonly V1ImageInput[];
}

/** One v1 image: its JSON exactly as served, and the blob `GET /v1/images/<id>/layer` returns. */
export interface V1ImageInput {
  readonly json: Uint8Array | string;
  readonly blob: LayerDescriptor;
}

/** One SmartOS image of the translation and the blob its file is. */
export interface TranslatedLayer {
  readonly manifest: SmartOsImageManifest;
  /** The registry blob holding this image's file (for v1 throwaway images: the empty gzip tar). */
  readonly blob: LayerDescriptor;
  /** From the layer media type; undefined when imgadm cannot use it (zstd, unknown types). */
  readonly compression?: Compression;
}

export interface Translation {
  /** The `imgadm import` argument that gives these images: `host[:port]/name:tag` (or `@digest`). */
  readonly ref: string;
  /** `docker:repo`: `host[:port]/name`. */
  readonly repo: string;
  readonly tag?: string;
  readonly scheme: UuidScheme;
  /** UUID of the top image (the one `imgadm import <ref>` names). */
  readonly uuid: string;
  /** Base layer first. */
  readonly layers: readonly TranslatedLayer[];
  /** Things that will make `imgadm import <ref>` fail or behave differently, in plain words. */
  readonly warnings: readonly string[];
}

/** The JSON body of `GET /smartos/v1/images/<name>:<tag>`. */
export interface TranslationResponse {
  readonly ref: string;
  readonly repo: string;
  readonly tag?: string;
  /** Digest of the manifest translated (the platform child when the tag names a list). */
  readonly digest: string;
  readonly uuids: UuidScheme;
  readonly uuid: string;
  readonly images: readonly SmartOsImageManifest[];
  readonly warnings: readonly string[];
}

// ---- runtime schemas (validation of Berth's output in tests; not used on the hot path)

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

const dockerConfigSchema = z
  .object({ Cmd: jsonValue.optional(), Entrypoint: jsonValue.optional(), Env: jsonValue.optional(), WorkingDir: jsonValue.optional() })
  .strict();

const tagsSchema = z
  .record(z.string(), z.unknown())
  .superRefine((tags, ctx) => {
    if (typeof tags['docker:repo'] !== 'string') ctx.addIssue({ code: 'custom', message: 'docker:repo must be a string' });
    if (typeof tags['docker:id'] !== 'string') ctx.addIssue({ code: 'custom', message: 'docker:id must be a string' });
    for (const [key, value] of Object.entries(tags)) {
      if (key.startsWith('docker:tag:')) {
        if (value !== true) ctx.addIssue({ code: 'custom', message: `${key} must be true` });
      } else if (key === 'docker:config') {
        const parsed = dockerConfigSchema.safeParse(value);
        if (!parsed.success) ctx.addIssue({ code: 'custom', message: 'docker:config has unexpected keys' });
      } else if (key !== 'docker:repo' && key !== 'docker:id' && key !== 'docker:architecture') {
        ctx.addIssue({ code: 'custom', message: `unexpected tag ${key}` });
      }
    }
  });

export const smartOsManifestSchema = z
  .object({
    v: z.literal(2),
    uuid: z.string().regex(UUID_TEXT),
    owner: z.string().regex(UUID_TEXT),
    name: z.literal('docker-layer'),
    version: z.string().min(1),
    disabled: z.literal(false),
    public: z.literal(true),
    published_at: z.string().regex(/^[-+]?\d{4,6}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    type: z.literal('docker'),
    os: z.literal('linux').optional(),
    description: z.string().max(10 * 1024),
    tags: tagsSchema,
    origin: z.string().regex(UUID_TEXT).optional(),
  })
  .strict();

export const imgapiImageSchema = smartOsManifestSchema
  .extend({
    state: z.literal('active'),
    files: z.tuple([
      z
        .object({
          sha1: z.string().regex(/^[0-9a-f]{40}$/),
          size: z.number().int().nonnegative(),
          compression: z.enum(['gzip', 'bzip2', 'xz', 'none']),
        })
        .strict(),
    ]),
  })
  .strict();
