/** Local file status (Stats) as SFTP attributes and directory entries. */
import type { Stats } from 'node:fs';
import type { SFTPAttributes, SFTPDirEntry } from './FileSystem';
import type { IdNames } from './idNames';
import { formatLongname } from './longname';

/** SFTP attributes of a Stats: full st_mode, times truncated to whole seconds. */
export function toAttrs(st: Stats): SFTPAttributes {
  return {
    size: st.size,
    uid: st.uid,
    gid: st.gid,
    mode: st.mode,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

/** The two times utimes needs, the missing one (SFTP sends both; be lenient) taken from `current`. */
export async function timesFor(attrs: SFTPAttributes, current: () => Promise<Stats>): Promise<[number, number] | undefined> {
  if (attrs.atime === undefined && attrs.mtime === undefined) return undefined;
  if (attrs.atime !== undefined && attrs.mtime !== undefined) return [attrs.atime, attrs.mtime];
  const st = await current();
  return [attrs.atime ?? st.atimeMs / 1000, attrs.mtime ?? st.mtimeMs / 1000];
}

/** A directory entry with attrs from lstat (as sftp-server) and an OpenSSH longname. */
export function dirEntry(filename: string, st: Stats, names: IdNames): SFTPDirEntry {
  const attrs = toAttrs(st);
  const longname = formatLongname(filename, {
    ...attrs,
    nlink: st.nlink,
    user: names.users.get(st.uid),
    group: names.groups.get(st.gid),
  });
  return { filename, longname, attrs };
}
