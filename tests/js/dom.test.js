'use strict';

const assert = require('node:assert/strict');
const {test} = require('node:test');

const {FakeDocument, connectOpen, flush, notification, setup} = require('./fakes.js');
const {fillToast, safeUrl} = require('../../django_live_notify/static/django_live_notify/live-notify.js');

const XSS = '<img src=x onerror=alert(1)>';

function toasts(env) {
  const container = env.doc.getElementById('live-notify-toasts');
  return container ? container.children : [];
}

function okResponse() {
  return {ok: true, status: 200, json: async () => ({})};
}

test('toast title and message are set as text, never parsed as HTML', (t) => {
  const env = setup(t, {toasts: true});
  connectOpen(env).receive({type: 'notification', notification: notification(1, {title: XSS, message: XSS})});
  const [toast] = toasts(env);
  assert.equal(toast.findAll('strong')[0].textContent, XSS);
  assert.equal(toast.findAll('p')[0].textContent, XSS);
  assert.equal(env.doc.body.findAll('img').length, 0);
});

test('fillToast never touches innerHTML (the fake DOM throws if it does)', () => {
  const doc = new FakeDocument();
  const toast = doc.createElement('div');
  const handlers = {baseHref: 'https://example.com/', open() {}, dismiss() {}, markRead() {}, runAction() {}};
  fillToast(doc, toast, notification(1, {title: XSS, actions: [{label: XSS, url: '/x/'}]}), handlers);
  assert.equal(toast.findAll('a')[0].textContent, XSS);
});

test('the container is created once, positioned, and announced politely', (t) => {
  const env = setup(t, {toasts: true, position: 'bottom-left'});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(1)});
  socket.receive({type: 'notification', notification: notification(2)});
  const container = env.doc.getElementById('live-notify-toasts');
  assert.equal(container.parentNode, env.doc.body);
  assert.equal(container.getAttribute('aria-live'), 'polite');
  assert.equal(container.getAttribute('class'), 'live-notify-toasts live-notify-toasts--bottom-left');
  assert.equal(container.children.length, 2);
  const [toast] = container.children;
  assert.equal(toast.getAttribute('role'), null); // the container announces it: once
  assert.equal(toast.getAttribute('data-id'), '1');
  assert.ok(toast.classList.contains('live-notify-toast'));
});

test('an unknown position falls back to top-right', (t) => {
  const env = setup(t, {toasts: true, position: 'middle'});
  env.client.showToast(notification(1));
  assert.ok(env.doc.getElementById('live-notify-toasts').classList.contains('live-notify-toasts--top-right'));
});

test('toasts go away after toastTimeout (6 s by default)', (t) => {
  const env = setup(t, {toasts: true});
  env.client.showToast(notification(1));
  env.tick(5999);
  assert.equal(toasts(env).length, 1);
  env.tick(1);
  assert.equal(toasts(env).length, 0);
});

test('toastTimeout: 0 keeps toasts until dismissed', (t) => {
  const env = setup(t, {toasts: true, toastTimeout: 0});
  env.client.showToast(notification(1));
  env.tick(60 * 60 * 1000);
  assert.equal(toasts(env).length, 1);
});

test('hovering a toast holds it; leaving restarts the timeout', (t) => {
  const env = setup(t, {toasts: true, toastTimeout: 1000});
  const toast = env.client.showToast(notification(1));
  toast.fire('mouseenter');
  env.tick(5000);
  assert.equal(toasts(env).length, 1);
  toast.fire('mouseleave');
  env.tick(1000);
  assert.equal(toasts(env).length, 0);
});

test('no more than maxToasts are shown; the oldest goes first', (t) => {
  const env = setup(t, {toasts: true, maxToasts: 3});
  [1, 2, 3, 4, 5].forEach((id) => env.client.showToast(notification(id)));
  assert.deepEqual(toasts(env).map((toast) => toast.getAttribute('data-id')), ['3', '4', '5']);
});

test('the dismiss button is labelled and removes the toast', (t) => {
  const env = setup(t, {toasts: true});
  const toast = env.client.showToast(notification(1));
  const dismiss = toast.findByClass('live-notify-toast__dismiss');
  assert.equal(dismiss.tagName, 'BUTTON');
  assert.equal(dismiss.getAttribute('aria-label'), 'Dismiss');
  assert.equal(dismiss.getAttribute('type'), 'button');
  dismiss.fire('click');
  assert.equal(toasts(env).length, 0);
});

test('safeUrl accepts relative and http(s) URLs only', () => {
  const base = 'https://example.com/dashboard/';
  assert.equal(safeUrl('/requests/7/', base), 'https://example.com/requests/7/');
  assert.equal(safeUrl('requests/7/', base), 'https://example.com/dashboard/requests/7/');
  assert.equal(safeUrl('?page=2', base), 'https://example.com/dashboard/?page=2');
  assert.equal(safeUrl('http://other.example/x', base), 'http://other.example/x');
  for (const url of [
    'javascript:alert(1)',
    ' javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'java\tscript:alert(1)',
    'java\nscript:alert(1)',
    '\u0000javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    'file:///etc/passwd',
    '',
    null,
    42,
  ]) {
    assert.equal(safeUrl(url, base), null, JSON.stringify(url));
  }
});

