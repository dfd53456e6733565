/** Reading the algorithm name-lists of an SSH_MSG_KEXINIT payload (RFC 4253 §7.1). */

/** The algorithm name-lists of a KEXINIT, as sent by one side. */
export interface KexLists {
  kex: string[];
  hostKey: string[];
  cipherCS: string[];
  cipherSC: string[];
  macCS: string[];
  macSC: string[];
  compressCS: string[];
  compressSC: string[];
}

/** Reads the ten name-lists of a KEXINIT payload (message byte and cookie first). */
export function parseKexInit(payload: Buffer): KexLists | undefined {
  const lists: string[][] = [];
  let pos = 17;
  for (let i = 0; i < 10; i++) {
    if (pos + 4 > payload.length) return undefined;
    const len = payload.readUInt32BE(pos);
    pos += 4;
    if (pos + len > payload.length) return undefined;
    lists.push(len ? payload.toString('latin1', pos, pos + len).split(',') : []);
    pos += len;
  }
  const [kex, hostKey, cipherCS, cipherSC, macCS, macSC, compressCS, compressSC] = lists;
  return { kex, hostKey, cipherCS, cipherSC, macCS, macSC, compressCS, compressSC };
}
