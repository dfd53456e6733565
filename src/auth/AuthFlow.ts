import { publish } from '../observability/diagnostics';
import { ErrorCodes } from '../errors/SSHDaemonError';
import type { EventHub } from '../daemon/EventHub';
import { afterDecision } from '../daemon/EventHub';
import type { SSHUserAuthRequestEventArgs } from '../daemon/events';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import type {
  Ssh2AuthContext,
  Ssh2KeyboardContext,
  Ssh2PasswordContext,
  Ssh2PublicKeyContext,
} from '../engine/ssh2Types';
import { combineRestrictions, type SessionRestrictions, UNRESTRICTED } from '../policy/SessionRestrictions';
import { certificateKeyType, parseOpenSSHCertificate } from './openSSHCertificate';
import { checkSshSignature, signatureAlgorithmFor } from './sshSignature';
import { acceptCertificate } from './userCertificates';
import { describeCertificate, describePublicKey, type PublicKeyInfo, verifyUserSignature } from './publicKey';
import { type KeyboardInteractivePrompt, parsePromptSetting } from './keyboardPrompts';

/** What authentication needs from the daemon for one connection. */
export interface AuthHost {
  readonly hub: EventHub;
  defaultAuthMethods(): string[];
  maxAuthAttempts(): number;
  allowedSignatureAlgorithms(): string[];
  /** CA key blobs from TrustedUserCAKeys (read at each use). */
  trustedUserCAs(): Buffer[];
  keyboardPrompts(conn: ConnectionRecord): KeyboardInteractivePrompt[];
  keyboardMessage(): string;
  /** Sends a pending UserAuthBanner[connId] before the next auth reply. */
  flushBanner(conn: ConnectionRecord): void;
  /** Fires SSHServiceRequest for the service named in a successful auth request. */
  serviceGranted(conn: ConnectionRecord, service: string): boolean | Promise<boolean>;
  tooManyFailures(conn: ConnectionRecord): void;
  authenticated(conn: ConnectionRecord, user: string): void;
}

const RSA_HASH_ALGOS: Record<string, string> = { sha256: 'rsa-sha2-256', sha512: 'rsa-sha2-512', sha1: 'ssh-rsa' };

/** The signature algorithm a publickey request names (ssh2 reports rsa-sha2-* as ssh-rsa plus a hash). */
function signatureAlgorithm(ctx: Ssh2PublicKeyContext): string {
  if (ctx.key.algo === 'ssh-rsa' && ctx.hashAlgo) return RSA_HASH_ALGOS[ctx.hashAlgo] ?? ctx.key.algo;
  return ctx.key.algo;
}

function parseMethods(list: string): string[] {
  return list.split(',').map((m) => m.trim()).filter(Boolean);
}

/** Decision fields set before the event fires (a certificate TrustedUserCAKeys accepts). */
interface Preset {
  accept: boolean;
  restrictions?: SessionRestrictions;
}

/** Turns ssh2's authentication contexts into IPWorks-style SSHUserAuthRequest events for one connection. */
export class AuthFlow {
  private methods: string[];
  private failures = 0;
  private attempts = 0;
  /** Restrictions of the steps accepted so far (two-factor: all of them apply). */
  private granted: SessionRestrictions = UNRESTRICTED;

  constructor(
    private readonly conn: ConnectionRecord,
    private readonly host: AuthHost,
  ) {
    this.methods = host.defaultAuthMethods();
  }

  handle(ctx: Ssh2AuthContext): void {
    const method = ctx.method;
    this.attempts++;
    if (method !== 'none' && !this.methods.includes(method)) return this.refuse(ctx, true);
    switch (method) {
      case 'none':
        return this.ask(ctx, 'none', '', '');
      case 'password':
        return this.ask(ctx, 'password', (ctx as Ssh2PasswordContext).password, '');
      case 'publickey':
        return this.publicKey(ctx as Ssh2PublicKeyContext);
      case 'keyboard-interactive':
        return this.keyboard(ctx as Ssh2KeyboardContext);
      default:
        return this.refuse(ctx, true);
    }
  }

  private args(ctx: Ssh2AuthContext, authMethod: string, authParam: string, keyAlgorithm: string, publicKey?: PublicKeyInfo, preset?: Preset): SSHUserAuthRequestEventArgs {
    return {
      connectionId: this.conn.id,
      user: ctx.username,
      service: ctx.service,
      authMethod,
      authParam,
      partialSuccess: false,
      availableMethods: this.methods.join(','),
      keyAlgorithm,
      publicKey,
      accept: preset?.accept ?? false,
      restrictions: preset?.restrictions,
    };
  }

