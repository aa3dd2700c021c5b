'use strict';

const assert = require('node:assert/strict');
const {test} = require('node:test');

const {connectOpen, notification, setup} = require('./fakes.js');

function reports(socket) {
  return socket.sent.filter((frame) => ['ack', 'mark_seen', 'clicked'].indexOf(frame.type) !== -1);
}

function toasts(env) {
  const container = env.doc.getElementById('live-notify-toasts');
  return container ? container.children : [];
}

test('acks of notifications arriving within ackInterval go out in one frame', (t) => {
  const env = setup(t, {analytics: true});
  const socket = connectOpen(env);
  [1, 2, 3].forEach((id) => socket.receive({type: 'notification', notification: notification(id)}));
  env.tick(249);
  assert.deepEqual(reports(socket), []);
  env.tick(1);
  assert.deepEqual(reports(socket), [{type: 'ack', ids: [1, 2, 3]}]);

  socket.receive({type: 'notification', notification: notification(4)});
  env.tick(250);
  assert.deepEqual(reports(socket).slice(1), [{type: 'ack', ids: [4]}]);
});

test('an id is acked once, even when it arrives again', (t) => {
  const env = setup(t, {analytics: true});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(7)});
  env.tick(250);
  socket.receive({type: 'notification', notification: notification(7)});
  env.tick(250);
  assert.deepEqual(reports(socket), [{type: 'ack', ids: [7]}]);
});

test('many acks are split into frames of at most 100 ids', (t) => {
  const env = setup(t, {analytics: true, ackInterval: 50});
  const socket = connectOpen(env);
  for (let id = 1; id <= 250; id += 1) socket.receive({type: 'notification', notification: notification(id)});
  env.tick(50);
  assert.deepEqual(reports(socket).map((frame) => frame.ids.length), [100, 100, 50]);
  assert.equal(reports(socket)[2].ids[49], 250);
});

test('acks gathered while offline go out when the socket opens again', (t) => {
  const env = setup(t, {analytics: true});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(1)});
  socket.serverClose(1006);
  env.tick(250);
  assert.deepEqual(reports(socket), []);
  env.tick(60000);
  const next = env.socket();
  next.open();
  assert.deepEqual(reports(next), [{type: 'ack', ids: [1]}]);
});

test('without analytics (the default) nothing is reported', (t) => {
  const env = setup(t, {toasts: true});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(1)});
  env.tick(1000);
  assert.equal(env.client.reportClicked(1), true);
  assert.deepEqual(reports(socket), []);
});

test('a toast in a visible tab is reported seen with the ack', (t) => {
  const env = setup(t, {analytics: true, toasts: true});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(5)});
  env.tick(250);
  assert.deepEqual(reports(socket), [{type: 'ack', ids: [5]}, {type: 'mark_seen', ids: [5]}]);
});

test('a toast in a hidden tab is seen when the tab is shown, unless it went away before', (t) => {
  const env = setup(t, {analytics: true, toasts: true, toastTimeout: 0});
  const socket = connectOpen(env);
  env.doc.setHidden(true);
  socket.receive({type: 'notification', notification: notification(5)});
  socket.receive({type: 'notification', notification: notification(6)});
  env.tick(250);
  assert.deepEqual(reports(socket), [{type: 'ack', ids: [5, 6]}]);
  env.client.dismissToast(6);
  env.doc.setHidden(false);
  env.tick(250);
  assert.deepEqual(reports(socket).slice(1), [{type: 'mark_seen', ids: [5]}]);
  env.doc.setHidden(true);
  env.doc.setHidden(false);
  env.tick(250);
  assert.equal(reports(socket).length, 2);
});

test('a click on a toast is reported at once, with the acks still waiting', (t) => {
  const env = setup(t, {analytics: true, toasts: true});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(9, {url: '/invoices/9/'})});
  const [toast] = toasts(env);
  toast.findByClass('live-notify-toast__body').fire('click');
  assert.deepEqual(reports(socket), [
    {type: 'ack', ids: [9]},
    {type: 'mark_seen', ids: [9]},
    {type: 'clicked', ids: [9]},
  ]);
  assert.deepEqual(env.win.location.assigned, ['https://example.com/invoices/9/']);
});

test('reportClicked refuses a bad id and reports a good one once', (t) => {
  const env = setup(t, {analytics: true});
  const socket = connectOpen(env);
  assert.equal(env.client.reportClicked('x'), false);
  assert.equal(env.client.reportClicked('12'), true);
  assert.equal(env.client.reportClicked(12), true);
  assert.deepEqual(reports(socket), [{type: 'clicked', ids: [12]}]);
});

test('the config turns analytics on and sets the interval', async () => {
  const {optionsFromConfig} = require('../../django_live_notify/static/django_live_notify/live-notify.js');
  const options = optionsFromConfig({analytics: true, ackInterval: 100, unknown: 1});
  assert.equal(options.analytics, true);
  assert.equal(options.ackInterval, 100);
  assert.equal('unknown' in options, false);
});