test('clicking a toast with a url marks it read and navigates', (t) => {
  const env = setup(t, {toasts: true});
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(7, {url: '/requests/7/'})});
  const body = toasts(env)[0].findByClass('live-notify-toast__body');
  assert.equal(body.getAttribute('role'), 'link');
  body.fire('click');
  assert.deepEqual(env.win.location.assigned, ['https://example.com/requests/7/']);
  assert.deepEqual(socket.sent.at(-1), {type: 'mark_read', id: 7});
  body.fire('keydown', {key: 'Enter'});
  assert.equal(env.win.location.assigned.length, 2);
});

test('a javascript: url makes the toast unclickable', (t) => {
  const env = setup(t, {toasts: true});
  const toast = env.client.showToast(notification(7, {url: 'javascript:alert(1)'}));
  const body = toast.findByClass('live-notify-toast__body');
  assert.equal(body.getAttribute('role'), null);
  body.fire('click');
  assert.deepEqual(env.win.location.assigned, []);
});

test('GET actions are links; unsafe or unknown actions are left out', (t) => {
  const env = setup(t, {toasts: true});
  const toast = env.client.showToast(notification(1, {
    actions: [
      {label: 'View', url: '/requests/7/', style: 'primary'},
      {label: 'Evil', url: 'javascript:alert(1)'},
      {label: 'Odd', url: '/x/', method: 'TRACE'},
      {label: 'Bad style', url: '/y/', style: 'x" onclick="alert(1)'},
    ],
  }));
  const links = toast.findAll('a');
  assert.deepEqual(links.map((link) => link.textContent), ['View', 'Bad style']);
  assert.equal(links[0].getAttribute('href'), 'https://example.com/requests/7/');
  assert.equal(links[0].getAttribute('class'), 'live-notify-action live-notify-action--primary');
  assert.equal(links[1].getAttribute('class'), 'live-notify-action');
});

test('a POST action posts with the CSRF cookie, then marks the notification read', async (t) => {
  const fetch = t.mock.fn(async () => okResponse());
  const env = setup(t, {toasts: true, fetch, csrfToken: 'from-config'});
  env.doc.cookie = 'sessionid=s; csrftoken=from-cookie';
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(3, {
    actions: [{label: 'Accept', url: '/requests/7/accept/', method: 'post', style: 'primary'}],
  })});
  const button = toasts(env)[0].findAll('button').find((each) => each.textContent === 'Accept');
  assert.equal(button.getAttribute('type'), 'button');
  button.fire('click');
  assert.equal(button.hasAttribute('disabled'), true);
  await flush();

  const [url, init] = fetch.mock.calls[0].arguments;
  assert.equal(url, 'https://example.com/requests/7/accept/');
  assert.equal(init.method, 'POST');
  assert.equal(init.credentials, 'same-origin');
  assert.equal(init.headers['X-CSRFToken'], 'from-cookie');
  assert.deepEqual(socket.sent.at(-1), {type: 'mark_read', id: 3});
  assert.equal(toasts(env).length, 0);
  assert.equal(env.doc.eventDetails('action')[0].ok, true);
});

test('the config csrfToken is used when there is no cookie', async (t) => {
  const fetch = t.mock.fn(async () => okResponse());
  const env = setup(t, {toasts: true, fetch, csrfToken: 'from-config'});
  const toast = env.client.showToast(notification(3, {actions: [{label: 'Go', url: '/go/', method: 'POST'}]}));
  toast.findAll('button')[0].fire('click');
  await flush();
  assert.equal(fetch.mock.calls[0].arguments[1].headers['X-CSRFToken'], 'from-config');
});

test('the CSRF token is never sent to another origin', async (t) => {
  const fetch = t.mock.fn(async () => okResponse());
  const env = setup(t, {toasts: true, fetch, csrfToken: 'secret'});
  const toast = env.client.showToast(notification(3, {actions: [{label: 'Go', url: 'https://evil.example/x', method: 'POST'}]}));
  toast.findAll('button')[0].fire('click');
  await flush();
  assert.equal(fetch.mock.calls[0].arguments[1].headers['X-CSRFToken'], undefined);
});

test('a failed action re-enables its button and keeps the toast', async (t) => {
  const fetch = t.mock.fn(async () => ({ok: false, status: 403}));
  const env = setup(t, {toasts: true, fetch});
  const toast = env.client.showToast(notification(3, {actions: [{label: 'Go', url: '/go/', method: 'POST'}]}));
  const button = toast.findAll('button')[0];
  button.fire('click');
  await flush();
  assert.equal(button.hasAttribute('disabled'), false);
  assert.equal(toasts(env).length, 1);
  assert.ok(env.warnings().some((line) => line.includes('HTTP 403')));
});

