/**
 * Lets Jazzer.js 4.0.0's linux-x64 prebuild load on Debian 12 (glibc 2.36, GCC 12).
 *
 * The prebuild shipped in `@jazzer.js/fuzzer` is linked against glibc 2.38 and GCC 13's libstdc++
 * and fails to load here ("version `GLIBC_2.38' not found"). It needs only three symbols that the
 * older libraries lack (`__isoc23_strtol`, `__isoc23_strtoul`, `std::ios_base_library_init`).
 * When, and only when, loading the prebuild fails for that reason, this module
 * - builds `compatShim.cc` (those three symbols, under the versions the prebuild asks for) with g++,
 *   which Node's machines carry for native addons, and loads it with RTLD_GLOBAL;
 * - loads a copy of the prebuild whose two version requirements (GLIBC_2.38, GLIBCXX_3.4.32) are
 *   marked weak (VER_FLG_WEAK), so the dynamic loader resolves those symbols from the shim.
 * Both go to `node_modules/.cache/jazzer-compat/<sha256 of the prebuild>/`; nothing in
 * node_modules is modified. On a machine whose libraries are new enough the prebuild loads as
 * shipped and none of this runs.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

const PREBUILD = /[\\/]@jazzer\.js[\\/]fuzzer[\\/]prebuilds[\\/]fuzzer-linux-x64\.node$/;
const NEWER_VERSIONS = ['GLIBC_2.38', 'GLIBCXX_3.4.32'];
const ROOT = join(__dirname, '..', '..', '..');
const SHT_GNU_VERNEED = 0x6ffffffe;
const VER_FLG_WEAK = 0x2;

/** Marks the named version requirements of an ELF64 little-endian object weak; returns how many. */
export function weakenVersionNeeds(elf: Buffer, versions: readonly string[]): number {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw new Error('not an ELF64 little-endian file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      type: elf.readUInt32LE(o + 4),
      offset: Number(elf.readBigUInt64LE(o + 0x18)),
      link: elf.readUInt32LE(o + 0x28),
      info: elf.readUInt32LE(o + 0x2c),
    };
  };
  let weakened = 0;
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== SHT_GNU_VERNEED) continue;
    const strtab = section(s.link).offset;
    const name = (o: number) => elf.toString('latin1', strtab + o, elf.indexOf(0, strtab + o));
    // Elf64_Verneed { vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32 }
    // Elf64_Vernaux { vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32 }
    for (let k = 0, vn = s.offset; k < s.info; k++, vn += elf.readUInt32LE(vn + 12)) {
      for (let j = 0, va = vn + elf.readUInt32LE(vn + 8); j < elf.readUInt16LE(vn + 2); j++, va += elf.readUInt32LE(va + 12)) {
        if (!versions.includes(name(elf.readUInt32LE(va + 8)))) continue;
        elf.writeUInt16LE(elf.readUInt16LE(va + 4) | VER_FLG_WEAK, va + 4);
        weakened++;
      }
    }
  }
  return weakened;
}

function writeAtomically(path: string, data: Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Builds (once per prebuild) the shim and the patched copy; returns their paths. */
function prepare(prebuild: string): { shim: string; patched: string } {
  const original = readFileSync(prebuild);
  const dir = join(ROOT, 'node_modules', '.cache', 'jazzer-compat', createHash('sha256').update(original).digest('hex').slice(0, 16));
  const shim = join(dir, 'compat-shim.so');
  const patched = join(dir, 'fuzzer-linux-x64.node');
  mkdirSync(dir, { recursive: true });
  if (!existsSync(shim)) {
    const tmp = `${shim}.${process.pid}.tmp`;
    execFileSync(
      'g++',
      ['-shared', '-fPIC', '-O2', '-o', tmp, join(__dirname, 'compatShim.cc'), `-Wl,--version-script=${join(__dirname, 'compatShim.map')}`],
      { stdio: 'inherit' },
    );
    renameSync(tmp, shim);
  }
  if (!existsSync(patched)) {
    const copy = Buffer.from(original);
    if (weakenVersionNeeds(copy, NEWER_VERSIONS) === 0)
      throw new Error(`jazzer compat: ${prebuild} needs none of ${NEWER_VERSIONS.join(', ')}`);
    writeAtomically(patched, copy);
  }
  return { shim, patched };
}

let installed = false;

/** Wraps process.dlopen so that the Jazzer.js prebuild loads through the shim when it must. Idempotent. */
export function installJazzerCompat(): void {
  if (installed) return;
  installed = true;
  const dlopen = process.dlopen.bind(process) as (module: object, filename: string, flags?: number) => void;
  process.dlopen = ((module: object, filename: string, ...flags: number[]) => {
    if (!PREBUILD.test(filename)) return dlopen(module, filename, ...flags);
    try {
      return dlopen(module, filename, ...flags);
    } catch (err) {
      if (!/GLIBC_2\.38|GLIBCXX_3\.4\.32/.test((err as Error).message)) throw err;
      const { shim, patched } = prepare(filename);
      dlopen({ exports: {} }, shim, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
      return dlopen(module, patched, ...flags);
    }
  }) as typeof process.dlopen;
}
