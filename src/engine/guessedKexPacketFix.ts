/**
 * Patch for ssh2 1.17.0: a correctly guessed key-exchange packet is thrown away.
 *
 * A client may send its first key-exchange packet right after KEXINIT, guessing the algorithms
 * (`first_kex_packet_follows`, RFC 4253 §7.1). The guess must be ignored only when it was wrong:
 * when the two sides' first key-exchange or first host-key algorithms differ (OpenSSH's
 * `proposals_match`). ssh2's `handleKexInit` overwrites the remote list with the negotiated name
 * before comparing, so it compares against a single character and discards every guess: Dropbear's
 * `dbclient`, which guesses, then waits forever for a reply to a packet the server dropped.
 *
 * The fix puts an accessor for `_skipNextInboundPacket` on ssh2's Protocol prototype. ssh2 still
 * sets it; the decision is taken when ssh2 reads it, which is when the next packet arrives and the
 * remote KEXINIT is available on the key exchange object. It is global to the process on purpose:
 * in-process ssh2 clients get the correct behaviour too.
 */

import { parseKexInit } from './kexInitLists';

interface GuessState {
  pending: boolean;
  skip: boolean;
}

interface ProtocolInternals {
  _offer?: { lists?: { kex?: { array?: string[] }; serverHostKey?: { array?: string[] } } };
  _kex?: { _remoteKexinit?: Buffer };
}

const state = new WeakMap<object, GuessState>();

/** First entries of the kex and host-key name-lists of a KEXINIT payload. */
export function firstProposals(payload: Buffer): { kex: string; hostKey: string } | undefined {
  const lists = parseKexInit(payload);
  return lists && { kex: lists.kex[0] ?? '', hostKey: lists.hostKey[0] ?? '' };
}

/** RFC 4253 §7.1: the guess is wrong unless both sides prefer the same kex and host-key algorithm. */
function guessWasWrong(proto: ProtocolInternals): boolean {
  const remote = proto._kex?._remoteKexinit;
  const first = remote && firstProposals(remote);
  const localKex = proto._offer?.lists?.kex?.array?.[0];
  const localHostKey = proto._offer?.lists?.serverHostKey?.array?.[0];
  if (!first || localKex === undefined || localHostKey === undefined) return true; // ssh2's own behaviour
  return first.kex !== localKex || first.hostKey !== localHostKey;
}

let installed = false;

/** Installs the fix on ssh2's Protocol class; throws if the class no longer has the shape it fixes. */
export function installGuessedKexPacketFix(protocolClass: { prototype: object }): void {
  if (installed) return;
  if (Object.getOwnPropertyDescriptor(protocolClass.prototype, '_skipNextInboundPacket')) {
    throw new Error('sshdaemon engine: ssh2 Protocol already defines _skipNextInboundPacket; ssh2 version changed?');
  }
  installed = true;
  Object.defineProperty(protocolClass.prototype, '_skipNextInboundPacket', {
    configurable: true,
    get(this: ProtocolInternals): boolean {
      const s = state.get(this);
      if (!s) return false;
      if (s.pending) {
        s.pending = false;
        s.skip = guessWasWrong(this);
      }
      return s.skip;
    },
    set(this: ProtocolInternals, value: boolean) {
      state.set(this, { pending: value === true, skip: false });
    },
  });
}
