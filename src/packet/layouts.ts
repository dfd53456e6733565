import type { WireType } from './wire';

/** One named field of a payload layout. */
export interface FieldSpec {
  readonly name: string;
  readonly type: WireType;
}

/** The header every SSH_MSG_CHANNEL_REQUEST body starts with (after the message number). */
export const CHANNEL_REQUEST_HEADER: readonly FieldSpec[] = [
  { name: 'ChannelId', type: 'uint32' },
  { name: 'RequestType', type: 'string' },
  { name: 'WantsReply', type: 'boolean' },
];

const TERMINAL_SIZE: readonly FieldSpec[] = [
  { name: 'TerminalWidthCharacters', type: 'uint32' },
  { name: 'TerminalHeightRows', type: 'uint32' },
  { name: 'TerminalWidthPixels', type: 'uint32' },
  { name: 'TerminalHeightPixels', type: 'uint32' },
];

/** Type-specific fields of channel requests (RFC 4254 section 6 and OpenSSH PROTOCOL), by request type. */
export const CHANNEL_REQUEST_FIELDS: Readonly<Record<string, readonly FieldSpec[]>> = {
  'pty-req': [{ name: 'TerminalType', type: 'string' }, ...TERMINAL_SIZE, { name: 'TerminalModes', type: 'bytes' }],
  'x11-req': [
    { name: 'SingleConnection', type: 'boolean' },
    { name: 'X11AuthProtocol', type: 'string' },
    { name: 'X11AuthCookie', type: 'string' },
    { name: 'X11ScreenNumber', type: 'uint32' },
  ],
  env: [
    { name: 'VariableName', type: 'string' },
    { name: 'VariableValue', type: 'string' },
  ],
  shell: [],
  exec: [{ name: 'Command', type: 'string' }],
  subsystem: [{ name: 'SubsystemName', type: 'string' }],
  'window-change': TERMINAL_SIZE,
  'xon-xoff': [{ name: 'ClientCanDo', type: 'boolean' }],
  signal: [{ name: 'SignalName', type: 'string' }],
  'exit-status': [{ name: 'ExitStatus', type: 'uint32' }],
  'exit-signal': [
    { name: 'SignalName', type: 'string' },
    { name: 'CoreDumped', type: 'boolean' },
    { name: 'ErrorMessage', type: 'string' },
    { name: 'LanguageTag', type: 'string' },
  ],
  break: [{ name: 'BreakLength', type: 'uint32' }],
  'auth-agent-req@openssh.com': [],
  'eow@openssh.com': [],
};

const TCPIP_OPEN: readonly FieldSpec[] = [
  { name: 'HostToConnect', type: 'string' },
  { name: 'PortToConnect', type: 'uint32' },
  { name: 'OriginatorIPAddress', type: 'string' },
  { name: 'OriginatorPort', type: 'uint32' },
];

/** Type-specific rest of SSH_MSG_CHANNEL_OPEN (the event's `parameters`), by channel type. */
export const CHANNEL_OPEN_FIELDS: Readonly<Record<string, readonly FieldSpec[]>> = {
  session: [],
  'direct-tcpip': TCPIP_OPEN,
  'forwarded-tcpip': TCPIP_OPEN,
  x11: [
    { name: 'OriginatorIPAddress', type: 'string' },
    { name: 'OriginatorPort', type: 'uint32' },
  ],
  'direct-streamlocal@openssh.com': [
    { name: 'SocketPath', type: 'string' },
    { name: 'Reserved', type: 'string' },
    { name: 'ReservedPort', type: 'uint32' },
  ],
  'forwarded-streamlocal@openssh.com': [
    { name: 'SocketPath', type: 'string' },
    { name: 'Reserved', type: 'string' },
  ],
  'auth-agent@openssh.com': [],
};

/** What a payload buffer handed out by the daemon is, so positional and named reads know its layout. */
export type PayloadLayout = { kind: 'channel-request' } | { kind: 'channel-open'; channelType: string };

const layoutOfPayload = new WeakMap<Buffer, PayloadLayout>();

/** Remembers the layout of a payload the daemon hands to an event. */
export function tagPayload(buf: Buffer, layout: PayloadLayout): Buffer {
  layoutOfPayload.set(buf, layout);
  return buf;
}

export function payloadLayout(buf: Buffer): PayloadLayout | undefined {
  return layoutOfPayload.get(buf);
}

const OPEN_FIELD_NAMES = new Set(Object.values(CHANNEL_OPEN_FIELDS).flatMap((fields) => fields.map((f) => f.name.toLowerCase())));

export function isChannelOpenFieldName(name: string): boolean {
  return OPEN_FIELD_NAMES.has(name.toLowerCase());
}
