'use strict';

// Web Push without a browser: enablePush()/disablePush() against fake browser APIs, and the service worker's
// handlers against a fake worker scope. tests/test_browser_push.py runs the same code in Chromium.

const assert = require('node:assert/strict');
const {mock, test} = require('node:test');

const {FakeWindow, setup} = require('./fakes.js');

const PUBLIC_KEY = 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM';
const PUSH = {
  publicKey: PUBLIC_KEY,
  serviceWorkerUrl: '/notifications/push/sw.js',
  scope: '/',
  subscribeUrl: '/notifications/push/subscribe/',
  unsubscribeUrl: '/notifications/push/unsubscribe/',
};

/** Give a FakeWindow the browser's push APIs; return what the fakes record. */
function pushBrowser(win, {permission = 'default', answer = 'granted', existing = null} = {}) {
  const record = {registered: [], subscribed: [], posts: [], unsubscribed: 0};
  const subscription = {
    endpoint: 'https://push.example.net/abc',
    toJSON: () => ({endpoint: 'https://push.example.net/abc', keys: {p256dh: 'p', auth: 'a'}}),
    unsubscribe: async () => { record.unsubscribed += 1; return true; },
  };
  let current = existing;
  const registration = {
    pushManager: {
      getSubscription: async () => current,
      subscribe: async (options) => { record.subscribed.push(options); current = subscription; return subscription; },
    },
  };
  win.PushManager = function PushManager() {};
  win.Notification = {permission, requestPermission: mock.fn(async () => answer)};
  win.navigator = {
    serviceWorker: {
      register: async (url, options) => { record.registered.push({url, options}); return registration; },
      getRegistration: async () => (record.registered.length || existing ? registration : undefined),
    },
  };
  record.fetch = mock.fn(async (url, init) => {
    record.posts.push({url, headers: init.headers, body: JSON.parse(init.body)});
    return {ok: true, status: 200, json: async () => ({subscribed: true})};
  });
  return record;
}

function pushClient(t, browserOptions, clientOptions = {}) {
  const win = new FakeWindow();
  const record = pushBrowser(win, browserOptions);
  const env = setup(t, Object.assign({window: win, document: win.document, fetch: record.fetch, csrfToken: 'tok'}, clientOptions));
  return {env, record, win};
}

test('creating and connecting the client never asks for notification permission', (t) => {
  const {env, win} = pushClient(t, {}, {push: PUSH});
  env.client.connect();
  assert.equal(win.Notification.requestPermission.mock.callCount(), 0);
});

test('enablePush asks permission, registers the worker with its scope, subscribes with the key and posts it', async (t) => {
  const {env, record, win} = pushClient(t, {}, {push: PUSH});
  const subscription = await env.client.enablePush();
  assert.equal(win.Notification.requestPermission.mock.callCount(), 1);
  assert.deepEqual(record.registered, [{url: '/notifications/push/sw.js?fallback_title=New%20notification', options: {scope: '/'}}]);
  const [options] = record.subscribed;
  assert.equal(options.userVisibleOnly, true);
  assert.deepEqual(Buffer.from(options.applicationServerKey), Buffer.from(PUBLIC_KEY, 'base64url'));
  assert.equal(options.applicationServerKey.length, 65);
  assert.deepEqual(record.posts, [{
    url: '/notifications/push/subscribe/',
    headers: {'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': 'tok'},
    body: {endpoint: 'https://push.example.net/abc', keys: {p256dh: 'p', auth: 'a'}},
  }]);
  assert.equal(subscription.endpoint, 'https://push.example.net/abc');
});

test('enablePush reads its settings from the page config when none are given', async (t) => {
  const {env, record, win} = pushClient(t, {permission: 'granted'});
  win.document.getElementById = (id) => (id === 'live-notify-config' ? {textContent: JSON.stringify({push: PUSH})} : null);
  await env.client.enablePush();
  assert.equal(win.Notification.requestPermission.mock.callCount(), 0);
  assert.equal(new URL(record.registered[0].url, 'https://example.com/').pathname, PUSH.serviceWorkerUrl);
});

