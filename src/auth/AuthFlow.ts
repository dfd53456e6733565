import { publish } from '../observability/diagnostics';
import { ErrorCodes } from '../errors/SSHDaemonError';
import { afterDecision } from '../events/EventHub';
import type { SSHUserAuthPromptEventArgs, SSHUserAuthRequestEventArgs } from '../events/events';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import type { UserAuthReplies } from '../engine/EngineWire';
import { combineRestrictions, type SessionRestrictions, UNRESTRICTED } from '../policy/SessionRestrictions';
import { certificateKeyType, parseOpenSSHCertificate } from '../certs/openSSHCertificate';
import { signatureAlgorithmFor, signatureKeyType } from '../certs/sshSignature';
import { acceptCertificate } from './userCertificates';
import { describeCertificate, describePublicKey, type PublicKeyInfo } from '../certs/publicKey';
import { type KeyboardInteractivePrompt, parsePromptSetting } from '../packet/keyboardPrompts';
import type { AuthHost } from './AuthHost';
import { parseMethods, promptList, publishedMethod, shown } from './authValues';
import { keyProblem, type PublicKeyRequest, signatureVerifies } from './publicKeyChecks';
import { decodeInfoResponse, decodeUserAuthRequest, type UserAuthRequest } from './userAuthRequest';

export type { AuthHost } from './AuthHost';

/**
 * Where the connection is in RFC 4252: requests wait for an accepted `ssh-userauth` service, are
 * then taken one at a time in arrival order, and nothing is evaluated once the connection is
 * authenticated or its DISCONNECT was sent.
 */
type Phase = 'before-service' | 'service-pending' | 'open' | 'finished';

/** A keyboard-interactive round whose INFO_REQUEST is out and whose answers are awaited. */
interface PendingRound {
  readonly request: KeyboardRequest;
  readonly round: number;
  readonly prompts: readonly KeyboardInteractivePrompt[];
}

type KeyboardRequest = Extract<UserAuthRequest, { method: 'keyboard-interactive' }>;

/** Decision fields set before the event fires (a certificate TrustedUserCAKeys accepts). */
interface Preset {
  accept: boolean;
  restrictions?: SessionRestrictions;
}

/** sshd's auth2.c: a connection that sends this many requests is dropped whatever it tries. */
const MAX_REQUESTS = 1024;
/** Requests a client may send ahead while one is being decided (as ssh2's MAX_PENDING_AUTHS). */
const MAX_WAITING = 10;

/**
 * The authentication state machine of one connection (RFC 4252, RFC 4256), fed with the raw
 * USERAUTH_REQUEST and USERAUTH_INFO_RESPONSE payloads, firing IPWorks-style SSHUserAuthRequest
 * (and SSHUserAuthPrompt) events and answering through the engine's replies.
 */
export class AuthFlow {
  private phase: Phase = 'before-service';
  private methods: readonly string[];
  private failures = 0;
  private requests = 0;
  /** A request is being decided; later ones wait in `waiting`. */
  private busy = false;
  private readonly waiting: Buffer[] = [];
  private round?: PendingRound;
  /** User and service of the first request: RFC 4252 5 lets neither change. */
  private identity?: { user: string; service: string };
  /** Restrictions of the steps accepted so far (two-factor: all of them apply). */
  private granted: SessionRestrictions = UNRESTRICTED;
  /** Public key blobs (base64) accepted in an earlier step; sshd refuses a key twice (auth2_key_already_used). */
  /** Keys already proven on this connection (made on the first; most connections prove one or none). */
  private usedKeys?: Set<string>;
  /** The method of the request being decided (for the `auth` diagnostics message). */
  private method = '';
  /** The round last sent on the current keyboard-interactive request. */
  private lastRound = 0;

  constructor(
    private readonly conn: ConnectionRecord,
    private readonly host: AuthHost,
    private readonly replies: UserAuthReplies,
  ) {
    this.methods = host.defaultAuthMethods();
  }

  private ended(): boolean {
    return this.phase === 'finished' || this.host.ended(this.conn);
  }

  // ---- transport messages --------------------------------------------------------------------