  /** Fires one SSHUserAuthRequest; resolves to the decided args, or undefined when a handler failed. */
  private fire(args: SSHUserAuthRequestEventArgs): SSHUserAuthRequestEventArgs | undefined | Promise<SSHUserAuthRequestEventArgs | undefined> {
    return afterDecision(this.host.hub.decide('SSHUserAuthRequest', args), (ok) => {
      this.methods = parseMethods(args.availableMethods);
      return ok ? args : undefined;
    });
  }

  private ask(ctx: Ssh2AuthContext, authMethod: string, authParam: string, keyAlgorithm: string, publicKey?: PublicKeyInfo, isQuery = false, preset?: Preset): void {
    const decided = this.fire(this.args(ctx, authMethod, authParam, keyAlgorithm, publicKey, preset));
    const conclude = (args: SSHUserAuthRequestEventArgs | undefined) => this.conclude(ctx, args, isQuery);
    if (decided instanceof Promise) decided.then(conclude, () => conclude(undefined));
    else conclude(decided);
  }

  private conclude(ctx: Ssh2AuthContext, args: SSHUserAuthRequestEventArgs | undefined, isQuery: boolean): void {
    if (this.conn.closed) return;
    this.host.flushBanner(this.conn);
    if (!args || !args.accept) return this.refuse(ctx, ctx.method !== 'none' || this.attempts > 1);
    if (isQuery) return ctx.accept(); // USERAUTH_PK_OK: the key is acceptable, the signed request follows
    const granted = combineRestrictions(this.granted, args.restrictions ?? UNRESTRICTED);
    if (!granted) {
      this.host.hub.log(this.conn.id, 1, `authentication for '${ctx.username}' refused: conflicting forced commands`);
      return this.refuse(ctx, true);
    }
    this.granted = granted;
    if (args.partialSuccess) {
      publish('auth', () => ({ connectionId: this.conn.id, user: ctx.username, method: ctx.method, outcome: 'partial' }));
      ctx.reject(this.methods, true);
      return;
    }
    afterDecision(this.host.serviceGranted(this.conn, ctx.service), (ok) => {
      if (this.conn.closed) return;
      if (!ok) return this.refuse(ctx, true);
      this.conn.restrictions = this.granted;
      publish('auth', () => ({ connectionId: this.conn.id, user: ctx.username, method: ctx.method, outcome: 'accepted' }));
      this.host.authenticated(this.conn, ctx.username);
      ctx.accept();
    });
  }

  /** Counts as OpenSSH's userauth_finish: every refusal but an initial 'none'; reaching the limit disconnects. */
  private refuse(ctx: Ssh2AuthContext, counts: boolean): void {
    if (counts) this.conn.authFailures++;
    publish('auth', () => ({ connectionId: this.conn.id, user: ctx.username, method: ctx.method, outcome: 'refused' }));
    if (counts && ++this.failures >= this.host.maxAuthAttempts()) {
      this.host.hub.error(this.conn.id, ErrorCodes.AuthAttemptsExceeded, `Too many authentication failures for '${ctx.username}' (MaxAuthAttempts ${this.host.maxAuthAttempts()})`);
      this.host.tooManyFailures(this.conn);
      return;
    }
    ctx.reject(this.methods.filter((m) => m !== 'none'));
  }

  private publicKey(ctx: Ssh2PublicKeyContext): void {
    if (certificateKeyType(ctx.key.algo)) return this.certificateKey(ctx);
    const algorithm = signatureAlgorithm(ctx);
    if (!this.host.allowedSignatureAlgorithms().includes(algorithm)) {
      this.host.hub.log(this.conn.id, 1, `publickey with signature algorithm ${algorithm} refused (not in SSHPubKeyAuthSigAlgorithms)`);
      return this.refuse(ctx, true);
    }
    const info = describePublicKey(Buffer.from(ctx.key.data));
    if (ctx.signature) {
      if (!ctx.blob || !verifyUserSignature(info.blob, ctx.blob, ctx.signature, ctx.hashAlgo)) {
        this.host.hub.error(this.conn.id, ErrorCodes.SignatureInvalid, `publickey signature for '${ctx.username}' does not verify with key ${info.fingerprint}`);
        return this.refuse(ctx, true);
      }
    }
    this.ask(ctx, 'publickey', info.blob.toString('base64'), algorithm, info, !ctx.signature);
  }

