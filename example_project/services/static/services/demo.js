/*
 * Demo only: when a live notification of a given type arrives, refetch this
 * page and swap in the fresh copy of every element marked
 * data-refresh-on="<type> ...", so lists update without a reload.
 * It listens to the "live-notify:notification" and "live-notify:action" events
 * of the bundled client.
 */
(function () {
  'use strict';
  let pending = null;

  function refresh(type) {
    const stale = Array.from(document.querySelectorAll('[data-refresh-on][id]')).filter(
      (element) => element.dataset.refreshOn.split(/\s+/).includes(type),
    );
    if (!stale.length || pending) return;
    pending = fetch(window.location.href, {credentials: 'same-origin', headers: {Accept: 'text/html'}})
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        const fresh = new DOMParser().parseFromString(html, 'text/html');
        stale.forEach((element) => {
          const replacement = fresh.getElementById(element.id);
          if (replacement) element.replaceWith(document.importNode(replacement, true));
        });
      })
      .catch(() => {})
      .finally(() => { pending = null; });
  }

  function refreshFor(event) {
    const notification = event.detail && event.detail.notification;
    if (notification && notification.notification_type) refresh(notification.notification_type);
  }

  document.addEventListener('live-notify:notification', refreshFor);
  // "Accept" in a toast changed the request: show its new status.
  document.addEventListener('live-notify:action', (event) => {
    if (event.detail && event.detail.ok) refreshFor(event);
  });
}());
