import { DEFAULTS, SUPPORTED, SUPPORTED_USER_SIG } from './algorithms';
import { trustedCAsProblem } from '../certs/trustedKeys';
import { parseMaxStartups, parseNetBlockSize, parsePenalties, parsePorts, parseRateLimit } from '../policy/policySettings';
import { anyText, bool, checkedText, intRange, listOf, oneLine, pattern, type SettingParser } from './settingTypes';

/** How a setting is addressed: plain, `Name[connectionId]`, or `Name[i]` (a list index). */
export type SettingIndex = 'none' | 'connection' | 'list';

/** One row of the settings table: everything `config()` and the generated reference need. */
export interface SettingRow {
  /** The setting name as `config()` takes it. */
  readonly name: string;
  /** The value type; every value is read and written as text. */
  readonly type: 'int' | 'bool' | 'string' | 'list';
  /** The default value, as text. */
  readonly default: string;
  /** `'none'`, `'connection'` (`Name[connectionId]`) or `'list'` (`Name[i]`). */
  readonly index: SettingIndex;
  /** True: `config()` reads it only. */
  readonly readOnly?: boolean;
  /** Validates and normalises a new value; throws with the valid range. */
  readonly parse: SettingParser;
  /** What the setting does on Node (generated into docs/settings.md). */
  readonly effect: string;
}

const WINDOWS_ONLY = 'Accepted and readable for ported code; has no effect on Node.js (Windows-only in IPWorks).';
const SECONDS = intRange(0, 2_147_483);
const int = (min: number, max: number) => intRange(min, max);

