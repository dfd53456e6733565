// FleetSessions alone, on the in-memory store: an authenticated connection is listed in the fleet
// directory; a user name of tens of kilobytes (an application that accepts any name) is listed cut
// to MAX_DIRECTORY_USER characters, so each heartbeat's rewrite of the entry stays small.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { MemoryPolicyStore } from '../../src';
import { ConfigStore } from '../../src/config/ConfigStore';
import { PenaltyBox } from '../../src/policy/PenaltyBox';
import { ConnectionRecord } from '../../src/registry/ConnectionRecord';
import { FleetSessions, MAX_DIRECTORY_USER } from '../../src/server/FleetSessions';

test('the fleet directory lists an authenticated connection, its user name cut to MAX_DIRECTORY_USER', async () => {
  const store = new MemoryPolicyStore();
  const settings = new ConfigStore({ getConnectionSetting: () => undefined, setConnectionSetting: () => undefined });
  const fleet = new FleetSessions(
    { settings, policyStore: () => store, liveConnections: () => [], log: () => undefined },
    new PenaltyBox(Date.now),
  );
  const socket = { remoteAddress: '192.0.2.1' } as unknown as Socket;
  const normal = new ConnectionRecord('c1', socket, '192.0.2.1', 40001, '127.0.0.1', 0);
  normal.user = 'alice';
  const hostile = new ConnectionRecord('c2', socket, '192.0.2.1', 40002, '127.0.0.1', 0);
  hostile.user = 'x'.repeat(30_000);
  fleet.authenticated(normal);
  fleet.authenticated(hostile);
  for (let i = 0; i < 50 && (await store.sessions()).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  const listed = new Map((await store.sessions()).map((s) => [s.connectionId, s.user]));
  assert.equal(listed.get('c1'), 'alice');
  assert.equal(listed.get('c2'), 'x'.repeat(MAX_DIRECTORY_USER));
  fleet.stop();
});

test('disconnectEverywhere matches a remoteHost filter in another spelling of the address', async () => {
  const settings = new ConfigStore({ getConnectionSetting: () => undefined, setConnectionSetting: () => undefined });
  const socket = { remoteAddress: '192.0.2.1' } as unknown as Socket;
  const record = new ConnectionRecord('c1', socket, '192.0.2.1', 40001, '127.0.0.1', 0);
  record.authenticated = true;
  const gone: string[] = [];
  const fleet = new FleetSessions(
    {
      settings,
      policyStore: () => undefined,
      liveConnections: () => [{ record, disconnect: async () => void gone.push(record.id) }],
      log: () => undefined,
    },
    new PenaltyBox(Date.now),
  );
  await fleet.disconnectEverywhere({ remoteHost: '::ffff:192.0.2.1' });
  assert.deepEqual(gone, ['c1']);
});
