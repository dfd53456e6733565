/**
 * Decides one exec request: which git program runs on which repository directory, or the message
 * the git client shows when it is refused. Pure but for the filesystem checks, so the unit tests
 * drive it without a server (test/samples-git-access.test.ts).
 */
import { realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { GIT_SERVICES, GitCommandError, type GitService, parseGitCommand } from './gitCommand';
import type { Access } from './repoStore';

export interface GitGrant {
  service: GitService;
  repository: string;
  /** The repository's real path (symlinks resolved), inside the folder. */
  directory: string;
  access: Access;
}

export type GitDecision = { grant: GitGrant } | { refuse: string; log?: string };

const NOT_FOUND = (name: string) => `repository '${name}' not found, or you have no access to it`;

/**
 * `command` from `user`: parsed (gitCommand.ts), checked against the user's right on the repository
 * (`read` for upload-pack and upload-archive, `write` for receive-pack), and resolved inside `root`.
 * A repository the user has no right on is "not found", as one that does not exist, so names do not
 * leak. A store entry whose directory is missing, is not a bare repository, or resolves outside
 * `root` (a symlink leading out) is refused too, with the reason in `log` for the operator.
 */
export async function decide(command: string, root: string, accessOf: (repo: string) => Promise<Access | undefined>): Promise<GitDecision> {
  let parsed;
  try {
    parsed = parseGitCommand(command);
  } catch (err) {
    if (err instanceof GitCommandError) return { refuse: err.message };
    throw err;
  }
  const { service, repository } = parsed;
  const access = await accessOf(repository);
  if (!access) return { refuse: NOT_FOUND(repository) };
  if (GIT_SERVICES[service] === 'write' && access !== 'write')
    return { refuse: `you have read-only access to '${repository}'; push refused` };
  const directory = resolveInside(root, `${repository}.git`);
  if (typeof directory !== 'string') return { refuse: NOT_FOUND(repository), log: `${repository}: ${directory.problem}` };
  return { grant: { service, repository, directory, access } };
}

/** `relative` resolved under `root` with every symlink followed; a problem when it leaves `root` or is no bare repository. */
export function resolveInside(root: string, relative: string): string | { problem: string } {
  let realRoot: string;
  let real: string;
  try {
    realRoot = realpathSync(root);
    real = realpathSync(join(realRoot, relative));
  } catch (err) {
    return { problem: `cannot resolve: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  if (!real.startsWith(realRoot + sep)) return { problem: `resolves to ${real}, outside ${realRoot}` };
  if (!isBareRepository(real)) return { problem: `${real} is not a bare git repository` };
  return real;
}

function isBareRepository(dir: string): boolean {
  try {
    return (
      statSync(join(dir, 'HEAD')).isFile() && statSync(join(dir, 'objects')).isDirectory() && statSync(join(dir, 'refs')).isDirectory()
    );
  } catch {
    return false;
  }
}
