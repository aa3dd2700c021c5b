'use strict';

const assert = require('node:assert/strict');
const {test} = require('node:test');

const {connectOpen, fakeFetch, flush, notification, setup} = require('./fakes.js');

function received(client) {
  const ids = [];
  client.onNotification = (item, meta) => ids.push(meta.source === 'live' ? item.id : `${item.id}:${meta.source}`);
  return ids;
}

/** Drop the connection and open the next socket after the backoff wait. */
function reconnect(env) {
  env.socket().serverClose(1006);
  env.tick(60000);
  const socket = env.socket();
  socket.open();
  return socket;
}

test('the first open asks for the unread count; every reconnect resumes from the last id', (t) => {
  const env = setup(t);
  const first = connectOpen(env);
  assert.deepEqual(first.sent, [{type: 'get_unread_count'}]);
  first.receive({type: 'notification', notification: notification(5)});

  const second = reconnect(env);
  assert.deepEqual(second.sent, [{type: 'resume', last_id: 5}]);
  second.receive({type: 'notification', notification: notification(6)});
  second.receive({type: 'resumed', count: 1, complete: true});

  const third = reconnect(env);
  assert.deepEqual(third.sent, [{type: 'resume', last_id: 6}]);
});

test('a lastId option resumes on the very first connect', (t) => {
  const env = setup(t, {lastId: 41});
  assert.deepEqual(connectOpen(env).sent, [{type: 'resume', last_id: 41}]);
});

test('a lastId of 0 (a user with no notifications yet) resumes from 0 on every connect', (t) => {
  const env = setup(t, {lastId: 0});
  assert.deepEqual(connectOpen(env).sent, [{type: 'resume', last_id: 0}]);
  env.socket().receive({type: 'resumed', count: 0, complete: true});
  // Sent while the connection was down: the reconnect's resume from 0 brings it back.
  assert.deepEqual(reconnect(env).sent, [{type: 'resume', last_id: 0}]);
});

test('lastId follows the highest id seen, not the newest frame', (t) => {
  const env = setup(t);
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(9)});
  socket.receive({type: 'notification', notification: notification(4)});
  assert.equal(env.client.lastId, 9);
});

test('duplicates are dropped by id, also across a reconnect replay', (t) => {
  const env = setup(t);
  const ids = received(env.client);
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(5)});
  socket.receive({type: 'notification', notification: notification(5)});
  const replay = reconnect(env);
  replay.receive({type: 'notification', notification: notification(5)});
  replay.receive({type: 'notification', notification: notification(6)});
  replay.receive({type: 'resumed', count: 2, complete: true});
  assert.deepEqual(ids, [5, '6:resume']);
  assert.equal(env.doc.eventDetails('notification').length, 2);
});

test('notifications without an id (send_notification_to_user) are never deduplicated', (t) => {
  const env = setup(t);
  const ids = received(env.client);
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: {title: 'raw'}});
  socket.receive({type: 'notification', notification: {title: 'raw'}});
  assert.deepEqual(ids, [undefined, undefined]);
  assert.equal(env.client.lastId, 0);
  assert.equal(env.client.unreadCount, 0, 'unstored notifications do not count as unread');
});

test('the set of seen ids stays bounded', (t) => {
  const env = setup(t);
  const socket = connectOpen(env);
  for (let id = 1; id <= 2000; id += 1) socket.receive({type: 'notification', notification: notification(id)});
  assert.ok(env.client._seenIds.size <= 500);
  assert.equal(env.client.lastId, 2000);
});

test('resumed with complete:false fetches the gap over HTTP, oldest first, deduplicated', async (t) => {
  const fetch = fakeFetch({
    '/notifications/api/?after=10': {
      body: {results: [notification(12), notification(11)], next: '/notifications/api/?after=10&page=2', unread_count: 9},
    },
    '/notifications/api/?after=10&page=2': {
      body: {results: [notification(201), notification(13)], next: null, unread_count: 7},
    },
  });
  const env = setup(t, {lastId: 10, fetch});
  const ids = received(env.client);
  const counts = [];
  env.client.onUnreadCount = (count) => counts.push(count);
  const socket = connectOpen(env);
  assert.deepEqual(socket.sent, [{type: 'resume', last_id: 10}]);
  socket.receive({type: 'notification', notification: notification(200)});
  socket.receive({type: 'notification', notification: notification(201)});
  socket.receive({type: 'resumed', count: 2, complete: false});
  await flush();

  assert.equal(fetch.mock.callCount(), 2);
  const [url, init] = fetch.mock.calls[0].arguments;
  assert.equal(url, '/notifications/api/?after=10');
  assert.equal(init.credentials, 'same-origin');
  assert.equal(init.headers.Accept, 'application/json');
  assert.deepEqual(ids, ['200:resume', '201:resume', '11:fetch', '12:fetch', '13:fetch']);
  assert.equal(env.client.lastId, 201);
  assert.equal(env.client.unreadCount, 7);
  assert.equal(counts.at(-1), 7);
});

