/**
 * The filesystem driver's configuration parameters (distribution's names and defaults), as a zod
 * schema the factory in `storage-drivers/index.ts` validates `storage.filesystem` with.
 */
import { z } from 'zod';

/** distribution's default root. */
export const DEFAULT_ROOT_DIRECTORY = '/var/lib/registry';
/** distribution's default and minimum for `maxthreads`. */
export const DEFAULT_MAX_THREADS = 100;
export const MIN_MAX_THREADS = 25;

/** An integer, also as a decimal string (values from REGISTRY_STORAGE_* environment overrides). */
const integer = z
  .union([z.number(), z.string().regex(/^\s*\d+\s*$/).transform(Number)], { error: 'expected an integer' })
  .pipe(z.number({ error: 'expected an integer' }).int('expected an integer'));

export const filesystemParamsSchema = z
  .object({
    rootdirectory: z
      .string({ error: 'expected a string' })
      .min(1, 'must not be empty')
      .default(DEFAULT_ROOT_DIRECTORY),
    maxthreads: integer
      .pipe(z.number().min(MIN_MAX_THREADS, `must be at least ${MIN_MAX_THREADS}`))
      .default(DEFAULT_MAX_THREADS),
  })
  .strict();

export type FilesystemParams = z.infer<typeof filesystemParamsSchema>;
