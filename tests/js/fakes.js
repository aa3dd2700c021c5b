'use strict';

// Test scaffolding: a scriptable WebSocket and the few DOM pieces the client touches.

const {mock} = require('node:test');

const {NotificationWebSocket} = require('../../django_live_notify/static/django_live_notify/live-notify.js');

/** Return a fresh FakeWebSocket class whose `instances` lists every socket it opened. */
function makeFakeWebSocket() {
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = FakeWebSocket.CONNECTING;
      this.sent = [];
      this.closedWith = null;
      this.onopen = null;
      this.onmessage = null;
      this.onclose = null;
      this.onerror = null;
      FakeWebSocket.instances.push(this);
    }

    send(data) {
      if (this.readyState !== FakeWebSocket.OPEN) throw new Error('InvalidStateError');
      this.sent.push(JSON.parse(data));
    }

    close(code, reason) {
      this.closedWith = {code, reason};
      this.readyState = FakeWebSocket.CLOSING;
    }

    // Server side of the fake.

    open() {
      this.readyState = FakeWebSocket.OPEN;
      if (this.onopen) this.onopen({type: 'open'});
    }

    receive(frame) {
      if (this.onmessage) this.onmessage({type: 'message', data: typeof frame === 'string' ? frame : JSON.stringify(frame)});
    }

    serverClose(code, reason = '') {
      this.readyState = FakeWebSocket.CLOSED;
      if (this.onclose) this.onclose({type: 'close', code, reason, wasClean: code !== 1006});
    }

    fail() {
      if (this.onerror) this.onerror({type: 'error'});
      this.serverClose(1006);
    }

    sentTypes() {
      return this.sent.map((frame) => frame.type);
    }
  }
  FakeWebSocket.CONNECTING = 0;
  FakeWebSocket.OPEN = 1;
  FakeWebSocket.CLOSING = 2;
  FakeWebSocket.CLOSED = 3;
  FakeWebSocket.instances = [];
  return FakeWebSocket;
}

class FakeClassList {
  constructor(element) {
    this.element = element;
  }

  _names() {
    return (this.element.getAttribute('class') || '').split(/\s+/).filter(Boolean);
  }

  contains(name) {
    return this._names().includes(name);
  }

  add(name) {
    if (!this.contains(name)) this.element.setAttribute('class', this._names().concat(name).join(' '));
  }

  remove(name) {
    this.element.setAttribute('class', this._names().filter((each) => each !== name).join(' '));
  }
}

/** Return a test of one simple selector, as far as the fake DOM knows them: [name], [name="value"] or .class. */
function matcher(selector) {
  const attribute = /^\[([\w-]+)(?:="([^"]*)")?\]$/.exec(selector);
  if (attribute) {
    const [, name, value] = attribute;
    return (element) => element.hasAttribute(name) && (value === undefined || element.getAttribute(name) === value);
  }
  const className = /^\.([\w-]+)$/.exec(selector);
  if (className) return (element) => element.classList.contains(className[1]);
  throw new Error(`the fake DOM only supports [attribute], [attribute="value"] and .class selectors, not ${selector}`);
}

class FakeElement extends EventTarget {
  constructor(tagName, ownerDocument) {
    super();
    this.tagName = tagName.toUpperCase();
    this.ownerDocument = ownerDocument;
    this.attributes = new Map();
    this.children = [];
    this.parentNode = null;
    this._text = '';
    this.classList = new FakeClassList(this);
  }

  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }

  getAttribute(name) {
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }

  hasAttribute(name) {
    return this.attributes.has(name);
  }

  removeAttribute(name) {
    this.attributes.delete(name);
  }

  get textContent() {
    return this._text + this.children.map((child) => child.textContent).join('');
  }

  set textContent(value) {
    this.children.forEach((child) => {
      child.parentNode = null;
    });
    this.children = [];
    this._text = String(value);
  }

  get innerHTML() {
    throw new Error('the client must not read innerHTML');
  }

  set innerHTML(value) {
    throw new Error('the client must not write innerHTML');
  }

  appendChild(child) {
    if (child.parentNode) child.remove();
    child.parentNode = this;
    this.children.push(child);
    return child;
  }

  remove() {
    if (!this.parentNode) return;
    this.parentNode.children = this.parentNode.children.filter((child) => child !== this);
    this.parentNode = null;
  }

  *descendants() {
    for (const child of this.children) {
      yield child;
      yield* child.descendants();
    }
  }

  querySelectorAll(selector) {
    return [...this.descendants()].filter(matcher(selector));
  }

  querySelector(selector) {
    return this.querySelectorAll(selector)[0] || null;
  }

  /** Dispatch a DOM event of `type` with extra properties, as a user action would. */
  fire(type, properties = {}) {
    const event = new Event(type, {cancelable: true});
    Object.assign(event, properties);
    this.dispatchEvent(event);
    return event;
  }

  findAll(tagName) {
    return [...this.descendants()].filter((element) => element.tagName === tagName.toUpperCase());
  }

  findByClass(name) {
    return [...this.descendants()].find((element) => element.classList.contains(name)) || null;
  }
}

