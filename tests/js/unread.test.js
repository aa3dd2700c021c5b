'use strict';

// mark_unread: django-notifications-hq's mark_as_unread over the socket, and the unread frame every tab gets.

const assert = require('node:assert/strict');
const {test} = require('node:test');

const {connectOpen, setup} = require('./fakes.js');
const {applyFrame} = require('../../django_live_notify/static/django_live_notify/live-notify-inbox.js');

test('markAsUnread sends mark_unread for a valid id only, and only when open', (t) => {
  const env = setup(t);
  assert.equal(env.client.markAsUnread(42), false, 'nothing is sent before the socket opens');
  const socket = connectOpen(env);
  socket.sent.length = 0;
  assert.equal(env.client.markAsUnread(42), true);
  assert.equal(env.client.markAsUnread('7'), true);
  assert.equal(env.client.markAsUnread('abc'), false);
  assert.equal(env.client.markAsUnread(0), false);
  assert.deepEqual(socket.sent, [
    {type: 'mark_unread', id: 42},
    {type: 'mark_unread', id: 7},
  ]);
});

test('an unread frame brings the items it names back unread, out of the archive and awake', () => {
  const item = {id: 3, is_read: true, is_seen: true, is_archived: true, snoozed_until: '2030-01-01T00:00:00Z'};
  assert.equal(applyFrame(item, {type: 'unread', ids: [4]}), null);
  const unread = applyFrame(item, {type: 'unread', ids: [3]});
  assert.deepEqual(
    [unread.is_read, unread.is_archived, unread.snoozed_until, unread.is_seen], [false, false, null, true],
  );
  assert.equal(item.is_read, true); // never changed in place
});
