/**
 * node-forge, loaded on first use. Only the PKCS#7 and PKCS#12 stores (and telling DER stores apart)
 * need it, and its ~1 MiB of code in every daemon's heap is what tips V8 into back-to-back
 * mark-compacts under bulk uploads (bench/notes.md, "The upload regime").
 */
import type Forge from 'node-forge';

let loaded: typeof Forge | undefined;

export function nodeForge(): typeof Forge {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require('node-forge') as typeof Forge);
}
