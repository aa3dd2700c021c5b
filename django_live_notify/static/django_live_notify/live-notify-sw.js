/*!
 * django-live-notify service worker: shows Web Push notifications (see docs/push.rst).
 *
 * Served by the app at notifications/push/sw.js with a Service-Worker-Allowed header, so that it may
 * control the whole site. A push carries {id, title, body, url, tag, actions, read_token, read_url}.
 * A click focuses an open tab of the site (or opens the URL) and marks the notification read with the
 * push's signed read token: a service worker cannot read the CSRF cookie.
 *
 * The title of a push without one is the registration URL's fallback_title (enablePush() passes the page's
 * translated words), read from the worker's own URL so that it holds when no page is open; English without it.
 *
 * Under node, require() returns the handlers so that they can be tested without a browser.
 */
(function (scope, factory) {
  'use strict';
  const handlers = factory(scope);
  if (typeof module === 'object' && module && module.exports) {
    module.exports = handlers;
  } else {
    scope.addEventListener('push', (event) => event.waitUntil(handlers.onPush(event)));
    scope.addEventListener('notificationclick', (event) => event.waitUntil(handlers.onClick(event)));
    // The page may ask the worker to act as if a notification were clicked (tests, or a page-side "open").
    scope.addEventListener('message', (event) => {
      const message = event.data || {};
      if (message.type === 'live-notify-click') {
        event.waitUntil(handlers.clickByTag(message.tag, message.action || ''));
      }
    });
    scope.addEventListener('pushsubscriptionchange', (event) => event.waitUntil(handlers.onSubscriptionChange(event)));
    scope.addEventListener('install', () => scope.skipWaiting());
    scope.addEventListener('activate', (event) => event.waitUntil(scope.clients.claim()));
  }
}(typeof self !== 'undefined' ? self : globalThis, function (scope) {
  'use strict';

  const DEFAULT_TITLE = 'New notification';

  /** Return the title of a push without one: the worker URL's fallback_title, else English. */
  function fallbackTitle() {
    const given = new URLSearchParams((scope.location && scope.location.search) || '').get('fallback_title');
    return given && given.trim() ? given.trim() : DEFAULT_TITLE;
  }

  /** Return the push's JSON payload, or a bare notification for a push without one. */
  function readPayload(event) {
    if (!event.data) return {title: fallbackTitle()};
    try {
      const data = event.data.json();
      return data && typeof data === 'object' ? data : {title: fallbackTitle()};
    } catch (err) {
      return {title: fallbackTitle(), body: event.data.text()};
    }
  }

  /** Return a URL of this site for `url`, or the scope's root for one elsewhere (or none). */
  function siteUrl(url) {
    const origin = scope.location.origin;
    const root = (scope.registration && scope.registration.scope) || origin + '/';
    if (!url) return root;
    try {
      const resolved = new URL(url, origin);
      return resolved.origin === origin ? resolved.href : root;
    } catch (err) {
      return root;
    }
  }

  /** Return what showNotification() takes for a payload. */
  function notificationOptions(payload) {
    const actions = Array.isArray(payload.actions) ? payload.actions : [];
    const options = {
      body: typeof payload.body === 'string' ? payload.body : '',
      data: {
        id: payload.id,
        url: siteUrl(payload.url),
        readToken: payload.read_token || '',
        readUrl: payload.read_url || '',
        actions: actions.map((action) => ({action: String(action.action), url: siteUrl(action.url)})),
      },
      actions: actions.map((action) => ({action: String(action.action), title: String(action.title || '')})),
    };
    // A tag makes a newer notification of the same group replace the one on screen.
    options.tag = payload.tag ? String(payload.tag) : (payload.id !== undefined ? `live-notify-${payload.id}` : '');
    if (payload.tag) options.renotify = true;
    if (!options.tag) delete options.tag;
    return options;
  }

  function onPush(event) {
    const payload = readPayload(event);
    const title = typeof payload.title === 'string' && payload.title ? payload.title : fallbackTitle();
    return scope.registration.showNotification(title, notificationOptions(payload));
  }

  /** Mark the notification read with its signed token; never fails the click. */
  function markRead(data) {
    if (!data || !data.readToken || !data.readUrl) return Promise.resolve(false);
    return scope.fetch(data.readUrl, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({token: data.readToken}),
      credentials: 'omit',
    }).then((response) => response.ok, () => false);
  }

  /** Focus an open tab of the site and send it to `url`, else open `url` in a new one. */
  function focusOrOpen(url) {
    return scope.clients.matchAll({type: 'window', includeUncontrolled: true}).then((windows) => {
      const exact = windows.find((client) => client.url === url);
      const sameSite = exact || windows.find((client) => new URL(client.url).origin === scope.location.origin);
      if (sameSite) {
        // focus() is refused outside a user's click (a page's message): the tab is still sent to the URL.
        const focused = Promise.resolve().then(() => sameSite.focus()).catch(() => sameSite);
        if (exact || typeof sameSite.navigate !== 'function') return focused;
        return focused.then((client) => (client || sameSite).navigate(url)).catch(() => sameSite);
      }
      return scope.clients.openWindow(url);
    });
  }

  function handleClick(notification, action) {
    const data = notification.data || {};
    const chosen = (data.actions || []).find((item) => item.action === action);
    notification.close();
    return Promise.all([markRead(data), focusOrOpen(chosen ? chosen.url : (data.url || siteUrl('')))]);
  }

  function onClick(event) {
    return handleClick(event.notification, event.action || '');
  }

  /**
   * Move the server's record of a subscription the browser replaced (Firefox does, now and then).
   *
   * The old subscription's auth secret proves this browser held it. Without the old subscription (some
   * browsers give none) nothing can be proved: the page's next enablePush() subscribes again.
   */
  function onSubscriptionChange(event) {
    const old = event.oldSubscription;
    if (!old) return Promise.resolve(false);
    const oldKeys = (old.toJSON() || {}).keys || {};
    const renewed = event.newSubscription
      ? Promise.resolve(event.newSubscription)
      : scope.registration.pushManager.subscribe(old.options);
    // Loaded with importScripts() into a site's own worker, the page's script names the URL.
    const url = scope.liveNotifyResubscribeUrl || new URL('resubscribe/', scope.location.href).href;
    return renewed.then((subscription) => scope.fetch(url, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({old_endpoint: old.endpoint, old_auth: oldKeys.auth, subscription: subscription.toJSON()}),
      credentials: 'omit',
    })).then((response) => response.ok, () => false);
  }

  /** Click the shown notification with `tag` (for a page that asks through postMessage). */
  function clickByTag(tag, action) {
    return scope.registration.getNotifications({tag}).then((shown) => {
      if (!shown.length) return null;
      return handleClick(shown[0], action);
    });
  }

  return {onPush, onClick, onSubscriptionChange, clickByTag, notificationOptions, readPayload, fallbackTitle, siteUrl, markRead, focusOrOpen};
}));
