/** Parses and validates a setting's text; returns the normalised text or throws an Error naming the valid values. */
export type SettingParser = (text: string) => string;

export function intRange(min: number, max: number): SettingParser {
  return (text) => {
    const t = text.trim();
    if (!/^-?\d+$/.test(t) || Number(t) < min || Number(t) > max) {
      throw new Error(`expects an integer from ${min} to ${max}`);
    }
    return String(Number(t));
  };
}

export const bool: SettingParser = (text) => {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return 'true';
  if (['false', '0', 'no', 'off'].includes(t)) return 'false';
  throw new Error('expects true or false');
};

export const anyText: SettingParser = (text) => text;

export function oneLine(maxLength: number): SettingParser {
  return (text) => {
    if (/[\r\n]/.test(text) || text.length > maxLength) throw new Error(`expects one line of at most ${maxLength} characters`);
    return text;
  };
}

/** A comma list whose every entry must be in `supported` (order kept, duplicates dropped). */
export function listOf(supported: readonly string[], allowEmpty = false): SettingParser {
  return (text) => {
    const items = [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))];
    const bad = items.filter((i) => !supported.includes(i));
    if (bad.length || (!allowEmpty && items.length === 0)) {
      throw new Error(`expects a comma list of: ${supported.join(', ')}${bad.length ? ` (not supported: ${bad.join(', ')})` : ''}`);
    }
    return items.join(',');
  };
}

export function pattern(re: RegExp, description: string): SettingParser {
  return (text) => {
    if (!re.test(text.trim())) throw new Error(`expects ${description}`);
    return text.trim();
  };
}
