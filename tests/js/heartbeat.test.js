'use strict';

const assert = require('node:assert/strict');
const {test} = require('node:test');

const {NotificationWebSocket} = require('../../django_live_notify/static/django_live_notify/live-notify.js');
const {connectOpen, notification, setup} = require('./fakes.js');

function heartbeats(socket) {
  return socket.sentTypes().filter((type) => type === 'heartbeat').length;
}

test('heartbeatTimeout defaults to the smaller of 10 s and half the interval', () => {
  assert.equal(new NotificationWebSocket().options.heartbeatTimeout, 10000);
  assert.equal(new NotificationWebSocket({heartbeatInterval: 30000}).options.heartbeatTimeout, 10000);
  assert.equal(new NotificationWebSocket({heartbeatInterval: 4000}).options.heartbeatTimeout, 2000);
  assert.equal(new NotificationWebSocket({heartbeatInterval: 4000, heartbeatTimeout: 3000}).options.heartbeatTimeout, 3000);
});

test('sends a heartbeat every heartbeatInterval while acks arrive', (t) => {
  const env = setup(t, {heartbeatInterval: 30000});
  const socket = connectOpen(env);
  env.tick(29999);
  assert.equal(heartbeats(socket), 0);
  env.tick(1);
  assert.equal(heartbeats(socket), 1);
  for (let beat = 2; beat <= 6; beat += 1) {
    env.tick(500);
    socket.receive({type: 'heartbeat_ack'});
    env.tick(29500);
    assert.equal(heartbeats(socket), beat);
  }
  assert.equal(env.sockets().length, 1);
  assert.equal(socket.closedWith, null);
  assert.equal(env.client.connected, true);
});

test('no heartbeat_ack within heartbeatTimeout closes with 4000 and reconnects', (t) => {
  t.mock.method(Math, 'random', () => 0);
  const env = setup(t, {heartbeatInterval: 30000, reconnectDelay: 3000});
  const disconnects = [];
  env.client.onDisconnect = (event) => disconnects.push(event.code);
  const socket = connectOpen(env);
  env.tick(30000);
  env.tick(9999);
  assert.equal(env.client.connected, true);
  assert.equal(socket.closedWith, null);
  env.tick(1);
  assert.equal(socket.closedWith.code, 4000);
  assert.equal(env.client.connected, false);
  assert.deepEqual(disconnects, [4000]);
  assert.ok(env.warnings().some((line) => line.includes('no heartbeat_ack')));
  env.tick(1500);
  assert.equal(env.sockets().length, 2);
});

test('a dead socket is dropped without waiting for its close event', (t) => {
  const env = setup(t, {heartbeatInterval: 1000});
  const socket = connectOpen(env);
  env.tick(1000);
  env.tick(500); // node 20's fake clock runs a tick's timers at its end time, so step per timer
  assert.equal(env.client.status, 'reconnecting');
  socket.serverClose(1006); // arrives late, long after the client moved on
  assert.equal(env.doc.eventDetails('disconnect').length, 1);
});

test('heartbeats stop once the socket is closed', (t) => {
  const env = setup(t, {heartbeatInterval: 1000});
  const socket = connectOpen(env);
  env.client.close();
  env.tick(10000);
  assert.equal(heartbeats(socket), 0);
});

test('heartbeat_ack only clears the timeout: the server sends no last_id, and one in it changes nothing', (t) => {
  const env = setup(t, {heartbeatInterval: 1000});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(7)});
  env.tick(1000);
  socket.receive({type: 'heartbeat_ack', last_id: 9});
  env.tick(1000);
  socket.receive({type: 'heartbeat_ack', last_id: 40});
  assert.equal(env.client.lastId, 7);
  assert.deepEqual(socket.sentTypes(), ['get_unread_count', 'heartbeat', 'heartbeat']);
  assert.equal(socket.closedWith, null);
});
