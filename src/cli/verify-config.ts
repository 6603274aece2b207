/**
 * `berth verify-config config.yml`: validates a configuration (and the storage driver's
 * parameters) without starting anything; prints warnings and errors, exits non-zero when invalid.
 */
import { createDriver } from '../../storage-drivers/index.js';
import { AuthConfigError, parseAuthSettings } from '../auth/settings.js';
import { ConfigError, loadConfigFile } from '../config/load.js';

export interface VerifyResult {
  readonly ok: boolean;
  readonly lines: readonly string[];
}

export async function verifyConfig(path: string, env: NodeJS.ProcessEnv): Promise<VerifyResult> {
  const lines: string[] = [];
  try {
    const { config, warnings, legacy } = await loadConfigFile(path, env);
    for (const w of warnings) lines.push(`warning: ${w}`);
    for (const k of legacy?.keys ?? []) lines.push(`legacy: ${k.legacy} → ${k.key}${k.applied ? '' : ' (set by the configuration; not used)'}`);
    for (const n of legacy?.notes ?? []) lines.push(`legacy: ${n}`);
    try {
      createDriver(config.storage.driver, config.storage.params, { validateOnly: true });
    } catch (error) {
      lines.push(`error: ${(error as Error).message}`);
      return { ok: false, lines };
    }
    let auth: string;
    try {
      auth = parseAuthSettings(config.authSections).mode;
    } catch (error) {
      if (!(error instanceof AuthConfigError)) throw error;
      for (const p of error.problems) lines.push(`error: ${p}`);
      return { ok: false, lines };
    }
    lines.push(`ok: ${path} (storage: ${config.storage.driver}, listen: ${config.http.host}:${config.http.port}, auth: ${auth})`);
    return { ok: true, lines };
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const w of error.warnings) lines.push(`warning: ${w}`);
      for (const p of error.problems) lines.push(`error: ${p}`);
      return { ok: false, lines };
    }
    throw error;
  }
}
