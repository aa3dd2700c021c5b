/*!
 * django-live-notify inbox: the bell's popover feed (see docs/inbox.rst).
 *
 * Loaded by {% live_notify_inbox %}, after live-notify-plural.js (its counted
 * phrases). It reads #live-notify-inbox-config, talks to the JSON API, and
 * follows the live client (window.notificationWS, started by
 * {% live_notifications %}) through its live-notify:* document events.
 * Under node, require() returns its pure helpers and touches no global.
 */
(function (root, factory) {
  'use strict';
  const isModule = typeof module === 'object' && module && module.exports;
  const api = factory(root, isModule ? require('./live-notify-plural.js') : null);
  if (isModule) {
    module.exports = api;
  } else if (root && root.document) {
    root.NotificationInbox = api.NotificationInbox;
    api.autoInit(root);
  }
}(typeof window !== 'undefined' ? window : globalThis, function (root, requiredPlural) {
  'use strict';

  const CONFIG_ID = 'live-notify-inbox-config';
  const TABS = ['unread', 'all', 'archived'];
  const TICK = 30000;
  // setTimeout holds at most 2^31 - 1 ms (about 24.8 days).
  const MAX_TIMEOUT = 2147483647;
  const ACTION_STYLE = /^[a-z0-9_-]+$/i;
  const MINUTE = 60;
  const UNITS = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', MINUTE]];

  /* ---------------------------------------------------------- pure helpers */

  /** Say how long ago `then` was, relative to `now`: "just now" under a minute, never "0 minutes ago". */
  function relativeTime(then, now, locale, justNow) {
    const seconds = Math.round((now - then) / 1000);
    if (!Number.isFinite(seconds)) return '';
    if (seconds < MINUTE) return justNow || 'just now';
    const format = new Intl.RelativeTimeFormat(locale || undefined, {numeric: 'auto'});
    for (const [unit, size] of UNITS) {
      if (seconds >= size) return format.format(-Math.floor(seconds / size), unit);
    }
    return justNow || 'just now';
  }

  /** Return the quick snooze times from `now` (a Date): in an hour, tomorrow 9:00, next Monday 9:00. */
  function snoozeChoices(now) {
    const hour = new Date(now.getTime() + 3600000);
    const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, 9, 0, 0);
    const daysToMonday = ((8 - now.getDay()) % 7) || 7;
    const nextWeek = new Date(now.getFullYear(), now.getMonth(), now.getDate() + daysToMonday, 9, 0, 0);
    return [['inOneHour', hour], ['tomorrow', tomorrow], ['nextWeek', nextWeek]];
  }

  /** Turn the value of an <input type="datetime-local"> (local time) into an ISO time, or null. */
  function localInputToIso(value) {
    if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return null;
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date.toISOString();
  }

  /** Return the value an <input type="datetime-local"> shows for `date`, in local time. */
  function toLocalInput(date) {
    const pad = (number) => String(number).padStart(2, '0');
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  /** Tell whether an item belongs in `tab` at `now` (snoozed items hide until their time). */
  function belongsTo(item, tab, now) {
    if (tab === 'archived') return Boolean(item.is_archived);
    if (item.is_archived) return false;
    if (item.snoozed_until && new Date(item.snoozed_until).getTime() > now) return false;
    return tab === 'all' || !item.is_read;
  }

  /** Insert or replace `item` in `items` (newest id first); return the new list. */
  function upsert(items, item) {
    const rest = items.filter((existing) => existing.id !== item.id);
    const index = rest.findIndex((existing) => existing.id < item.id);
    rest.splice(index === -1 ? rest.length : index, 0, item);
    return rest;
  }

  /** Apply a state frame (seen, archived, snoozed, action_outcome, read, unread) to one item; return the changed copy or null. */
  function applyFrame(item, frame) {
    const ids = Array.isArray(frame.ids) ? frame.ids : [];
    const hit = frame.all === true || ids.indexOf(item.id) !== -1 || frame.id === item.id;
    if (!hit) return null;
    switch (frame.type) {
      case 'seen':
        return Object.assign({}, item, {is_seen: true});
      case 'read':
        return Object.assign({}, item, {is_read: true, is_seen: true});
      case 'unread':
        return Object.assign({}, item, {is_read: false, is_archived: false, snoozed_until: null});
      case 'archived':
        return Object.assign({}, item, frame.archived ? {is_archived: true, is_read: true, is_seen: true} : {is_archived: false});
      case 'snoozed':
        if (frame.until === null) return Object.assign({}, item, {snoozed_until: null, is_read: false, is_seen: false});
        return Object.assign({}, item, {snoozed_until: frame.until, is_read: true, is_seen: true});
      case 'action_outcome':
        return Object.assign({}, item, {outcome: frame.outcome, is_read: true});
      default:
        return null;
    }
  }

  /** Return the text of `count` from `plural` (see live-notify-plural.js), or null without that script or forms. */
  function pluralText(plural, count) {
    const helpers = requiredPlural || root.LiveNotifyPlural;
    return helpers ? helpers.pluralText(plural, count) : null;
  }

  /** Fill the %(name)s placeholders of a translated `template` from `values` (in one pass: values are not read). */
  function interpolate(template, values) {
    return String(template).replace(/%\((\w+)\)s/g, (match, name) => (Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match));
  }

  function safeHref(url, base) {
    if (typeof url !== 'string' || !url) return '';
    try {
      const parsed = new URL(url, base);
      return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : '';
    } catch (err) {
      return '';
    }
  }

  function readCookie(cookieString, name) {
    const found = String(cookieString || '').split(';').map((part) => part.trim()).find((part) => part.startsWith(`${name}=`));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
  }

  /* ---------------------------------------------------------------- inbox */

  class NotificationInbox {
    constructor(element, config, win) {
      this.root = element;
      this.config = config;
      this.window = win;
      this.document = win.document;
      this.strings = Object.assign({justNow: 'just now', unread: 'unread', controlLabel: '%(action)s: %(title)s'}, config.strings || {});
      this.plurals = Object.assign({}, config.plurals || {});
      this.bell = element.querySelector('.live-notify-inbox__bell');
      this.panel = element.querySelector('.live-notify-inbox__panel');
      this.list = element.querySelector('.live-notify-inbox__list');
      this.feed = element.querySelector('.live-notify-inbox__feed');
      this.empty = element.querySelector('.live-notify-inbox__empty');
      this.status = element.querySelector('.live-notify-inbox__status');
      this.summary = element.querySelector('[data-live-notify-unread-summary]');
      this.tabs = Array.from(element.querySelectorAll('[role="tab"]'));
      this.tab = 'all';
      this.items = [];
      this.next = null;
      this.loaded = false;
      this.loading = null;
      this.wakeTimer = null;
      this.unseenCount = Number(config.unseenCount) || 0;
      this.unreadCount = Number(config.unreadCount) || 0;
      this._bind();
      this._scheduleWake(config.nextWake);
      this._setCounts({unseen_count: this.unseenCount, unread_count: this.unreadCount});
      this.ticker = win.setInterval(() => this._tick(), TICK);
    }

    get isOpen() {
      return !this.panel.hidden;
    }

    open() {
      if (this.isOpen) return;
      this.panel.hidden = false;
      this.bell.setAttribute('aria-expanded', 'true');
      this.root.classList.add('live-notify-inbox--open');
      const selected = this.tabs.find((tab) => tab.getAttribute('aria-selected') === 'true');
      (selected || this.panel).focus();
      if (!this.loaded) this.load();
      else this._markDisplayedSeen();
    }

    close(returnFocus) {
      if (!this.isOpen) return;
      this.panel.hidden = true;
      this.bell.setAttribute('aria-expanded', 'false');
      this.root.classList.remove('live-notify-inbox--open');
      this.root.querySelectorAll('.live-notify-inbox__snooze').forEach((form) => { form.hidden = true; });
      if (returnFocus !== false) this.bell.focus();
    }

    toggle() {
      if (this.isOpen) this.close();
      else this.open();
    }

    selectTab(name, focus) {
      if (TABS.indexOf(name) === -1) return;
      this.tab = name;
      this.tabs.forEach((tab) => {
        const selected = tab.getAttribute('data-tab') === name;
        tab.setAttribute('aria-selected', String(selected));
        tab.setAttribute('tabindex', selected ? '0' : '-1');
        if (selected) {
          this.feed.setAttribute('aria-labelledby', tab.id);
          if (focus) tab.focus();
        }
      });
      this.load();
    }

    /** Load the first page of the current tab (replacing the list). */
    load() {
      this.items = [];
      this.next = null;
      return this._fetchPage(withQuery(this.config.inboxUrl, 'tab', this.tab), true);
    }

    loadMore() {
      if (!this.next || this.loading) return this.loading;
      return this._fetchPage(this.next, false);
    }

    /* ------------------------------------------------------------ HTTP */

    _fetchPage(url, replace) {
      const tab = this.tab;
      this.list.setAttribute('aria-busy', 'true');
      this.status.textContent = this.strings.loading || '';
      const request = this._request(url, 'GET').then((body) => {
        if (tab !== this.tab) return;
        const results = Array.isArray(body.results) ? body.results : [];
        this.items = replace ? results : this.items.concat(results.filter((item) => !this.items.some((known) => known.id === item.id)));
        this.next = typeof body.next === 'string' ? body.next : null;
        this.loaded = true;
        this.status.textContent = '';
        this._setCounts(body);
        this._scheduleWake(body.next_wake);
        this.render();
      }).catch(() => {
        this.status.textContent = this.strings.failed || '';
      }).then(() => {
        this.list.setAttribute('aria-busy', 'false');
        if (this.loading === request) this.loading = null;
      });
      this.loading = request;
      return request;
    }

    _request(url, method, body) {
      const headers = {Accept: 'application/json'};
      const options = {method, credentials: 'same-origin', headers};
      if (method !== 'GET') {
        headers['X-CSRFToken'] = readCookie(this.document.cookie, 'csrftoken') || this.config.csrfToken || '';
        headers['Content-Type'] = 'application/json';
        options.body = JSON.stringify(body || {});
      }
      return this.window.fetch(url, options).then((response) => {
        return response.json().catch(() => ({})).then((data) => {
          if (!response.ok) {
            const error = new Error(data.error || `HTTP ${response.status}`);
            error.body = data;
            error.status = response.status;
            throw error;
          }
          return data;
        });
      });
    }

    _rowUrl(template, id) {
      return template.replace(/\/0\/([^/]*\/)$/, `/${id}/$1`);
    }

    _change(url, id, body) {
      return this._request(this._rowUrl(url, id), 'POST', body).then((data) => {
        this._setCounts(data);
        if (data.notification) this._replace(data.notification);
        if (data.next_wake !== undefined) this._scheduleWake(data.next_wake);
        return data;
      });
    }

    markRead(id) {
      return this._change(this.config.readUrl, id).then(() => this._update(id, {is_read: true, is_seen: true}));
    }

    markAllRead() {
      return this._request(this.config.readAllUrl, 'POST').then((data) => {
        this._setCounts(data);
        this.items = this.items.map((item) => Object.assign({}, item, {is_read: true}));
        this.render();
      });
    }

    archive(id, archived) {
      return this._change(archived === false ? this.config.unarchiveUrl : this.config.archiveUrl, id);
    }

    snooze(id, untilIso) {
      return this._change(this.config.snoozeUrl, id, {until: untilIso});
    }

    /** Report a click on an item or its action to analytics, through the live client when there is one. */
    reportClicked(id) {
      const live = this.window && this.window.notificationWS;
      if (live && typeof live.reportClicked === 'function') live.reportClicked(id);
    }

    runAction(item, action, button) {
      this.reportClicked(item.id);
      button.disabled = true;
      return this._request(action.url, 'POST').then((data) => {
        this._setCounts(data);
        this._update(item.id, {outcome: data.outcome || {label: ''}, is_read: true});
      }, (error) => {
        if (error.status === 409) this._update(item.id, {outcome: item.outcome || {label: error.message}});
        else button.disabled = false;
      });
    }

    /* ------------------------------------------------------ live changes */

    _bind() {
      const doc = this.document;
      this.bell.addEventListener('click', () => this.toggle());
      this.root.addEventListener('keydown', (event) => {
        if (event.key === 'Escape' && this.isOpen) {
          event.stopPropagation();
          this.close();
        }
      });
      doc.addEventListener('click', (event) => {
        if (this.isOpen && !this.root.contains(event.target)) this.close(false);
      });
      this.tabs.forEach((tab, index) => {
        tab.addEventListener('click', () => this.selectTab(tab.getAttribute('data-tab')));
        tab.addEventListener('keydown', (event) => {
          const step = {ArrowRight: 1, ArrowLeft: -1}[event.key];
          if (!step) return;
          event.preventDefault();
          const target = this.tabs[(index + step + this.tabs.length) % this.tabs.length];
          this.selectTab(target.getAttribute('data-tab'), true);
        });
      });
      const readAll = this.root.querySelector('[data-live-notify-read-all]');
      if (readAll) readAll.addEventListener('click', () => this.markAllRead());
      this.feed.addEventListener('scroll', () => {
        if (this.feed.scrollTop + this.feed.clientHeight >= this.feed.scrollHeight - 48) this.loadMore();
      });
      doc.addEventListener('live-notify:notification', (event) => {
        const notification = event.detail && event.detail.notification;
        if (!notification || !this.loaded) {
          this._setCounts({unseen_count: this.unseenCount + 1});
          return;
        }
        this._replace(notification);
        this._setCounts({unseen_count: this.unseenCount + 1});
        if (this.isOpen) this._markDisplayedSeen();
      });
      doc.addEventListener('live-notify:update', (event) => {
        const notification = event.detail && event.detail.notification;
        if (notification) this._replace(notification);
      });
      doc.addEventListener('live-notify:read', (event) => {
        this._applyFrame(Object.assign({type: 'read'}, event.detail));
      });
      doc.addEventListener('live-notify:unread-count', (event) => {
        this._setCounts({unread_count: event.detail.count});
      });
      doc.addEventListener('live-notify:action', (event) => {
        const detail = event.detail || {};
        if (detail.ok && detail.notification) {
          this._update(detail.notification.id, {outcome: detail.outcome || {label: ''}, is_read: true});
        }
      });
      doc.addEventListener('live-notify:frame', (event) => {
        const frame = event.detail || {};
        if (frame.type === 'unseen_count') this._setCounts({unseen_count: frame.count});
        else if (frame.type === 'snoozed' && frame.until === null) this._reloadSoon();
        else {
          if (frame.type === 'snoozed') this._scheduleWake(frame.until);
          this._applyFrame(frame);
        }
      });
    }

    _applyFrame(frame) {
      let changed = false;
      this.items = this.items.map((item) => {
        const next = applyFrame(item, frame);
        if (next) changed = true;
        return next || item;
      });
      if (changed) this.render();
    }

    _update(id, fields) {
      const item = this.items.find((known) => known.id === id);
      if (item) this._replace(Object.assign({}, item, fields));
    }

    _replace(notification) {
      const known = this.items.find((item) => item.id === notification.id);
      const merged = Object.assign({}, known || {}, notification);
      if (!merged.type_label && merged.notification_type) merged.type_label = typeLabel(merged.notification_type);
      this.items = upsert(this.items, merged);
      this.render();
    }

    _reloadSoon() {
      if (this.loaded) this.load();
    }

    /** Wake snoozed items when the earliest is due: the API brings them back, in every tab. */
    _scheduleWake(iso) {
      if (!iso) return;
      const due = new Date(iso).getTime();
      if (!Number.isFinite(due)) return;
      if (this.wakeTimer !== null && this.wakeAt <= due) return;
      if (this.wakeTimer !== null) this.window.clearTimeout(this.wakeTimer);
      this.wakeAt = due;
      const delay = Math.min(MAX_TIMEOUT, Math.max(0, due - Date.now()) + 500);
      this.wakeTimer = this.window.setTimeout(() => {
        this.wakeTimer = null;
        this.wakeAt = null;
        this.load();
      }, delay);
    }

    _setCounts(body) {
      if (!body) return;
      if (typeof body.unseen_count === 'number') this.unseenCount = Math.max(0, body.unseen_count);
      if (typeof body.unread_count === 'number') this.unreadCount = Math.max(0, body.unread_count);
      const badge = this.root.querySelector('[data-live-notify-unseen]');
      if (badge) {
        badge.textContent = String(this.unseenCount);
        badge.setAttribute('data-count', String(this.unseenCount));
        badge.hidden = this.unseenCount === 0;
      }
      const label = this.bell.getAttribute('data-label') || 'Notifications';
      const unseenLabel = this.unseenCount ? pluralText(this.plurals.bellLabel, this.unseenCount) : null;
      this.bell.setAttribute('aria-label', unseenLabel || (this.unseenCount ? `${label} (${this.unseenCount})` : label));
      // The inbox alone writes its summary: the live client's count reaches it as live-notify:unread-count.
      const unread = this.summary && this.summary.querySelector('[data-live-notify-inbox-unread]');
      if (unread) {
        unread.textContent = pluralText(this.plurals.unreadSummary, this.unreadCount) || String(this.unreadCount);
        unread.setAttribute('data-count', String(this.unreadCount));
        unread.hidden = this.unreadCount === 0;
      }
    }

    _markDisplayedSeen() {
      const ids = this.items.filter((item) => !item.is_seen && belongsTo(item, this.tab, Date.now())).map((item) => item.id).slice(0, 100);
      if (!ids.length || !this.isOpen) return;
      this.items = this.items.map((item) => (ids.indexOf(item.id) === -1 ? item : Object.assign({}, item, {is_seen: true})));
      this._request(this.config.seenUrl, 'POST', {ids}).then((data) => this._setCounts(data), () => {});
    }

    _tick() {
      const now = Date.now();
      this.root.querySelectorAll('time[data-live-notify-time]').forEach((time) => {
        time.textContent = relativeTime(new Date(time.getAttribute('datetime')).getTime(), now, this.document.documentElement.lang, this.strings.justNow);
      });
    }

    /* ------------------------------------------------------------ render */

    render() {
      const now = Date.now();
      const shown = this.items.filter((item) => belongsTo(item, this.tab, now));
      const focusedId = this._focusedItemId();
      const focusedControl = focusedId === null ? null : controlKey(this.document.activeElement);
      const doc = this.document;
      const list = this.list;
      // Rows whose snooze form is open stay open: a live update must not close what the user is using.
      this._openSnoozes = new Set(Array.from(list.querySelectorAll('.live-notify-inbox__snooze:not([hidden])'))
        .map((form) => form.closest('.live-notify-inbox__item').getAttribute('data-id')));
      list.textContent = '';
      shown.forEach((item) => list.appendChild(this._renderItem(item, now)));
      this.empty.hidden = shown.length > 0 || !this.loaded;
      this.empty.textContent = this.empty.getAttribute(`data-empty-${this.tab}`) || '';
      if (focusedId !== null) {
        // Keep focus on the same control of the same row (a keyboard user tabbing through the feed must not be
        // thrown back to the row by a notification that arrives), or on the row when that control is gone.
        const row = list.querySelector(`[data-id="${focusedId}"]`);
        const control = row && focusedControl ? Array.from(row.querySelectorAll(FOCUSABLE)).find((node) => controlKey(node) === focusedControl) : null;
        if (control) control.focus();
        else if (row) row.focus();
        else if (doc.activeElement === doc.body || !doc.activeElement) this.feed.focus();
      }
      if (this.isOpen) this._markDisplayedSeen();
      // A short first page leaves nothing to scroll: load more now.
      if (this.isOpen && this.next && this.feed.scrollHeight <= this.feed.clientHeight + 48) this.loadMore();
    }

    _focusedItemId() {
      const active = this.document.activeElement;
      const row = active && typeof active.closest === 'function' ? active.closest('.live-notify-inbox__item') : null;
      return row && this.list.contains(row) ? row.getAttribute('data-id') : null;
    }

    _renderItem(item, now) {
      const doc = this.document;
      const element = (tag, className, text) => {
        const node = doc.createElement(tag);
        if (className) node.className = className;
        if (text !== undefined) node.textContent = String(text);
        return node;
      };
      const li = element('li', 'live-notify-inbox__item');
      li.setAttribute('data-id', String(item.id));
      li.setAttribute('tabindex', '-1');
      if (!item.is_read) li.classList.add('live-notify-inbox__item--unread');
      if (!item.is_seen) li.classList.add('live-notify-inbox__item--unseen');
      const type = element('p', 'live-notify-inbox__type', item.type_label || typeLabel(item.notification_type || ''));
      li.appendChild(type);
      const title = element('p', 'live-notify-inbox__item-title');
      const href = safeHref(item.url, this.window.location.href);
      if (href) {
        const link = element('a', '', item.title || '');
        link.href = href;
        link.addEventListener('click', () => {
          this.reportClicked(item.id);
          if (!item.is_read) this.markRead(item.id);
        });
        title.appendChild(link);
      } else {
        title.textContent = item.title || '';
      }
      if (!item.is_read) {
        const dot = element('span', 'live-notify-visually-hidden', ` (${this.strings.unread})`);
        title.appendChild(dot);
      }
      li.appendChild(title);
      if (item.message) li.appendChild(element('p', 'live-notify-inbox__message', item.message));
      const meta = element('p', 'live-notify-inbox__meta');
      if (item.sender && item.sender.name) meta.appendChild(element('span', 'live-notify-inbox__sender', item.sender.name));
      const time = element('time', 'live-notify-inbox__time', relativeTime(new Date(item.created_at).getTime(), now, doc.documentElement.lang, this.strings.justNow));
      time.setAttribute('datetime', item.created_at || '');
      time.setAttribute('data-live-notify-time', '');
      meta.appendChild(time);
      if (item.group_count > 1) meta.appendChild(element('span', 'live-notify-inbox__count', `×${item.group_count}`));
      if (item.snoozed_until && new Date(item.snoozed_until).getTime() > now) {
        const until = new Date(item.snoozed_until).toLocaleString(doc.documentElement.lang || undefined, {dateStyle: 'medium', timeStyle: 'short'});
        const snoozed = this.strings.snoozedUntilTime ? interpolate(this.strings.snoozedUntilTime, {time: until}) : `${this.strings.snoozedUntil} ${until}`;
        meta.appendChild(element('span', 'live-notify-inbox__snoozed', snoozed));
      }
      li.appendChild(meta);
      if (item.outcome) {
        li.appendChild(element('p', 'live-notify-outcome', item.outcome.label || ''));
      } else if (Array.isArray(item.actions) && item.actions.length) {
        const row = element('div', 'live-notify-inbox__actions');
        item.actions.forEach((action) => {
          const url = safeHref(action.url, this.window.location.href);
          if (!url) return;
          const style = ACTION_STYLE.test(action.style || '') ? ` live-notify-action--${action.style}` : '';
          if ((action.method || 'GET').toUpperCase() === 'GET') {
            const link = element('a', `live-notify-action${style}`, action.label);
            link.href = url;
            link.addEventListener('click', () => this.reportClicked(item.id));
            row.appendChild(link);
          } else {
            const button = element('button', `live-notify-action${style}`, action.label);
            button.type = 'button';
            button.addEventListener('click', () => this.runAction(item, Object.assign({}, action, {url}), button));
            row.appendChild(button);
          }
        });
        li.appendChild(row);
      }
      li.appendChild(this._renderControls(item, element));
      return li;
    }

    _renderControls(item, element) {
      const controls = element('div', 'live-notify-inbox__controls');
      const label = (text) => interpolate(this.strings.controlLabel, {action: text, title: item.title || ''});
      const button = (text, onClick) => {
        const node = element('button', 'live-notify-button live-notify-button--small', text);
        node.type = 'button';
        node.setAttribute('aria-label', label(text));
        node.addEventListener('click', onClick);
        controls.appendChild(node);
        return node;
      };
      if (!item.is_read && !item.is_archived) button(this.strings.markRead, () => this.markRead(item.id));
      if (item.is_archived) {
        button(this.strings.unarchive, () => this.archive(item.id, false));
        return controls;
      }
      button(this.strings.archive, () => this.archive(item.id, true));
      const form = element('form', 'live-notify-inbox__snooze');
      form.hidden = !(this._openSnoozes && this._openSnoozes.has(String(item.id)));
      const toggle = button(this.strings.snooze, () => {
        form.hidden = !form.hidden;
        toggle.setAttribute('aria-expanded', String(!form.hidden));
        if (!form.hidden) form.querySelector('button').focus();
      });
      toggle.setAttribute('aria-expanded', String(!form.hidden));
      snoozeChoices(new Date()).forEach(([key, date]) => {
        const choice = element('button', 'live-notify-button live-notify-button--small', this.strings[key] || key);
        choice.type = 'button';
        choice.addEventListener('click', () => this.snooze(item.id, date.toISOString()));
        form.appendChild(choice);
      });
      const fieldId = `live-notify-snooze-${item.id}`;
      const fieldLabel = element('label', 'live-notify-inbox__snooze-label', this.strings.snoozeUntil);
      fieldLabel.setAttribute('for', fieldId);
      const input = element('input', 'live-notify-inbox__snooze-input');
      input.type = 'datetime-local';
      input.id = fieldId;
      input.required = true;
      input.min = toLocalInput(new Date());
      input.value = toLocalInput(new Date(Date.now() + 3 * 3600000));
      const submit = element('button', 'live-notify-button live-notify-button--small live-notify-button--primary', this.strings.snooze);
      submit.type = 'submit';
      form.append(fieldLabel, input, submit);
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const iso = localInputToIso(input.value);
        if (iso) this.snooze(item.id, iso).catch((error) => { this.status.textContent = error.message; });
      });
      controls.appendChild(form);
      return controls;
    }
  }

  const FOCUSABLE = 'a[href], button, input';

  /** What tells a row's control from its others across a re-render: its kind, label and text. */
  function controlKey(node) {
    if (!node || !node.matches || !node.matches(FOCUSABLE)) return null;
    return `${node.tagName}|${node.getAttribute('aria-label') || ''}|${node.className}|${node.textContent}`;
  }

  function typeLabel(name) {
    const words = String(name).replace(/[_.-]+/g, ' ').trim();
    return words ? words.charAt(0).toUpperCase() + words.slice(1).toLowerCase() : '';
  }

  function withQuery(url, key, value) {
    return `${url}${url.indexOf('?') === -1 ? '?' : '&'}${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
  }

  /** Start the inbox of each [data-live-notify-inbox] element from #live-notify-inbox-config. */
  function autoInit(win) {
    const doc = win.document;
    const start = () => {
      const element = doc.querySelector('[data-live-notify-inbox]');
      const configElement = doc.getElementById(CONFIG_ID);
      if (!element || !configElement || win.notificationInbox) return;
      let config;
      try {
        config = JSON.parse(configElement.textContent);
      } catch (err) {
        return;
      }
      win.notificationInbox = new NotificationInbox(element, config, win);
    };
    if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', start, {once: true});
    else start();
  }

  return {NotificationInbox, autoInit, relativeTime, snoozeChoices, localInputToIso, toLocalInput, belongsTo, upsert, applyFrame, typeLabel, safeHref, interpolate};
}));
