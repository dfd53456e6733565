/** MemoryPolicyStore: the PolicyStore contract in one process, and its bounds under hostile sources. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryPolicyStore } from '../../src';
import { admission, checkContract, POLICY } from '../fixtures/policyStoreContract';

test('the PolicyStore contract holds for MemoryPolicyStore', async () => {
  const store = new MemoryPolicyStore();
  await checkContract(store, store);
});

test('hostile sources cannot grow the memory store: penalties by max-sources4, slots and sessions by maxEntries', async () => {
  const store = new MemoryPolicyStore({ maxEntries: 50 });
  const small = { ...POLICY, maxSources4: 100 };
  for (let i = 0; i < 1000; i++) await store.penalise(`10.${i >> 8}.${i & 255}.1`, 10, small);
  for (let i = 0; i < 1000; i++) await store.ban(`10.9.${i >> 8}.${i & 255}`, 60, small);
  for (let i = 0; i < 200; i++) await store.admit(admission(`10.1.${i}.1`, { maxPerClient: 5 }));
  for (let i = 0; i < 200; i++)
    await store.register({ node: 'n', connectionId: String(i), user: 'u', remoteHost: '10.0.0.1', remotePort: i, since: 0 }, 60_000);
  const sizes = store.sizes();
  assert.ok(sizes.bans <= 200, `penalty + sensor records bounded by 2 x 100, got ${sizes.bans}`);
  assert.ok(sizes.slots <= 50, `slots bounded by maxEntries, got ${sizes.slots}`);
  assert.ok(sizes.sessions <= 50, `sessions bounded by maxEntries, got ${sizes.sessions}`);
});

test('slots and sessions expire with their hold time (no heartbeat: a dead node frees them)', async () => {
  let now = 1_000_000;
  const store = new MemoryPolicyStore({ clock: () => now });
  assert.equal(await store.admit(admission('10.0.0.1', { maxPerClient: 1, holdMs: 30_000 })), undefined);
  assert.equal((await store.admit(admission('10.0.0.1', { maxPerClient: 1 })))?.reason, 'MaxConnectionsPerClient');
  now += 30_001;
  assert.equal(await store.admit(admission('10.0.0.1', { maxPerClient: 1 })), undefined, 'the unrefreshed slot expired');
  await store.register({ node: 'n', connectionId: '1', user: 'u', remoteHost: 'h', remotePort: 1, since: 0 }, 30_000);
  await store.refresh([], [{ node: 'n', connectionId: '1', user: 'u', remoteHost: 'h', remotePort: 1, since: 0 }], 30_000);
  now += 20_000;
  assert.equal((await store.sessions()).length, 1, 'refreshed');
  now += 10_001;
  assert.equal((await store.sessions()).length, 0, 'expired');
});
