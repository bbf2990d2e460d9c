// Where tunauth finds a session's settings and secret: the config engineer's loader
// (core/config/load.ts) when NAME.conf exists, else the defaults (CONFIG_DIR/NAME.secret).
import fs from 'node:fs';
import path from 'node:path';
import { loadSessionConfig, locateSecret, readSecret as readConfiguredSecret } from '../config/load.js';
import type { SessionConfig } from '../config/types.js';
import { errnoOf, PermissionFailure } from '../errors.js';
import { configDir, sessionConfigPath } from '../paths.js';

export interface SessionSecretTarget {
  /** The secret file `tunauth passwd` writes ([Session] SecretFile, default CONFIG_DIR/NAME.secret). */
  file: string;
  /** The session's config, when NAME.conf exists. */
  config: SessionConfig | null;
}

export function defaultSecretFile(name: string): string {
  return path.join(configDir(), `${name}.secret`);
}

/** The config when it exists; a ConfigFailure (78) when it exists but is invalid. */
export async function findSessionSecret(name: string): Promise<SessionSecretTarget> {
  if (!fs.existsSync(sessionConfigPath(name))) return { file: defaultSecretFile(name), config: null };
  const { config } = await loadSessionConfig(name);
  return { file: config.session.secretFile, config };
}

/**
 * The password of a configured session, as tund reads it (same checks: 0600, not empty), except
 * that a file we may not read is a permission problem (exit 77), not a config problem.
 */
export async function readSessionSecret(config: SessionConfig): Promise<Buffer> {
  const { file } = await locateSecret(config);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new PermissionFailure(`${config.name}: cannot read the secret file "${file}" (permission denied)`, 'run as root (the secret file is mode 0600, owned by root)', error);
    }
  }
  return readConfiguredSecret(config);
}
