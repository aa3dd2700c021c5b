'use strict';

// The scripts' words: the strings option, and counted messages in the forms the template tags render.

const assert = require('node:assert/strict');
const {test} = require('node:test');

const fs = require('node:fs');
const path = require('node:path');

const {connectOpen, notification, setup} = require('./fakes.js');
const client = require('../../django_live_notify/static/django_live_notify/live-notify.js');
const inbox = require('../../django_live_notify/static/django_live_notify/live-notify-inbox.js');
const plural = require('../../django_live_notify/static/django_live_notify/live-notify-plural.js');

const STATIC = path.join(__dirname, '../../django_live_notify/static/django_live_notify');

/** Build what plural_forms() renders for a gettext plural rule: the distinct forms and one digit per count 0-199. */
function pluralOf(rule, forms) {
  let index = '';
  for (let count = 0; count < 200; count += 1) index += String(rule(count));
  return {forms, index};
}

// Portuguese (Brazil): "(n > 1)"; Polish: three forms picked by n % 10 and n % 100.
const PORTUGUESE = pluralOf((n) => (n > 1 ? 1 : 0), ['%(counter)s não lida', '%(counter)s não lidas']);
const polishRule = (n) => {
  if (n === 1) return 0;
  return n % 10 >= 2 && n % 10 <= 4 && (n % 100 < 10 || n % 100 >= 20) ? 1 : 2;
};
const POLISH = pluralOf(polishRule, ['%(counter)s nieprzeczytane', '%(counter)s nieprzeczytane~', '%(counter)s nieprzeczytanych']);

test("a count takes the form its language's plural rule gives it", () => {
  assert.equal(plural.pluralText(PORTUGUESE, 0), '0 não lida');
  assert.equal(plural.pluralText(PORTUGUESE, 1), '1 não lida');
  assert.equal(plural.pluralText(PORTUGUESE, 2), '2 não lidas');
  assert.equal(plural.pluralText(PORTUGUESE, 12345), '12345 não lidas');
  // Past the 200 counts of the table the rule still holds, since it looks at n % 10 and n % 100 only.
  for (const count of [1, 2, 4, 5, 12, 22, 25, 112, 122, 199, 200, 202, 212, 222, 1001, 1022, 1025, 98765]) {
    assert.equal(plural.pluralText(POLISH, count), POLISH.forms[polishRule(count)].replace('%(counter)s', String(count)));
  }
});

test('without forms there is no counted phrase', () => {
  assert.equal(plural.pluralText(null, 3), null);
  assert.equal(plural.pluralText({forms: 'x', index: '0'}, 3), null);
  assert.equal(plural.pluralText({forms: ['%(counter)s'], index: ''}, 3), null);
});

test("an element's data-live-notify-plural is read as JSON, and anything else as none", (t) => {
  const env = setup(t);
  const badge = env.doc.createElement('span');
  assert.equal(plural.readPlural(badge), null);
  badge.setAttribute('data-live-notify-plural', JSON.stringify(PORTUGUESE));
  assert.deepEqual(plural.readPlural(badge), PORTUGUESE);
  badge.setAttribute('data-live-notify-plural', '{not json');
  assert.equal(plural.readPlural(badge), null);
});

test('the counted-phrase logic is written once, in live-notify-plural.js', () => {
  for (const name of ['live-notify.js', 'live-notify-inbox.js']) {
    const source = fs.readFileSync(path.join(STATIC, name), 'utf8');
    assert.doesNotMatch(source, /%\\\(counter\\\)s/, `${name} fills %(counter)s itself`);
    assert.doesNotMatch(source, /JSON\.parse\([^)]*plural/i, `${name} parses plural forms itself`);
  }
});

test('a badge with data-live-notify-plural shows the count in its words, others the number', (t) => {
  const env = setup(t);
  const plain = env.doc.createElement('span');
  plain.setAttribute('data-live-notify-badge', '');
  const worded = env.doc.createElement('span');
  worded.setAttribute('data-live-notify-badge', '');
  worded.setAttribute('data-live-notify-plural', JSON.stringify(PORTUGUESE));
  env.doc.body.appendChild(plain);
  env.doc.body.appendChild(worded);
  const socket = connectOpen(env);
  socket.receive({type: 'unread_count', count: 1});
  assert.deepEqual([plain.textContent, worded.textContent], ['1', '1 não lida']);
  socket.receive({type: 'unread_count', count: 7});
  assert.deepEqual([plain.textContent, worded.textContent], ['7', '7 não lidas']);
  assert.equal(worded.getAttribute('data-count'), '7');
  socket.receive({type: 'unread_count', count: 0});
  assert.equal(worded.hasAttribute('hidden'), true);
});

test('the dismiss button takes its label from the strings option', (t) => {
  const env = setup(t, {toasts: true, strings: {dismiss: 'Dispensar'}});
  const toast = env.client.showToast(notification(1));
  assert.equal(toast.findByClass('live-notify-toast__dismiss').getAttribute('aria-label'), 'Dispensar');
});

test('a client made without strings says its words in English', (t) => {
  const env = setup(t, {toasts: true});
  assert.equal(env.client.showToast(notification(1)).findByClass('live-notify-toast__dismiss').getAttribute('aria-label'), 'Dismiss');
  assert.deepEqual(env.client.options.strings, client.STRINGS);
});

test('strings given in part leave the others in English', (t) => {
  const env = setup(t, {toasts: true, strings: {somethingElse: 'x'}});
  assert.equal(env.client.options.strings.dismiss, 'Dismiss');
  assert.equal(env.client.showToast(notification(1)).findByClass('live-notify-toast__dismiss').getAttribute('aria-label'), 'Dismiss');
});

test('the config hands its strings to the client', () => {
  const options = client.optionsFromConfig({strings: {dismiss: 'Dispensar'}});
  assert.deepEqual(options.strings, {dismiss: 'Dispensar'});
});

test('the inbox fills named placeholders once, so a title holding one stays as it is', () => {
  assert.equal(inbox.interpolate('%(action)s: %(title)s', {action: 'Arquivar', title: 'Fatura %(action)s'}), 'Arquivar: Fatura %(action)s');
  assert.equal(inbox.interpolate('Adiada até %(time)s', {time: '6 de dez.'}), 'Adiada até 6 de dez.');
  assert.equal(inbox.interpolate('%(missing)s!', {}), '%(missing)s!');
});
