/**
 * What a request handler (fileRequests.ts, pathRequests.ts, extensionRequests.ts) uses of its
 * session: {@link SFTPSession} implements it, and each handler runs with the session as `this`.
 */
import type { WireReader } from '../packet/wire';
import type { SFTPAttributes, SFTPDirHandle, SFTPFileHandle, SFTPFileSystem, SFTPStatusCode } from './FileSystem';
import type { FileEntry, Handle, HandleTable } from './handleTable';
import type { TildeUser } from './paths';
import type { SFTPAccess, SFTPSessionEvents } from './sessionTypes';

/** The session as its request handlers see it. */
export interface SFTPRequestContext {
  readonly fs: SFTPFileSystem;
  readonly access: SFTPAccess;
  readonly maxHandles: number;
  /** The logged-in user (`~user` in expand-path, home-directory). */
  readonly user?: string;
  /** The session is over: a running request stops and owns nothing new. */
  readonly over: boolean;
  readonly handles: HandleTable;
  /** DATA replies cut from a pooled buffer -> that buffer, recycled once sent. */
  readonly pooled: WeakMap<Buffer, Buffer>;
  /** Fires an audit event; a listener that throws is reported, never thrown. */
  audit<E extends keyof SFTPSessionEvents>(event: E, ...args: Parameters<SFTPSessionEvents[E]>): void;
  /** A path the client sent, resolved. */
  path(r: WireReader, tilde?: TildeUser): string;
  /** The handle named next in `r` (FAILURE for an unknown one). */
  take(r: WireReader): Handle;
  /** The file handle named next in `r`. */
  file(r: WireReader): FileEntry;
  /** Opens through `open` within the session's and the user's handle limits; the new handle's key. */
  adopt<T extends SFTPFileHandle | SFTPDirHandle>(open: () => Promise<T>, entry: (handle: T) => Handle): Promise<Buffer>;
  /** Closes a handle taken out of the table, giving back its share of the user's handles. */
  closeHandle(h: Handle): Promise<void>;
  /** A buffer of at least `size` bytes for a DATA reply, from the pool when one is free. */
  replyBuffer(size: number): Buffer;
  recycle(buffer: Buffer): void;
  status(id: number, code: SFTPStatusCode, message?: string): Buffer;
  ok(id: number): Buffer;
  name(id: number, entries: Array<{ filename: string; longname: string; attrs: SFTPAttributes }>): Buffer;
}