test('a browser notification is shown only when permission is granted and the page is hidden', (t) => {
  const env = setup(t);
  const shown = [];
  env.win.Notification = class {
    constructor(title, options) {
      shown.push({title, options});
    }
  };
  const socket = connectOpen(env);
  env.win.Notification.permission = 'granted';
  socket.receive({type: 'notification', notification: notification(1)});
  env.doc.hidden = true;
  env.win.Notification.permission = 'denied';
  socket.receive({type: 'notification', notification: notification(2)});
  env.win.Notification.permission = 'granted';
  socket.receive({type: 'notification', notification: notification(3, {title: XSS})});
  assert.deepEqual(shown, [{title: XSS, options: {body: 'Message 3', tag: '3'}}]);
});

test('a throwing Notification constructor is survived', (t) => {
  const env = setup(t);
  env.win.Notification = class {
    constructor() {
      throw new TypeError('Illegal constructor');
    }
  };
  env.win.Notification.permission = 'granted';
  env.doc.hidden = true;
  assert.equal(env.client.showBrowserNotification(notification(1)), null);
});

test('sound plays a short WebAudio beep, at most once a second, and never fails without WebAudio', (t) => {
  const env = setup(t, {sound: true});
  const started = [];
  const node = () => ({connect() {}, start: () => started.push(Date.now()), stop() {}, frequency: {}, gain: {setValueAtTime() {}, exponentialRampToValueAtTime() {}}});
  env.win.AudioContext = class {
    constructor() {
      this.currentTime = 0;
      this.destination = {};
    }

    createOscillator() {
      return node();
    }

    createGain() {
      return node();
    }
  };
  const socket = connectOpen(env);
  socket.receive({type: 'notification', notification: notification(1)});
  socket.receive({type: 'notification', notification: notification(2)});
  env.tick(1000);
  socket.receive({type: 'notification', notification: notification(3)});
  assert.equal(started.length, 2);

  env.win.AudioContext = class {
    constructor() {
      throw new Error('no audio device');
    }
  };
  env.client._alerts.audioContext = null;
  env.tick(1000);
  assert.equal(env.client.playSound(), false);
  delete env.win.AudioContext;
  env.tick(1000);
  assert.equal(env.client.playSound(), false);
});

test('a POST action as the server sends it posts to its action endpoint and asks for JSON', async (t) => {
  const fetch = t.mock.fn(async () => okResponse());
  const env = setup(t, {toasts: true, fetch, csrfToken: 'token'});
  const socket = connectOpen(env);
  // The shape of Notification.to_payload()["actions"]: every key present, style and name possibly empty.
  socket.receive({type: 'notification', notification: notification(42, {
    actions: [
      {label: 'Accept', url: '/notifications/42/actions/accept/', method: 'POST', style: 'primary', name: 'accept'},
      {label: 'View', url: '/requests/7/', method: 'GET', style: '', name: ''},
    ],
  })});
  const [toast] = toasts(env);
  assert.equal(toast.findAll('a')[0].getAttribute('class'), 'live-notify-action');
  toast.findAll('button').find((each) => each.textContent === 'Accept').fire('click');
  await flush();

  const [url, init] = fetch.mock.calls[0].arguments;
  assert.equal(url, 'https://example.com/notifications/42/actions/accept/');
  assert.equal(init.method, 'POST');
  assert.equal(init.headers.Accept, 'application/json');
  assert.equal(init.headers['X-CSRFToken'], 'token');
  assert.equal(toasts(env).length, 0);
});

test('Escape dismisses the toast that has focus', (t) => {
  const env = setup(t, {toasts: true});
  connectOpen(env).receive({type: 'notification', notification: notification(1)});
  const [toast] = toasts(env);
  toast.dispatchEvent(Object.assign(new Event('keydown'), {key: 'Escape'}));
  assert.equal(toasts(env).length, 0);
});

test('a used action shows its outcome instead of the buttons', (t) => {
  const env = setup(t, {toasts: true});
  const outcome = {action: 'accept', label: 'Accepted'};
  const actions = [{label: 'Accept', url: '/n/1/actions/accept/', method: 'POST', name: 'accept'}];
  connectOpen(env).receive({type: 'notification', notification: notification(1, {actions, outcome})});
  const [toast] = toasts(env);
  assert.equal(toast.findAll('button').length, 1); // only Dismiss
  assert.equal(toast.findAll('p').pop().textContent, 'Accepted');
});

test('frames of unknown types are handed to add-ons as live-notify:frame events', (t) => {
  const env = setup(t, {});
  const seen = [];
  env.doc.addEventListener('live-notify:frame', (event) => seen.push(event.detail));
  connectOpen(env).receive({type: 'archived', ids: [3], archived: true});
  assert.deepEqual(seen, [{type: 'archived', ids: [3], archived: true}]);
});
