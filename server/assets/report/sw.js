// The report page's service worker: the page and its script stay available in a dead zone,
// so a resident who opened it once can still write a report; reports themselves wait in
// local storage until the network is back (report.js).
const CACHE = 'gv-report-v1';
const SHELL = ['/report/assets/report.js', '/report/assets/report.css'];
self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  // The form pages: network first, the last copy offline. Status pages are never cached.
  const page = url.pathname.startsWith('/report') && !url.pathname.startsWith('/report/status');
  if (!page) return;
  e.respondWith(fetch(e.request).then((res) => {
    if (res.ok) {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
    }
    return res;
  }).catch(() => caches.match(e.request).then((hit) => hit || Response.error())));
});