  /**
   * An OpenSSH certificate: ssh2 passes the certificate blob, the signed data and the whole SSH
   * signature untouched; we verify the signature with the certified key, then check the
   * certificate against TrustedUserCAKeys (the handler may still use authorized_keys instead).
   */
  private certificateKey(ctx: Ssh2PublicKeyContext): void {
    const sigAlgorithm = signatureAlgorithmFor(ctx.key.algo) ?? ctx.key.algo;
    const allowed = this.host.allowedSignatureAlgorithms();
    if (!allowed.includes(sigAlgorithm)) {
      this.host.hub.log(this.conn.id, 1, `publickey with certificate algorithm ${ctx.key.algo} refused (${sigAlgorithm} not in SSHPubKeyAuthSigAlgorithms)`);
      return this.refuse(ctx, true);
    }
    const parsed = parseOpenSSHCertificate(Buffer.from(ctx.key.data));
    if (!parsed.ok || parsed.certificate.certKeyType !== certificateKeyType(ctx.key.algo)) {
      this.host.hub.log(this.conn.id, 1, `certificate from '${ctx.username}' refused: ${parsed.ok ? `${parsed.certificate.certKeyType} presented as ${ctx.key.algo}` : parsed.reason}`);
      return this.refuse(ctx, true);
    }
    const cert = parsed.certificate;
    const info = describeCertificate(cert);
    if (ctx.signature) {
      const verified = ctx.blob ? checkSshSignature(cert.publicKey, ctx.blob, ctx.signature, { expectedAlgorithm: sigAlgorithm, allowedAlgorithms: allowed }) : { ok: false as const, reason: 'no signed data' };
      if (!verified.ok) {
        this.host.hub.error(this.conn.id, ErrorCodes.SignatureInvalid, `publickey signature for '${ctx.username}' with certificate ${info.fingerprint} does not verify: ${verified.reason}`);
        return this.refuse(ctx, true);
      }
    }
    let preset: Preset | undefined;
    const trusted = this.host.trustedUserCAs();
    if (trusted.length > 0) {
      const verdict = acceptCertificate(cert, { user: ctx.username, address: this.conn.remoteHost, trustedCAs: trusted, allowedSignatureAlgorithms: allowed });
      if (verdict.ok) preset = { accept: true, restrictions: verdict.restrictions };
      else this.host.hub.log(this.conn.id, 1, `certificate ${info.fingerprint} (ID "${cert.keyId}", serial ${cert.serial}) for '${ctx.username}' not accepted by TrustedUserCAKeys: ${verdict.reason}`);
    }
    this.ask(ctx, 'publickey', cert.blob.toString('base64'), ctx.key.algo, info, !ctx.signature, preset);
  }

  /** IPWorks multi-fire: one event per answer (`keyboard-interactive-N`), then `keyboard-interactive`; all must accept. */
  private keyboard(ctx: Ssh2KeyboardContext): void {
    const prompts = this.host.keyboardPrompts(this.conn);
    ctx.prompt(prompts, '', this.host.keyboardMessage(), (responses) => {
      if (this.conn.closed || responses instanceof Error) return;
      const answers = Array.isArray(responses) ? responses : [];
      if (answers.length !== prompts.length) return this.refuse(ctx, true);
      const step = (i: number): void => {
        if (i === answers.length) return this.ask(ctx, 'keyboard-interactive', '', '');
        const decided = this.fire(this.args(ctx, `keyboard-interactive-${i + 1}`, answers[i], ''));
        const next = (args: SSHUserAuthRequestEventArgs | undefined) => {
          if (this.conn.closed) return;
          if (!args || !args.accept) {
            this.host.flushBanner(this.conn);
            return this.refuse(ctx, true);
          }
          step(i + 1);
        };
        if (decided instanceof Promise) decided.then(next, () => next(undefined));
        else next(decided);
      };
      step(0);
    });
  }

  static promptsFromSetting(text: string | undefined, fallback: KeyboardInteractivePrompt[]): KeyboardInteractivePrompt[] {
    if (!text) return fallback;
    try {
      return parsePromptSetting(text);
    } catch {
      return fallback;
    }
  }
}