  /**
   * SERVICE_REQUEST: SSHServiceRequest decides; `proceed` is ssh2's own handler, which sends
   * SERVICE_ACCEPT for `ssh-userauth` and disconnects for anything else or a repeated request.
   */
  serviceRequest(service: string, proceed: () => void): void {
    // After USERAUTH_SUCCESS only ssh-connection messages are valid; ssh2 used to disconnect here, and still does.
    if (this.conn.authenticated)
      return this.host.serviceNotAvailable(this.conn, `Service ${shown(service)} refused: SERVICE_REQUEST after authentication`);
    if (this.ended()) return;
    if (this.phase === 'service-pending')
      return this.host.serviceNotAvailable(this.conn, 'SERVICE_REQUEST repeated before the first was answered');
    if (this.phase !== 'before-service') return proceed();
    this.phase = 'service-pending';
    afterDecision(this.host.serviceRequested(this.conn, service), (ok) => {
      if (this.ended()) return;
      if (!ok) {
        this.phase = 'finished';
        return this.host.serviceNotAvailable(this.conn, `Service ${shown(service)} refused by SSHServiceRequest`);
      }
      proceed();
      if (this.ended()) return;
      this.phase = 'open';
      this.next();
    });
  }

  /** USERAUTH_REQUEST (raw payload). */
  request(payload: Buffer, seqno: number): void {
    if (this.ended()) return;
    if (this.phase === 'before-service') {
      // sshd sets its USERAUTH_REQUEST handler only when it accepts ssh-userauth; until then the
      // default dispatch answers UNIMPLEMENTED and evaluates nothing.
      this.host.hub.log(
        this.conn.id,
        1,
        `USERAUTH_REQUEST before the ssh-userauth service was accepted: answered UNIMPLEMENTED, not evaluated`,
      );
      return this.replies.unimplemented(seqno);
    }
    if (this.round && !this.busy) this.round = undefined; // a new request ends the exchange (RFC 4256 3.1); not a failure, as in sshd
    if (this.phase === 'service-pending' || this.busy) {
      if (this.waiting.length >= MAX_WAITING)
        return this.violation(`more than ${MAX_WAITING} authentication requests sent ahead of the replies`);
      this.waiting.push(payload);
      return;
    }
    this.process(payload);
  }

  /** USERAUTH_INFO_RESPONSE (raw payload). */
  infoResponse(payload: Buffer, seqno: number): void {
    if (this.ended()) return;
    const round = this.round;
    if (!round || this.busy) return this.replies.unimplemented(seqno); // no INFO_REQUEST is waiting for it (sshd: dispatch_protocol_error)
    this.round = undefined;
    this.busy = true;
    this.method = 'keyboard-interactive';
    let decoded: ReturnType<typeof decodeInfoResponse>;
    try {
      decoded = decodeInfoResponse(payload, round.prompts.length);
    } catch (err) {
      return this.violation((err as Error).message);
    }
    if (!('answers' in decoded)) {
      this.host.hub.log(this.conn.id, 1, `keyboard-interactive: ${decoded.count} answers to ${round.prompts.length} prompts; refused`);
      return this.refuse(true);
    }
    this.answers(round, decoded.answers);
  }

  // ---- requests ------------------------------------------------------------------------------

  /** Takes the next waiting request when none is being decided. */
  private next(): void {
    if (this.busy || this.phase !== 'open' || this.ended()) return;
    const payload = this.waiting.shift();
    if (payload) this.process(payload);
  }

  /** The current request is answered (or waits for the client): the next may start. */
  private done(): void {
    this.busy = false;
    this.next();
  }

  private violation(description: string): void {
    this.phase = 'finished';
    this.waiting.length = 0;
    this.host.protocolError(this.conn, description);
  }

