// The app shell, cache first: the app opens with no network at all. `cargo xtask app` fills in
// the version (a hash of every cached file) and the file list, so each build gets its own cache
// and the old one is deleted once the new worker takes over. Data never goes through this
// cache: records live in IndexedDB and sync over the WebSocket.
const CACHE = 'gridvisit-shell-__VERSION__';
const SHELL = __FILES__;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys
        .filter((k) => k.startsWith('gridvisit-shell-') && k !== CACHE)
        .map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  // The server's own pages (a resident's report and status pages, the QR sheets, Open311,
  // the local CA) are not the app: a browser that has the app still gets them.
  if (/^\/(api|sync|healthz|metrics|report|qr-sheet|open311|ca\.pem)(\/|$)/.test(url.pathname)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(req.mode === 'navigate' ? './' : req, { ignoreSearch: true });
    return hit || fetch(req);
  })());
});
