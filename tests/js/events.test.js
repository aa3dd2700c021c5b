'use strict';

// One event mechanism: every occurrence is one live-notify:* event, and each onX callback is a listener of it.

const assert = require('node:assert/strict');
const {test} = require('node:test');

const {NotificationWebSocket} = require('../../django_live_notify/static/django_live_notify/live-notify.js');
const {connectOpen, makeFakeWebSocket, notification, setup} = require('./fakes.js');

const CALLBACKS = {
  onNotification: 'notification',
  onUpdate: 'update',
  onConnect: 'connect',
  onDisconnect: 'disconnect',
  onUnreadCount: 'unread-count',
  onRead: 'read',
  onError: 'error',
  onStatus: 'status',
};

/** Record every callback and every live-notify:* event, in one list, in the order they happen. */
function record(env) {
  const log = [];
  Object.entries(CALLBACKS).forEach(([callback]) => {
    env.client[callback] = (...args) => log.push({callback, args});
  });
  Object.values(CALLBACKS).concat(['resumed', 'frame', 'action']).forEach((name) => {
    env.doc.addEventListener(`live-notify:${name}`, (event) => log.push({event: name, detail: event.detail}));
  });
  return log;
}

/** Drive a client through every documented occurrence once. */
function everyOccurrence(env) {
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(5)});
  socket.receive({type: 'update', notification: notification(5, {title: 'Two'})});
  socket.receive({type: 'unread_count', count: 3});
  socket.receive({type: 'read', ids: [5], all: false});
  socket.receive({type: 'resumed', count: 0, complete: true});
  socket.receive({type: 'error', code: 'invalid_field', message: 'no'});
  socket.receive({type: 'seen', ids: [5]});
  socket.serverClose(1006);
  return socket;
}

test('each occurrence fires its event once, then its callback follows with the documented arguments', (t) => {
  const env = setup(t);
  const log = record(env);
  everyOccurrence(env);
  const events = log.filter((entry) => entry.event);
  assert.deepEqual(events.map((entry) => entry.event), [
    'status', 'status', 'connect', 'unread-count', 'notification', 'update', 'unread-count', 'read', 'resumed',
    'error', 'frame', 'status', 'disconnect',
  ]);
  // Each callback ran once per event, just before the page's listener of that event, with its detail.
  const order = log.map((entry) => entry.callback || entry.event);
  assert.deepEqual(order, [
    'onStatus', 'status', 'onStatus', 'status', 'onConnect', 'connect', 'onUnreadCount', 'unread-count',
    'onNotification', 'notification', 'onUpdate', 'update', 'onUnreadCount', 'unread-count', 'onRead', 'read',
    'resumed', 'onError', 'error', 'frame', 'onStatus', 'status', 'onDisconnect', 'disconnect',
  ]);
  log.forEach((entry, index) => {
    if (!entry.callback) return;
    const {detail} = log[index + 1];
    const expected = {
      onNotification: [detail.notification, {source: detail.source}],
      onUpdate: [detail.notification],
      onConnect: [],
      onUnreadCount: [detail.count],
      onRead: [detail],
      onError: [detail],
      onStatus: [detail],
    }[entry.callback];
    if (entry.callback === 'onDisconnect') {
      assert.equal(entry.args[0].code, 1006); // the socket's own close event
      assert.equal(entry.args[1], detail);
    } else {
      assert.deepEqual(entry.args, expected, entry.callback);
    }
  });
  assert.deepEqual(log.find((entry) => entry.callback === 'onNotification').args[1], {source: 'live'});
  // Objects are shared, not copied: a callback sees the very detail the page's listeners get.
  const read = log.findIndex((entry) => entry.callback === 'onRead');
  assert.equal(log[read].args[0], log[read + 1].detail);
});

test('a callback passed as an option or assigned later is called, once, and the prototype default otherwise', (t) => {
  const counts = [];
  const env = setup(t, {onConnect: () => counts.push('option')});
  connectOpen(env);
  assert.deepEqual(counts, ['option']);
  env.client.onConnect = () => counts.push('assigned');
  env.socket().serverClose(1006);
  env.tick(60000);
  env.socket().open();
  assert.deepEqual(counts, ['option', 'assigned']);
  assert.equal(env.doc.eventDetails('connect').length, 2);
});

test('a throwing callback is logged and neither the event nor the client breaks', (t) => {
  const env = setup(t);
  const errors = t.mock.method(console, 'error', () => {});
  env.client.onNotification = () => {
    throw new Error('boom');
  };
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(1)});
  socket.receive({type: 'notification', notification: notification(2)});
  assert.equal(errors.mock.callCount(), 2);
  assert.match(errors.mock.calls[0].arguments[0], /onNotification threw/);
  assert.deepEqual(env.doc.eventDetails('notification').map((detail) => detail.notification.id), [1, 2]);
  assert.equal(env.client.lastId, 2);
});

test('two clients on one document each hear only their own events', (t) => {
  const env = setup(t);
  const Socket = makeFakeWebSocket();
  const other = new NotificationWebSocket({window: env.win, document: env.doc, WebSocket: Socket});
  const mine = [];
  const theirs = [];
  env.client.onNotification = (item) => mine.push(item.id);
  other.onNotification = (item) => theirs.push(item.id);
  connectOpen(env).receive({type: 'notification', notification: notification(1)});
  other.connect();
  Socket.instances[0].open();
  Socket.instances[0].receive({type: 'notification', notification: notification(2)});
  assert.deepEqual(mine, [1]);
  assert.deepEqual(theirs, [2]);
  assert.equal(env.doc.eventDetails('notification').length, 2);
});

test('without a document the callbacks still run', (t) => {
  t.mock.timers.enable({apis: ['setTimeout', 'setInterval']});
  const Socket = makeFakeWebSocket();
  const seen = [];
  const client = new NotificationWebSocket({WebSocket: Socket, onUnreadCount: (count) => seen.push(count)});
  assert.equal(client._document, null);
  client.connect();
  Socket.instances[0].open();
  Socket.instances[0].receive({type: 'unread_count', count: 4});
  assert.deepEqual(seen, [4]);
});