  private process(payload: Buffer): void {
    this.busy = true;
    let req: UserAuthRequest;
    try {
      req = decodeUserAuthRequest(payload);
    } catch (err) {
      return this.violation(`Malformed USERAUTH_REQUEST: ${(err as Error).message}`);
    }
    this.method = req.method === 'other' ? req.name : req.method;
    if (++this.requests > MAX_REQUESTS) return this.tooMany(req.user);
    if (!this.identity) this.identity = { user: req.user, service: req.service };
    else if (this.identity.user !== req.user || this.identity.service !== req.service) {
      return this.violation(
        `Change of username or service not allowed: (${shown(this.identity.user)},${shown(this.identity.service)}) -> (${shown(req.user)},${shown(req.service)})`,
      );
    }
    if (req.service !== 'ssh-connection') {
      this.phase = 'finished';
      return this.host.serviceNotAvailable(this.conn, `Service ${shown(req.service)} not available`);
    }
    if (this.method !== 'none' && !this.methods.includes(this.method)) return this.refuse(true);
    switch (req.method) {
      case 'none':
        return this.ask(req, { authMethod: 'none', authParam: '' });
      case 'password':
        if (req.newPassword !== undefined) {
          this.host.hub.log(this.conn.id, 1, `password change request for ${shown(req.user)} refused: not supported (as sshd without PAM)`);
          return this.refuse(true);
        }
        return this.ask(req, { authMethod: 'password', authParam: req.password });
      case 'publickey':
        return certificateKeyType(req.algorithm) ? this.certificateKey(req) : this.publicKey(req);
      case 'keyboard-interactive':
        return this.startRound(req, 1);
      default:
        return this.refuse(true); // hostbased and unknown methods
    }
  }

  private args(
    req: UserAuthRequest,
    fields: { authMethod: string; authParam: string; keyAlgorithm?: string; publicKey?: PublicKeyInfo; isQuery?: boolean },
    preset?: Preset,
  ): SSHUserAuthRequestEventArgs {
    return {
      connectionId: this.conn.id,
      user: req.user,
      service: req.service,
      authMethod: fields.authMethod,
      authParam: fields.authParam,
      partialSuccess: false,
      availableMethods: this.methods.join(','),
      keyAlgorithm: fields.keyAlgorithm ?? '',
      publicKey: fields.publicKey,
      isQuery: fields.isQuery ?? false,
      accept: preset?.accept ?? false,
      restrictions: preset?.restrictions,
    };
  }

  /**
   * Fires one SSHUserAuthRequest; resolves to the decided args, or undefined when a handler failed.
   * A query proves nothing: what its handlers write to the method list is discarded.
   */
  private fire(
    args: SSHUserAuthRequestEventArgs,
  ): SSHUserAuthRequestEventArgs | undefined | Promise<SSHUserAuthRequestEventArgs | undefined> {
    return afterDecision(this.host.hub.decide('SSHUserAuthRequest', args), (ok) => {
      if (!args.isQuery && !this.ended()) this.methods = parseMethods(args.availableMethods);
      return ok ? args : undefined;
    });
  }

  private ask(req: UserAuthRequest, fields: Parameters<AuthFlow['args']>[1], preset?: Preset, provenKey?: Buffer): void {
    const decided = this.fire(this.args(req, fields, preset));
    const conclude = (args: SSHUserAuthRequestEventArgs | undefined) => this.conclude(req, args, provenKey);
    if (decided instanceof Promise) decided.then(conclude, () => conclude(undefined));
    else conclude(decided);
  }

  private conclude(req: UserAuthRequest, args: SSHUserAuthRequestEventArgs | undefined, provenKey?: Buffer): void {
    if (this.ended()) return;
    this.host.flushBanner(this.conn);
    if (!args || !args.accept) return this.refuse(req.method !== 'none' || this.requests > 1);
    if (args.isQuery && req.method === 'publickey') {
      this.replies.pkOk(req.algorithm, req.blob); // RFC 4252 7: the client's own algorithm name and blob
      return this.done();
    }
    this.step(req, args, provenKey);
  }

  /** An accepted, proven step: partial success, or the login. */
  private step(req: UserAuthRequest, args: SSHUserAuthRequestEventArgs, provenKey?: Buffer): void {
    const granted = combineRestrictions(this.granted, args.restrictions ?? UNRESTRICTED);
    if (!granted) {
      this.host.hub.log(this.conn.id, 1, `authentication for ${shown(req.user)} refused: conflicting forced commands`);
      return this.refuse(true);
    }
    this.granted = granted;
    if (provenKey) (this.usedKeys ??= new Set()).add(provenKey.toString('base64'));
    if (args.partialSuccess) {
      publish('auth', () => ({ connectionId: this.conn.id, user: req.user, method: req.method, outcome: 'partial' }));
      this.replies.failure(
        this.methods.filter((m) => m !== 'none'),
        true,
      );
      return this.done();
    }
    if (req.method === 'keyboard-interactive') return this.startRound(req, this.lastRound + 1);
    this.login(req);
  }

