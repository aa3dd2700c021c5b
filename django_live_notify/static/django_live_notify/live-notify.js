/*!
 * django-live-notify browser client (protocol v1, see docs/protocol.rst).
 *
 * As a plain <script> it defines window.NotificationWebSocket and, when the
 * page holds <script type="application/json" id="live-notify-config">,
 * creates and connects window.notificationWS. Badges show counts in words
 * when live-notify-plural.js was loaded first, as the template tags do.
 * Under node, require() returns {NotificationWebSocket, ...helpers} and
 * touches no global.
 */
(function (root, factory) {
  'use strict';
  const isModule = typeof module === 'object' && module && module.exports;
  const api = factory(root, isModule ? require('./live-notify-plural.js') : null);
  if (isModule) {
    module.exports = api;
  } else if (root) {
    root.NotificationWebSocket = api.NotificationWebSocket;
    if (root.document) api.autoInit(root);
  }
}(typeof window !== 'undefined' ? window : globalThis, function (root, requiredPlural) {
  'use strict';

  const LOG_PREFIX = 'django-live-notify: ';
  const CONFIG_ID = 'live-notify-config';
  const CONTAINER_ID = 'live-notify-toasts';
  const BADGE_SELECTOR = '[data-live-notify-badge]';
  const POSITIONS = ['top-right', 'top-left', 'bottom-right', 'bottom-left'];
  const ACTION_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  const SEEN_IDS_LIMIT = 500;
  const REFETCH_MAX_PAGES = 5;
  const SOUND_MIN_GAP = 1000;
  // Analytics reports: the frame each kind goes out in, and the most ids per frame (the server's limit).
  const REPORT_FRAMES = {ack: 'ack', seen: 'mark_seen', clicked: 'clicked'};
  const REPORT_IDS_PER_FRAME = 100;

  const CLOSE_NORMAL = 1000;
  const CLOSE_SERVICE_RESTART = 1012;
  const CLOSE_SERVICE_RESTART_DAPHNE = 4012; // daphne cannot send 1012
  const CLOSE_HEARTBEAT_TIMEOUT = 4000;
  const CLOSE_UNAUTHENTICATED = 4001;
  const CLOSE_CREDENTIALS_CHANGED = 4003;
  const CLOSE_TOO_MANY_CONNECTIONS = 4005;

  // Stop reasons that only an explicit connect() may undo.
  const FINAL_STOP_REASONS = ['closed', 'unauthenticated'];

  // Keys read from the #live-notify-config JSON; anything else is ignored.
  const CONFIG_KEYS = [
    'url', 'apiUrl', 'historyUrl', 'heartbeatInterval', 'heartbeatTimeout',
    'reconnectDelay', 'maxReconnectDelay', 'maxReconnectAttempts', 'position',
    'sound', 'toasts', 'toastTimeout', 'maxToasts', 'csrfToken', 'unreadCount',
    'lastId', 'analytics', 'ackInterval', 'strings',
  ];

  // The client's own words; the template tag passes them translated. newNotification is the push worker's title
  // for a push without one: enablePush() hands it to the worker.
  const STRINGS = Object.freeze({dismiss: 'Dismiss', newNotification: 'New notification'});

  const DEFAULTS = Object.freeze({
    url: '/ws/notifications/',
    apiUrl: '/notifications/api/',
    historyUrl: null,
    heartbeatInterval: 30000,
    heartbeatTimeout: null, // null: min(10000, heartbeatInterval / 2)
    reconnectDelay: 3000,
    maxReconnectDelay: 60000,
    maxReconnectAttempts: 10, // Infinity (or null) retries forever
    autoConnect: false,
    toasts: false,
    position: 'top-right',
    sound: false,
    toastTimeout: 6000, // 0 keeps toasts until dismissed
    maxToasts: 5,
    csrfToken: null,
    csrfCookieName: 'csrftoken',
    unreadCount: 0,
    lastId: 0,
    analytics: false, // the template tag turns it on unless LIVE_NOTIFY["ANALYTICS"] is False
    ackInterval: 250, // ms during which acks are gathered into one frame
    strings: STRINGS,
    WebSocket: null,
    fetch: null,
    window: null,
    document: null,
  });

  /* ---------------------------------------------------------------- helpers */

  function toId(value) {
    const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    return Number.isSafeInteger(number) && number > 0 ? number : null;
  }

  function toCount(value) {
    const number = Number(value);
    return Number.isFinite(number) && number > 0 ? Math.floor(number) : 0;
  }

  function asText(value) {
    return value === null || value === undefined ? '' : String(value);
  }

  function normalizeOptions(options) {
    const given = options || {};
    const merged = Object.assign({}, DEFAULTS);
    Object.keys(given).forEach((key) => {
      if (given[key] !== undefined && given[key] !== null) merged[key] = given[key];
    });
    // JSON cannot say Infinity, so the config may say null.
    if (given.maxReconnectAttempts === null) merged.maxReconnectAttempts = Infinity;
    merged.heartbeatInterval = Math.max(0, Number(merged.heartbeatInterval) || 0);
    if (merged.heartbeatTimeout === null) {
      merged.heartbeatTimeout = Math.min(10000, merged.heartbeatInterval / 2);
    }
    if (POSITIONS.indexOf(merged.position) === -1) merged.position = DEFAULTS.position;
    merged.strings = Object.assign({}, STRINGS, typeof given.strings === 'object' ? given.strings : {});
    return merged;
  }

  /**
   * Return the wait before reconnect attempt `attempt` (0-based).
   *
   * Exponential backoff with "equal jitter": the ceiling is
   * min(maxDelay, baseDelay * 2^attempt) and the wait is uniform in
   * [ceiling / 2, ceiling], so clients spread out yet never retry at once.
   */
  function backoffDelay(attempt, baseDelay, maxDelay, random) {
    const ceiling = Math.min(maxDelay, baseDelay * Math.pow(2, Math.min(attempt, 30)));
    return ceiling / 2 + (random || Math.random)() * (ceiling / 2);
  }

  /** Turn a path such as "/ws/notifications/" into a ws:// or wss:// URL. */
  function resolveSocketUrl(url, location) {
    if (/^wss?:\/\//i.test(url) || !location || !location.href) return url;
    const resolved = new URL(url, location.href);
    resolved.protocol = resolved.protocol === 'https:' ? 'wss:' : 'ws:';
    return resolved.href;
  }

  /** Return the absolute href of a relative or http(s) URL, else null. */
  function safeUrl(url, baseHref) {
    if (typeof url !== 'string' || !url.trim()) return null;
    let parsed;
    try {
      parsed = new URL(url, baseHref);
    } catch (err) {
      return null;
    }
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  }

  function isSameOrigin(href, baseHref) {
    try {
      return new URL(href, baseHref).origin === new URL(baseHref).origin;
    } catch (err) {
      return false;
    }
  }

  function readCookie(cookieString, name) {
    const parts = asText(cookieString).split(';');
    for (let index = 0; index < parts.length; index += 1) {
      const part = parts[index].trim();
      if (part.slice(0, name.length + 1) === `${name}=`) {
        try {
          return decodeURIComponent(part.slice(name.length + 1));
        } catch (err) {
          return null;
        }
      }
    }
    return null;
  }

  function withQuery(url, key, value) {
    const separator = url.indexOf('?') === -1 ? '?' : '&';
    return `${url}${separator}${key}=${encodeURIComponent(value)}`;
  }

  function byId(first, second) {
    return (toId(first && first.id) || 0) - (toId(second && second.id) || 0);
  }

  /* ------------------------------------------------------------ DOM parts */

  /** Return a new element with a class and, when given, a text. */
  function element(doc, tag, className, text) {
    const made = doc.createElement(tag);
    made.setAttribute('class', className);
    if (text !== undefined) made.textContent = asText(text);
    return made;
  }

  /** Return the toast container, creating it at the end of <body> if missing. */
  function ensureContainer(doc, position) {
    let container = doc.getElementById(CONTAINER_ID);
    if (!container) {
      container = doc.body.appendChild(element(doc, 'div', `live-notify-toasts live-notify-toasts--${position}`));
      container.setAttribute('id', CONTAINER_ID);
    }
    if (!container.getAttribute('aria-live')) container.setAttribute('aria-live', 'polite');
    return container;
  }

  function findToast(doc, id) {
    const container = doc && doc.getElementById(CONTAINER_ID);
    if (!container) return null;
    const wanted = String(id);
    return Array.from(container.children).find((toast) => toast.getAttribute('data-id') === wanted) || null;
  }

  /**
   * Fill a toast element from a notification.
   *
   * Notification data only ever reaches the page through textContent and
   * setAttribute, never innerHTML. `handlers` holds baseHref, the client's
   * strings and the open/dismiss/markRead/runAction callbacks.
   */
  function fillToast(doc, toast, notification, handlers) {
    toast.textContent = '';
    toast.setAttribute('class', notification.is_read ? 'live-notify-toast live-notify-toast--read' : 'live-notify-toast');
    // No role here: the container is the live region, so a role=status inside it would be announced twice.
    toast.removeAttribute('role');
    const id = toId(notification.id);
    if (id !== null) toast.setAttribute('data-id', String(id));
    toast.removeAttribute('data-type');
    if (notification.notification_type) toast.setAttribute('data-type', asText(notification.notification_type));

    toast.appendChild(renderBody(doc, notification, handlers));
    const outcome = notification.outcome && typeof notification.outcome === 'object' ? notification.outcome : null;
    const actions = outcome ? renderOutcome(doc, outcome) : renderActions(doc, notification.actions, handlers);
    if (actions) toast.appendChild(actions);

    const dismiss = element(doc, 'button', 'live-notify-toast__dismiss', '\u00d7');
    dismiss.setAttribute('type', 'button');
    dismiss.setAttribute('aria-label', asText((handlers.strings || STRINGS).dismiss || STRINGS.dismiss));
    dismiss.addEventListener('click', () => handlers.dismiss());
    toast.appendChild(dismiss);
    return toast;
  }

  function renderBody(doc, notification, handlers) {
    const body = element(doc, 'div', 'live-notify-toast__body');
    body.appendChild(element(doc, 'strong', 'live-notify-toast__title', notification.title));
    if (notification.message) body.appendChild(element(doc, 'p', 'live-notify-toast__message', notification.message));
    const href = safeUrl(notification.url, handlers.baseHref);
    if (href) {
      body.setAttribute('class', 'live-notify-toast__body live-notify-toast__body--link');
      body.setAttribute('role', 'link');
      body.setAttribute('tabindex', '0');
      body.addEventListener('click', () => handlers.open(href));
      body.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') handlers.open(href);
      });
    }
    return body;
  }

  function renderActions(doc, actions, handlers) {
    if (!Array.isArray(actions)) return null;
    const row = element(doc, 'div', 'live-notify-toast__actions');
    actions.forEach((action) => {
      const button = renderAction(doc, action, handlers);
      if (button) row.appendChild(button);
    });
    return row.children.length ? row : null;
  }

  /** Show what a used action did ("Accepted") in place of the buttons: actions run once. */
  function renderOutcome(doc, outcome) {
    return element(doc, 'p', 'live-notify-toast__actions live-notify-outcome', outcome.label);
  }

  function renderAction(doc, action, handlers) {
    if (!action || typeof action !== 'object') return null;
    const href = safeUrl(action.url, handlers.baseHref);
    const method = asText(action.method || 'GET').toUpperCase();
    if (!href || ACTION_METHODS.indexOf(method) === -1) return null;

    const style = typeof action.style === 'string' && /^[a-z0-9_-]+$/i.test(action.style) ? action.style : '';
    const className = style ? `live-notify-action live-notify-action--${style}` : 'live-notify-action';
    const button = element(doc, method === 'GET' ? 'a' : 'button', className, action.label);
    if (method === 'GET') {
      button.setAttribute('href', href);
      button.addEventListener('click', () => handlers.markRead());
    } else {
      button.setAttribute('type', 'button');
      button.addEventListener('click', (event) => {
        event.preventDefault();
        handlers.runAction(action, method, href, button);
      });
    }
    return button;
  }

  /** Return the counted-phrase helpers of live-notify-plural.js, or null on a page that did not load it. */
  function plurals() {
    return requiredPlural || root.LiveNotifyPlural || null;
  }

  let warnedNoPlurals = false;

  /** Show `count` in every [data-live-notify-badge] element (in the words of its data-live-notify-plural); hide it at 0. */
  function updateBadges(doc, count) {
    if (!doc || typeof doc.querySelectorAll !== 'function') return;
    const helpers = plurals();
    Array.from(doc.querySelectorAll(BADGE_SELECTOR)).forEach((badge) => {
      const worded = helpers ? helpers.pluralText(helpers.readPlural(badge), count) : null;
      if (!helpers && !warnedNoPlurals && badge.hasAttribute('data-live-notify-plural')) {
        warnedNoPlurals = true;
        console.warn(`${LOG_PREFIX}load live-notify-plural.js before live-notify.js to show counts in words`);
      }
      badge.textContent = worded || String(count);
      badge.setAttribute('data-count', String(count));
      if (count === 0) badge.setAttribute('hidden', '');
      else badge.removeAttribute('hidden');
    });
  }

  /* ------------------------------------------------------------ connection */

  /** A client's socket: opening, backoff, heartbeats, waking up. The client reads the frames and holds the state. */
  class Connection {
    constructor(client) {
      this.client = client;
      this.socket = null;
      this.reconnectTimer = null;
      this.heartbeatTimer = null;
      this.ackTimer = null;
      this.listening = false;
      this.onWake = (event) => {
        if (event.type === 'online' || !client._document.hidden) this.wake();
      };
    }

    connect() {
      this.client.stoppedReason = null;
      this.listen(true);
      if (this.socket) return;
      this.clearReconnect();
      this.open();
    }

    close() {
      this.client.stoppedReason = 'closed';
      this.listen(false);
      this.clearReconnect();
      if (this.socket) this.drop(CLOSE_NORMAL, 'client closed', true);
      else this.setStatus('stopped', {});
    }

    send(frame) {
      if (!this.client.connected || !this.socket) return false;
      try {
        this.socket.send(JSON.stringify(frame));
        return true;
      } catch (err) {
        return false;
      }
    }

    open() {
      const client = this.client;
      const SocketClass = client._WebSocket;
      if (!SocketClass) {
        return this.stop('unsupported', 'WebSocket is not available in this browser');
      }
      let socket;
      try {
        socket = new SocketClass(resolveSocketUrl(client.url, client._window && client._window.location));
      } catch (err) {
        return this.stop('invalid-url', `cannot open a WebSocket to ${client.url} (${err && err.message})`);
      }
      this.socket = socket;
      this.setStatus('connecting', {});
      socket.onopen = () => {
        if (socket === this.socket) this.opened();
      };
      socket.onmessage = (event) => {
        if (socket === this.socket) client._receive(event.data);
      };
      socket.onclose = (event) => {
        if (socket !== this.socket) return;
        this.socket = null;
        this.closed(event);
      };
      socket.onerror = () => {}; // a close event always follows
    }

    /** Detach and close the current socket now, without waiting for its close event. */
    drop(code, reason, wasClean) {
      const socket = this.socket;
      this.socket = null;
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try {
        socket.close(code, reason);
      } catch (err) {
        // Already closing.
      }
      this.closed({type: 'close', code, reason, wasClean});
    }

    opened() {
      const client = this.client;
      client.connected = true;
      client.reconnectAttempts = 0;
      client._opened();
      const interval = client.options.heartbeatInterval;
      if (interval > 0) this.heartbeatTimer = setInterval(() => this.beat(), interval);
      this.setStatus('connected', {});
      client._emit('connect', {});
    }

    closed(event) {
      const client = this.client;
      const wasOpen = client.connected;
      client.connected = false;
      clearInterval(this.heartbeatTimer);
      this.acked();
      this.heartbeatTimer = null;
      const code = event ? event.code : undefined;
      if (code === CLOSE_UNAUTHENTICATED) {
        client.stoppedReason = 'unauthenticated';
        console.warn(`${LOG_PREFIX}not authenticated (4001); not reconnecting`);
      } else if (code === CLOSE_TOO_MANY_CONNECTIONS) {
        // The user has too many tabs open; this, the oldest, yields until it is used again.
        client.stoppedReason = 'replaced';
        console.warn(`${LOG_PREFIX}closed for a newer tab (4005); reconnecting when this tab is shown again`);
      }
      const delay = client.stoppedReason ? null : this.scheduleReconnect(code);
      const info = {
        code,
        reason: (event && event.reason) || '',
        wasClean: Boolean(event && event.wasClean),
        reconnecting: delay !== null,
        delay,
        attempt: client.reconnectAttempts,
        stoppedReason: client.stoppedReason,
      };
      this.setStatus(delay === null ? 'stopped' : 'reconnecting', info);
      // Report lost connections and giving up, not each failed retry or close().
      if (wasOpen || (delay === null && client.stoppedReason !== 'closed')) {
        client._emit('disconnect', info, event);
      }
    }

    /** Start the reconnect timer; return its delay, or null after the last attempt. */
    scheduleReconnect(code) {
      const opts = this.client.options;
      if (this.client.reconnectAttempts >= opts.maxReconnectAttempts) {
        this.client.stoppedReason = 'max-attempts';
        console.warn(`${LOG_PREFIX}gave up after ${this.client.reconnectAttempts} reconnect attempts`);
        return null;
      }
      const quick = [CLOSE_SERVICE_RESTART, CLOSE_SERVICE_RESTART_DAPHNE, CLOSE_CREDENTIALS_CHANGED];
      const delay = quick.includes(code)
        ? Math.random() * 1000
        : backoffDelay(this.client.reconnectAttempts, opts.reconnectDelay, opts.maxReconnectDelay);
      this.client.reconnectAttempts += 1;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.open();
      }, delay);
      return delay;
    }

    clearReconnect() {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }

    stop(reason, message) {
      this.client.stoppedReason = reason;
      console.warn(LOG_PREFIX + message);
      this.setStatus('stopped', {});
    }

    setStatus(status, detail) {
      this.client.status = status;
      this.client._emit('status', Object.assign({status, stoppedReason: this.client.stoppedReason}, detail));
    }

    /** Reconnect at once when the network or the tab comes back. */
    wake() {
      if (FINAL_STOP_REASONS.indexOf(this.client.stoppedReason) !== -1) return;
      if (this.client.connected) {
        this.beat(); // the socket may have died while the machine slept
        return;
      }
      if (this.socket) return;
      this.clearReconnect();
      this.client.reconnectAttempts = 0;
      this.client.stoppedReason = null;
      this.open();
    }

    listen(on) {
      if (this.listening === on) return;
      this.listening = on;
      const method = on ? 'addEventListener' : 'removeEventListener';
      const {_window: win, _document: doc} = this.client;
      if (win && win[method]) win[method]('online', this.onWake);
      if (doc && doc[method]) doc[method]('visibilitychange', this.onWake);
    }

    /** Send a heartbeat and drop the socket as dead if no heartbeat_ack comes within heartbeatTimeout. */
    beat() {
      const timeout = this.client.options.heartbeatTimeout;
      if (!this.send({type: 'heartbeat'}) || this.ackTimer !== null || !(timeout > 0)) return;
      this.ackTimer = setTimeout(() => {
        this.ackTimer = null;
        console.warn(`${LOG_PREFIX}no heartbeat_ack within ${timeout} ms; reconnecting`);
        this.drop(CLOSE_HEARTBEAT_TIMEOUT, 'heartbeat timeout', false);
      }, timeout);
    }

    acked() {
      clearTimeout(this.ackTimer);
      this.ackTimer = null;
    }
  }

  /* -------------------------------------------------------------------- UI */

  /** The toasts of one client. */
  class ToastUI {
    constructor(client) {
      this.client = client;
      this.timers = new Map();
    }

    show(notification) {
      const client = this.client;
      const doc = client._document;
      if (!doc || !doc.body || !notification || typeof notification !== 'object') return null;
      const container = ensureContainer(doc, client.options.position);
      const toast = doc.createElement('div');
      fillToast(doc, toast, notification, this.handlers(toast, notification));
      toast.addEventListener('keydown', (event) => {
        if (event.key === 'Escape') this.dismiss(toast);
      });
      toast.addEventListener('mouseenter', () => this.hold(toast));
      toast.addEventListener('focusin', () => this.hold(toast));
      toast.addEventListener('mouseleave', () => this.schedule(toast));
      toast.addEventListener('focusout', () => this.schedule(toast));
      container.appendChild(toast);
      while (container.children.length > Math.max(1, client.options.maxToasts)) this.dismiss(container.children[0]);
      this.schedule(toast);
      return toast;
    }

    update(notification) {
      const doc = this.client._document;
      const id = toId(notification && notification.id);
      const toast = id === null ? null : findToast(doc, id);
      if (!toast) return null;
      fillToast(doc, toast, notification, this.handlers(toast, notification));
      this.schedule(toast);
      return toast;
    }

    dismiss(target) {
      const toast = target && typeof target === 'object' ? target : findToast(this.client._document, target);
      if (!toast) return;
      this.hold(toast);
      toast.remove();
    }

    markRead(ids, all) {
      const container = this.client._document && this.client._document.getElementById(CONTAINER_ID);
      if (!container) return;
      Array.from(container.children).forEach((toast) => {
        if (all || ids.indexOf(toId(toast.getAttribute('data-id'))) !== -1) {
          toast.classList.add('live-notify-toast--read');
        }
      });
    }

    handlers(toast, notification) {
      const client = this.client;
      const clicked = () => client.reportClicked(notification.id);
      return {
        baseHref: client._baseHref(),
        strings: client.options.strings,
        open: (href) => {
          clicked();
          client._open(notification, href);
        },
        dismiss: () => this.dismiss(toast),
        markRead: () => {
          clicked();
          client._markReadIfUnread(notification);
        },
        runAction: (action, method, href, button) => {
          clicked();
          return this.runAction(notification, action, method, href, button, toast);
        },
      };
    }

    hold(toast) {
      clearTimeout(this.timers.get(toast));
      this.timers.delete(toast);
    }

    schedule(toast) {
      this.hold(toast);
      const timeout = this.client.options.toastTimeout;
      if (timeout > 0) this.timers.set(toast, setTimeout(() => this.dismiss(toast), timeout));
    }

    async runAction(notification, action, method, href, button, toast) {
      const client = this.client;
      const fetchFn = client._fetch;
      if (!fetchFn) return false;
      const headers = {Accept: 'application/json'};
      const token = client._csrfToken();
      // Never hand the CSRF token to another origin.
      if (token && isSameOrigin(href, client._baseHref())) headers['X-CSRFToken'] = token;
      button.setAttribute('disabled', '');
      let ok = false;
      let outcome = null;
      try {
        const response = await fetchFn(href, {method, credentials: 'same-origin', headers});
        ok = Boolean(response && response.ok);
        if (ok && typeof response.json === 'function') {
          const body = await response.json().catch(() => null);
          outcome = body && body.outcome && typeof body.outcome === 'object' ? body.outcome : null;
        }
        if (!ok) console.warn(`${LOG_PREFIX}action "${asText(action.label)}" failed: HTTP ${response && response.status}`);
      } catch (err) {
        console.warn(`${LOG_PREFIX}action "${asText(action.label)}" failed (${err && err.message})`);
      }
      client._emit('action', {notification, action, ok, outcome});
      if (ok) {
        client._markReadIfUnread(notification);
        this.dismiss(toast);
      } else {
        button.removeAttribute('disabled');
      }
      return ok;
    }
  }

  /** System notifications and the beep. */
  class BrowserAlerts {
    constructor(client) {
      this.client = client;
      this.audioContext = null;
      this.lastSoundAt = -Infinity;
    }

    notify(notification) {
      const client = this.client;
      const win = client._window;
      const NotificationClass = win && win.Notification;
      if (!NotificationClass || NotificationClass.permission !== 'granted') return null;
      if (!client._document || !client._document.hidden) return null;
      try {
        const id = toId(notification.id);
        const shown = new NotificationClass(asText(notification.title), {
          body: asText(notification.message),
          tag: id === null ? undefined : String(id),
        });
        const href = safeUrl(notification.url, client._baseHref());
        shown.onclick = () => {
          if (typeof win.focus === 'function') win.focus();
          if (href) client._open(notification, href);
          if (typeof shown.close === 'function') shown.close();
        };
        return shown;
      } catch (err) {
        return null; // e.g. Chrome on Android only allows service-worker notifications
      }
    }

    beep() {
      const win = this.client._window;
      const AudioContextClass = win && (win.AudioContext || win.webkitAudioContext);
      if (!AudioContextClass || Date.now() - this.lastSoundAt < SOUND_MIN_GAP) return false;
      this.lastSoundAt = Date.now();
      try {
        const context = this.audioContext || new AudioContextClass();
        this.audioContext = context;
        if (context.state === 'suspended' && typeof context.resume === 'function') {
          context.resume().catch(() => {});
        }
        const oscillator = context.createOscillator();
        const gain = context.createGain();
        oscillator.frequency.value = 880;
        gain.gain.setValueAtTime(0.08, context.currentTime);
        gain.gain.exponentialRampToValueAtTime(0.0001, context.currentTime + 0.2);
        oscillator.connect(gain);
        gain.connect(context.destination);
        oscillator.start();
        oscillator.stop(context.currentTime + 0.2);
        return true;
      } catch (err) {
        return false;
      }
    }
  }

  /* ---------------------------------------------------------------- client */

  // What the client does with each frame type it knows (`this` is the client); others go out as live-notify:frame.
  const FRAME_HANDLERS = {
    notification(frame) {
      this._receiveNotification(frame.notification, this._resuming ? 'resume' : 'live');
    },
    update({notification}) {
      if (!notification || typeof notification !== 'object') return;
      const id = toId(notification.id);
      if (id !== null) this._rememberId(id);
      this._emit('update', {notification});
    },
    unread_count(frame) {
      if (typeof frame.count === 'number') this._setUnreadCount(frame.count);
    },
    read(frame) {
      const ids = Array.isArray(frame.ids) ? frame.ids.map(toId).filter((id) => id !== null) : [];
      const detail = {ids, all: frame.all === true};
      this._toasts.markRead(detail.ids, detail.all);
      this._emit('read', detail);
    },
    resumed(frame) {
      this._resuming = false;
      const detail = {count: toCount(frame.count), complete: frame.complete !== false};
      this._emit('resumed', detail);
      if (!detail.complete) this.refetch(this._resumeFrom);
    },
    heartbeat_ack() {
      this._connection.acked();
    },
    error(frame) {
      const detail = {code: asText(frame.code), message: asText(frame.message)};
      console.warn(`${LOG_PREFIX}server error ${detail.code}: ${detail.message}`);
      this._emit('error', detail);
    },
  };

  // Each callback listens for its event: [event, callback, its arguments from the detail (and the close event)].
  const CALLBACK_EVENTS = [
    ['notification', 'onNotification', (detail) => [detail.notification, {source: detail.source}]],
    ['update', 'onUpdate', (detail) => [detail.notification]],
    ['connect', 'onConnect', () => []],
    ['disconnect', 'onDisconnect', (detail, closeEvent) => [closeEvent, detail]],
    ['unread-count', 'onUnreadCount', (detail) => [detail.count]],
    ['read', 'onRead', (detail) => [detail]],
    ['error', 'onError', (detail) => [detail]],
    ['status', 'onStatus', (detail) => [detail]],
  ];

  // Marks a client's events: its callbacks ignore another client's on the same document.
  const SOURCE = Symbol('live-notify source');

  class NotificationWebSocket {
    constructor(options) {
      const opts = normalizeOptions(options);
      this.options = opts;
      this._window = opts.window || (root && root.document ? root : null);
      this._document = opts.document || (this._window && this._window.document) || null;
      this._WebSocket = opts.WebSocket || (this._window && this._window.WebSocket) || (root && root.WebSocket) || null;
      this._fetch = opts.fetch || defaultFetch(this._window);
      const doc = this._document;
      // Without a DOM the callbacks still hear the events, on a target of their own.
      this._events = doc && typeof doc.dispatchEvent === 'function' ? doc : new EventTarget();

      this.url = opts.url;
      this.apiUrl = opts.apiUrl;
      this.historyUrl = opts.historyUrl;
      this.lastId = toId(opts.lastId) || 0;
      // The page said where the user stood (the template tag always does, 0 for a user with no
      // notifications yet): every connect resumes from there, so nothing sent meanwhile is missed.
      const given = (options || {}).lastId;
      this._positionKnown = this.lastId > 0 || given === 0 || given === '0';
      // The page was rendered with everything up to here: such an id is never new on this page.
      this._pageLastId = this.lastId;
      this.unreadCount = toCount(opts.unreadCount);
      this.connected = false;
      this.status = 'idle';
      this.stoppedReason = null;
      this.reconnectAttempts = 0;

      this._connection = new Connection(this);
      this._toasts = new ToastUI(this);
      this._alerts = new BrowserAlerts(this);
      this._seenIds = new Set();
      this._resuming = false;
      this._resumeFrom = 0;
      this._refetching = null;

      CALLBACK_EVENTS.forEach(([name, callback, args]) => {
        if (typeof opts[callback] === 'function') this[callback] = opts[callback];
        // Capture: a browser runs these before the page's own listeners of the event, however early those came.
        this._events.addEventListener(`live-notify:${name}`, (event) => {
          const source = event[SOURCE];
          if (!source || source.client !== this) return;
          try {
            this[callback](...args(event.detail, source.closeEvent));
          } catch (err) {
            // An exception in a callback must not break the client.
            console.error(`${LOG_PREFIX}${callback} threw`, err);
          }
        }, true);
      });
      if (opts.autoConnect) this.connect();
    }

    /** Ask for browser notification permission; resolve to its state or "unsupported". */
    static requestNotificationPermission() {
      const NotificationClass = root && root.Notification;
      if (!NotificationClass || typeof NotificationClass.requestPermission !== 'function') {
        return Promise.resolve('unsupported');
      }
      if (NotificationClass.permission && NotificationClass.permission !== 'default') {
        return Promise.resolve(NotificationClass.permission);
      }
      return new Promise((resolve) => {
        try {
          // Old Safari takes a callback and returns undefined.
          const result = NotificationClass.requestPermission(resolve);
          if (result && typeof result.then === 'function') result.then(resolve, () => resolve('default'));
        } catch (err) {
          resolve('unsupported');
        }
      });
    }

    /* ------------------------------------------------------ public methods */

    connect() {
      this._connection.connect();
    }

    close() {
      this._connection.close();
    }

    /** Send mark_read for one notification; return false when not sent (offline or bad id). */
    markAsRead(id) {
      const notificationId = toId(id);
      if (notificationId === null) {
        console.warn(`${LOG_PREFIX}markAsRead() needs a positive integer id, got ${id}`);
        return false;
      }
      return this._send({type: 'mark_read', id: notificationId});
    }

    /** Send mark_unread for one notification; return false when not sent (offline or bad id). */
    markAsUnread(id) {
      const notificationId = toId(id);
      if (notificationId === null) {
        console.warn(`${LOG_PREFIX}markAsUnread() needs a positive integer id, got ${id}`);
        return false;
      }
      return this._send({type: 'mark_unread', id: notificationId});
    }

    /** Send mark_all_read; return false when offline. */
    markAllAsRead() {
      return this._send({type: 'mark_all_read'});
    }

    /** Ask for the unread count (the answer reaches onUnreadCount); return false when offline. */
    getUnreadCount() {
      return this._send({type: 'get_unread_count'});
    }

    /** Fetch notifications with id > afterId over HTTP and feed them in; resolve to how many were new. */
    refetch(afterId) {
      if (this._refetching) return this._refetching;
      const after = afterId === undefined ? this.lastId : toId(afterId) || 0;
      this._refetching = this._fetchMissed(after).then((count) => {
        this._refetching = null;
        return count;
      });
      return this._refetching;
    }

    showToast(notification) {
      return this._toasts.show(notification);
    }

    updateToast(notification) {
      return this._toasts.update(notification);
    }

    dismissToast(target) {
      this._toasts.dismiss(target);
    }

    showBrowserNotification(notification) {
      return this._alerts.notify(notification);
    }

    playSound() {
      return this._alerts.beep();
    }

    /* --------------------------------------- default callbacks (overridable) */

    onNotification(notification, meta) {
      // A backlog fetched over HTTP is left to the badge and the history page.
      if (meta && meta.source === 'fetch') return;
      if (this.options.toasts) this._reportSeen(this.showToast(notification), notification);
      this.showBrowserNotification(notification);
      if (this.options.sound) this.playSound();
    }

    onUpdate(notification) {
      if (this.options.toasts && !this.updateToast(notification)) this.showToast(notification);
    }

    onConnect() {}

    onDisconnect() {}

    onUnreadCount() {}

    onRead() {}

    onError() {}

    onStatus() {}

    /* ------------------------------------------------------------ protocol */

    /** Resume when the client knows where the user stands, and send the reports gathered offline. */
    _opened() {
      this._resuming = false; // a resume the last socket did not see answered
      if (this.lastId > 0 || this._positionKnown) this._sendResume();
      else this._send({type: 'get_unread_count'});
      this._flushReports();
    }

    _receive(data) {
      let frame;
      try {
        frame = JSON.parse(data);
      } catch (err) {
        console.warn(`${LOG_PREFIX}ignored a frame that is not JSON`);
        return;
      }
      if (!frame || typeof frame !== 'object') return;
      // Clients ignore types they do not know; add-ons (the inbox) listen for them.
      const handle = Object.prototype.hasOwnProperty.call(FRAME_HANDLERS, frame.type) && FRAME_HANDLERS[frame.type];
      if (handle) handle.call(this, frame);
      else this._emit('frame', frame);
    }

    /**
     * Feed one notification in; return false when it was dropped as not new.
     *
     * Not new: an id already seen, an id at or below the page's initial lastId
     * (an earlier page had it), or a row already read.
     */
    _receiveNotification(notification, source) {
      if (!notification || typeof notification !== 'object') return false;
      const id = toId(notification.id);
      if (id !== null) {
        this._report('ack', id);
        if (this._seenIds.has(id)) return false;
        this._rememberId(id);
        if (id <= this._pageLastId || notification.is_read) return false;
        // Unread_count frames from the server correct this guess.
        this._setUnreadCount(this.unreadCount + 1);
      }
      this._emit('notification', {notification, source});
      return true;
    }

    _rememberId(id) {
      this._seenIds.delete(id);
      this._seenIds.add(id);
      if (this._seenIds.size > SEEN_IDS_LIMIT) this._seenIds.delete(this._seenIds.values().next().value);
      if (id > this.lastId) this.lastId = id;
    }

    _setUnreadCount(count) {
      this.unreadCount = toCount(count);
      updateBadges(this._document, this.unreadCount);
      this._emit('unread-count', {count: this.unreadCount});
    }

    _send(frame) {
      return this._connection.send(frame);
    }

    _sendResume() {
      this._resumeFrom = this.lastId;
      this._resuming = true;
      this._send({type: 'resume', last_id: this.lastId});
    }

    async _fetchMissed(after) {
      const fetchFn = this._fetch;
      if (!fetchFn) return 0;
      const collected = [];
      let unreadCount = null;
      let url = withQuery(this.apiUrl, 'after', after);
      try {
        for (let page = 0; url && page < REFETCH_MAX_PAGES; page += 1) {
          const response = await fetchFn(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}});
          if (!response || !response.ok) throw new Error(`HTTP ${response && response.status}`);
          const body = await response.json();
          if (Array.isArray(body.results)) collected.push.apply(collected, body.results);
          if (typeof body.unread_count === 'number') unreadCount = body.unread_count;
          url = typeof body.next === 'string' && body.next ? body.next : null;
        }
      } catch (err) {
        console.warn(`${LOG_PREFIX}could not fetch missed notifications (${err && err.message})`);
      }
      collected.sort(byId);
      const added = collected.filter((notification) => this._receiveNotification(notification, 'fetch')).length;
      if (unreadCount !== null) this._setUnreadCount(unreadCount);
      return added;
    }

    /* ----------------------------------------------------------- analytics */

    /** Report a click on a notification (toast, inbox item, action); sent at once. Return false for a bad id. */
    reportClicked(id) {
      const notificationId = toId(id);
      if (notificationId === null) return false;
      this._report('clicked', notificationId);
      this._flushReports();
      return true;
    }

    /**
     * Queue one analytics report ("ack", "seen" or "clicked") of one id.
     *
     * Reports gathered for ackInterval ms go out together, one frame per kind; each id is reported once per kind
     * per page (the server keeps only the first report anyway). Offline, they wait for the next open.
     */
    _report(kind, id) {
      if (!this.options.analytics) return;
      if (!this._reports) this._reports = {pending: {ack: [], seen: [], clicked: []}, done: {ack: new Set(), seen: new Set(), clicked: new Set()}, timer: null};
      const done = this._reports.done[kind];
      if (done.has(id)) return;
      done.add(id);
      if (done.size > SEEN_IDS_LIMIT) done.delete(done.values().next().value);
      this._reports.pending[kind].push(id);
      if (this._reports.timer === null) {
        this._reports.timer = setTimeout(() => {
          this._reports.timer = null;
          this._flushReports();
        }, Math.max(0, Number(this.options.ackInterval) || 0));
      }
    }

    /** Send the queued reports, at most REPORT_IDS_PER_FRAME ids a frame; keep them while offline. */
    _flushReports() {
      const reports = this._reports;
      if (!reports || !this.connected) return;
      if (reports.timer !== null) {
        clearTimeout(reports.timer);
        reports.timer = null;
      }
      Object.keys(REPORT_FRAMES).forEach((kind) => {
        const pending = reports.pending[kind];
        while (pending.length) {
          const ids = pending.slice(0, REPORT_IDS_PER_FRAME);
          if (!this._send({type: REPORT_FRAMES[kind], ids})) return;
          pending.splice(0, ids.length);
        }
      });
    }

    /** Report a toast seen once it is in a visible tab: now, or when the tab is shown while it still is. */
    _reportSeen(toast, notification) {
      const id = toId(notification.id);
      const doc = this._document;
      if (!toast || id === null || !this.options.analytics || !doc) return;
      if (doc.visibilityState !== 'hidden') {
        this._report('seen', id);
        return;
      }
      const onShown = () => {
        if (doc.visibilityState === 'hidden') return;
        doc.removeEventListener('visibilitychange', onShown);
        if (toast.parentNode) this._report('seen', id);
      };
      doc.addEventListener('visibilitychange', onShown);
    }

    /* ---------------------------------------------------------------- misc */

    _open(notification, href) {
      this._markReadIfUnread(notification);
      const location = this._window && this._window.location;
      if (location && typeof location.assign === 'function') location.assign(href);
    }

    _markReadIfUnread(notification) {
      const id = toId(notification.id);
      if (id !== null && !notification.is_read) this.markAsRead(id);
    }

    _csrfToken() {
      const cookie = this._document ? readCookie(this._document.cookie, this.options.csrfCookieName) : null;
      return cookie || this.options.csrfToken || null;
    }

    _baseHref() {
      const location = this._window && this._window.location;
      return (location && location.href) || undefined;
    }

    /** Dispatch a "live-notify:<name>" event on the document: the one way the client tells what happened. */
    _emit(name, detail, closeEvent) {
      const EventClass = (this._window && this._window.CustomEvent) || root.CustomEvent;
      const event = new EventClass(`live-notify:${name}`, {detail});
      event[SOURCE] = {client: this, closeEvent};
      this._events.dispatchEvent(event);
    }
  }

  function defaultFetch(win) {
    const owner = win && typeof win.fetch === 'function' ? win : root;
    return owner && typeof owner.fetch === 'function' ? owner.fetch.bind(owner) : null;
  }

  /* -------------------------------------------------------------- web push */
  // enablePush() / disablePush(): the page calls them (from a button), never the client on load. Settings come
  // from options.push, else the "push" key of #live-notify-config (the template tag sets it when VAPID keys are).

  /** Return the push settings: publicKey, serviceWorkerUrl, scope, subscribeUrl, unsubscribeUrl. */
  function pushSettings(client, overrides) {
    let settings = client.options && client.options.push;
    if (!settings && client._document) {
      const config = readConfig(client._document);
      settings = config && config.push;
    }
    return Object.assign({}, settings || {}, overrides || {});
  }

  /** Return the bytes of a base64url string (the VAPID public key) as PushManager.subscribe() takes them. */
  function base64UrlToBytes(text) {
    const base64 = String(text).replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (String(text).length % 4)) % 4);
    const binary = typeof atob === 'function' ? atob(base64) : Buffer.from(base64, 'base64').toString('binary');
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function pushError(message, reason) {
    const error = new Error(`${LOG_PREFIX}${message}`);
    error.reason = reason;
    return error;
  }

  /** POST a JSON body with the CSRF token; reject with the server's error message. */
  function postPushJson(client, url, body) {
    const headers = {'Content-Type': 'application/json', Accept: 'application/json'};
    const token = client._csrfToken();
    if (token) headers['X-CSRFToken'] = token;
    return client._fetch(url, {method: 'POST', headers, body: JSON.stringify(body), credentials: 'same-origin'})
      .then((response) => response.json().catch(() => ({})).then((data) => {
        if (!response.ok) throw pushError(data.error || `the server answered ${response.status}`, 'server');
        return data;
      }));
  }

  /**
   * Ask for permission, register the service worker, subscribe with the VAPID key and tell the server.
   *
   * Resolves to the PushSubscription; rejects with error.reason "unsupported", "config", "denied" or "server".
   */
  NotificationWebSocket.prototype.enablePush = function enablePush(overrides) {
    const settings = pushSettings(this, overrides);
    const win = this._window || {};
    const navigator = win.navigator;
    const NotificationClass = win.Notification;
    if (!navigator || !navigator.serviceWorker || !win.PushManager || !NotificationClass) {
      return Promise.reject(pushError('this browser has no Web Push (on iOS: add the site to the home screen)', 'unsupported'));
    }
    if (!settings.publicKey || !settings.serviceWorkerUrl || !settings.subscribeUrl) {
      return Promise.reject(pushError('push is not configured (set LIVE_NOTIFY["WEBPUSH_VAPID_PUBLIC_KEY"])', 'config'));
    }
    const asked = NotificationClass.permission === 'granted'
      ? Promise.resolve('granted')
      : Promise.resolve(NotificationClass.requestPermission());
    return asked.then((permission) => {
      if (permission !== 'granted') throw pushError(`notification permission is ${permission}`, 'denied');
      // In the worker's own URL, its words hold when it wakes with no page open; another language re-registers it.
      const workerUrl = withQuery(settings.serviceWorkerUrl, 'fallback_title', this.options.strings.newNotification);
      return navigator.serviceWorker.register(workerUrl, {scope: settings.scope || '/'});
    }).then((registration) => {
      this.pushRegistration = registration;
      const key = base64UrlToBytes(settings.publicKey);
      const subscribe = () => registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key});
      return registration.pushManager.getSubscription().then((existing) => {
        if (!existing) return subscribe();
        if (sameKey(existing, key)) return existing;
        // The site changed its VAPID keys: the old subscription cannot get pushes any more.
        const endpoint = existing.endpoint;
        return existing.unsubscribe()
          .then(() => settings.unsubscribeUrl && postPushJson(this, settings.unsubscribeUrl, {endpoint}).catch(() => null))
          .then(subscribe);
      });
    }).then((subscription) => postPushJson(this, settings.subscribeUrl, subscription.toJSON()).then(() => subscription));
  };

  /** Tell whether a subscription was made with `key` (a browser that cannot say is taken at its word). */
  function sameKey(subscription, key) {
    const given = subscription.options && subscription.options.applicationServerKey;
    if (!given) return true;
    const bytes = new Uint8Array(given);
    return bytes.length === key.length && bytes.every((byte, index) => byte === key[index]);
  }

  /** Unsubscribe this browser and tell the server; resolves to true when there was a subscription. */
  NotificationWebSocket.prototype.disablePush = function disablePush(overrides) {
    const settings = pushSettings(this, overrides);
    const win = this._window || {};
    const container = win.navigator && win.navigator.serviceWorker;
    if (!container) return Promise.resolve(false);
    return container.getRegistration(settings.scope || '/').then((registration) => {
      if (!registration) return null;
      return registration.pushManager.getSubscription();
    }).then((subscription) => {
      if (!subscription) return false;
      const endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(() => (
        settings.unsubscribeUrl ? postPushJson(this, settings.unsubscribeUrl, {endpoint}) : null
      )).then(() => true);
    });
  };

  /* -------------------------------------------------------------- auto-init */

  /** Turn the #live-notify-config JSON into constructor options. */
  function optionsFromConfig(config) {
    const options = {toasts: true};
    CONFIG_KEYS.forEach((key) => {
      if (Object.prototype.hasOwnProperty.call(config, key)) options[key] = config[key];
    });
    return options;
  }

  function readConfig(doc) {
    const element = doc.getElementById(CONFIG_ID);
    if (!element) return null;
    try {
      const config = JSON.parse(element.textContent);
      return config && typeof config === 'object' ? config : null;
    } catch (err) {
      console.warn(`${LOG_PREFIX}#${CONFIG_ID} does not hold valid JSON`);
      return null;
    }
  }

  /**
   * Create and connect window.notificationWS from #live-notify-config.
   *
   * Without that element (an anonymous visitor) nothing happens at all.
   */
  function autoInit(win) {
    const doc = win && win.document;
    if (!doc) return;
    const start = () => {
      if (win.notificationWS) return;
      const config = readConfig(doc);
      if (!config) return;
      const options = Object.assign(optionsFromConfig(config), {window: win, document: doc});
      win.notificationWS = new NotificationWebSocket(options);
      win.notificationWS.connect();
    };
    if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', start, {once: true});
    else start();
  }

  return {
    NotificationWebSocket,
    DEFAULTS,
    CONFIG_KEYS,
    STRINGS,
    autoInit,
    optionsFromConfig,
    backoffDelay,
    resolveSocketUrl,
    safeUrl,
    readCookie,
    toId,
    ensureContainer,
    fillToast,
    updateBadges,
  };
}));
