import { SETTINGS, type SettingRow } from './settings';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => (text === '' ? '(empty)' : '`' + text.replace(/`/g, "'") + '`');

function addressing(row: SettingRow): string {
  const name = row.index === 'connection' ? `${row.name}[connectionId]` : row.index === 'list' ? `${row.name}[i]` : row.name;
  return `\`${name}\`${row.readOnly ? ' (read-only)' : ''}`;
}

/** docs/settings.md, generated from the settings table so the reference cannot drift from the code. */
export function renderSettingsReference(rows: readonly SettingRow[] = SETTINGS): string {
  const lines = [
    '# Config() settings',
    '',
    '<!-- Generated from src/config/settings.ts by `npm run docs:settings`; do not edit by hand. -->',
    '',
    "`daemon.config('Name=Value')` sets a setting, `daemon.config('Name')` reads it. Indexed settings take",
    'a connection id (`UserAuthBanner[7]=Hello`) or a list index (`AltSSHCertStore[0]=...`). Names are',
    'case-insensitive. A value outside the valid range throws `SSHDaemonError` (code 101 unknown',
    'setting, 102 bad value, 103 read-only) and leaves the setting unchanged. Settings marked',
    '(beyond) are not in IPWorks.',
    '',
    '| Setting | Type | Default | Valid values | Effect |',
    '|---|---|---|---|---|',
  ];
  for (const row of rows) {
    lines.push(`| ${addressing(row)} | ${row.type} | ${cell(code(row.default))} | ${cell(row.parse.range)} | ${cell(row.effect)} |`);
  }
  return lines.join('\n') + '\n';
}
