// Makes Jazzer.js's native addon loadable on glibc older than 2.38 (Debian 12 has 2.36).
//
// @jazzer.js/fuzzer 4.0.0 ships prebuilt addons only (no C++ sources; building libFuzzer would
// download LLVM from GitHub). The Linux x64 build needs three symbol versions this machine does
// not have, and nothing else:
//   __isoc23_strtol, __isoc23_strtoul @ GLIBC_2.38   the C23 strtol/strtoul, which differ from
//                                                    the classic ones only in accepting "0b"
//                                                    prefixes (libFuzzer parses its flags with them)
//   _ZSt21ios_base_library_initv @ GLIBCXX_3.4.32    a marker GCC 13 references so that iostreams
//                                                    are initialized; no relocation uses it
// This module writes a copy of the addon (never the file in node_modules, which pnpm hard-links
// to its store) in which the two functions are bound to strtol/strtoul@GLIBC_2.2.5, the marker
// is unversioned, and the two version requirements are marked weak. It changes no code.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const ROOT = new URL('../../../', import.meta.url).pathname;
const CACHE = join(ROOT, 'node_modules/.cache/lethe-fuzz');

/** Where Jazzer.js's native addon for this platform is. */
export function jazzerAddonPath(): string {
  const core = createRequire(import.meta.url).resolve('@jazzer.js/core/package.json');
  const fuzzer = createRequire(core).resolve('@jazzer.js/fuzzer/package.json');
  return join(dirname(fuzzer), 'prebuilds', `fuzzer-${process.platform}-${process.arch}.node`);
}

/** Loads an addon in a child process; returns the error text, or undefined when it loads. */
export function loadError(path: string): string | undefined {
  const child = spawnSync(process.execPath, ['-e', 'process.dlopen({ exports: {} }, process.argv[1])', path], { encoding: 'utf8' });
  return child.status === 0 ? undefined : (child.stderr.split('\n').find((l) => l.startsWith('Error')) ?? child.stderr.trim());
}

interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
}

const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const VER_FLG_WEAK = 0x2;
const VER_NDX_GLOBAL = 1;

/** The patch described above, on the bytes of an ELF64 little-endian shared object. */
export function patchAddon(elf: Buffer): Buffer {
  const b = Buffer.from(elf);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error('not an ELF64 little-endian file');
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const sections: Section[] = Array.from({ length: b.readUInt16LE(0x3c) }, (_, i) => {
    const o = shoff + i * shentsize;
    return {
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
      link: b.readUInt32LE(o + 0x28),
    };
  });
  const find = (type: number) => {
    const s = sections.find((x) => x.type === type);
    if (!s) throw new Error(`no section of type ${type.toString(16)}`);
    return s;
  };
  const dynsym = find(SHT_DYNSYM);
  const versym = find(SHT_GNU_VERSYM);
  const verneed = find(SHT_GNU_VERNEED);
  const dynstr = sections[dynsym.link]!;
  const str = (offset: number) => b.toString('latin1', dynstr.offset + offset, b.indexOf(0, dynstr.offset + offset));

  // Version requirements: "<file>|<version>" → where its Vernaux entry is and its index.
  const versions = new Map<string, { at: number; index: number }>();
  for (let need = verneed.offset; ;) {
    const file = str(b.readUInt32LE(need + 4));
    for (let aux = need + b.readUInt32LE(need + 8), n = b.readUInt16LE(need + 2); n > 0; n--) {
      versions.set(`${file}|${str(b.readUInt32LE(aux + 8))}`, { at: aux, index: b.readUInt16LE(aux + 6) });
      if (b.readUInt32LE(aux + 12) === 0) break;
      aux += b.readUInt32LE(aux + 12);
    }
    if (b.readUInt32LE(need + 12) === 0) break;
    need += b.readUInt32LE(need + 12);
  }
  const classic = versions.get('libc.so.6|GLIBC_2.2.5');
  if (!classic) throw new Error('the addon does not use libc.so.6 GLIBC_2.2.5');

  for (let i = 0; i < dynsym.size / 24; i++) {
    const nameOffset = b.readUInt32LE(dynsym.offset + i * 24);
    const name = str(nameOffset);
    if (name === '__isoc23_strtol' || name === '__isoc23_strtoul') {
      // Shorter name in place: the tail of the old string ("strtol") stays as it was, for any symbol sharing it.
      b.write(`${name.slice('__isoc23_'.length)}\0`, dynstr.offset + nameOffset, 'latin1');
      b.writeUInt16LE(classic.index, versym.offset + i * 2);
    } else if (name === '_ZSt21ios_base_library_initv') {
      b.writeUInt16LE(VER_NDX_GLOBAL, versym.offset + i * 2);
    }
  }
  for (const key of ['libc.so.6|GLIBC_2.38', 'libstdc++.so.6|GLIBCXX_3.4.32']) {
    const v = versions.get(key);
    if (v) b.writeUInt16LE(b.readUInt16LE(v.at + 4) | VER_FLG_WEAK, v.at + 4);
  }
  return b;
}

/**
 * The addon to use: the shipped one when it loads here, else a patched copy when the only
 * problem is the glibc/libstdc++ versions above. Throws with the loader's error otherwise.
 */
export function loadableJazzerAddon(): { path: string; patched: boolean } {
  const original = jazzerAddonPath();
  const error = loadError(original);
  if (!error) return { path: original, patched: false };
  if (!/GLIBC_2\.38|GLIBCXX_3\.4\.32/.test(error)) throw new Error(`Jazzer.js's native addon does not load here: ${error}`);
  const bytes = readFileSync(original);
  const path = join(CACHE, `fuzzer-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.node`);
  if (!existsSync(path)) {
    mkdirSync(CACHE, { recursive: true });
    writeFileSync(path, patchAddon(bytes));
  }
  const still = loadError(path);
  if (still) throw new Error(`Jazzer.js's native addon does not load here, even patched for glibc < 2.38: ${still}`);
  return { path, patched: true };
}
