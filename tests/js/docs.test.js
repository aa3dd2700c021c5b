'use strict';

// The JavaScript of docs/javascript.rst runs against the bundled client, on a fake page, as a browser would run it:
// the page's inline scripts first, then the deferred live-notify.js, then DOMContentLoaded.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {test} = require('node:test');
const vm = require('node:vm');

const {FakeWindow, makeFakeWebSocket, notification} = require('./fakes.js');

const SCRIPT = path.join(__dirname, '../../django_live_notify/static/django_live_notify/live-notify.js');
const PAGE = path.join(__dirname, '../../docs/javascript.rst');

/** Return the code blocks of the page in `language`, with the line of their directive. */
function codeBlocks(language) {
  const lines = fs.readFileSync(PAGE, 'utf8').split('\n');
  const blocks = [];
  lines.forEach((line, index) => {
    if (line.trim() !== `.. code-block:: ${language}`) return;
    const body = [];
    let next = index + 1;
    while (next < lines.length && (!lines[next].trim() || lines[next].startsWith(' '))) body.push(lines[next++]);
    blocks.push({line: index + 1, code: body.join('\n')});
  });
  return blocks;
}

/** Return the JavaScript of every block: a javascript block as is, an html block's inline <script>s. */
function snippets() {
  const found = codeBlocks('javascript');
  for (const {line, code} of codeBlocks('html')) {
    for (const match of code.matchAll(/<script>([\s\S]*?)<\/script>/g)) found.push({line, code: match[1]});
  }
  return found;
}

const SNIPPETS = snippets();
const TESTED = new Set();

/** Return the one snippet holding `needle`, and count it as tested. */
function snippet(needle) {
  const matching = SNIPPETS.filter((each) => each.code.includes(needle));
  assert.equal(matching.length, 1, `${matching.length} snippets of docs/javascript.rst hold ${needle}`);
  TESTED.add(matching[0]);
  return matching[0];
}

/**
 * Return a page for a signed-in user (with the tag's config element) or for your own client (without it),
 * while it is loading; `page.run(snippet)` runs a snippet as an inline <script>, `page.load()` then runs
 * the deferred client and fires DOMContentLoaded.
 */
function page(t, {config = {url: '/ws/notifications/'}, globals = {}} = {}) {
  t.mock.timers.enable({apis: ['setTimeout', 'setInterval', 'Date']});
  const Socket = makeFakeWebSocket();
  const win = new FakeWindow({WebSocket: Socket});
  const doc = win.document;
  doc.readyState = 'loading';
  if (config) {
    const element = doc.createElement('script');
    element.setAttribute('id', 'live-notify-config');
    element.textContent = JSON.stringify(config);
    doc.body.appendChild(element);
  }
  const context = vm.createContext({
    window: win, document: doc, console, URL, Event, CustomEvent, setTimeout, clearTimeout, setInterval, clearInterval,
    ...globals,
  });
  return {
    win,
    doc,
    socket: () => Socket.instances.at(-1),
    run({line, code}) {
      vm.runInContext(code, context, {filename: `docs/javascript.rst:${line}`});
    },
    load() {
      doc.readyState = 'interactive';
      vm.runInContext(fs.readFileSync(SCRIPT, 'utf8'), context, {filename: SCRIPT});
      context.NotificationWebSocket = win.NotificationWebSocket;
      doc.dispatchEvent(new Event('DOMContentLoaded'));
      doc.readyState = 'complete';
    },
  };
}

test('listening for the events: a message refreshes the inbox, the count goes into the title', (t) => {
  const refreshed = [];
  const tab = page(t, {globals: {refreshInbox: () => refreshed.push('inbox')}});
  tab.run(snippet('document.addEventListener("live-notify:notification"'));
  tab.load();
  const socket = tab.socket();
  socket.open();
  socket.receive({type: 'notification', notification: notification(1, {notification_type: 'system'})});
  socket.receive({type: 'notification', notification: notification(2, {notification_type: 'message'})});
  socket.receive({type: 'unread_count', count: 2});
  assert.deepEqual(refreshed, ['inbox']);
  assert.equal(tab.doc.title, '(2) My site');
  socket.receive({type: 'unread_count', count: 0});
  assert.equal(tab.doc.title, 'My site');
});

test('replacing onNotification on DOMContentLoaded keeps the toast', (t) => {
  const listed = [];
  const tab = page(t, {globals: {prependToMyList: (each) => listed.push(each.id)}});
  tab.run(snippet('client.onNotification = function (notification, meta)'));
  tab.load();
  tab.socket().open();
  tab.socket().receive({type: 'notification', notification: notification(7)});
  assert.deepEqual(listed, [7]);
  assert.ok(tab.doc.body.findByClass('live-notify-toast'), 'the default toast is still shown');
});

test('the same listener does nothing for an anonymous visitor', (t) => {
  const tab = page(t, {config: null, globals: {prependToMyList: () => assert.fail('no client, no call')}});
  tab.run(snippet('client.onNotification = function (notification, meta)'));
  tab.load();
  assert.equal(tab.win.notificationWS, undefined);
});

test('a client you create yourself connects and reports its connection', (t) => {
  const statuses = [];
  const tab = page(t, {config: null, globals: {showConnectionStatus: (status) => statuses.push(status)}});
  tab.load();
  tab.run(snippet('window.notificationWS = new NotificationWebSocket({'));
  const socket = tab.socket();
  assert.equal(socket.url, 'wss://example.com/ws/notifications/');
  socket.open();
  socket.receive({type: 'notification', notification: notification(3)});
  assert.ok(tab.doc.body.findByClass('live-notify-toast'), 'toasts: true shows toasts');
  socket.serverClose(1006);
  assert.deepEqual(statuses, ['connected', 'disconnected']);
});

test('options set on DOMContentLoaded take effect', (t) => {
  const tab = page(t);
  tab.run(snippet('window.notificationWS.options.toastTimeout = 0'));
  tab.load();
  assert.equal(tab.win.notificationWS.options.toastTimeout, 0);
});

test('the action object of the docs renders as a POST button', (t) => {
  const action = JSON.parse(snippet('"name": "accept_request"').code);
  const tab = page(t);
  tab.load();
  const toast = tab.win.notificationWS.showToast(notification(42, {actions: [action]}));
  const [button] = toast.findAll('button').filter((each) => each.textContent === 'Accept');
  assert.equal(button.getAttribute('class'), 'live-notify-action live-notify-action--primary');
});

test('asking for permission from a click', async (t) => {
  const asked = [];
  const Notification = {permission: 'default', requestPermission: async () => asked.push('asked') && 'granted'};
  const tab = page(t);
  tab.win.Notification = Notification;
  const button = tab.doc.body.appendChild(tab.doc.createElement('button'));
  button.setAttribute('id', 'desktop-notifications');
  tab.load();
  tab.run(snippet('NotificationWebSocket.requestNotificationPermission()'));
  assert.deepEqual(asked, []);
  button.fire('click');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(asked, ['asked']);
});

test('every script of docs/javascript.rst is tested here', () => {
  const untested = SNIPPETS.filter((each) => !TESTED.has(each)).map((each) => `docs/javascript.rst:${each.line}`);
  assert.deepEqual(untested, []);
});
