/**
 * Parses and validates a setting's text; returns the normalised text or throws an Error naming the
 * valid values. `range` describes the valid values for the generated reference and the error text.
 */
export interface SettingParser {
  (text: string): string;
  readonly range: string;
}

function parser(range: string, parse: (text: string) => string | undefined): SettingParser {
  const fn = (text: string): string => {
    const out = parse(text);
    if (out === undefined) throw new Error(`expects ${range}`);
    return out;
  };
  return Object.assign(fn, { range });
}

export function intRange(min: number, max: number): SettingParser {
  return parser(`an integer from ${min} to ${max}`, (text) => {
    const t = text.trim();
    return /^-?\d+$/.test(t) && Number(t) >= min && Number(t) <= max ? String(Number(t)) : undefined;
  });
}

export const bool: SettingParser = parser('true or false', (text) => {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return 'true';
  if (['false', '0', 'no', 'off'].includes(t)) return 'false';
  return undefined;
});

export const anyText: SettingParser = parser('any text', (text) => text);

export function oneLine(maxLength: number): SettingParser {
  return parser(`one line of at most ${maxLength} characters`, (text) =>
    /[\r\n]/.test(text) || text.length > maxLength ? undefined : text,
  );
}

/** A comma list whose every entry must be in `supported` (order kept, duplicates dropped). */
export function listOf(supported: readonly string[], allowEmpty = false): SettingParser {
  // Sorted: ssh2 orders its supported lists by what the crypto build offers, which varies by machine.
  const range = `a comma list of: ${[...supported].sort().join(', ')}`;
  const fn = (text: string): string => {
    const items = [
      ...new Set(
        text
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ];
    const bad = items.filter((i) => !supported.includes(i));
    if (bad.length || (!allowEmpty && items.length === 0)) {
      throw new Error(`expects ${range}${bad.length ? ` (not supported: ${bad.join(', ')})` : ''}`);
    }
    return items.join(',');
  };
  return Object.assign(fn, { range });
}

/** Text checked by `problem` (which names what is wrong, or returns undefined when the text is fine). */
export function checkedText(range: string, problem: (text: string) => string | undefined): SettingParser {
  const fn = (text: string): string => {
    const why = problem(text);
    if (why !== undefined) throw new Error(`expects ${range} (${why})`);
    return text;
  };
  return Object.assign(fn, { range });
}

export function pattern(re: RegExp, description: string): SettingParser {
  return parser(description, (text) => (re.test(text.trim()) ? text.trim() : undefined));
}
