/**
 * Where the client finds its server, token and scope.
 *
 * Each setting is taken from the first source that has it: command-line flags, then
 * environment variables (CONVEYOR_SERVER, CONVEYOR_TOKEN, CONVEYOR_SCOPE), then the user's
 * config file (`$CONVEYOR_CONFIG`, else `$XDG_CONFIG_HOME/conveyor/config.json`, else
 * `~/.config/conveyor/config.json`), then the local stack's `<data dir>/local.json` (a dev
 * machine convenience). A token read from a file is only used when that file names no
 * server or names the server actually chosen: otherwise a `--server` flag pointing
 * elsewhere would receive the local admin token.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_DATA_DIR, LOCAL_JSON } from '../local-stack-files';

export type ConfigSource = 'flag' | 'env' | 'config-file' | 'local-stack';

export interface ClientConfig {
  server: string;
  token?: string;
  scope?: string;
  /** Where each setting came from, for error messages and `whoami`. */
  sources: { server: ConfigSource; token?: ConfigSource; scope?: ConfigSource };
}

export interface ConnectionFlags {
  server?: string;
  token?: string;
  scope?: string;
}

export interface ConfigEnvironment {
  env: NodeJS.ProcessEnv;
  homeDir: string;
  cwd: string;
}

interface FileSettings {
  server?: string;
  token?: string;
  scope?: string;
}

export function userConfigPath({ env, homeDir }: Pick<ConfigEnvironment, 'env' | 'homeDir'>): string {
  if (env.CONVEYOR_CONFIG) return env.CONVEYOR_CONFIG;
  const configHome = env.XDG_CONFIG_HOME || join(homeDir, '.config');
  return join(configHome, 'conveyor', 'config.json');
}

/** The local stack's data directory: `CONVEYOR_DATA_DIR`, else `./.conveyor`. */
export function localDataDir({ env, cwd }: Pick<ConfigEnvironment, 'env' | 'cwd'>): string {
  return resolve(cwd, env.CONVEYOR_DATA_DIR || DEFAULT_DATA_DIR);
}

export function localStackFilePath(where: Pick<ConfigEnvironment, 'env' | 'cwd'>): string {
  return join(localDataDir(where), LOCAL_JSON);
}

export function readJsonObject(path: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`Cannot read ${what} ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${what} ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function optionalString(obj: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`"${key}" in ${path} must be a string`);
  return value;
}

function readUserConfig(where: ConfigEnvironment): FileSettings | undefined {
  const path = userConfigPath(where);
  if (!existsSync(path)) {
    // A file named explicitly must exist; the default location is optional.
    if (where.env.CONVEYOR_CONFIG) throw new Error(`CONVEYOR_CONFIG names ${path}, which does not exist`);
    return undefined;
  }
  const obj = readJsonObject(path, 'config file');
  return {
    server: optionalString(obj, 'server', path),
    token: optionalString(obj, 'token', path),
    scope: optionalString(obj, 'scope', path),
  };
}

function readLocalStack(where: ConfigEnvironment): FileSettings | undefined {
  const path = localStackFilePath(where);
  if (!existsSync(path)) return undefined;
  const obj = readJsonObject(path, 'local stack file');
  return { server: optionalString(obj, 'url', path), token: optionalString(obj, 'adminToken', path) };
}

/** Comparable form of a server URL: no trailing slash, no `/api/1.0` suffix. */
export function normalizeServerUrl(url: string): string {
  return url.trim().replace(/\/+$/, '').replace(/\/api\/1\.0$/, '');
}

function sameServer(a: string, b: string): boolean {
  return normalizeServerUrl(a) === normalizeServerUrl(b);
}

export function resolveClientConfig(flags: ConnectionFlags, where: ConfigEnvironment): ClientConfig {
  const userFile = readUserConfig(where);
  const localFile = readLocalStack(where);

  const serverCandidates: [string | undefined, ConfigSource][] = [
    [flags.server, 'flag'],
    [where.env.CONVEYOR_SERVER, 'env'],
    [userFile?.server, 'config-file'],
    [localFile?.server, 'local-stack'],
  ];
  const serverHit = serverCandidates.find(([value]) => value);
  if (!serverHit?.[0]) {
    throw new Error(
      'No Conveyor server configured: pass --server URL, set CONVEYOR_SERVER, write {"server": ..., "token": ...} to ' +
        `${userConfigPath(where)}, or start the local stack with \`conveyor dev\`.`,
    );
  }
  const server = normalizeServerUrl(serverHit[0]);

  const fileTokenUsable = (file: FileSettings | undefined): string | undefined =>
    file?.token && (!file.server || sameServer(file.server, server)) ? file.token : undefined;
  const tokenCandidates: [string | undefined, ConfigSource][] = [
    [flags.token, 'flag'],
    [where.env.CONVEYOR_TOKEN, 'env'],
    [fileTokenUsable(userFile), 'config-file'],
    [fileTokenUsable(localFile), 'local-stack'],
  ];
  const tokenHit = tokenCandidates.find(([value]) => value);

  const scopeCandidates: [string | undefined, ConfigSource][] = [
    [flags.scope, 'flag'],
    [where.env.CONVEYOR_SCOPE, 'env'],
    [userFile?.scope, 'config-file'],
  ];
  const scopeHit = scopeCandidates.find(([value]) => value);

  return {
    server,
    token: tokenHit?.[0],
    scope: scopeHit?.[0],
    sources: { server: serverHit[1], token: tokenHit?.[1], scope: scopeHit?.[1] },
  };
}