test('resumed with complete:true fetches nothing', async (t) => {
  const fetch = fakeFetch({});
  const env = setup(t, {lastId: 10, fetch});
  connectOpen(env).receive({type: 'resumed', count: 0, complete: true});
  await flush();
  assert.equal(fetch.mock.callCount(), 0);
});

test('the refetch follows at most five pages', async (t) => {
  const pages = {};
  for (let page = 0; page < 10; page += 1) {
    pages[page === 0 ? '/api/?after=3' : `/api/?after=3&page=${page}`] = {
      body: {results: [notification(100 + page)], next: `/api/?after=3&page=${page + 1}`},
    };
  }
  const fetch = fakeFetch(pages);
  const env = setup(t, {apiUrl: '/api/', lastId: 3, fetch});
  const added = await env.client.refetch(3);
  assert.equal(fetch.mock.callCount(), 5);
  assert.equal(added, 5);
});

test('a failed refetch warns and resolves to 0', async (t) => {
  const env = setup(t, {fetch: fakeFetch({})});
  assert.equal(await env.client.refetch(3), 0);
  assert.ok(env.warnings().some((line) => line.includes('could not fetch missed notifications (HTTP 404)')));
});

test('the default handler does not toast a backlog fetched over HTTP', async (t) => {
  const fetch = fakeFetch({'/notifications/api/?after=1': {body: {results: [notification(2)], next: null}}});
  const env = setup(t, {toasts: true, fetch});
  await env.client.refetch(1);
  assert.equal(env.doc.getElementById('live-notify-toasts'), null);
  assert.equal(env.doc.eventDetails('notification')[0].source, 'fetch');
});

test('an update frame replaces the visible toast in place and is never dropped as a duplicate', (t) => {
  const env = setup(t, {toasts: true});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(5, {title: '1 new message'})});
  socket.receive({type: 'update', notification: notification(5, {title: '3 new messages'})});
  const container = env.doc.getElementById('live-notify-toasts');
  assert.equal(container.children.length, 1);
  assert.equal(container.children[0].getAttribute('data-id'), '5');
  assert.equal(container.children[0].findAll('strong')[0].textContent, '3 new messages');
  assert.equal(env.doc.eventDetails('update')[0].notification.title, '3 new messages');
});

test('an update for a toast no longer shown shows a new toast', (t) => {
  const env = setup(t, {toasts: true});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(5)});
  env.client.dismissToast(5);
  socket.receive({type: 'update', notification: notification(5, {title: 'grouped'})});
  const container = env.doc.getElementById('live-notify-toasts');
  assert.equal(container.children.length, 1);
  assert.equal(container.children[0].findAll('strong')[0].textContent, 'grouped');
});

test('onUpdate receives every update, seen id or not, and an update counts as seen', (t) => {
  const env = setup(t);
  const updates = [];
  env.client.onUpdate = (item) => updates.push(item.title);
  const ids = received(env.client);
  const socket = connectOpen(env);
  socket.receive({type: 'update', notification: notification(8, {title: 'a'})});
  socket.receive({type: 'update', notification: notification(8, {title: 'b'})});
  socket.receive({type: 'notification', notification: notification(8)});
  assert.deepEqual(updates, ['a', 'b']);
  assert.deepEqual(ids, []);
  assert.equal(env.client.lastId, 8);
});

test('unread_count updates every badge and calls onUnreadCount', (t) => {
  const env = setup(t);
  const badges = [env.doc.createElement('span'), env.doc.createElement('span')];
  badges.forEach((badge) => {
    badge.setAttribute('data-live-notify-badge', '');
    env.doc.body.appendChild(badge);
  });
  const counts = [];
  env.client.onUnreadCount = (count) => counts.push(count);
  const socket = connectOpen(env);

  socket.receive({type: 'unread_count', count: 3});
  for (const badge of badges) {
    assert.equal(badge.textContent, '3');
    assert.equal(badge.getAttribute('data-count'), '3');
    assert.equal(badge.hasAttribute('hidden'), false);
  }
  socket.receive({type: 'unread_count', count: 0});
  for (const badge of badges) {
    assert.equal(badge.textContent, '0');
    assert.equal(badge.getAttribute('data-count'), '0');
    assert.equal(badge.hasAttribute('hidden'), true);
  }
  assert.deepEqual(counts, [3, 0]);
  assert.equal(env.client.unreadCount, 0);
  assert.deepEqual(env.doc.eventDetails('unread-count'), [{count: 3}, {count: 0}]);
});

