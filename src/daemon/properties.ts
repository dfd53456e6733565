import { Certificate } from '../certs/Certificate';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import type { KeyboardInteractivePrompt } from '../packet/keyboardPrompts';
import type { PolicyStore } from '../policy/PolicyStore';
import type { SSHChannel, SSHConnection } from '../views/views';

/** The daemon's properties and their types. */
export interface SSHDaemonProperties {
  /** True starts listening (errors arrive on `Error`); false stops accepting, existing connections stay. Prefer `await startListening()`. */
  listening: boolean;
  /** Bind address; '' = all interfaces. */
  localHost: string;
  /** TCP port; 0 = any free port, readable once listening. */
  localPort: number;
  /** Listen backlog: pending TCP connections the OS queues (default 5). */
  connectionBacklog: number;
  /** Comma list of methods offered: none, password, publickey, keyboard-interactive. */
  defaultAuthMethods: string;
  /** Seconds, copied to each new connection's `timeout`. */
  defaultTimeout: number;
  /** Instruction text sent with the keyboard-interactive prompts. */
  keyboardInteractiveMessage: string;
  /** The keyboard-interactive prompts (`KeyboardInteractivePrompts[connectionId]` overrides them per connection). */
  keyboardInteractivePrompts: KeyboardInteractivePrompt[];
  /** The host key; required before listening. */
  sshCert: Certificate | undefined;
  /**
   * (beyond) Shared policy state for a fleet of daemons: penalties and bans, per-client counts, the
   * connection rate, the session directory and `disconnectEverywhere` (a `RedisPolicyStore`, or a
   * `MemoryPolicyStore` shared in one process). Undefined (the default): this daemon's own
   * in-memory tables only. See docs/scale-out.md.
   */
  policyStore: PolicyStore | undefined;
  /** Compression algorithms offered, comma list; the `SSHCompressionAlgorithms` setting under another name. */
  sshCompressionAlgorithms: string;
  /** Ciphers offered, comma list in preference order; the `SSHEncryptionAlgorithms` setting under another name. */
  sshEncryptionAlgorithms: string;
  /** Live connections by connectionId (a snapshot). */
  readonly sshConnections: ReadonlyMap<string, SSHConnection>;
  /** Open channels by channelId (a snapshot). */
  readonly sshChannels: ReadonlyMap<string, SSHChannel>;
}

/** How the daemon stores and reacts to one property. */
export interface PropertyRow<K extends keyof SSHDaemonProperties> {
  /** The IPWorks name, used for getX()/setX(). */
  readonly ipworks: string;
  readonly initial?: () => SSHDaemonProperties[K];
  /** Validates and normalises; throws SSHDaemonError naming the valid values. */
  readonly validate?: (v: unknown) => SSHDaemonProperties[K];
  /** Cannot change while listening (bind settings). */
  readonly fixedWhileListening?: boolean;
  readonly readOnly?: boolean;
  /** Stored in this Config() setting: the property reads and writes it (one value, two names). */
  readonly setting?: string;
}

function bad(name: string, valid: string, got: unknown): SSHDaemonError {
  return new SSHDaemonError(ErrorCodes.InvalidPropertyValue, `Property ${name} expects ${valid}; got ${JSON.stringify(got)}`);
}
const integer =
  (name: string, min: number, max: number) =>
  (v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(name, `an integer from ${min} to ${max}`, v);
    return v;
  };
const text =
  (name: string) =>
  (v: unknown): string => {
    if (typeof v !== 'string') throw bad(name, 'a string', v);
    return v;
  };
