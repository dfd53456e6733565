// ConnectionGate alone: settings through a real ConfigStore (config('Name=Value'), as users set
// them), a clock and a random source the test moves, a live-connection count it sets: no
// listener, no socket. What it proves, each in milliseconds: DeniedClients refuses and wins over
// AllowedClients, a non-empty AllowedClients refuses everyone else; MaxConnections and
// MaxConnectionsPerClient count admitted connections and free the slot on close; the
// ConnectionRateLimit window and its pause; MaxStartups random early drop between start and full;
// PerSourcePenalties accumulate per outcome and are enforced past `min` until they expire, with
// exempt sources and authenticated connections never penalised, FailedAuthPenalty alone, refusals
// by a limit penalising the source, and overflow:deny-all; sensor-port bans; refusal counters.
// Real sockets: access-control, penalty-box, flood.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigStore } from '../../src/config/ConfigStore';
import { ConnectionGate } from '../../src/policy/ConnectionGate';

const NO_CONNECTIONS = { getConnectionSetting: () => undefined, setConnectionSetting: () => undefined };

function gate(...settings: string[]) {
  const config = new ConfigStore(NO_CONNECTIONS);
  for (const s of settings) config.config(s);
  const state = { now: 1_000_000, random: 0.5, live: 0 };
  const g = new ConnectionGate(
    config,
    () => state.live,
    () => state.now,
    () => state.random,
  );
  /** The refusal reason for `address` now, or 'ok'. */
  const reason = (address: string) => g.check(address)?.reason ?? 'ok';
  return { g, state, config, reason };
}

const FAILED = { authenticated: false, authFailures: 1, graceExceeded: false };
const NO_AUTH = { authenticated: false, authFailures: 0, graceExceeded: false };
const LOGGED_IN = { authenticated: true, authFailures: 0, graceExceeded: false };

test('DeniedClients refuses and wins over AllowedClients; a non-empty AllowedClients refuses everyone else', () => {
  const { reason, config } = gate('PerSourcePenalties=no');
  assert.equal(reason('203.0.113.9'), 'ok', 'both lists empty: everyone');
  config.config('DeniedClients=10.0.0.0/8, 192.0.2.7');
  assert.equal(reason('10.1.2.3'), 'DeniedClients');
  assert.equal(reason('192.0.2.7'), 'DeniedClients');
  assert.equal(reason('192.0.2.8'), 'ok');
  config.config('AllowedClients=10.*, 192.0.2.0/24');
  assert.equal(reason('10.1.2.3'), 'DeniedClients', 'denied even though allowed');
  assert.equal(reason('192.0.2.8'), 'ok');
  assert.equal(reason('198.51.100.1'), 'AllowedClients');
  assert.equal(reason('::ffff:192.0.2.8'), 'ok', 'an IPv4-mapped address is its IPv4 address');
});

test('MaxConnections and MaxConnectionsPerClient: admitted connections count, a close frees the slot', () => {
  const { g, state, reason } = gate('PerSourcePenalties=no', 'MaxConnections=3', 'MaxConnectionsPerClient=2');
  const a = '192.0.2.1';
  g.admitted(a);
  g.admitted(a);
  g.authenticated();
  g.authenticated();
  assert.equal(reason(a), 'MaxConnectionsPerClient');
  assert.match(g.check(a)!.detail, /2 connections from this address already/);
  assert.equal(reason('192.0.2.2'), 'ok', 'another address has its own count');
  g.closed(a, LOGGED_IN);
  assert.equal(reason(a), 'ok');
  state.live = 3;
  assert.equal(reason('192.0.2.2'), 'MaxConnections');
});

test('ConnectionRateLimit N:M: the N+1st connection in a second pauses accepting for M seconds', () => {
  const { state, reason, g } = gate('PerSourcePenalties=no', 'ConnectionRateLimit=2:5');
  assert.equal(reason('192.0.2.1'), 'ok');
  assert.equal(reason('192.0.2.2'), 'ok');
  assert.equal(reason('192.0.2.3'), 'ConnectionRateLimit');
  state.now += 1500;
  const paused = g.check('192.0.2.4');
  assert.equal(paused?.reason, 'ConnectionRateLimit', 'paused past the window');
  assert.match(paused!.detail, /paused for another 4 s/);
  state.now += 4000;
  assert.equal(reason('192.0.2.4'), 'ok');
});

test('MaxStartups start:rate:full: below start all pass, between start and full refusal by chance, at full all refused', () => {
  const { g, state, reason } = gate('PerSourcePenalties=no', 'MaxStartups=2:50:4');
  let n = 0;
  const admit = () => g.admitted(`198.51.100.${++n}`);
  admit();
  state.random = 0;
  assert.equal(reason('192.0.2.1'), 'ok', 'one unauthenticated: under start');
  admit();
  // At start: refused with probability 50%.
  state.random = 0.49;
  assert.equal(reason('192.0.2.1'), 'MaxStartups');
  state.random = 0.51;
  assert.equal(reason('192.0.2.1'), 'ok');
  admit();
  // 3 of 2..4: 75%.
  state.random = 0.74;
  assert.equal(reason('192.0.2.1'), 'MaxStartups');
  state.random = 0.76;
  assert.equal(reason('192.0.2.1'), 'ok');
  admit();
  state.random = 0.999;
  assert.equal(reason('192.0.2.1'), 'MaxStartups', 'at full: always');
  g.authenticated();
  assert.equal(reason('192.0.2.1'), 'ok', 'an authenticated connection no longer counts');

  const single = gate('PerSourcePenalties=no', 'MaxStartups=1');
  single.g.admitted('192.0.2.1');
  single.state.random = 0;
  assert.equal(single.reason('192.0.2.2'), 'MaxStartups', 'a single number N: refused from N on');
});

