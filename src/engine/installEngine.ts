/**
 * The process-wide changes the adapter makes to ssh2, applied in one place and only when asked:
 * importing the package (the settings table, `Certificate`, ...) leaves ssh2 as it is. The daemon
 * calls {@link installEngine} before its first listen (ServerCore.listen) and before it builds an
 * engine server (EngineServer.ts); anything else that needs the patched engine (an in-process ssh2
 * client offering mlkem768x25519-sha256, the fuzzer) calls it too. Idempotent; throws when the
 * installed ssh2 no longer has the shape a patch relies on (see docs/engine.md).
 */
import { installGuessedKexPacketFix } from './guessedKexPacketFix';
import { installKexAccessor } from './handshakeControl';
import { installInflateLimit } from './inflateLimit';
import { checkPacketBuffers } from './packetBuffers';
import { installPostQuantumKex } from './pqKex';
import { installRekeyGate } from './rekeyGate';
import { constants, installPayloadTap, ProtocolClass, protocolUtils } from './ssh2Internals';
import { installUserAuthTakeover } from './userAuthControl';
import { checkWriteBatching } from './writeBatching';
import { checkTransientReads } from './transientReads';
import { checkIdentReassembly, installIdentReassembly } from './identReassembly';

let installed = false;

/**
 * Applies every process-wide engine patch (table in docs/engine.md): the guessed-KEX-packet fix,
 * the `_kex` accessor, mlkem768x25519-sha256, the pre-authentication re-key gate, the inflate
 * bound, the USERAUTH takeover and the CHANNEL_OPEN/CHANNEL_REQUEST payload tap; and checks the
 * sources the per-connection outbound patches rely on. Patches that act per connection still do
 * so only for the daemon's own connections.
 */
export function installEngine(): void {
  if (installed) return;
  // Checks first: a changed ssh2 fails before anything is patched.
  checkWriteBatching();
  checkTransientReads();
  checkIdentReassembly();
  checkPacketBuffers();
  installGuessedKexPacketFix(ProtocolClass);
  installIdentReassembly(ProtocolClass);
  installKexAccessor(ProtocolClass);
  installPostQuantumKex({ protocolClass: ProtocolClass, constants, utils: protocolUtils }); // after installKexAccessor
  installRekeyGate();
  installInflateLimit();
  installUserAuthTakeover();
  installPayloadTap();
  installed = true;
}

/** Whether {@link installEngine} has run in this process. */
export function engineInstalled(): boolean {
  return installed;
}
