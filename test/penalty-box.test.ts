/**
 * PerSourcePenalties' tables with a fake clock: separate IPv4 and IPv6 tables, OpenSSH's overflow
 * modes (srclimit.c: permissive drops the soonest-expiring records, deny-all refuses every new
 * connection of the family while full), sensor bans in tables of their own, and a flood into a full
 * table costing O(log n) work per insertion. The real-socket cases are in access-control.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SSHDaemon, SSHDaemonError } from '../src';
import { ConnectionGate, type GateSettings } from '../src/policy/ConnectionGate';
import { PenaltyBox, type PenaltyPolicy } from '../src/policy/PenaltyBox';
import { parsePenalties } from '../src/policy/policySettings';

const BLOCKS = { ipv4Bits: 32, ipv6Bits: 128 };
const policyOf = (text: string): PenaltyPolicy => ({ ...parsePenalties(text)!, ...BLOCKS });
const v4 = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const v6 = (i: number) => `2001:db8::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`;

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

test('IPv6 sources fill only the IPv6 table: after 3000 IPv6 penalties and sensor bans an IPv4 brute-forcer is still banned', () => {
  const clock = fakeClock();
  const box = new PenaltyBox(clock.now);
  const policy = policyOf('authfail:5 min:15 max:600 max-sources4:1000 max-sources6:1000');
  for (let i = 0; i < 3000; i++) {
    box.penalise(v6(i), 600, policy);
    box.ban(v6(i), 600, policy);
  }
  let banned: number | undefined;
  for (let i = 0; i < 4 && banned === undefined; i++) banned = box.penalise('203.0.113.7', policy.authfail, policy);
  assert.equal(banned, 15, 'the third failure (3 x 5 s) reaches min (15 s)');
  assert.deepEqual(box.refusedFor('203.0.113.7', BLOCKS), { seconds: 15, cause: 'PerSourcePenalties' });
  assert.deepEqual(box.sizes(), { penalties4: 1, penalties6: 1000, sensors4: 0, sensors6: 1000 });
  assert.ok(box.refusedFor(v6(2999), BLOCKS), 'the newest IPv6 sources are held');
});

test('permissive overflow (the default): the newest penalty goes in and the one closest to expiry is dropped; a record that grew is kept', () => {
  const clock = fakeClock();
  const box = new PenaltyBox(clock.now);
  const policy = policyOf('authfail:20 noauth:1 min:15 max:600 max-sources4:3');
  assert.equal(policy.overflow4, 'permissive');
  for (const a of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) {
    assert.equal(box.penalise(a, policy.authfail, policy), 20);
    clock.advance(1000);
  }
  // .1 runs out first (at +20 s), .2 at +21 s, .3 at +22 s. A new source at +3 s (runs out at +23 s):
  assert.equal(box.penalise('192.0.2.4', policy.authfail, policy), 20, 'the new penalty is recorded and enforced');
  assert.equal(box.refusedFor('192.0.2.1', BLOCKS), undefined, 'the soonest-expiring was dropped early');
  for (const a of ['192.0.2.2', '192.0.2.3', '192.0.2.4']) assert.ok(box.refusedFor(a, BLOCKS), a);
  assert.equal(box.droppedEarly, 1);
  // .2 fails again: it now runs out last, so the next newcomer pushes out .3 instead.
  assert.equal(box.penalise('192.0.2.2', policy.authfail, policy), 38);
  assert.equal(box.penalise('192.0.2.5', policy.authfail, policy), 20);
  assert.equal(box.refusedFor('192.0.2.3', BLOCKS), undefined);
  for (const a of ['192.0.2.2', '192.0.2.4', '192.0.2.5']) assert.ok(box.refusedFor(a, BLOCKS), a);
  // As OpenSSH (the soonest-expiring goes, whichever it is): a 1 s noauth record is itself the one dropped.
  assert.equal(box.penalise('192.0.2.6', policy.noauth, policy), undefined);
  assert.deepEqual(box.sizes().penalties4, 3);
  for (const a of ['192.0.2.2', '192.0.2.4', '192.0.2.5']) assert.ok(box.refusedFor(a, BLOCKS), a);
});

/** Settings a ConnectionGate reads, from a map (the daemon's defaults where the test sets none). */
function gateSettings(values: Record<string, string>): GateSettings {
  const all: Record<string, string> = {
    DeniedClients: '',
    AllowedClients: '',
    ConnectionRateLimit: '',
    MaxConnections: '1000',
    MaxConnectionsPerClient: '0',
    MaxStartups: '10:30:100',
    PerSourcePenalties: 'yes',
    FailedAuthPenalty: '0',
    PerSourcePenaltyExemptList: '',
    PerSourceNetBlockSize: '32:128',
    SensorDenyTime: '600',
    ...values,
  };
  return { text: (name) => all[name], int: (name) => Number(all[name]) };
}
const FAILED = { authenticated: false, authFailures: 1, graceExceeded: false };