  private login(req: UserAuthRequest): void {
    afterDecision(this.host.serviceRequested(this.conn, req.service), (ok) => {
      if (this.ended()) return;
      if (!ok) return this.refuse(true);
      this.phase = 'finished';
      this.waiting.length = 0;
      this.conn.restrictions = this.granted;
      publish('auth', () => ({ connectionId: this.conn.id, user: req.user, method: req.method, outcome: 'accepted' }));
      this.host.authenticated(this.conn, req.user);
      this.replies.success();
    });
  }

  /** Counts as OpenSSH's userauth_finish: every refusal but an initial 'none'; reaching the limit disconnects. */
  private refuse(counts: boolean): void {
    if (this.ended()) return;
    const user = this.identity?.user ?? '';
    const method = publishedMethod(this.method);
    if (counts) this.conn.authFailures++;
    publish('auth', () => ({ connectionId: this.conn.id, user, method, outcome: 'refused' }));
    if (counts && ++this.failures >= this.host.maxAuthAttempts()) return this.tooMany(user);
    this.host.flushBanner(this.conn);
    this.replies.failure(
      this.methods.filter((m) => m !== 'none'),
      false,
    );
    this.done();
  }

  private tooMany(user: string): void {
    this.phase = 'finished';
    this.waiting.length = 0;
    this.host.hub.error(
      this.conn.id,
      ErrorCodes.AuthAttemptsExceeded,
      `Too many authentication failures for ${shown(user)} (MaxAuthAttempts ${this.host.maxAuthAttempts()})`,
    );
    this.host.tooManyFailures(this.conn);
  }

  // ---- publickey -----------------------------------------------------------------------------

  private publicKey(req: PublicKeyRequest): void {
    const sigAlgorithm = signatureAlgorithmFor(req.algorithm);
    const problem = keyProblem(this.host, this.usedKeys, req.algorithm, sigAlgorithm, req.blob, signatureKeyType(req.algorithm) ?? '');
    if (problem) {
      this.host.hub.log(this.conn.id, 1, `publickey from ${shown(req.user)} refused: ${problem}`);
      return this.refuse(true);
    }
    const info = describePublicKey(req.blob);
    if (req.signature && !signatureVerifies(this.host, this.conn, this.replies, req, req.blob, sigAlgorithm!, info.fingerprint))
      return this.refuse(true);
    this.ask(
      req,
      {
        authMethod: 'publickey',
        authParam: info.blob.toString('base64'),
        keyAlgorithm: req.algorithm,
        publicKey: info,
        isQuery: !req.signature,
      },
      undefined,
      req.blob,
    );
  }