test('PerSourcePenalties: outcomes add time per source, enforced once past min, until it expires', () => {
  const { g, state, reason } = gate('PerSourcePenalties=authfail:10s noauth:20s min:15s max:60s');
  const a = '192.0.2.1';
  g.admitted(a);
  assert.equal(g.closed(a, FAILED), undefined, '10 s: under min, not enforced');
  assert.equal(reason(a), 'ok');
  g.admitted(a);
  assert.equal(g.closed(a, FAILED), 20, '20 s: enforced');
  const refusal = g.check(a);
  assert.equal(refusal?.reason, 'PerSourcePenalties');
  assert.match(refusal!.detail, /penalised for another 20 s/);
  assert.equal(reason('192.0.2.2'), 'ok', 'another source is not affected');
  g.admitted('192.0.2.2');
  assert.equal(g.closed('192.0.2.2', LOGGED_IN), undefined, 'an authenticated connection earns nothing');
  assert.equal(reason('192.0.2.2'), 'ok');
  g.admitted('192.0.2.3');
  assert.equal(g.closed('192.0.2.3', NO_AUTH), 20, 'noauth: 20 s at once');
  state.now += 20_000;
  assert.equal(reason(a), 'ok', 'expired');
});

test('PerSourcePenalties: the exempt list is never penalised; the net block size groups sources', () => {
  const { g, reason } = gate(
    'PerSourcePenalties=authfail:20s min:15s',
    'PerSourcePenaltyExemptList=192.0.2.0/24',
    'PerSourceNetBlockSize=24',
  );
  g.admitted('192.0.2.1');
  assert.equal(g.closed('192.0.2.1', FAILED), undefined);
  assert.equal(reason('192.0.2.1'), 'ok');
  g.admitted('198.51.100.1');
  assert.equal(g.closed('198.51.100.1', FAILED), 20);
  assert.equal(reason('198.51.100.200'), 'PerSourcePenalties', 'the whole /24 is refused');
  assert.equal(reason('198.51.101.1'), 'ok');
});

test('FailedAuthPenalty alone (PerSourcePenalties=no) penalises failed logins only', () => {
  const { g, reason } = gate('PerSourcePenalties=no', 'FailedAuthPenalty=30');
  g.admitted('192.0.2.1');
  assert.equal(g.closed('192.0.2.1', NO_AUTH), undefined, 'noauth is off');
  assert.equal(reason('192.0.2.1'), 'ok');
  g.admitted('192.0.2.1');
  assert.equal(g.closed('192.0.2.1', FAILED), 30);
  assert.equal(reason('192.0.2.1'), 'PerSourcePenalties');
});

test('a refusal by a limit penalises its source and is counted; other refusals only counted', () => {
  const { g, reason } = gate('PerSourcePenalties=refuseconnection:10s min:15s', 'MaxConnectionsPerClient=1', 'DeniedClients=10.0.0.1');
  const a = '192.0.2.1';
  g.admitted(a);
  for (let i = 0; i < 2; i++) {
    const r = g.check(a)!;
    assert.equal(r.reason, 'MaxConnectionsPerClient');
    g.refused(a, r);
  }
  g.closed(a, LOGGED_IN);
  assert.equal(reason(a), 'PerSourcePenalties', 'two refusals: 20 s, past min');
  const denied = g.check('10.0.0.1')!;
  g.refused('10.0.0.1', denied);
  g.refused('10.0.0.1', denied);
  assert.equal(reason('10.0.0.1'), 'DeniedClients');
  assert.deepEqual(g.counts(), { MaxConnectionsPerClient: 2, DeniedClients: 2 });
  g.clear();
  assert.deepEqual(g.counts(), {});
  assert.equal(reason(a), 'ok', 'clear() forgets penalties');
});

test('overflow:deny-all: a full penalty table refuses every new IPv4 source but the exempt ones', () => {
  const { g, reason } = gate(
    'PerSourcePenalties=authfail:1s min:15s max-sources4:2 overflow:deny-all',
    'PerSourcePenaltyExemptList=203.0.113.5',
  );
  for (const a of ['192.0.2.1', '192.0.2.2']) {
    g.admitted(a);
    g.closed(a, FAILED);
  }
  assert.equal(reason('198.51.100.1'), 'PerSourcePenalties');
  assert.equal(reason('203.0.113.5'), 'ok', 'exempt');
  assert.equal(reason('2001:db8::1'), 'ok', 'IPv6 has its own table');
});

test('a sensor-port touch bans the source for SensorDenyTime, unless exempt', () => {
  const { g, state, reason } = gate('SensorDenyTime=60', 'PerSourcePenaltyExemptList=192.0.2.9');
  assert.equal(g.sensorHit('192.0.2.1'), true);
  assert.equal(g.sensorHit('192.0.2.9'), false);
  const r = g.check('192.0.2.1');
  assert.equal(r?.reason, 'SensorPorts');
  assert.match(r!.detail, /sensor port; banned for another 60 s/);
  assert.equal(reason('192.0.2.9'), 'ok');
  assert.deepEqual(g.counts(), { SensorPorts: 2 });
  state.now += 60_000;
  assert.equal(reason('192.0.2.1'), 'ok');
});