test('overflow:deny-all: while the IPv4 table is full every fresh IPv4 source is refused (exempt ones and IPv6 are not), until a record expires', () => {
  const clock = fakeClock();
  const gate = new ConnectionGate(
    gateSettings({
      PerSourcePenalties: 'authfail:5 min:15 max:600 max-sources4:2 overflow:deny-all',
      PerSourcePenaltyExemptList: '198.51.100.0/24',
    }),
    () => 0,
    clock.now,
    () => 1,
  );
  const notices: string[] = [];
  gate.onNotice = (m) => void notices.push(m);
  assert.equal(gate.check('192.0.2.9'), undefined, 'admitted while the table has room');
  gate.closed('192.0.2.1', FAILED); // 5 s, below min: recorded, not enforced
  clock.advance(2000);
  gate.closed('192.0.2.2', FAILED);
  const refusal = gate.check('192.0.2.9');
  assert.equal(refusal?.reason, 'PerSourcePenalties');
  assert.match(refusal?.detail ?? '', /too many penalised IPv4 sources \(2, max-sources4:2, overflow:deny-all\)/);
  assert.equal(gate.check('192.0.2.1')?.reason, 'PerSourcePenalties', 'a source below min is refused too');
  assert.equal(gate.check('198.51.100.7'), undefined, 'PerSourcePenaltyExemptList is let in');
  assert.equal(gate.check('2001:db8::9'), undefined, 'the IPv6 table is not full');
  assert.ok(
    notices.some((m) => /^IPv4 penalty table full .*overflow:deny-all/.test(m)),
    notices.join('\n'),
  );
  // A penalty for a new source is not recorded while full; the full table does not grow.
  gate.closed('192.0.2.3', FAILED);
  assert.equal(gate.penalties.sizes().penalties4, 2);
  assert.equal(gate.penalties.unrecorded, 1);
  clock.advance(3000); // 192.0.2.1's 5 s have run out
  assert.equal(gate.check('192.0.2.9'), undefined, 'admitted again once a record expired');
});

test('overflow6 follows overflow unless given, in either order; bad values name the key and the valid ones', () => {
  const p = (text: string) => parsePenalties(text)!;
  assert.deepEqual(
    [p('yes').overflow4, p('yes').overflow6, p('yes').maxSources4, p('yes').maxSources6],
    ['permissive', 'permissive', 65536, 65536],
  );
  assert.deepEqual([p('overflow:deny-all').overflow4, p('overflow:deny-all').overflow6], ['deny-all', 'deny-all']);
  assert.deepEqual(
    [p('overflow6:permissive overflow:deny-all').overflow4, p('overflow6:permissive overflow:deny-all').overflow6],
    ['deny-all', 'permissive'],
  );
  assert.deepEqual([p('max-sources4:10 max-sources6:20').maxSources4, p('max-sources4:10 max-sources6:20').maxSources6], [10, 20]);
  assert.deepEqual([p('max-sources:7').maxSources4, p('max-sources:7').maxSources6], [7, 7]);
  assert.throws(() => parsePenalties('overflow:deny'), /overflow must be permissive or deny-all, got 'deny'/);
  assert.throws(() => parsePenalties('overflow6:'), /overflow6 must be permissive or deny-all/);
  assert.throws(() => parsePenalties('max-sources6:0'), /max-sources6 must be a positive integer/);
  assert.throws(() => parsePenalties('authfail:soon'), /authfail: 'soon' is not a duration/);
  const daemon = new SSHDaemon();
  assert.throws(
    () => daemon.config('PerSourcePenalties=overflow:all'),
    (err: unknown) => err instanceof SSHDaemonError && /PerSourcePenalties/.test(err.message) && /permissive or deny-all/.test(err.message),
  );
  assert.equal(daemon.config('PerSourcePenalties'), 'yes', 'the bad value changed nothing');
});

