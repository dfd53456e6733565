/** SFTP version 3 wire format (draft-ietf-secsh-filexfer-02) and the OpenSSH extensions we serve. */
import { encodeString, encodeUint32, WireReader } from '../packet/wire';
import { type SFTPAttributes, SFTPError, type SFTPOpenFlags, SFTPStatus } from './FileSystem';

export const SFTP_VERSION = 3;

export const FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

/** Largest packet we accept or send, as OpenSSH's sftp-server (SFTP_MAX_MSG_LENGTH). */
export const MAX_PACKET = 256 * 1024;
/** Largest read served and write accepted (limits@openssh.com). */
export const MAX_READ = MAX_PACKET - 1024;

const ATTR = { SIZE: 0x1, UIDGID: 0x2, PERMISSIONS: 0x4, ACMODTIME: 0x8, EXTENDED: 0x80000000 };
const OPEN = { READ: 0x1, WRITE: 0x2, APPEND: 0x4, CREAT: 0x8, TRUNC: 0x10, EXCL: 0x20 };

/** The extensions announced in VERSION, with their versions (OpenSSH's PROTOCOL file). */
export const EXTENSIONS: ReadonlyArray<readonly [string, string]> = [
  ['posix-rename@openssh.com', '1'],
  ['statvfs@openssh.com', '2'],
  ['fstatvfs@openssh.com', '2'],
  ['hardlink@openssh.com', '1'],
  ['fsync@openssh.com', '1'],
  ['lsetstat@openssh.com', '1'],
  ['limits@openssh.com', '1'],
  ['expand-path@openssh.com', '1'],
  ['copy-data', '1'],
  ['home-directory', '1'],
  ['users-groups-by-id@openssh.com', '1'],
];

/** Extensions announced only when the filesystem implements the method they call. */
export const OPTIONAL_EXTENSIONS: Readonly<Record<string, 'usersGroupsById'>> = {
  'users-groups-by-id@openssh.com': 'usersGroupsById',
};

/**
 * The largest offset or size the filesystem interface carries exactly (`number`): 2^53 - 1.
 * SFTP sends uint64; a larger value would be rounded, so it is refused, never passed on.
 */
export const MAX_OFFSET = BigInt(Number.MAX_SAFE_INTEGER);

const MAX_OFF_T = (1n << 63n) - 1n;

/**
 * The refusal of a uint64 offset or size beyond {@link MAX_OFFSET}, with the status OpenSSH's
 * sftp-server gives on Linux: an offset (READ, WRITE, copy-data) fails its `lseek` with EINVAL,
 * BAD_MESSAGE; a size (SETSTAT, FSETSTAT) fails `truncate` with EFBIG, FAILURE, or with EINVAL,
 * BAD_MESSAGE, past 2^63 - 1 (negative as `off_t`).
 */
export function offsetTooLarge(what: 'offset' | 'size', value: bigint): SFTPError {
  const status = what === 'offset' || value > MAX_OFF_T ? SFTPStatus.BAD_MESSAGE : SFTPStatus.FAILURE;
  return new SFTPError(
    status,
    `${what} ${value} is beyond ${Number.MAX_SAFE_INTEGER} (2^53 - 1): ${status === SFTPStatus.FAILURE ? 'File too large' : 'Invalid argument'}`,
  );
}

export function decodeOpenFlags(pflags: number): SFTPOpenFlags {
  return {
    read: (pflags & OPEN.READ) !== 0,
    write: (pflags & OPEN.WRITE) !== 0,
    append: (pflags & OPEN.APPEND) !== 0,
    create: (pflags & OPEN.CREAT) !== 0,
    truncate: (pflags & OPEN.TRUNC) !== 0,
    exclusive: (pflags & OPEN.EXCL) !== 0,
  };
}

/**
 * Reads an ATTRS block. A size beyond 2^53 - 1 is refused ({@link offsetTooLarge}: `refuse`, for
 * SETSTAT/FSETSTAT, which truncate to it) or is left out (`drop`, for OPEN and MKDIR, whose size
 * field OpenSSH's sftp-server ignores too).
 */
export function readAttrs(r: WireReader, oversize: 'refuse' | 'drop' = 'refuse'): SFTPAttributes {
  const flags = r.uint32();
  const attrs: SFTPAttributes = {};
  if (flags & ATTR.SIZE) {
    const size = r.uint64();
    if (size <= MAX_OFFSET) attrs.size = Number(size);
    else if (oversize === 'refuse') throw offsetTooLarge('size', size);
  }
  if (flags & ATTR.UIDGID) {
    attrs.uid = r.uint32();
    attrs.gid = r.uint32();
  }
  if (flags & ATTR.PERMISSIONS) attrs.mode = r.uint32();
  if (flags & ATTR.ACMODTIME) {
    attrs.atime = r.uint32();
    attrs.mtime = r.uint32();
  }
  if (flags & ATTR.EXTENDED) {
    const count = r.uint32();
    for (let i = 0; i < count; i++) {
      r.bytes();
      r.bytes();
    }
  }
  return attrs;
}

function uint64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(n))));
  return b;
}

export function encodeAttrs(a: SFTPAttributes): Buffer {
  let flags = 0;
  const parts: Buffer[] = [];
  if (a.size !== undefined) {
    flags |= ATTR.SIZE;
    parts.push(uint64(a.size));
  }
  if (a.uid !== undefined && a.gid !== undefined) {
    flags |= ATTR.UIDGID;
    parts.push(encodeUint32(a.uid >>> 0), encodeUint32(a.gid >>> 0));
  }
  if (a.mode !== undefined) {
    flags |= ATTR.PERMISSIONS;
    parts.push(encodeUint32(a.mode >>> 0));
  }
  if (a.atime !== undefined && a.mtime !== undefined) {
    flags |= ATTR.ACMODTIME;
    parts.push(encodeUint32(a.atime >>> 0), encodeUint32(a.mtime >>> 0));
  }
  return Buffer.concat([encodeUint32(flags), ...parts]);
}

/** One framed SFTP packet: length, type, then `body` (which starts with the request id for all but INIT/VERSION). */
export function frame(type: number, body: Buffer[]): Buffer {
  const length = 1 + body.reduce((n, b) => n + b.length, 0);
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(length, 0);
  head[4] = type;
  return Buffer.concat([head, ...body], 4 + length);
}

export const u32 = encodeUint32;
export const str = encodeString;
export { uint64 };
