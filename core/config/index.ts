// The session configuration (tund.conf(5)): parse, load, list, secrets.
export * from './types.js';
export { parseSessionConfig, knownKeys, resolveSecretFile, SECTION_NAMES, type ParseResult } from './parse.js';
export { ConfigLoadFailure, loadSessionConfig, loadSessionConfigFile, loadSessionNamedOrFile, listSessions, readSecret, locateSecret, type LoadedConfig, type SecretLocation } from './load.js';
export { renderSessionConfig } from './render.js';
