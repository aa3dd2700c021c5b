'use strict';

const assert = require('node:assert/strict');
const {test} = require('node:test');

const {NotificationWebSocket, backoffDelay} = require('../../django_live_notify/static/django_live_notify/live-notify.js');
const {connectOpen, setup} = require('./fakes.js');

/** Fail the newest socket, then advance the clock until the next one is created; return the wait. */
function failAndMeasure(env, step = 1) {
  const before = env.sockets().length;
  env.socket().fail();
  let waited = 0;
  while (env.sockets().length === before) {
    if (waited > 10 * 60 * 1000) return null;
    env.tick(step);
    waited += step;
  }
  return waited;
}

test('backoffDelay stays within [ceiling/2, ceiling] and never exceeds maxDelay', () => {
  const base = 3000;
  const cap = 60000;
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const ceiling = Math.min(cap, base * 2 ** attempt);
    for (const random of [0, 0.25, 0.5, 0.999999]) {
      const delay = backoffDelay(attempt, base, cap, () => random);
      assert.ok(delay >= ceiling / 2, `attempt ${attempt}: ${delay} < ${ceiling / 2}`);
      assert.ok(delay <= ceiling, `attempt ${attempt}: ${delay} > ${ceiling}`);
      assert.ok(delay <= cap);
    }
  }
  assert.equal(backoffDelay(0, base, cap, () => 0), 1500);
  assert.equal(backoffDelay(0, base, cap, () => 1), 3000);
  assert.equal(backoffDelay(5, base, cap, () => 0), 30000);
  assert.equal(backoffDelay(6, base, cap, () => 1), 60000);
});

test('backoffDelay jitter spreads real random values over the whole range', () => {
  const delays = Array.from({length: 2000}, () => backoffDelay(2, 1000, 60000));
  assert.ok(Math.min(...delays) >= 2000);
  assert.ok(Math.max(...delays) <= 4000);
  assert.ok(Math.min(...delays) < 2200, 'low end of the range is reached');
  assert.ok(Math.max(...delays) > 3800, 'high end of the range is reached');
});

test('reconnect waits double each attempt, up to maxReconnectDelay (high jitter)', (t) => {
  t.mock.method(Math, 'random', () => 0.999999);
  const env = setup(t, {reconnectDelay: 1000, maxReconnectDelay: 8000, maxReconnectAttempts: Infinity});
  env.client.connect();
  const waits = [];
  for (let attempt = 0; attempt < 7; attempt += 1) waits.push(failAndMeasure(env));
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 8000, 8000, 8000]);
});

test('reconnect waits are at least half the ceiling (low jitter)', (t) => {
  t.mock.method(Math, 'random', () => 0);
  const env = setup(t, {reconnectDelay: 1000, maxReconnectDelay: 8000});
  env.client.connect();
  const waits = [];
  for (let attempt = 0; attempt < 5; attempt += 1) waits.push(failAndMeasure(env));
  assert.deepEqual(waits, [500, 1000, 2000, 4000, 4000]);
});

test('a successful open resets the backoff', (t) => {
  t.mock.method(Math, 'random', () => 0);
  const env = setup(t, {reconnectDelay: 1000});
  env.client.connect();
  assert.equal(failAndMeasure(env), 500);
  assert.equal(failAndMeasure(env), 1000);
  env.socket().open();
  assert.equal(env.client.reconnectAttempts, 0);
  assert.equal(failAndMeasure(env), 500);
});

test('gives up after maxReconnectAttempts (10 by default) and says why', (t) => {
  const env = setup(t);
  assert.equal(env.client.options.maxReconnectAttempts, 10);
  const disconnects = [];
  env.client.onDisconnect = (event, info) => disconnects.push(info);
  env.client.connect();
  for (let attempt = 0; attempt < 10; attempt += 1) {
    assert.notEqual(failAndMeasure(env, 100), null);
  }
  env.socket().fail();
  env.tick(60 * 60 * 1000);
  assert.equal(env.sockets().length, 11, 'one first try and ten retries');
  assert.equal(env.client.stoppedReason, 'max-attempts');
  assert.equal(env.client.status, 'stopped');
  assert.equal(disconnects.length, 1, 'failed retries are not reported, giving up is');
  assert.equal(disconnects[0].reconnecting, false);
  assert.equal(disconnects[0].stoppedReason, 'max-attempts');
  const lastStatus = env.doc.eventDetails('status').pop();
  assert.equal(lastStatus.status, 'stopped');
  assert.equal(lastStatus.stoppedReason, 'max-attempts');
  assert.ok(env.warnings().some((line) => line.includes('gave up after 10 reconnect attempts')));
});

