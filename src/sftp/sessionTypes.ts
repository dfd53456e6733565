/** The public types of an SFTP session that its request handlers use too (re-exported by SFTPSession.ts). */
import type { SFTPOpenFlags, SFTPStatusCode } from './FileSystem';

/** Who may do what: `upload-only` may write and list but not read file contents. */
export type SFTPAccess = 'read-write' | 'read-only' | 'upload-only';

/** Audit events of one SFTP session; paths are virtual. */
export interface SFTPSessionEvents {
  /** A file was opened. */
  opened: (e: { path: string; flags: SFTPOpenFlags }) => void;
  /** A handle that wrote data was closed. */
  uploaded: (e: { path: string; bytes: number }) => void;
  /** A handle that read data was closed. */
  downloaded: (e: { path: string; bytes: number }) => void;
  /** A file was removed. */
  removed: (e: { path: string }) => void;
  /** A file or directory was renamed. */
  renamed: (e: { from: string; to: string }) => void;
  /** A directory was created. */
  directoryCreated: (e: { path: string }) => void;
  /** A directory was removed. */
  directoryRemoved: (e: { path: string }) => void;
  /** A symbolic (`hard` false) or hard link was created. */
  linkCreated: (e: { path: string; target: string; hard: boolean }) => void;
  /** A request answered with an error status (refusals included). */
  failed: (e: { operation: string; path?: string; status: SFTPStatusCode; message: string }) => void;
  /** The session is over (client EOF or channel closed); every handle is closed. */
  ended: () => void;
}
