import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { SETTINGS, SETTINGS_BY_NAME, type SettingRow } from './settings';

/** Per-connection settings live with the connection; the daemon supplies them. */
export interface ConnectionSettingsProvider {
  getConnectionSetting(connectionId: string, name: string): string | undefined;
  setConnectionSetting(connectionId: string, name: string, value: string): void;
}

/** Computed read-only settings (BuildInfo). */
export type ComputedSettings = Record<string, () => string>;

const SYNTAX = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:\[\s*([^\]]*?)\s*\])?\s*(?:=([\s\S]*))?$/;

/** The values behind `config()`: validated through the settings table, unchanged when a value is refused. */
export class ConfigStore {
  private readonly plain = new Map<string, string>();
  private readonly lists = new Map<string, Map<number, string>>();
  /** Split lists, dropped whenever a value changes: the handshake path reads them per connection. */
  private readonly splitCache = new Map<string, string[]>();
  /** Bumped on every change, so callers can cache what they derive from settings. */
  version = 0;

  constructor(
    private readonly connections: ConnectionSettingsProvider,
    private readonly computed: ComputedSettings = {},
  ) {
    this.reset();
  }

  reset(): void {
    this.version++;
    this.splitCache.clear();
    this.plain.clear();
    this.lists.clear();
    for (const r of SETTINGS) if (r.index === 'none') this.plain.set(r.name, r.default);
  }

  /** `'Name=Value'` sets and returns ''; `'Name'` or `'Name[index]'` reads. */
  config(statement: string): string {
    if (typeof statement !== 'string') {
      throw new SSHDaemonError(ErrorCodes.InvalidArgument, "config() takes a string: 'Name=Value' to set, 'Name' to read");
    }
    const m = SYNTAX.exec(statement);
    const row = m ? SETTINGS_BY_NAME.get(m[1].toLowerCase()) : undefined;
    if (!m || !row) {
      const name = m?.[1] ?? statement;
      throw new SSHDaemonError(
        ErrorCodes.UnknownSetting,
        `Unknown config setting '${name}'${this.suggest(name)}; see docs/settings.md for the list`,
      );
    }
    const index = m[2];
    const value = m[3];
    this.checkIndex(row, index);
    if (value === undefined) return this.read(row, index);
    this.write(row, index, value);
    return '';
  }

  private suggest(name: string): string {
    const lower = name.toLowerCase();
    const near = SETTINGS.filter((r) => r.name.toLowerCase().includes(lower.slice(0, 6)) && lower.length >= 3).map((r) => r.name);
    return near.length ? ` (did you mean ${near.slice(0, 3).join(', ')}?)` : '';
  }

  private checkIndex(row: SettingRow, index: string | undefined): void {
    if (row.index === 'none' && index !== undefined) {
      throw new SSHDaemonError(ErrorCodes.UnknownSetting, `Config setting '${row.name}' takes no index`);
    }
    if (row.index === 'connection' && (index === undefined || !/^\d+$/.test(index))) {
      throw new SSHDaemonError(
        ErrorCodes.UnknownSetting,
        `Config setting '${row.name}' needs a connection id: '${row.name}[connectionId]'`,
      );
    }
    if (row.index === 'list' && (index === undefined || !/^\d+$/.test(index) || Number(index) > 15)) {
      throw new SSHDaemonError(ErrorCodes.UnknownSetting, `Config setting '${row.name}' needs an index from 0 to 15: '${row.name}[0]'`);
    }
  }

  private read(row: SettingRow, index: string | undefined): string {
    const computed = this.computed[row.name];
    if (computed) return computed();
    if (row.index === 'connection') return this.connections.getConnectionSetting(index!, row.name) ?? row.default;
    if (row.index === 'list') return this.lists.get(row.name)?.get(Number(index)) ?? row.default;
    return this.plain.get(row.name) ?? row.default;
  }

  private write(row: SettingRow, index: string | undefined, value: string): void {
    if (row.readOnly) {
      throw new SSHDaemonError(ErrorCodes.ReadOnlySetting, `Config setting '${row.name}' is read-only`);
    }
    let normalised: string;
    try {
      normalised = row.parse(value);
    } catch (err) {
      const old = this.read(row, index);
      throw new SSHDaemonError(
        ErrorCodes.InvalidSettingValue,
        `Config setting '${row.name}' ${(err as Error).message}; got '${value}', kept '${old}'`,
      );
    }
    if (row.index === 'connection') return this.connections.setConnectionSetting(index!, row.name, normalised);
    this.version++;
    this.splitCache.clear();
    if (row.index === 'list') {
      let list = this.lists.get(row.name);
      if (!list) this.lists.set(row.name, (list = new Map()));
      list.set(Number(index), normalised);
    } else this.plain.set(row.name, normalised);
  }

  /** Typed reads for the daemon's own use. */
  text(name: string, index?: number): string {
    if (index !== undefined) return this.lists.get(name)?.get(index) ?? SETTINGS_BY_NAME.get(name.toLowerCase())!.default;
    return this.plain.get(name)!;
  }
  int(name: string, index?: number): number {
    return Number(this.text(name, index));
  }
  bool(name: string): boolean {
    return this.text(name) === 'true';
  }
  /** The comma list as an array; the same array until the setting changes (do not modify it). */
  list(name: string): string[] {
    let cached = this.splitCache.get(name);
    if (!cached) {
      const t = this.text(name);
      cached = t ? t.split(',') : [];
      this.splitCache.set(name, cached);
    }
    return cached;
  }
}
