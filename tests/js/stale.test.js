'use strict';

// A notification an earlier page already had, or one already read, is never shown as new.

const assert = require('node:assert/strict');
const {test} = require('node:test');

const {connectOpen, fakeFetch, notification, setup} = require('./fakes.js');

function received(client) {
  const ids = [];
  client.onNotification = (item, meta) => ids.push(`${item.id}:${meta.source}`);
  return ids;
}

/** Return the ids and sources of the notification events so far (the default handler, which toasts, stays). */
function announced(env) {
  return env.doc.eventDetails('notification').map((detail) => `${detail.notification.id}:${detail.source}`);
}

function toastIds(env) {
  const container = env.doc.getElementById('live-notify-toasts');
  return container ? container.children.map((toast) => toast.getAttribute('data-id')) : [];
}

test('an id at or below the page\'s initial lastId is never new, live or resumed', (t) => {
  const env = setup(t, {lastId: 10, toasts: true});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(9)});
  socket.receive({type: 'notification', notification: notification(10)});
  socket.receive({type: 'resumed', count: 0, complete: true});
  socket.receive({type: 'notification', notification: notification(10)});
  socket.receive({type: 'notification', notification: notification(11)});
  assert.deepEqual(announced(env), ['11:live']);
  assert.deepEqual(toastIds(env), ['11']);
  assert.equal(env.client.unreadCount, 1, 'only the new one counts until the server says otherwise');
});

test('the limit is the page\'s initial lastId, not the highest id seen since', (t) => {
  const env = setup(t, {lastId: 10});
  const ids = received(env.client);
  const socket = connectOpen(env);
  socket.receive({type: 'resumed', count: 0, complete: true});
  socket.receive({type: 'notification', notification: notification(20)});
  socket.receive({type: 'notification', notification: notification(15)}); // committed later than 20
  assert.deepEqual(ids, ['20:live', '15:live']);
  assert.equal(env.client.lastId, 20);
});

test('a row already read is never new, from any source, and does not bump the count', async (t) => {
  const fetch = fakeFetch({
    '/notifications/api/?after=3': {
      body: {results: [notification(6, {is_read: true}), notification(7)], next: null, unread_count: 1},
    },
  });
  const env = setup(t, {lastId: 3, toasts: true, fetch});
  const socket = connectOpen(env);
  socket.receive({type: 'unread_count', count: 0});
  socket.receive({type: 'notification', notification: notification(4, {is_read: true})});
  socket.receive({type: 'resumed', count: 0, complete: true});
  socket.receive({type: 'notification', notification: notification(5, {is_read: true})});
  assert.equal(env.client.unreadCount, 0);
  assert.equal(await env.client.refetch(3), 1);
  assert.deepEqual(announced(env), ['7:fetch']);
  assert.deepEqual(toastIds(env), []);
  assert.equal(env.client.lastId, 7, 'read rows still move the resume point on');
});

test('a read row stays dropped when it comes again unread', (t) => {
  const env = setup(t, {lastId: 1});
  const ids = received(env.client);
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(2, {is_read: true})});
  socket.receive({type: 'notification', notification: notification(2)});
  assert.deepEqual(ids, []);
});

test('updates of a notification below the page\'s lastId still apply in place', (t) => {
  const env = setup(t, {lastId: 10});
  const updates = [];
  env.client.onUpdate = (item) => updates.push(item.id);
  connectOpen(env).receive({type: 'update', notification: notification(8, {title: '3 new messages'})});
  assert.deepEqual(updates, [8]);
});

test('without a lastId option (a page that did not say) every unread id is new', (t) => {
  const env = setup(t);
  const ids = received(env.client);
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(1)});
  socket.receive({type: 'notification', notification: notification(2, {is_read: false})});
  assert.deepEqual(ids, ['1:live', '2:live']);
});