test("enablePush hands the worker the translated title for a push without one, in the worker's URL", async (t) => {
  const {env, record} = pushClient(t, {permission: 'granted'}, {push: PUSH, strings: {newNotification: 'Nova notificação'}});
  await env.client.enablePush({serviceWorkerUrl: '/sw.js?v=2'});
  assert.equal(record.registered[0].url, '/sw.js?v=2&fallback_title=Nova%20notifica%C3%A7%C3%A3o');
  // What the worker reads from its own location (the worker's tests below use it).
  assert.equal(new URL(record.registered[0].url, 'https://example.com/').searchParams.get('fallback_title'), 'Nova notificação');
});

test('a refused permission rejects with reason "denied" and registers nothing', async (t) => {
  const {env, record} = pushClient(t, {answer: 'denied'}, {push: PUSH});
  await assert.rejects(env.client.enablePush(), (error) => error.reason === 'denied' && /denied/.test(error.message));
  assert.deepEqual(record.registered, []);
  assert.deepEqual(record.posts, []);
});

test('a browser without Web Push rejects with reason "unsupported"', async (t) => {
  const env = setup(t, {push: PUSH});
  await assert.rejects(env.client.enablePush(), (error) => error.reason === 'unsupported' && /home screen/.test(error.message));
});

test('a page without VAPID keys rejects with reason "config"', async (t) => {
  const {env: unconfigured, record} = pushClient(t, {});
  await assert.rejects(unconfigured.client.enablePush(), (error) => error.reason === 'config');
  assert.deepEqual(record.registered, []);
});

test('a server that refuses the subscription rejects with its error', async (t) => {
  const {env, record} = pushClient(t, {permission: 'granted'}, {push: PUSH});
  record.fetch.mock.mockImplementation(async () => ({ok: false, status: 400, json: async () => ({error: 'keys.auth is missing.'})}));
  await assert.rejects(env.client.enablePush(), (error) => error.reason === 'server' && /keys\.auth is missing/.test(error.message));
});

test('disablePush unsubscribes the browser and tells the server which endpoint went', async (t) => {
  const existing = {
    endpoint: 'https://push.example.net/old',
    toJSON: () => ({}),
    unsubscribe: async () => { existing.gone = true; return true; },
  };
  const {env, record} = pushClient(t, {existing}, {push: PUSH});
  assert.equal(await env.client.disablePush(), true);
  assert.equal(existing.gone, true);
  assert.deepEqual(record.posts.map((post) => [post.url, post.body]), [[PUSH.unsubscribeUrl, {endpoint: 'https://push.example.net/old'}]]);
});

test('enablePush keeps a subscription made with the same key', async (t) => {
  const key = new Uint8Array(Buffer.from(PUBLIC_KEY, 'base64url'));
  const current = {endpoint: 'https://push.example.net/current', options: {applicationServerKey: key.buffer}, toJSON: () => ({endpoint: 'current'})};
  const {env, record} = pushClient(t, {permission: 'granted', existing: current}, {push: PUSH});
  await env.client.enablePush();
  assert.deepEqual(record.subscribed, []);
  assert.deepEqual(record.posts.map((post) => post.body), [{endpoint: 'current'}]);
});

test('enablePush replaces a subscription made with an old key, and tells the server', async (t) => {
  const old = {
    endpoint: 'https://push.example.net/old',
    options: {applicationServerKey: new Uint8Array(65).fill(4).buffer},
    toJSON: () => ({endpoint: 'old'}),
    unsubscribe: async () => { old.gone = true; return true; },
  };
  const rotated = pushClient(t, {permission: 'granted', existing: old}, {push: PUSH});
  await rotated.env.client.enablePush();
  assert.equal(old.gone, true);
  assert.equal(rotated.record.subscribed.length, 1);
  assert.deepEqual(rotated.record.posts.map((post) => [post.url, post.body]), [
    [PUSH.unsubscribeUrl, {endpoint: 'https://push.example.net/old'}],
    [PUSH.subscribeUrl, {endpoint: 'https://push.example.net/abc', keys: {p256dh: 'p', auth: 'a'}}],
  ]);
});

