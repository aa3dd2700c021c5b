/*!
 * django-live-notify counted phrases: the one reader of the plural forms the template tags render.
 *
 * {% live_notifications %} and {% live_notify_inbox %} each load it before their own script, so live-notify.js
 * and live-notify-inbox.js find window.LiveNotifyPlural whichever of them a page holds, in either order.
 * Loaded twice, it keeps the first copy. Under node, require() returns it and touches no global.
 */
(function (root, factory) {
  'use strict';
  const api = factory();
  if (typeof module === 'object' && module && module.exports) {
    module.exports = api;
  } else if (root && !root.LiveNotifyPlural) {
    root.LiveNotifyPlural = api;
  }
}(typeof window !== 'undefined' ? window : globalThis, function () {
  'use strict';

  /**
   * Return the text of `count` from `plural`, the forms of a counted message as the template tags render them:
   * {forms: ["%(counter)s unread", ...], index: "0111..."}, one digit per count from 0 to 199 naming its form
   * (a count of 200 or more takes the form of 100 + count % 100). Return null for anything else.
   */
  function pluralText(plural, count) {
    const forms = plural && Array.isArray(plural.forms) ? plural.forms : null;
    const index = plural && typeof plural.index === 'string' ? plural.index : '';
    if (!forms || !index) return null;
    const half = Math.floor(index.length / 2);
    const form = forms[Number(index.charAt(count < index.length ? count : half + (count % half)))];
    return typeof form === 'string' ? form.replace(/%\(counter\)s/g, String(count)) : null;
  }

  /** Return an element's data-live-notify-plural (JSON forms), or null when it has none or not JSON. */
  function readPlural(element) {
    const text = element && element.getAttribute('data-live-notify-plural');
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (err) {
      return null;
    }
  }

  return Object.freeze({pluralText, readPlural});
}));
