'use strict';

// The scripts as a page runs them: plain <script>s sharing one window, in the orders the template tags can put
// them in, each also alone. live-notify-plural.js comes before each of the others, as both tags render it.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {test} = require('node:test');
const vm = require('node:vm');

const {FakeElement, FakeWindow, makeFakeWebSocket} = require('./fakes.js');

const STATIC = path.join(__dirname, '../../django_live_notify/static/django_live_notify');
const SOURCES = {
  plural: fs.readFileSync(path.join(STATIC, 'live-notify-plural.js'), 'utf8'),
  client: fs.readFileSync(path.join(STATIC, 'live-notify.js'), 'utf8'),
  inbox: fs.readFileSync(path.join(STATIC, 'live-notify-inbox.js'), 'utf8'),
};
// What {% live_notifications %} and {% live_notify_inbox %} each put on the page.
const CLIENT = ['plural', 'client'];
const INBOX = ['plural', 'inbox'];

function pluralOf(rule, forms) {
  let index = '';
  for (let count = 0; count < 200; count += 1) index += String(rule(count));
  return {forms, index};
}

const UNREAD = pluralOf((n) => (n > 1 ? 1 : 0), ['%(counter)s não lida', '%(counter)s não lidas']);
const NEW = pluralOf((n) => (n > 1 ? 1 : 0), ['Notificações, %(counter)s nova', 'Notificações, %(counter)s novas']);
const TEXT = Object.getOwnPropertyDescriptor(FakeElement.prototype, 'textContent');

function add(parent, tag, attributes = {}, text = undefined) {
  const element = parent.ownerDocument.createElement(tag);
  Object.entries(attributes).forEach(([name, value]) => element.setAttribute(name, value));
  if (text !== undefined) element.textContent = text;
  return parent.appendChild(element);
}

/** Count the writes of an element's text. */
function countWrites(element) {
  const writes = {count: 0};
  Object.defineProperty(element, 'textContent', {
    get() {
      return TEXT.get.call(this);
    },
    set(value) {
      writes.count += 1;
      TEXT.set.call(this, value);
    },
  });
  return writes;
}

/** Build a page holding what the tags render (the client's config, a worded badge, the inbox), and run `scripts`. */
function page(t, scripts, {unreadCount = 1} = {}) {
  t.mock.timers.enable({apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000});
  const warn = t.mock.method(console, 'warn', () => {});
  const Socket = makeFakeWebSocket();
  const win = new FakeWindow({WebSocket: Socket});
  Object.assign(win, {setTimeout, clearTimeout, setInterval, clearInterval});
  const body = win.document.body;
  add(body, 'script', {id: 'live-notify-config', type: 'application/json'}, JSON.stringify({url: '/ws/', unreadCount}));
  const badge = add(body, 'span', {'data-live-notify-badge': '', 'data-live-notify-plural': JSON.stringify(UNREAD)}, '');
  const root = add(body, 'div', {'data-live-notify-inbox': ''});
  const inboxConfig = {unseenCount: 2, unreadCount, strings: {}, plurals: {bellLabel: NEW, unreadSummary: UNREAD}};
  add(root, 'script', {id: 'live-notify-inbox-config', type: 'application/json'}, JSON.stringify(inboxConfig));
  const bell = add(root, 'button', {class: 'live-notify-inbox__bell', 'data-label': 'Notificações'});
  add(bell, 'span', {'data-live-notify-unseen': '', 'data-count': '0'}, '0');
  const panel = add(root, 'div', {class: 'live-notify-inbox__panel'});
  const summary = add(add(panel, 'span', {'data-live-notify-unread-summary': ''}), 'span', {'data-live-notify-inbox-unread': ''}, '');
  ['feed', 'list', 'empty', 'status'].forEach((name) => add(panel, 'div', {class: `live-notify-inbox__${name}`}));
  const writes = {badge: countWrites(badge), summary: countWrites(summary)};
  const context = vm.createContext({window: win, console, URL, setTimeout, clearTimeout, setInterval, clearInterval});
  scripts.forEach((name) => vm.runInContext(SOURCES[name], context, {filename: `${name}.js`}));
  const receive = (frame) => {
    const socket = Socket.instances[0];
    if (socket.readyState !== Socket.OPEN) socket.open();
    socket.receive(frame);
  };
  return {win, badge, bell, summary, writes, receive, warnings: () => warn.mock.calls.map((call) => call.arguments.join(' '))};
}

for (const [name, scripts] of [['client first', [...CLIENT, ...INBOX]], ['inbox first', [...INBOX, ...CLIENT]]]) {
  test(`both scripts, ${name}: each writes its own badges, in words, once per count`, (t) => {
    const {win, badge, bell, summary, writes, receive} = page(t, scripts);
    assert.ok(win.notificationWS && win.notificationInbox);
    assert.equal(summary.textContent, '1 não lida');
    assert.equal(bell.getAttribute('aria-label'), 'Notificações, 2 novas');
    writes.badge.count = 0;
    writes.summary.count = 0;

    receive({type: 'unread_count', count: 3});

    assert.equal(badge.textContent, '3 não lidas');
    assert.equal(summary.textContent, '3 não lidas');
    assert.equal(summary.getAttribute('data-count'), '3');
    assert.deepEqual([writes.badge.count, writes.summary.count], [1, 1]);
  });
}

test('the counted-phrase script loaded twice keeps its first copy', (t) => {
  const {win} = page(t, ['plural']);
  const first = win.LiveNotifyPlural;
  vm.runInContext(SOURCES.plural, vm.createContext({window: win}));
  assert.equal(win.LiveNotifyPlural, first);
  assert.equal(first.pluralText(UNREAD, 2), '2 não lidas');
});

test('the live client alone keeps the badges, in words, and leaves the inbox summary alone', (t) => {
  const {win, badge, summary, writes, receive} = page(t, CLIENT);
  assert.equal(win.notificationInbox, undefined);
  receive({type: 'unread_count', count: 2});
  assert.equal(badge.textContent, '2 não lidas');
  assert.equal(writes.summary.count, 0);
});

test('the inbox alone shows its counts in words from its config', (t) => {
  const {win, bell, summary} = page(t, INBOX, {unreadCount: 5});
  assert.equal(win.notificationWS, undefined);
  assert.equal(summary.textContent, '5 não lidas');
  assert.equal(bell.getAttribute('aria-label'), 'Notificações, 2 novas');
});

test('without the counted-phrase script the live client shows the number and says what is missing, once', (t) => {
  const {badge, receive, warnings} = page(t, ['client']);
  receive({type: 'unread_count', count: 2});
  receive({type: 'unread_count', count: 4});
  assert.equal(badge.textContent, '4');
  assert.deepEqual(warnings(), ['django-live-notify: load live-notify-plural.js before live-notify.js to show counts in words']);
});

test('without the counted-phrase script the inbox shows the bare counts', (t) => {
  const {bell, summary} = page(t, ['inbox'], {unreadCount: 5});
  assert.equal(summary.textContent, '5');
  assert.equal(bell.getAttribute('aria-label'), 'Notificações (2)');
});
