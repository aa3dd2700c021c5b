'use strict';

const assert = require('node:assert/strict');
const {test} = require('node:test');

const {
  relativeTime, snoozeChoices, localInputToIso, toLocalInput, belongsTo, upsert, applyFrame, typeLabel, safeHref,
} = require('../../django_live_notify/static/django_live_notify/live-notify-inbox.js');

const NOW = Date.UTC(2030, 0, 15, 12, 0, 0);

test('relative times say "just now" under a minute, never "0 minutes ago"', () => {
  assert.equal(relativeTime(NOW, NOW, 'en'), 'just now');
  assert.equal(relativeTime(NOW - 59000, NOW, 'en'), 'just now');
  assert.equal(relativeTime(NOW - 60000, NOW, 'en'), '1 minute ago');
  assert.equal(relativeTime(NOW - 5 * 60000, NOW, 'en'), '5 minutes ago');
  assert.equal(relativeTime(NOW - 3 * 3600000, NOW, 'en'), '3 hours ago');
  assert.equal(relativeTime(NOW - 86400000, NOW, 'en'), 'yesterday');
  assert.equal(relativeTime(NOW, NOW, 'en', 'à l’instant'), 'à l’instant');
  // A clock a little ahead of the server's is not "in 2 seconds".
  assert.equal(relativeTime(NOW + 2000, NOW, 'en'), 'just now');
  assert.equal(relativeTime(NaN, NOW, 'en'), '');
});

test('quick snooze times: in an hour, tomorrow 9:00, next Monday 9:00', () => {
  const wednesday = new Date(2030, 0, 16, 22, 30);
  const [[, hour], [, tomorrow], [, nextWeek]] = snoozeChoices(wednesday);
  assert.equal(hour.getTime() - wednesday.getTime(), 3600000);
  assert.deepEqual([tomorrow.getDate(), tomorrow.getHours(), tomorrow.getMinutes()], [17, 9, 0]);
  assert.deepEqual([nextWeek.getDay(), nextWeek.getDate(), nextWeek.getHours()], [1, 21, 9]);
  const monday = new Date(2030, 0, 21, 8, 0);
  assert.equal(snoozeChoices(monday)[2][1].getDate(), 28); // a week on, not today
});

test('the datetime-local value round-trips through ISO time', () => {
  const date = new Date(2030, 5, 1, 7, 5);
  assert.equal(toLocalInput(date), '2030-06-01T07:05');
  assert.equal(localInputToIso('2030-06-01T07:05'), date.toISOString());
  assert.equal(localInputToIso(''), null);
  assert.equal(localInputToIso('tomorrow'), null);
});

test('an item belongs to a tab by its read, archived and snoozed state', () => {
  const unread = {id: 1, is_read: false};
  const read = {id: 2, is_read: true};
  const archived = {id: 3, is_read: true, is_archived: true};
  const sleeping = {id: 4, is_read: true, snoozed_until: new Date(NOW + 1000).toISOString()};
  const woken = {id: 5, is_read: false, snoozed_until: new Date(NOW - 1000).toISOString()};
  const tab = (name) => [unread, read, archived, sleeping, woken].filter((item) => belongsTo(item, name, NOW)).map((item) => item.id);
  assert.deepEqual(tab('unread'), [1, 5]);
  assert.deepEqual(tab('all'), [1, 2, 5]);
  assert.deepEqual(tab('archived'), [3]);
});

test('upsert inserts newest first and replaces a grouped row in place', () => {
  let items = upsert([], {id: 5, title: 'a'});
  items = upsert(items, {id: 9, title: 'b'});
  items = upsert(items, {id: 7, title: 'c'});
  assert.deepEqual(items.map((item) => item.id), [9, 7, 5]);
  items = upsert(items, {id: 7, title: '3 new messages'});
  assert.deepEqual(items.map((item) => [item.id, item.title]), [[9, 'b'], [7, '3 new messages'], [5, 'a']]);
});

test('state frames change the items they name, and only those', () => {
  const item = {id: 3, is_read: false, is_seen: false, is_archived: false, snoozed_until: null, outcome: null};
  assert.equal(applyFrame(item, {type: 'seen', ids: [4]}), null);
  assert.equal(applyFrame(item, {type: 'seen', ids: [3]}).is_seen, true);
  assert.equal(applyFrame(item, {type: 'seen', all: true}).is_seen, true);
  assert.deepEqual(
    [applyFrame(item, {type: 'read', ids: [3]}).is_read, applyFrame(item, {type: 'read', all: true}).is_read], [true, true],
  );
  const archived = applyFrame(item, {type: 'archived', ids: [3], archived: true});
  assert.deepEqual([archived.is_archived, archived.is_read], [true, true]);
  assert.equal(applyFrame(archived, {type: 'archived', ids: [3], archived: false}).is_archived, false);
  const snoozed = applyFrame(item, {type: 'snoozed', ids: [3], until: '2030-01-01T00:00:00Z'});
  assert.equal(snoozed.snoozed_until, '2030-01-01T00:00:00Z');
  const woken = applyFrame(snoozed, {type: 'snoozed', ids: [3], until: null});
  assert.deepEqual([woken.snoozed_until, woken.is_read, woken.is_seen], [null, false, false]);
  const used = applyFrame(item, {type: 'action_outcome', id: 3, outcome: {action: 'accept', label: 'Accepted'}});
  assert.deepEqual(used.outcome, {action: 'accept', label: 'Accepted'});
  assert.equal(applyFrame(item, {type: 'mystery', ids: [3]}), null);
  assert.equal(item.is_read, false); // never changed in place
});

test('type labels are derived from the type name', () => {
  assert.equal(typeLabel('service_request'), 'Service request');
  assert.equal(typeLabel('order'), 'Order');
  assert.equal(typeLabel(''), '');
});

test('only http(s) and relative URLs become links', () => {
  assert.equal(safeHref('/x/', 'https://example.com/a/'), 'https://example.com/x/');
  assert.equal(safeHref('javascript:alert(1)', 'https://example.com/'), '');
  assert.equal(safeHref(' java\tscript:alert(1)', 'https://example.com/'), '');
  assert.equal(safeHref(null, 'https://example.com/'), '');
});