test(
  'a flood of 100,000 new sources into a full table (penalties and sensor bans) costs O(log n) work per insertion, never a scan',
  { timeout: 120_000 },
  () => {
    const clock = fakeClock();
    const box = new PenaltyBox(clock.now);
    const policy = policyOf('yes'); // max-sources4 65536, permissive
    const N = 65536;
    for (let i = 0; i < N; i++) {
      box.penalise(v4(i), 10 + (i % 50), policy);
      box.ban(v4(i), 600, policy);
    }
    assert.deepEqual(box.sizes(), { penalties4: N, penalties6: 0, sensors4: N, sensors6: 0 });
    const before = box.steps;
    const FLOOD = 100_000;
    for (let i = N; i < N + FLOOD; i++) {
      if (i % 1000 === 0) clock.advance(1); // a flood at loopback speed: a millisecond per thousand
      box.penalise(v4(i), 10 + (i % 50), policy);
      box.ban(v4(i), 600, policy);
    }
    const perInsertion = (box.steps - before) / (2 * FLOOD);
    const log2 = Math.log2(N);
    // Each insertion sifts one record up and the dropped one's replacement down: about 2 log2(n)
    // heap positions. A scan would visit all n = 65536 records.
    assert.ok(perInsertion <= 3 * log2 + 4, `${perInsertion.toFixed(1)} heap positions per insertion (log2 n = ${log2})`);
    assert.deepEqual(box.sizes(), { penalties4: N, penalties6: 0, sensors4: N, sensors6: 0 }, 'the tables stay at their bound');
    assert.ok(box.refusedFor(v4(N + FLOOD - 1), BLOCKS), 'the newest sensor visitor is banned');
  },
);

test('permissive eviction matches a naive model of OpenSSH (drop the soonest-expiring while over the bound) over 20,000 random operations', () => {
  const clock = fakeClock();
  const box = new PenaltyBox(clock.now);
  const policy = policyOf('authfail:5 noauth:1 grace-exceeded:10 min:15 max:60 max-sources4:16');
  // The model: key -> expiry, insertion order, enforced (sticky once min is reached, as the box's).
  const model = new Map<string, { expiresAt: number; order: number; enforced: boolean }>();
  let order = 0;
  let seed = 12345;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let step = 0; step < 20_000; step++) {
    clock.advance(rand(400));
    const now = clock.now();
    const address = v4(rand(40));
    const seconds = [1, 5, 10][rand(3)];
    for (const [k, r] of model) if (r.expiresAt <= now) model.delete(k);
    const key = `${address}/32`;
    let record = model.get(key);
    if (record) record.expiresAt = Math.min(record.expiresAt + seconds * 1000, now + policy.max * 1000);
    else model.set(key, (record = { expiresAt: now + seconds * 1000, order: order++, enforced: false }));
    while (model.size > policy.maxSources4) {
      const [soonest] = [...model].sort(([, a], [, b]) => a.expiresAt - b.expiresAt || a.order - b.order)[0];
      model.delete(soonest);
    }
    if (model.get(key) === record && record.expiresAt - now >= policy.min * 1000) record.enforced = true;
    const banned = box.penalise(address, seconds, policy);
    assert.equal(box.sizes().penalties4, model.size, `size after step ${step}`);
    assert.equal(banned !== undefined, model.get(key)?.enforced === true, `${address} enforced after step ${step}`);
    for (let i = 0; i < 40; i++) {
      const m = model.get(`${v4(i)}/32`);
      assert.equal(
        box.refusedFor(v4(i), BLOCKS)?.seconds,
        m?.enforced ? Math.ceil((m.expiresAt - now) / 1000) : undefined,
        `${v4(i)} after step ${step}`,
      );
    }
  }
});
