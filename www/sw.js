// MiniMost's service worker. It exists so the app can be installed, and so the app's own
// files (styles, scripts, icons) still load on a flaky connection. It caches those files only,
// always asking the network first so an upgraded server is seen at once. Everything else —
// /api/*, /files/*, /avatars/*, the pages — goes straight to the network and is never cached:
// a chat must not show stale messages or serve a file after it was deleted.

const CACHE = 'minimost-static-v1';
const STATIC_PATH = /^\/(css|js|icons|img)\/[^/]+$/;

self.addEventListener('install', () => {
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !STATIC_PATH.test(url.pathname)) return;
  event.respondWith(networkFirst(request));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic') await cache.put(request, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    throw err;
  }
}

// A click on a notification shown through the worker (phones) opens the message in the app.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const app = windows.find((client) => new URL(client.url).pathname === '/');
    if (app) {
      await app.focus();
      app.postMessage({ type: 'open-message', channel: data.channel, id: data.id });
    } else if (typeof data.channel === 'string') {
      await self.clients.openWindow(`/#c/${encodeURIComponent(data.channel)}`);
    }
  })());
});
