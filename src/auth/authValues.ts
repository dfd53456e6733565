/** Values that cross the authentication boundary: method lists, client text in log lines, prompts a handler left, method names published. */
import type { KeyboardInteractivePrompt } from '../packet/keyboardPrompts';

/** A comma list of methods (availableMethods, as a handler wrote it) as a list. */
export function parseMethods(list: string): string[] {
  return list
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
}

/** A client-chosen string in a log line: quoted and bounded (the Log and Error boundary escapes it). */
export function shown(text: string): string {
  return `'${text.length > 128 ? `${text.slice(0, 128)}...` : text}'`;
}

/** The prompts a handler left in SSHUserAuthPrompt, checked; undefined when they are not prompts. */
export function promptList(value: unknown): KeyboardInteractivePrompt[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: KeyboardInteractivePrompt[] = [];
  for (const p of value) {
    if (!p || typeof (p as KeyboardInteractivePrompt).prompt !== 'string') return undefined;
    out.push({ prompt: (p as KeyboardInteractivePrompt).prompt, echo: Boolean((p as KeyboardInteractivePrompt).echo) });
  }
  return out;
}

/** The methods this daemon serves, published on diagnostics_channel as they are; any other name a client sends is `other`, so a metric labelled by method stays bounded. */
const KNOWN_METHODS = new Set(['none', 'password', 'publickey', 'keyboard-interactive']);
export const publishedMethod = (method: string): string => (KNOWN_METHODS.has(method) ? method : 'other');