test('a new unread notification bumps the count until the server says otherwise', (t) => {
  const env = setup(t);
  const socket = connectOpen(env);
  socket.receive({type: 'unread_count', count: 2});
  socket.receive({type: 'notification', notification: notification(1)});
  assert.equal(env.client.unreadCount, 3);
  socket.receive({type: 'notification', notification: notification(2, {is_read: true})});
  assert.equal(env.client.unreadCount, 3);
  socket.receive({type: 'unread_count', count: 1});
  assert.equal(env.client.unreadCount, 1);
});

test('markAsRead, markAllAsRead and getUnreadCount send the protocol frames', (t) => {
  const env = setup(t);
  assert.equal(env.client.markAsRead(42), false, 'nothing is sent before the socket opens');
  const socket = connectOpen(env);
  socket.sent.length = 0;
  assert.equal(env.client.markAsRead(42), true);
  assert.equal(env.client.markAsRead('7'), true);
  assert.equal(env.client.markAsRead('abc'), false);
  assert.equal(env.client.markAsRead(0), false);
  assert.equal(env.client.markAllAsRead(), true);
  assert.equal(env.client.getUnreadCount(), true);
  assert.deepEqual(socket.sent, [
    {type: 'mark_read', id: 42},
    {type: 'mark_read', id: 7},
    {type: 'mark_all_read'},
    {type: 'get_unread_count'},
  ]);
});

test('a read frame marks toasts read and is dispatched', (t) => {
  const env = setup(t, {toasts: true});
  const reads = [];
  env.client.onRead = (detail) => reads.push(detail);
  const socket = connectOpen(env);
  [1, 2, 3].forEach((id) => socket.receive({type: 'notification', notification: notification(id)}));
  const toasts = env.doc.getElementById('live-notify-toasts').children;
  socket.receive({type: 'read', ids: [2]});
  assert.deepEqual(toasts.map((toast) => toast.classList.contains('live-notify-toast--read')), [false, true, false]);
  socket.receive({type: 'read', all: true});
  assert.ok(toasts.every((toast) => toast.classList.contains('live-notify-toast--read')));
  assert.deepEqual(reads, [{ids: [2], all: false}, {ids: [], all: true}]);
  assert.deepEqual(env.doc.eventDetails('read'), reads);
});

test('an error frame is logged and dispatched; the socket stays open', (t) => {
  const env = setup(t);
  const errors = [];
  env.client.onError = (detail) => errors.push(detail);
  const socket = connectOpen(env);
  socket.receive({type: 'error', code: 'not_found', message: 'No such notification.'});
  assert.deepEqual(errors, [{code: 'not_found', message: 'No such notification.'}]);
  assert.deepEqual(env.doc.eventDetails('error'), errors);
  assert.ok(env.warnings().some((line) => line.includes('not_found')));
  assert.equal(env.client.connected, true);
});

test('unknown types, unknown keys and frames that are not JSON are ignored', (t) => {
  const env = setup(t);
  const ids = received(env.client);
  const socket = connectOpen(env);
  socket.receive({type: 'something_new', value: 1});
  socket.receive('not json');
  socket.receive('[1, 2]');
  socket.receive({type: 'notification', notification: notification(1, {brand_new_key: true})});
  assert.deepEqual(ids, [1]);
  assert.equal(env.client.connected, true);
});

test('an exception in a callback does not break the client', (t) => {
  const env = setup(t);
  const errors = t.mock.method(console, 'error', () => {});
  env.client.onNotification = () => {
    throw new Error('page bug');
  };
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(1)});
  socket.receive({type: 'unread_count', count: 4});
  assert.equal(errors.mock.callCount(), 1);
  assert.equal(env.client.unreadCount, 4);
  assert.equal(env.client.lastId, 1);
});

test('callbacks may also be passed as options', (t) => {
  const seen = [];
  const env = setup(t, {onConnect: () => seen.push('connect'), onUnreadCount: (count) => seen.push(count)});
  connectOpen(env).receive({type: 'unread_count', count: 2});
  assert.deepEqual(seen, ['connect', 2]);
});