test('disablePush without a subscription does nothing', async (t) => {
  const {env, record} = pushClient(t, {}, {push: PUSH});
  assert.equal(await env.client.disablePush(), false);
  assert.deepEqual(record.posts, []);
});

/* ------------------------------------------------------------------ the service worker */

/** Load the worker's handlers against a fake scope on globalThis; undone after the test. */
function worker(t, {windows = [], url = 'https://example.com/notifications/push/sw.js'} = {}) {
  const shown = [];
  const record = {shown, fetched: [], opened: [], focused: [], navigated: []};
  const scope = {
    location: new URL(url),
    registration: {
      scope: 'https://example.com/',
      showNotification: async (title, options) => { shown.push({title, options}); },
      getNotifications: async ({tag}) => shown.filter((item) => item.options.tag === tag).map(notificationOf),
    },
    clients: {
      matchAll: async () => windows.map((url) => ({
        url,
        focus: async function focus() { record.focused.push(url); return this; },
        navigate: async (target) => { record.navigated.push(target); },
      })),
      openWindow: async (url) => { record.opened.push(url); },
    },
    fetch: async (url, init) => { record.fetched.push({url, init}); return {ok: true}; },
  };
  function notificationOf(item) {
    return {data: item.options.data, close: () => { item.closed = true; }};
  }
  const saved = {};
  Object.keys(scope).forEach((key) => { saved[key] = globalThis[key]; globalThis[key] = scope[key]; });
  t.after(() => Object.keys(saved).forEach((key) => { globalThis[key] = saved[key]; }));
  const path = require.resolve('../../django_live_notify/static/django_live_notify/live-notify-sw.js');
  delete require.cache[path];
  return {handlers: require(path), record, notificationOf};
}

function pushEvent(data) {
  return {data: data === undefined ? null : {json: () => JSON.parse(data), text: () => data}};
}

const PAYLOAD = {
  id: 7,
  title: 'Review asked',
  body: 'Please look at #12',
  url: '/requests/12/',
  tag: 'ticket:12',
  actions: [{action: 'a0', title: 'Open', url: '/requests/12/files/'}],
  read_token: 'signed',
  read_url: '/notifications/push/read/',
};

test('a push shows its title, body, tag and action buttons, with the data a click needs', async (t) => {
  const {handlers, record} = worker(t);
  await handlers.onPush(pushEvent(JSON.stringify(PAYLOAD)));
  const [{title, options}] = record.shown;
  assert.equal(title, 'Review asked');
  assert.equal(options.body, 'Please look at #12');
  assert.equal(options.tag, 'ticket:12');
  assert.equal(options.renotify, true);
  assert.deepEqual(options.actions, [{action: 'a0', title: 'Open'}]);
  assert.deepEqual(options.data, {
    id: 7,
    url: 'https://example.com/requests/12/',
    readToken: 'signed',
    readUrl: '/notifications/push/read/',
    actions: [{action: 'a0', url: 'https://example.com/requests/12/files/'}],
  });
});

test('a push without data, or not JSON, still shows something; URLs of other sites are not followed', async (t) => {
  const {handlers, record} = worker(t);
  await handlers.onPush(pushEvent());
  await handlers.onPush(pushEvent('plain words'));
  await handlers.onPush(pushEvent(JSON.stringify({id: 3, title: 'Hi', url: 'https://evil.example/'})));
  assert.deepEqual(record.shown.map((item) => [item.title, item.options.body]), [
    ['New notification', ''], ['New notification', 'plain words'], ['Hi', ''],
  ]);
  assert.equal(record.shown[2].options.data.url, 'https://example.com/');
  assert.equal(record.shown[2].options.tag, 'live-notify-3');
});

test('a push without a title is titled in the words its registration URL gave the worker', async (t) => {
  const {handlers, record} = worker(t, {url: 'https://example.com/notifications/push/sw.js?fallback_title=Nova%20notifica%C3%A7%C3%A3o'});
  await handlers.onPush(pushEvent());
  await handlers.onPush(pushEvent('plain words'));
  await handlers.onPush(pushEvent(JSON.stringify({id: 4, title: ''})));
  await handlers.onPush(pushEvent(JSON.stringify({id: 5, title: 'Oi'})));
  assert.deepEqual(record.shown.map((item) => item.title), ['Nova notificação', 'Nova notificação', 'Nova notificação', 'Oi']);
});

