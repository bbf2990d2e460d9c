// Where tund keeps things. Tests point these elsewhere through the environment.
import path from 'node:path';

export function configDir(): string {
  return process.env.TUND_CONFIG_DIR || '/etc/tund';
}

export function runDir(): string {
  return process.env.TUND_RUN_DIR || '/run/tund';
}

export function sessionConfigPath(name: string): string {
  return path.join(configDir(), `${name}.conf`);
}

export function controlSocketPath(name: string): string {
  return path.join(runDir(), `${name}.sock`);
}