class FakeDocument extends EventTarget {
  constructor() {
    super();
    this.documentElement = new FakeElement('html', this);
    this.body = this.documentElement.appendChild(new FakeElement('body', this));
    this.hidden = false;
    this.readyState = 'complete';
    this.cookie = '';
    this.events = [];
  }

  get visibilityState() {
    return this.hidden ? 'hidden' : 'visible';
  }

  createElement(tagName) {
    return new FakeElement(tagName, this);
  }

  getElementById(id) {
    return [...this.documentElement.descendants()].find((element) => element.getAttribute('id') === id) || null;
  }

  querySelectorAll(selector) {
    return this.documentElement.querySelectorAll(selector);
  }

  querySelector(selector) {
    return this.documentElement.querySelector(selector);
  }

  dispatchEvent(event) {
    this.events.push(event);
    return super.dispatchEvent(event);
  }

  /** Return the details of the live-notify:<name> events dispatched so far. */
  eventDetails(name) {
    return this.events.filter((event) => event.type === `live-notify:${name}`).map((event) => event.detail);
  }

  setHidden(hidden) {
    this.hidden = hidden;
    this.dispatchEvent(new Event('visibilitychange'));
  }
}

class FakeWindow extends EventTarget {
  constructor({href = 'https://example.com/dashboard/', WebSocket = null} = {}) {
    super();
    this.document = new FakeDocument();
    this.WebSocket = WebSocket;
    this.CustomEvent = CustomEvent;
    const url = new URL(href);
    const assigned = [];
    this.location = {
      href: url.href,
      protocol: url.protocol,
      host: url.host,
      assigned,
      assign(target) {
        assigned.push(target);
      },
    };
  }
}

/**
 * Build a client wired to fakes, with fake timers and a silenced console.
 *
 * Returns {client, Socket, tick(ms), sockets(), socket(), win, doc, warnings()}.
 */
function setup(t, options = {}) {
  t.mock.timers.enable({apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000});
  const warn = t.mock.method(console, 'warn', () => {});
  const Socket = makeFakeWebSocket();
  const win = new FakeWindow({WebSocket: Socket});
  const doc = win.document;
  const client = new NotificationWebSocket(Object.assign({window: win, document: doc, fetch: null}, options));
  return {
    client,
    Socket,
    tick: (ms) => t.mock.timers.tick(ms),
    win,
    doc,
    sockets: () => Socket.instances,
    socket: () => Socket.instances[Socket.instances.length - 1],
    warnings: () => warn.mock.calls.map((call) => call.arguments.join(' ')),
  };
}

/** Connect the client and open its socket; return the socket. */
function connectOpen(env) {
  env.client.connect();
  const socket = env.socket();
  socket.open();
  return socket;
}

function notification(id, extra = {}) {
  return Object.assign({
    id,
    title: `Title ${id}`,
    message: `Message ${id}`,
    notification_type: 'system',
    created_at: '2026-11-26T10:30:00+00:00',
    is_read: false,
    url: null,
    data: {},
    sender: null,
    target: null,
  }, extra);
}

/** Let pending promise callbacks run (setImmediate is not faked). */
function flush() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Return a fake fetch answering each URL from `pages`, recording its calls. */
function fakeFetch(pages) {
  return mock.fn(async (url) => {
    if (!(url in pages)) return {ok: false, status: 404, json: async () => ({})};
    const page = pages[url];
    return {ok: page.ok !== false, status: page.status || 200, json: async () => page.body};
  });
}

module.exports = {
  FakeDocument,
  FakeElement,
  FakeWindow,
  connectOpen,
  fakeFetch,
  flush,
  makeFakeWebSocket,
  notification,
  setup,
};