  /**
   * An OpenSSH certificate: the request's algorithm names the certificate type and the signature
   * algorithm; the certified key passes the same checks as a plain key, the signature is verified
   * with it, then the certificate is checked against TrustedUserCAKeys (the handler may still use
   * authorized_keys instead).
   */
  private certificateKey(req: PublicKeyRequest): void {
    const parsed = parseOpenSSHCertificate(req.blob);
    if (!parsed.ok || parsed.certificate.certKeyType !== certificateKeyType(req.algorithm)) {
      this.host.hub.log(
        this.conn.id,
        1,
        `certificate from ${shown(req.user)} refused: ${parsed.ok ? `${parsed.certificate.certKeyType} presented as ${shown(req.algorithm)}` : parsed.reason}`,
      );
      return this.refuse(true);
    }
    const cert = parsed.certificate;
    const sigAlgorithm = signatureAlgorithmFor(req.algorithm);
    const problem = keyProblem(this.host, this.usedKeys, req.algorithm, sigAlgorithm, cert.publicKey, cert.keyType);
    if (problem) {
      this.host.hub.log(this.conn.id, 1, `certificate from ${shown(req.user)} refused: ${problem}`);
      return this.refuse(true);
    }
    const info = describeCertificate(cert);
    if (req.signature && !signatureVerifies(this.host, this.conn, this.replies, req, cert.publicKey, sigAlgorithm!, info.fingerprint))
      return this.refuse(true);
    let preset: Preset | undefined;
    const trusted = this.host.trustedUserCAs();
    if (trusted.length > 0) {
      const allowed = this.host.allowedSignatureAlgorithms();
      const verdict = acceptCertificate(cert, {
        user: req.user,
        address: this.conn.remoteHost,
        trustedCAs: trusted,
        allowedSignatureAlgorithms: allowed,
      });
      if (verdict.ok) preset = { accept: true, restrictions: verdict.restrictions };
      else
        this.host.hub.log(
          this.conn.id,
          1,
          `certificate ${info.fingerprint} (ID ${shown(cert.keyId)}, serial ${cert.serial}) for ${shown(req.user)} not accepted by TrustedUserCAKeys: ${verdict.reason}`,
        );
    }
    this.ask(
      req,
      {
        authMethod: 'publickey',
        authParam: cert.blob.toString('base64'),
        keyAlgorithm: req.algorithm,
        publicKey: info,
        isQuery: !req.signature,
      },
      preset,
      cert.publicKey,
    );
  }

  // ---- keyboard-interactive --------------------------------------------------------------------

  /**
   * SSHUserAuthPrompt chooses the round's prompts. Round 1 defaults to KeyboardInteractivePrompts
   * [connId] or the property, and is refused when empty unless a handler assigned `prompts`
   * itself; a later round defaults to none, which ends the exchange with the login.
   */
  private startRound(req: KeyboardRequest, round: number): void {
    this.lastRound = round;
    const initial = round === 1 ? this.host.keyboardPrompts(this.conn).map((p) => ({ ...p })) : [];
    const args: SSHUserAuthPromptEventArgs = {
      connectionId: this.conn.id,
      user: req.user,
      service: req.service,
      round,
      submethods: req.submethods,
      prompts: initial,
      instructions: this.host.keyboardMessage(),
      name: '',
    };
    afterDecision(this.host.hub.decide('SSHUserAuthPrompt', args), (ok) => {
      if (this.ended()) return;
      if (!ok) return this.refuse(true);
      const prompts = promptList(args.prompts);
      if (!prompts || typeof args.instructions !== 'string' || typeof args.name !== 'string') {
        this.host.hub.error(
          this.conn.id,
          ErrorCodes.HandlerFailed,
          'SSHUserAuthPrompt handler left prompts that are not [{prompt: string, echo: boolean}] or a non-string instructions/name; refused',
        );
        return this.refuse(true);
      }
      const chosen = args.prompts !== initial;
      if (prompts.length === 0 && !chosen) {
        if (round > 1) return this.login(req);
        this.host.hub.log(
          this.conn.id,
          1,
          `keyboard-interactive for ${shown(req.user)} refused: no prompts (set them in SSHUserAuthPrompt, KeyboardInteractivePrompts or keyboardInteractivePrompts)`,
        );
        return this.refuse(true);
      }
      this.host.flushBanner(this.conn);
      this.round = { request: req, round, prompts };
      this.replies.infoRequest(args.name, args.instructions, prompts);
      this.done(); // the client answers, or sends a new request that ends the exchange
    });
  }

  /** IPWorks multi-fire: one event per answer (`keyboard-interactive-N`), then `keyboard-interactive`; all must accept. */
  private answers(round: PendingRound, answers: string[]): void {
    const req = round.request;
    const step = (i: number): void => {
      if (i === answers.length) return this.ask(req, { authMethod: 'keyboard-interactive', authParam: '' });
      const decided = this.fire(this.args(req, { authMethod: `keyboard-interactive-${i + 1}`, authParam: answers[i] }));
      const next = (args: SSHUserAuthRequestEventArgs | undefined) => {
        if (this.ended()) return;
        if (!args || !args.accept) return this.refuse(true);
        step(i + 1);
      };
      if (decided instanceof Promise) decided.then(next, () => next(undefined));
      else next(decided);
    };
    step(0);
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
