'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {test} = require('node:test');
const vm = require('node:vm');

const SCRIPT = path.join(__dirname, '../../django_live_notify/static/django_live_notify/live-notify.js');
const {NotificationWebSocket, autoInit, optionsFromConfig, resolveSocketUrl} = require(SCRIPT);
const {FakeWindow, makeFakeWebSocket} = require('./fakes.js');

/** Return a fake page, optionally holding the json_script config element. */
function page(t, config, {readyState = 'complete', href = 'https://example.com/dashboard/'} = {}) {
  t.mock.timers.enable({apis: ['setTimeout', 'setInterval', 'Date']});
  const Socket = makeFakeWebSocket();
  const win = new FakeWindow({href, WebSocket: Socket});
  win.document.readyState = readyState;
  if (config !== undefined) {
    const element = win.document.createElement('script');
    element.setAttribute('type', 'application/json');
    element.setAttribute('id', 'live-notify-config');
    element.textContent = typeof config === 'string' ? config : JSON.stringify(config);
    win.document.body.appendChild(element);
  }
  return {win, Socket};
}

test('without the config element (anonymous visitor) nothing happens', (t) => {
  const {win, Socket} = page(t);
  autoInit(win);
  assert.equal(win.notificationWS, undefined);
  assert.equal(Socket.instances.length, 0);
});

test('the config element creates and connects window.notificationWS', (t) => {
  const config = {
    url: '/ws/notifications/',
    apiUrl: '/n/api/',
    historyUrl: '/n/',
    heartbeatInterval: 20000,
    reconnectDelay: 1000,
    maxReconnectDelay: 30000,
    maxReconnectAttempts: null,
    position: 'bottom-right',
    sound: true,
    toastTimeout: 0,
    csrfToken: 'tok',
    unreadCount: 4,
    somethingElse: 'ignored',
  };
  const {win, Socket} = page(t, config);
  autoInit(win);
  const client = win.notificationWS;
  assert.ok(client instanceof NotificationWebSocket);
  assert.equal(Socket.instances.length, 1);
  assert.equal(Socket.instances[0].url, 'wss://example.com/ws/notifications/');
  assert.equal(client.options.toasts, true);
  assert.equal(client.options.heartbeatInterval, 20000);
  assert.equal(client.options.heartbeatTimeout, 10000);
  assert.equal(client.options.maxReconnectAttempts, Infinity);
  assert.equal(client.options.position, 'bottom-right');
  assert.equal(client.options.toastTimeout, 0);
  assert.equal(client.options.somethingElse, undefined);
  assert.equal(client.apiUrl, '/n/api/');
  assert.equal(client.historyUrl, '/n/');
  assert.equal(client.unreadCount, 4);
});

test('auto-init waits for DOMContentLoaded while the page is loading', (t) => {
  const {win, Socket} = page(t, {}, {readyState: 'loading'});
  autoInit(win);
  assert.equal(win.notificationWS, undefined);
  win.document.dispatchEvent(new Event('DOMContentLoaded'));
  assert.ok(win.notificationWS);
  assert.equal(Socket.instances.length, 1);
});

test('auto-init runs once even if the script is included twice', (t) => {
  const {win, Socket} = page(t, {});
  autoInit(win);
  const first = win.notificationWS;
  autoInit(win);
  assert.equal(win.notificationWS, first);
  assert.equal(Socket.instances.length, 1);
});

test('a config element that is not JSON is reported and ignored', (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const {win, Socket} = page(t, '{not json');
  autoInit(win);
  assert.equal(win.notificationWS, undefined);
  assert.equal(Socket.instances.length, 0);
  assert.equal(warn.mock.callCount(), 1);
});

test('optionsFromConfig keeps only known keys and turns toasts on', () => {
  assert.deepEqual(optionsFromConfig({url: '/ws/', WebSocket: 'x', fetch: 'y'}), {toasts: true, url: '/ws/'});
  assert.deepEqual(optionsFromConfig({toasts: false}), {toasts: false});
});

test('as a plain <script> it defines window.NotificationWebSocket and auto-inits', (t) => {
  const {win, Socket} = page(t, {url: '/ws/notifications/'}, {href: 'http://localhost:8000/'});
  const context = vm.createContext({window: win, console, URL, setTimeout, clearTimeout, setInterval, clearInterval});
  vm.runInContext(fs.readFileSync(SCRIPT, 'utf8'), context, {filename: SCRIPT});
  assert.equal(typeof win.NotificationWebSocket, 'function');
  assert.ok(win.notificationWS instanceof win.NotificationWebSocket);
  assert.equal(Socket.instances[0].url, 'ws://localhost:8000/ws/notifications/');
});

test('resolveSocketUrl maps the page scheme to ws:// or wss://', () => {
  const http = {href: 'http://localhost:8000/some/page/'};
  const https = {href: 'https://example.com/app/'};
  assert.equal(resolveSocketUrl('/ws/notifications/', http), 'ws://localhost:8000/ws/notifications/');
  assert.equal(resolveSocketUrl('/ws/notifications/', https), 'wss://example.com/ws/notifications/');
  assert.equal(resolveSocketUrl('ws/notifications/', https), 'wss://example.com/app/ws/notifications/');
  assert.equal(resolveSocketUrl('https://other.example/ws/', http), 'wss://other.example/ws/');
  assert.equal(resolveSocketUrl('ws://host:9000/ws/', https), 'ws://host:9000/ws/');
  assert.equal(resolveSocketUrl('WSS://host/ws/', http), 'WSS://host/ws/');
});

test('requestNotificationPermission is safe without the Notification API', async () => {
  assert.equal(globalThis.Notification, undefined);
  assert.equal(await NotificationWebSocket.requestNotificationPermission(), 'unsupported');
});

test('requestNotificationPermission resolves with the promise or callback API', async (t) => {
  t.after(() => {
    delete globalThis.Notification;
  });
  globalThis.Notification = {permission: 'default', requestPermission: async () => 'granted'};
  assert.equal(await NotificationWebSocket.requestNotificationPermission(), 'granted');
  globalThis.Notification = {permission: 'default', requestPermission: (callback) => callback('denied')};
  assert.equal(await NotificationWebSocket.requestNotificationPermission(), 'denied');
  globalThis.Notification = {permission: 'granted', requestPermission: () => assert.fail('must not ask again')};
  assert.equal(await NotificationWebSocket.requestNotificationPermission(), 'granted');
});