test('maxReconnectAttempts: Infinity (or null from JSON config) retries forever', (t) => {
  const env = setup(t, {maxReconnectAttempts: Infinity, maxReconnectDelay: 5000});
  env.client.connect();
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const waited = failAndMeasure(env, 100);
    assert.ok(waited !== null && waited <= 5000, `attempt ${attempt} waited ${waited}`);
  }
  assert.equal(env.sockets().length, 61);
  assert.equal(env.client.stoppedReason, null);
  assert.equal(new NotificationWebSocket({maxReconnectAttempts: null}).options.maxReconnectAttempts, Infinity);
});

test('maxReconnectAttempts: 0 never reconnects', (t) => {
  const env = setup(t, {maxReconnectAttempts: 0});
  connectOpen(env).serverClose(1006);
  env.tick(10 * 60 * 1000);
  assert.equal(env.sockets().length, 1);
  assert.equal(env.client.stoppedReason, 'max-attempts');
});

test('close code 4001 stops reconnecting, warns, and tells onDisconnect why', (t) => {
  const env = setup(t);
  const calls = [];
  env.client.onDisconnect = (event, info) => calls.push({event, info});
  connectOpen(env).serverClose(4001, 'not authenticated');
  env.tick(60 * 60 * 1000);
  env.win.dispatchEvent(new Event('online'));
  env.doc.setHidden(true);
  env.doc.setHidden(false);

  assert.equal(env.sockets().length, 1);
  assert.equal(env.client.connected, false);
  assert.equal(env.client.stoppedReason, 'unauthenticated');
  assert.ok(env.warnings().includes('django-live-notify: not authenticated (4001); not reconnecting'));
  assert.equal(calls.length, 1);
  assert.equal(calls[0].event.code, 4001);
  assert.equal(calls[0].info.stoppedReason, 'unauthenticated');
  assert.equal(calls[0].info.reconnecting, false);
  const [detail] = env.doc.eventDetails('disconnect');
  assert.equal(detail.code, 4001);
  assert.equal(detail.stoppedReason, 'unauthenticated');
  assert.equal(env.doc.eventDetails('status').pop().stoppedReason, 'unauthenticated');
});

test('an explicit connect() after 4001 tries again', (t) => {
  const env = setup(t);
  connectOpen(env).serverClose(4001);
  env.client.connect();
  assert.equal(env.sockets().length, 2);
  assert.equal(env.client.stoppedReason, null);
});

for (const code of [1012, 4012]) {
  test(`close code ${code} (service restart${code === 4012 ? ', from daphne' : ''}) reconnects within a second`, (t) => {
    t.mock.method(Math, 'random', () => 0.999);
    const env = setup(t, {reconnectDelay: 3000});
    connectOpen(env).serverClose(code);
    env.tick(998);
    assert.equal(env.sockets().length, 1);
    env.tick(1);
    assert.equal(env.sockets().length, 2);
  });
}

test('close code 4002 (reaped idle socket) reconnects with backoff', (t) => {
  t.mock.method(Math, 'random', () => 0);
  const env = setup(t, {reconnectDelay: 3000});
  connectOpen(env).serverClose(4002);
  assert.equal(env.client.status, 'reconnecting');
  env.tick(1499);
  assert.equal(env.sockets().length, 1);
  env.tick(1);
  assert.equal(env.sockets().length, 2);
});

test('close code 4010 (fell behind reading) reconnects with backoff and resumes', (t) => {
  t.mock.method(Math, 'random', () => 0);
  const env = setup(t, {reconnectDelay: 3000});
  const first = connectOpen(env);
  first.receive({type: 'notification', notification: {id: 7, title: 'seen'}});
  first.serverClose(4010);
  assert.equal(env.client.status, 'reconnecting');
  env.tick(1500);
  assert.equal(env.sockets().length, 2);
  env.socket().open();
  assert.deepEqual(env.socket().sent, [{type: 'resume', last_id: 7}]);
});

test('onConnect and onDisconnect fire once per open connection', (t) => {
  const env = setup(t);
  const log = [];
  env.client.onConnect = () => log.push('connect');
  env.client.onDisconnect = (event, info) => log.push(`disconnect ${event.code} ${info.reconnecting}`);
  connectOpen(env).serverClose(1006);
  assert.deepEqual(log, ['connect', 'disconnect 1006 true']);
  assert.equal(env.doc.eventDetails('connect').length, 1);
  assert.equal(env.doc.eventDetails('disconnect').length, 1);
});