test("a blank fallback_title leaves the worker's English title", async (t) => {
  const {handlers, record} = worker(t, {url: 'https://example.com/notifications/push/sw.js?fallback_title=%20'});
  await handlers.onPush(pushEvent());
  assert.equal(record.shown[0].title, 'New notification');
});

test('the worker given fallback_title still resolves resubscribe/ next to itself', async (t) => {
  const {handlers, record} = worker(t, {url: 'https://example.com/notifications/push/sw.js?fallback_title=Nova'});
  const old = {endpoint: 'https://push.example.net/old', options: {}, toJSON: () => ({keys: {auth: 'a'}})};
  await handlers.onSubscriptionChange({oldSubscription: old, newSubscription: {toJSON: () => ({})}});
  assert.equal(record.fetched[0].url, 'https://example.com/notifications/push/resubscribe/');
});

test('a click focuses an open tab of the site, sends it to the URL and marks the notification read', async (t) => {
  const {handlers, record, notificationOf} = worker(t, {windows: ['https://example.com/dashboard/']});
  await handlers.onPush(pushEvent(JSON.stringify(PAYLOAD)));
  await handlers.onClick({notification: notificationOf(record.shown[0]), action: ''});
  assert.deepEqual(record.focused, ['https://example.com/dashboard/']);
  assert.deepEqual(record.navigated, ['https://example.com/requests/12/']);
  assert.deepEqual(record.opened, []);
  assert.equal(record.shown[0].closed, true);
  assert.deepEqual(record.fetched, [{
    url: '/notifications/push/read/',
    init: {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"token":"signed"}', credentials: 'omit'},
  }]);
});

test('a click with no tab of the site open opens the URL; an action button opens its own URL', async (t) => {
  const {handlers, record, notificationOf} = worker(t, {windows: ['https://other.example/']});
  await handlers.onPush(pushEvent(JSON.stringify(PAYLOAD)));
  await handlers.onClick({notification: notificationOf(record.shown[0]), action: ''});
  await handlers.onClick({notification: notificationOf(record.shown[0]), action: 'a0'});
  assert.deepEqual(record.opened, ['https://example.com/requests/12/', 'https://example.com/requests/12/files/']);
  assert.deepEqual(record.focused, []);
});

test('a click on a push without a read token marks nothing', async (t) => {
  const {handlers, record, notificationOf} = worker(t);
  await handlers.onPush(pushEvent(JSON.stringify({id: 1, title: 'Hi'})));
  await handlers.clickByTag('live-notify-1', '');
  assert.deepEqual(record.fetched, []);
  assert.deepEqual(record.opened, ['https://example.com/']);
  assert.equal(notificationOf(record.shown[0]).data.id, 1);
});

test('a replaced subscription is moved on the server, proved by the old auth secret', async (t) => {
  const {handlers, record} = worker(t);
  const old = {endpoint: 'https://push.example.net/old', options: {userVisibleOnly: true}, toJSON: () => ({keys: {auth: 'oldauth'}})};
  const fresh = {toJSON: () => ({endpoint: 'https://push.example.net/new', keys: {p256dh: 'p', auth: 'a'}})};
  assert.equal(await handlers.onSubscriptionChange({oldSubscription: old, newSubscription: fresh}), true);
  const [{url, init}] = record.fetched;
  assert.equal(url, 'https://example.com/notifications/push/resubscribe/');
  assert.equal(init.credentials, 'omit');
  assert.deepEqual(JSON.parse(init.body), {
    old_endpoint: 'https://push.example.net/old',
    old_auth: 'oldauth',
    subscription: {endpoint: 'https://push.example.net/new', keys: {p256dh: 'p', auth: 'a'}},
  });
});

test('without the old subscription nothing is sent', async (t) => {
  const {handlers, record} = worker(t);
  assert.equal(await handlers.onSubscriptionChange({oldSubscription: null, newSubscription: null}), false);
  assert.deepEqual(record.fetched, []);
});