/** A setting whose text a policy parser must accept (its error says what is wrong). */
const parsedBy = (range: string, parse: (text: string) => unknown) =>
  checkedText(range, (text) => {
    try {
      parse(text);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  });

const row = (r: Omit<SettingRow, 'index'> & { index?: SettingIndex }): SettingRow => ({ index: 'none', ...r });

/** Every `Config()` setting, one row each. */
export const SETTINGS: readonly SettingRow[] = [
  // Host keys
  row({
    name: 'AltSSHCertCount',
    type: 'int',
    default: '0',
    parse: int(0, 16),
    effect: 'Number of additional host keys (AltSSHCertStore[i] etc.) offered next to SSHCert; read when listening starts.',
  }),
  row({
    name: 'AltSSHCertCertificate',
    type: 'string',
    default: '',
    index: 'list',
    parse: anyText,
    effect:
      'OpenSSH host certificate of additional host key i (sshd HostCertificate): the path or the text of its *-cert.pub file (ssh-keygen -s CA -h). Offered as <algorithm>-cert-v01@openssh.com before the plain keys; checked when loaded (it must certify that key, be a host certificate valid now, carry no critical option). Empty: none.',
  }),
  row({
    name: 'AltSSHCertStore',
    type: 'string',
    default: '',
    index: 'list',
    parse: anyText,
    effect: 'Store of additional host key i: a file path, key text (PEM, OpenSSH, PPK), or base64 of a binary store (PFX).',
  }),
  row({
    name: 'AltSSHCertStorePassword',
    type: 'string',
    default: '',
    index: 'list',
    parse: anyText,
    effect: 'Password of additional host key i.',
  }),
  row({
    name: 'AltSSHCertStoreType',
    type: 'int',
    default: '99',
    index: 'list',
    parse: int(0, 99),
    effect: 'Store type of additional host key i (CertStoreTypes).',
  }),
  row({
    name: 'AltSSHCertSubject',
    type: 'string',
    default: '*',
    index: 'list',
    parse: anyText,
    effect: 'Subject of additional host key i.',
  }),
  row({
    name: 'SSHCertCertificate',
    type: 'string',
    default: '',
    parse: anyText,
    effect:
      'OpenSSH host certificate of SSHCert (sshd HostCertificate): the path or the text of its *-cert.pub file (ssh-keygen -s CA -h). Offered as <algorithm>-cert-v01@openssh.com (e.g. ssh-ed25519-cert-v01@openssh.com, rsa-sha2-512-cert-v01@openssh.com) before the plain keys; checked when loaded (it must certify SSHCert, be a host certificate valid now, carry no critical option): otherwise InvalidHostCertificate (407). Empty: none. See host-keys.md.',
  }),
  row({
    name: 'UpdateHostKeys',
    type: 'bool',
    default: 'true',
    parse: bool,
    effect:
      "(beyond) OpenSSH's host-key rotation extension, server side, as sshd always does: after authentication every loaded host key (SSHCert and AltSSHCertStore[i], plain keys) is sent in hostkeys-00@openssh.com, and hostkeys-prove-00@openssh.com is answered with the proofs; clients with UpdateHostKeys learn new keys. false: neither (sshd has no such option). See host-keys.md.",
  }),
  row({
    name: 'SFTPReuseReadBuffer',
    type: 'bool',
    default: 'true',
    parse: bool,
    effect:
      "(beyond) Once a connection serves SFTP, its socket is read into one reused 1 MiB buffer (one for the whole process, shared by every such connection) instead of a new one per read (Node's onread user buffer), and the SFTP session copies each packet into pooled buffers: an upload allocates nothing per packet, which keeps V8 out of back-to-back mark-compacts (benchmarks.md). false: every read gets its own buffer, as before. Read when an SFTP session starts.",
  }),
  // Per connection
  row({
    name: 'ClientSSHVersionString',
    type: 'string',
    default: '',
    index: 'connection',
    readOnly: true,
    parse: anyText,
    effect: "Read-only: the identification line the client sent, e.g. 'SSH-2.0-OpenSSH_9.2p1'.",
  }),
  row({
    name: 'ConnectionUID',
    type: 'string',
    default: '',
    index: 'connection',
    readOnly: true,
    parse: anyText,
    effect: 'Read-only: a unique id for the connection (its connectionId, never reused while the process runs).',
  }),
  row({
    name: 'KeyboardInteractivePrompts',
    type: 'string',
    default: '',
    index: 'connection',
    parse: anyText,
    effect:
      "Per-connection keyboard-interactive prompts, the default of the first round's SSHUserAuthPrompt (over the keyboardInteractivePrompts property): comma list, each 'text' or 'text|echo' / 'text|noecho' (default noecho), or a JSON array of {prompt, echo}. A round with no prompts is refused unless a handler chose none.",
  }),
  row({
    name: 'UserAuthBanner',
    type: 'string',
    default: '',
    index: 'connection',
    parse: anyText,
    effect:
      'Banner sent to that connection (SSH_MSG_USERAUTH_BANNER); set it in SSHUserAuthRequest (it is sent before the reply) or in Connected.',
  }),
  // Timeouts and limits
  row({
    name: 'DefaultIdleTimeout',
    type: 'int',
    default: '0',
    parse: SECONDS,
    effect: 'Seconds without channel data or requests after which an authenticated connection is closed; 0 never.',
  }),
  row({
    name: 'DefaultConnectionTimeout',
    type: 'int',
    default: '0',
    parse: SECONDS,
    effect: 'Seconds within which the handshake and login must finish; a silent socket is closed; 0 = AuthTimeout alone applies.',
  }),
  row({
    name: 'AuthTimeout',
    type: 'int',
    default: '120',
    parse: SECONDS,
    effect: 'Login grace time in seconds (OpenSSH LoginGraceTime): a connection not authenticated by then is closed; 0 never.',
  }),
  row({
    name: 'MaxAuthAttempts',
    type: 'int',
    default: '6',
    parse: int(1, 1000),
    effect:
      "Failed authentication attempts allowed per connection; the failure that reaches it disconnects (DISCONNECT 14, Error 1010). Counted as OpenSSH's MaxAuthTries: every refused request counts (publickey queries and each keyboard-interactive round included) except an initial 'none' probe. Once reached, nothing more the client sends is read.",
  }),
  row({
    name: 'MaxConnections',
    type: 'int',
    default: '1000',
    parse: int(1, 100_000),
    effect: 'Simultaneous connections; past it new sockets are closed before any SSH byte.',
  }),
  row({
    name: 'MaxRemoteForwardsPerConnection',
    type: 'int',
    default: '20',
    parse: int(1, 65_535),
    effect:
      "(beyond) Remote-forward listeners (tcpip-forward, ssh -R) one connection may hold, binds under way included; past it the request fails before SSHChannelRequest fires. OpenSSH has no such limit (each connection is its own process with its own descriptor limit); here every connection shares the daemon's descriptors. 20 is Dropbear's MAX_LISTENERS.",
  }),
  row({
    name: 'MaxSessionsPerConnection',
    type: 'int',
    default: '10',
    parse: int(1, 100_000),
    effect:
      'Open channels allowed per connection (OpenSSH MaxSessions); further opens are refused with RESOURCE_SHORTAGE. The forwarded-tcpip channels the daemon opens for remote forwards count too: a connection to a remote-forward listener past it is dropped.',
  }),
  row({
    name: 'KeyRenegotiationThreshold',
    type: 'int',
    default: '1073741824',
    parse: int(0, Number.MAX_SAFE_INTEGER),
    effect: 'Bytes on the connection (both directions together) after which the server re-keys; 0 off. Default 1 GiB.',
  }),
  row({
    name: 'KeyRenegotiationInterval',
    type: 'int',
    default: '3600',
    parse: SECONDS,
    effect: '(beyond) Seconds after which the server re-keys; 0 off.',
  }),
  row({
    name: 'SSHKeepAliveInterval',
    type: 'int',
    default: '0',
    parse: SECONDS,
    effect: 'Seconds between SSH keep-alive requests to an authenticated client; 0 disables them.',
  }),
  row({
    name: 'SSHKeepAliveCountMax',
    type: 'int',
    default: '5',
    parse: int(0, 1000),
    effect: 'Unanswered keep-alives before the connection is dropped.',
  }),
  // Protocol identity and algorithms
  row({
    name: 'ServerSSHVersionString',
    type: 'string',
    default: 'SSH-2.0-sshdaemon_0.1',
    parse: pattern(/^SSH-2\.0-[\x21-\x7e]+( [\x20-\x7e]*)?$/, "one line 'SSH-2.0-softwareversion [comments]' of printable ASCII"),
    effect: 'Identification line sent to clients (new connections).',
  }),
  row({
    name: 'SSHVersionPattern',
    type: 'string',
    default: '*SSH-1.99-*,*SSH-2.0-*',
    parse: oneLine(1024),
    effect: 'Comma list of * / ? patterns the client identification must match; others are disconnected before key exchange.',
  }),
  row({
    name: 'SSHKeyExchangeAlgorithms',
    type: 'list',
    default: DEFAULTS.kex.join(','),
    parse: listOf(SUPPORTED.kex),
    effect:
      'Key exchange algorithms offered, in order of preference. The post-quantum hybrid mlkem768x25519-sha256 comes first (see docs/post-quantum.md; needs Node.js 20.19 or later, else it is left out and logged). Group exchange is never offered (ssh2 cannot serve it).',
  }),
  row({
    name: 'SSHEncryptionAlgorithms',
    type: 'list',
    default: DEFAULTS.cipher.join(','),
    parse: listOf(SUPPORTED.cipher),
    effect:
      'Ciphers offered (both directions); also the sshEncryptionAlgorithms property. Legacy CBC and 3DES ciphers can be listed to switch them on.',
  }),
  row({
    name: 'SSHCompressionAlgorithms',
    type: 'list',
    default: DEFAULTS.compression.join(','),
    parse: listOf(SUPPORTED.compression),
    effect: 'Compression offered; also the sshCompressionAlgorithms property.',
  }),
  row({
    name: 'SSHMacAlgorithms',
    type: 'list',
    default: DEFAULTS.mac.join(','),
    parse: listOf(SUPPORTED.mac),
    effect: 'MAC algorithms offered, in order of preference.',
  }),
  row({
    name: 'SSHPublicKeyAlgorithms',
    type: 'list',
    default: DEFAULTS.hostKey.join(','),
    parse: listOf(SUPPORTED.hostKey),
    effect:
      'Host key algorithms offered, in this order, among those the loaded host keys can serve. SHA-1 ssh-rsa and the ECDSA (NIST) algorithms are off by default (see docs/security.md); list them to switch them on.',
  }),
  row({
    name: 'SSHPubKeyAuthSigAlgorithms',
    type: 'list',
    default: DEFAULTS.userSig.join(','),
    parse: listOf(SUPPORTED_USER_SIG),
    effect: 'Signature algorithms accepted from clients in publickey authentication; others are refused before SSHUserAuthRequest fires.',
  }),
  row({
    name: 'RequiredRSASize',
    type: 'int',
    default: '1024',
    parse: int(1024, 16384),
    effect:
      "(beyond) Smallest RSA key, in bits, accepted in publickey authentication (a user key or the key in a user certificate), as OpenSSH's RequiredRSASize; smaller keys are refused before SSHUserAuthRequest fires. It can only be raised: 1024 is OpenSSH's floor.",
  }),
  row({
    name: 'TrustedUserCAKeys',
    type: 'string',
    default: '',
    parse: checkedText('OpenSSH public key lines, or the path of a file of them', trustedCAsProblem),
    effect:
      "(beyond) Certificate authorities whose OpenSSH user certificates are trusted, as sshd's TrustedUserCAKeys: a certificate signed by one of them, valid now, naming the user as a principal (and passing source-address) arrives in SSHUserAuthRequest with accept already true and its restrictions set. A file is read at each login.",
  }),
  // Access control (beyond): OpenSSH and xinetd limits, checked before any SSH byte
  row({
    name: 'MaxConnectionsPerClient',
    type: 'int',
    default: '0',
    parse: int(0, 100_000),
    effect: '(beyond) Simultaneous connections from one address (xinetd per_source); more are refused before any SSH byte. 0 = no limit.',
  }),
  row({
    name: 'ConnectionRateLimit',
    type: 'string',
    default: '',
    parse: parsedBy("'' (off) or N:M", parseRateLimit),
    effect:
      '(beyond) xinetd cps: more than N new connections in one second make the daemon refuse every new connection for M seconds. Empty = off.',
  }),
  row({
    name: 'MaxStartups',
    type: 'string',
    default: '10:30:100',
    parse: parsedBy('start:rate:full or N', parseMaxStartups),
    effect:
      "(beyond) OpenSSH MaxStartups for unauthenticated connections: from 'start' on, a new one is refused with probability 'rate'% rising linearly to 100% at 'full'.",
  }),
  row({
    name: 'PerSourcePenalties',
    type: 'string',
    default: 'yes',
    parse: parsedBy(
      "no, yes, or OpenSSH's key:value list (durations; max-sources4/max-sources6 positive integers; overflow/overflow6 permissive or deny-all)",
      parsePenalties,
    ),
    effect:
      "(beyond) OpenSSH PerSourcePenalties: connections that fail to authenticate (authfail), never try (noauth), exceed AuthTimeout (grace-exceeded) or are refused by a limit (refuseconnection) add time to their source's record; past 'min' the source is refused until it expires (capped at 'max'). IPv4 and IPv6 sources have separate tables of max-sources4 / max-sources6 records (max-sources sets both); when one is full, overflow (IPv4) / overflow6 (IPv6, default: overflow's mode) 'permissive' drops the records closest to expiry early, 'deny-all' refuses every new connection of that family except PerSourcePenaltyExemptList until a record expires. 'yes' (the default, as OpenSSH 9.8+) = OpenSSH's defaults (authfail:5 noauth:1 grace-exceeded:10 refuseconnection:10 min:15 max:600 max-sources4:65536 max-sources6:65536 overflow:permissive); 'no' switches them off.",
  }),
  row({
    name: 'FailedAuthPenalty',
    type: 'int',
    default: '0',
    parse: SECONDS,
    effect:
      '(beyond) Seconds of penalty per connection that failed to authenticate; above 0 it switches penalties on (with PerSourcePenalties=no: only this one) and replaces the authfail amount.',
  }),
  row({
    name: 'PerSourcePenaltyExemptList',
    type: 'string',
    default: '',
    parse: anyText,
    effect: '(beyond) Addresses never penalised or banned (AllowedClients syntax: addresses, wildcards, CIDR).',
  }),
  row({
    name: 'PerSourceNetBlockSize',
    type: 'string',
    default: '32:128',
    parse: parsedBy('IPV4BITS[:IPV6BITS]', parseNetBlockSize),
    effect: '(beyond) Penalties and sensor bans apply to this block around the address (OpenSSH PerSourceNetBlockSize), e.g. 24:64.',
  }),
  row({
    name: 'SensorPorts',
    type: 'string',
    default: '',
    parse: parsedBy('a comma list of TCP ports', parsePorts),
    effect:
      '(beyond) xinetd SENSOR: extra ports opened on LocalHost when listening starts; any connection to one bans its source (block) from every port for SensorDenyTime. Sensor bans have tables of their own, apart from penalties (IPv4 and IPv6, bounded by PerSourcePenalties max-sources4 / max-sources6, 65536 each); a full one drops its bans closest to expiry.',
  }),
  row({
    name: 'SensorDenyTime',
    type: 'int',
    default: '600',
    parse: SECONDS,
    effect: '(beyond) Seconds a sensor-port visitor stays banned (xinetd deny_time).',
  }),
  row({
    name: 'PolicyStoreFailMode',
    type: 'string',
    default: 'open',
    parse: pattern(/^(open|closed)$/, "'open' or 'closed'"),
    effect:
      "(beyond) With a policyStore (a fleet's shared penalties, bans, per-client counts and rate) that cannot be reached or does not answer within PolicyStoreTimeout: 'open' lets connections through on this daemon's own limits and bans (which keep applying, with the fleet's bans seen so far), 'closed' refuses every new connection except PerSourcePenaltyExemptList. One log line when the store becomes unreachable, one when it is back.",
  }),
  row({
    name: 'PolicyStoreTimeout',
    type: 'int',
    default: '1000',
    parse: int(1, 60_000),
    effect:
      '(beyond) Milliseconds a new connection waits for the policyStore (after the local checks passed) before PolicyStoreFailMode decides; also bounds every other store call.',
  }),
  row({
    name: 'PolicyStoreHeartbeat',
    type: 'int',
    default: '10',
    parse: int(1, 3600),
    effect:
      "(beyond) Seconds between this daemon's heartbeats to the policyStore; its per-client slots and session directory entries live three heartbeats, so a node that dies frees them within 3x this.",
  }),
  row({
    name: 'RefusalCounts',
    type: 'string',
    default: '',
    readOnly: true,
    parse: anyText,
    effect: '(beyond) Read-only: connections refused since listening started, by reason, as reason=count pairs (also refusalCounts()).',
  }),
  row({
    name: 'UseProxyProtocol',
    type: 'bool',
    default: 'false',
    parse: bool,
    effect:
      '(beyond) Every connection starts with a PROXY protocol v1 or v2 header from a load balancer (HAProxy send-proxy / send-proxy-v2); its client address becomes remoteHost and is what AllowedClients, limits and penalties see. A connection without a valid header within 5 s is refused. Only for ports that clients cannot reach directly.',
  }),
  row({
    name: 'ProxyProtocolTrustedProxies',
    type: 'string',
    default: '',
    parse: anyText,
    effect:
      '(beyond) With UseProxyProtocol: the balancer addresses allowed to send PROXY headers (AllowedClients syntax); empty = any peer.',
  }),
  row({
    name: 'DisconnectFlushTimeout',
    type: 'int',
    default: '10',
    parse: SECONDS,
    effect:
      "(beyond) Seconds disconnect() waits for output already queued on the connection's channels (data, exit-status, EOF, CLOSE) to be sent before DISCONNECT; 0 = disconnect at once (as disconnect(id, { immediate: true })).",
  }),
  row({
    name: 'HandlerTimeout',
    type: 'int',
    default: '60',
    parse: SECONDS,
    effect:
      "(beyond) Seconds an asynchronous decision handler (ConnectionRequest, SSHUserAuthRequest, SSHUserAuthPrompt, SSHChannelOpenRequest, SSHChannelRequest, SSHServiceRequest) may take; past it the request is refused and Error 1030 fires. Also the longest a running asynchronous SSHChannelRequested handler holds its channel's input, and the longest input held on a channel (a handler that has not settled, pause()) keeps it open after the client's CLOSE (then dropped). 0 = wait forever.",
  }),
  // Listener
  row({
    name: 'AllowedClients',
    type: 'string',
    default: '',
    parse: anyText,
    effect: "Comma list of addresses allowed to connect ('*' and '?' wildcards, CIDR); empty allows all. Checked before ConnectionRequest.",
  }),
  row({
    name: 'DeniedClients',
    type: 'string',
    default: '',
    parse: anyText,
    effect: '(beyond) Comma list of addresses refused (same syntax as AllowedClients); checked first.',
  }),
  row({ name: 'TcpNoDelay', type: 'bool', default: 'true', parse: bool, effect: "Disables Nagle's algorithm on accepted sockets." }),
  row({
    name: 'KeepAliveTime',
    type: 'int',
    default: '0',
    parse: int(0, 2_147_483_647),
    effect: 'Milliseconds of idle before TCP keep-alive probes; 0 leaves TCP keep-alive off.',
  }),
  row({
    name: 'KeepAliveInterval',
    type: 'int',
    default: '0',
    parse: int(0, 2_147_483_647),
    effect: 'Accepted; Node.js cannot set the probe interval per socket (the OS default applies).',
  }),
  row({
    name: 'KeepAliveRetryCount',
    type: 'int',
    default: '0',
    parse: int(0, 1000),
    effect: 'Accepted; Node.js cannot set the probe count per socket (the OS default applies).',
  }),
  row({
    name: 'InBufferSize',
    type: 'int',
    default: '0',
    parse: int(0, 1 << 30),
    effect: 'Accepted; Node.js has no per-socket receive buffer size (the OS default applies).',
  }),
  row({
    name: 'OutBufferHardLimit',
    type: 'int',
    default: '16777216',
    parse: int(65_536, 1 << 30),
    effect:
      '(beyond) Bytes queued for a client (socket plus re-key queue) above which a client that keeps sending without reading is disconnected; at least twice OutBufferSize applies.',
  }),
  row({
    name: 'OutBufferSize',
    type: 'int',
    default: '1048576',
    parse: int(16_384, 1 << 30),
    effect: 'Bytes queued on a socket above which channel output pauses (readyToSend false) until the client reads.',
  }),
  row({
    name: 'UseIPv6',
    type: 'bool',
    default: 'false',
    parse: bool,
    effect: "With an empty LocalHost, listen on '::' (dual stack) instead of 0.0.0.0.",
  }),
  row({
    name: 'LogLevel',
    type: 'int',
    default: '1',
    parse: int(0, 3),
    effect: 'Detail of the Log event: 0 none, 1 info, 2 verbose, 3 debug (engine trace).',
  }),
  row({
    name: 'BuildInfo',
    type: 'string',
    default: '',
    readOnly: true,
    parse: anyText,
    effect: 'Read-only: package, ssh2 and Node.js versions, and whether the native crypto binding is loaded.',
  }),
  // Windows-only IPWorks settings
  ...['UseIOCP', 'UseWindowsMessages', 'ProcessIdleEvents', 'UseInternalSecurityAPI'].map((name) =>
    row({ name, type: 'bool', default: 'false', parse: bool, effect: WINDOWS_ONLY }),
  ),
  row({ name: 'BindExclusively', type: 'bool', default: 'true', parse: bool, effect: WINDOWS_ONLY }),
  row({ name: 'CodePage', type: 'int', default: '0', parse: int(0, 65535), effect: WINDOWS_ONLY + ' Strings are UTF-8.' }),
  row({ name: 'SelectWaitMillis', type: 'int', default: '20', parse: int(0, 2_147_483_647), effect: WINDOWS_ONLY }),
  row({
    name: 'LicenseInfo',
    type: 'string',
    default: 'sshdaemon is open source (MIT); no license key is needed.',
    readOnly: true,
    parse: anyText,
    effect: 'Read-only; kept for ported code.',
  }),
];

export const SETTINGS_BY_NAME: ReadonlyMap<string, SettingRow> = new Map(SETTINGS.map((r) => [r.name.toLowerCase(), r]));