test('close() is final: the socket closes with 1000 and nothing reconnects', (t) => {
  const env = setup(t);
  const disconnects = [];
  env.client.onDisconnect = (event) => disconnects.push(event.code);
  const socket = connectOpen(env);
  env.client.close();
  assert.deepEqual(socket.closedWith, {code: 1000, reason: 'client closed'});
  assert.equal(env.client.connected, false);
  assert.equal(env.client.stoppedReason, 'closed');
  socket.serverClose(1000); // the late close event of the old socket is ignored
  env.tick(60 * 60 * 1000);
  env.win.dispatchEvent(new Event('online'));
  assert.equal(env.sockets().length, 1);
  assert.deepEqual(disconnects, [1000]);
});

test('close() during the backoff wait cancels the pending reconnect', (t) => {
  const env = setup(t);
  connectOpen(env).serverClose(1006);
  env.client.close();
  env.tick(60 * 60 * 1000);
  assert.equal(env.sockets().length, 1);
  assert.equal(env.client.status, 'stopped');
});

test('the online event reconnects at once while waiting to retry', (t) => {
  const env = setup(t, {reconnectDelay: 30000});
  connectOpen(env).fail();
  env.client.reconnectAttempts = 5;
  env.win.dispatchEvent(new Event('online'));
  assert.equal(env.sockets().length, 2, 'no wait for the backoff timer');
  assert.equal(env.client.reconnectAttempts, 0);
  env.tick(60 * 60 * 1000);
  assert.equal(env.sockets().length, 2, 'the old timer was cancelled');
});

test('visibilitychange to visible reconnects at once; hiding does not', (t) => {
  const env = setup(t, {reconnectDelay: 30000});
  connectOpen(env).fail();
  env.doc.setHidden(true);
  assert.equal(env.sockets().length, 1);
  env.doc.setHidden(false);
  assert.equal(env.sockets().length, 2);
});

test('waking up revives a client that gave up after maxReconnectAttempts', (t) => {
  const env = setup(t, {maxReconnectAttempts: 1});
  connectOpen(env).fail();
  env.tick(10000);
  env.socket().fail();
  assert.equal(env.client.stoppedReason, 'max-attempts');
  env.win.dispatchEvent(new Event('online'));
  assert.equal(env.sockets().length, 3);
  assert.equal(env.client.stoppedReason, null);
});

test('waking up while connected checks the socket with a heartbeat instead', (t) => {
  const env = setup(t);
  const socket = connectOpen(env);
  env.win.dispatchEvent(new Event('online'));
  assert.equal(env.sockets().length, 1);
  assert.deepEqual(socket.sentTypes(), ['get_unread_count', 'heartbeat']);
});

test('a client that never connected ignores online and visibility events', (t) => {
  const env = setup(t);
  env.win.dispatchEvent(new Event('online'));
  env.doc.setHidden(false);
  assert.equal(env.sockets().length, 0);
});

test('autoConnect: true connects from the constructor', (t) => {
  const env = setup(t, {autoConnect: true});
  assert.equal(env.sockets().length, 1);
});

test('a path url becomes wss:// on an https page', (t) => {
  const env = setup(t);
  env.client.connect();
  assert.equal(env.socket().url, 'wss://example.com/ws/notifications/');
});

test('close code 4003 (credentials changed) reconnects within a second to authenticate again', (t) => {
  t.mock.method(Math, 'random', () => 0.999);
  const env = setup(t, {reconnectDelay: 3000});
  connectOpen(env).serverClose(4003);
  env.tick(998);
  assert.equal(env.sockets().length, 1);
  env.tick(1);
  assert.equal(env.sockets().length, 2);
  assert.equal(env.client.stoppedReason, null);
});

test('close code 4005 (too many tabs) waits until the tab is shown again', (t) => {
  const env = setup(t);
  connectOpen(env).serverClose(4005);
  env.tick(60 * 60 * 1000);
  assert.equal(env.sockets().length, 1);
  assert.equal(env.client.stoppedReason, 'replaced');
  env.doc.setHidden(true);
  env.doc.setHidden(false);
  assert.equal(env.sockets().length, 2);
  assert.equal(env.client.stoppedReason, null);
});