const commaList =
  (name: string, supported: readonly string[]) =>
  (v: unknown): string => {
    if (typeof v !== 'string') throw bad(name, `a comma list of: ${supported.join(', ')}`, v);
    const items = [
      ...new Set(
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ];
    const unknown = items.filter((i) => !supported.includes(i));
    if (unknown.length || items.length === 0) throw bad(name, `a comma list of: ${supported.join(', ')}`, v);
    return items.join(',');
  };

export const AUTH_METHODS = ['none', 'password', 'publickey', 'keyboard-interactive'] as const;

/** ONE table of properties: camelCase accessors and IPWorks getX()/setX() are both generated from it. */
export const PROPERTIES = {
  listening: { ipworks: 'Listening' },
  localHost: { ipworks: 'LocalHost', initial: () => '', validate: text('localHost'), fixedWhileListening: true },
  localPort: { ipworks: 'LocalPort', initial: () => 22, validate: integer('localPort', 0, 65535), fixedWhileListening: true },
  connectionBacklog: {
    ipworks: 'ConnectionBacklog',
    initial: () => 5,
    validate: integer('connectionBacklog', 0, 65535),
    fixedWhileListening: true,
  },
  defaultAuthMethods: {
    ipworks: 'DefaultAuthMethods',
    initial: () => 'password,publickey',
    validate: commaList('defaultAuthMethods', AUTH_METHODS),
  },
  defaultTimeout: { ipworks: 'DefaultTimeout', initial: () => 0, validate: integer('defaultTimeout', 0, 2_147_483) },
  keyboardInteractiveMessage: { ipworks: 'KeyboardInteractiveMessage', initial: () => '', validate: text('keyboardInteractiveMessage') },
  keyboardInteractivePrompts: {
    ipworks: 'KeyboardInteractivePrompts',
    initial: () => [],
    validate: (v) => {
      if (!Array.isArray(v) || !v.every((p) => p && typeof p.prompt === 'string')) {
        throw bad('keyboardInteractivePrompts', 'an array of {prompt: string, echo: boolean}', v);
      }
      return v.map((p: KeyboardInteractivePrompt) => ({ prompt: p.prompt, echo: Boolean(p.echo) }));
    },
  },
  sshCert: {
    ipworks: 'SSHCert',
    initial: () => undefined,
    validate: (v) => {
      if (v !== undefined && !(v instanceof Certificate)) throw bad('sshCert', 'a Certificate', typeof v);
      // A public-only Certificate (SSH public key, X.509 store) cannot sign the key exchange.
      v?.requirePrivateKey('sshCert');
      return v as Certificate | undefined;
    },
  },
  policyStore: {
    ipworks: 'PolicyStore',
    initial: () => undefined,
    validate: (v) => {
      const methods = ['admit', 'release', 'penalise', 'ban', 'refresh', 'register', 'unregister', 'sessions', 'publishDisconnect'];
      const store = v as Record<string, unknown> | undefined;
      if (store !== undefined && (typeof store !== 'object' || store === null || !methods.every((m) => typeof store[m] === 'function')))
        throw bad('policyStore', 'a PolicyStore (RedisPolicyStore, MemoryPolicyStore) or undefined', typeof v);
      return store as PolicyStore | undefined;
    },
  },
  sshCompressionAlgorithms: { ipworks: 'SSHCompressionAlgorithms', setting: 'SSHCompressionAlgorithms' },
  sshEncryptionAlgorithms: { ipworks: 'SSHEncryptionAlgorithms', setting: 'SSHEncryptionAlgorithms' },
  sshConnections: { ipworks: 'SSHConnections', readOnly: true },
  sshChannels: { ipworks: 'SSHChannels', readOnly: true },
} as const satisfies { readonly [K in keyof SSHDaemonProperties]: PropertyRow<K> };

type IPWorksName<K extends keyof SSHDaemonProperties> = (typeof PROPERTIES)[K]['ipworks'];
type Writable<K extends keyof SSHDaemonProperties> = (typeof PROPERTIES)[K] extends { readOnly: true } ? never : K;

/** The generated IPWorks-style accessors: getLocalPort(), setLocalPort(v), ... */
export type PropertyMethods = {
  [K in keyof SSHDaemonProperties as `get${IPWorksName<K> & string}`]: () => SSHDaemonProperties[K];
} & {
  [K in keyof SSHDaemonProperties as `set${IPWorksName<Writable<K>> & string}`]: (value: SSHDaemonProperties[K]) => void;
};

/** What the generated accessors call on the daemon. */
interface PropertyOwner {
  config(statement: string): string;
  readonly listening: boolean;
}

/**
 * Defines the camelCase accessors (those the class does not define itself) and the IPWorks
 * getX()/setX() twins on `proto`, from {@link PROPERTIES}. Plain values live in the instance's
 * `props` object; `setting` rows read and write the Config() setting.
 */
export function installPropertyAccessors(proto: PropertyOwner): void {
  const target = proto as unknown as Record<string, unknown>;
  const stored = (owner: PropertyOwner) => (owner as unknown as { props: Record<string, unknown> }).props;
  for (const [name, row] of Object.entries(PROPERTIES) as [keyof SSHDaemonProperties, (typeof PROPERTIES)[keyof SSHDaemonProperties]][]) {
    const own = Object.getOwnPropertyDescriptor(proto, name);
    const setting = 'setting' in row ? row.setting : undefined;
    const get =
      own?.get ??
      (setting
        ? function (this: PropertyOwner) {
            return this.config(setting);
          }
        : function (this: PropertyOwner) {
            return stored(this)[name];
          });
    const set =
      own?.set ??
      (setting
        ? function (this: PropertyOwner, v: unknown) {
            this.config(`${setting}=${String(v)}`);
          }
        : undefined) ??
      (!('readOnly' in row)
        ? function (this: PropertyOwner, v: unknown) {
            if ('fixedWhileListening' in row && this.listening) {
              throw new SSHDaemonError(
                ErrorCodes.NotWhileListening,
                `Property ${name} cannot change while listening; call stopListening() first`,
              );
            }
            stored(this)[name] = 'validate' in row ? row.validate(v) : v;
          }
        : function () {
            throw new SSHDaemonError(ErrorCodes.InvalidPropertyValue, `Property ${name} is read-only`);
          });
    if (!own) Object.defineProperty(proto, name, { get, set, configurable: true, enumerable: false });
    target[`get${row.ipworks}`] = function (this: PropertyOwner) {
      return get.call(this);
    };
    if (!('readOnly' in row)) {
      target[`set${row.ipworks}`] = function (this: PropertyOwner, v: unknown) {
        set.call(this, v);
      };
    }
  }
}

/** Sets every stored property of `props` to its initial value (construction and reset()). */
export function resetProperties(props: object): void {
  for (const [name, row] of Object.entries(PROPERTIES)) {
    if ('initial' in row) (props as Record<string, unknown>)[name] = row.initial();
  }
}
