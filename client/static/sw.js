// The app shell, cache first: the app opens with no network at all. `cargo xtask app` fills in
// the version (a hash of every cached file) and the file list, so each build gets its own cache
// and the old one is deleted once the new worker takes over. Data never goes through this
// cache: records live in IndexedDB and sync over the WebSocket.
const CACHE = 'gridvisit-shell-__VERSION__';
const SHELL = __FILES__;
// The app's two modules: every device precaches the field module; the desk module (the
// supervisors' and the admin's screens) only a device that ran it, so a worker's phone never
// downloads it. A desk device's first start asks for it (`keep-desk`, from boot.js).
const FIELD = __FIELD__;
const DESK = __DESK__;

async function ranDesk() {
  for (const k of await caches.keys()) {
    if (k.startsWith('gridvisit-shell-') && k !== CACHE
        && await (await caches.open(k)).match(DESK[DESK.length - 1])) return true;
  }
  return false;
}

// Caches the desk module, once this worker's version is still the server's (so the module
// matches the shell cached with it).
async function keepDesk() {
  const cache = await caches.open(CACHE);
  if (await cache.match(DESK[DESK.length - 1])) return;
  const r = await fetch('./version.json', { cache: 'no-store' });
  if (!r.ok || (await r.json()).app !== CACHE.slice('gridvisit-shell-'.length)) return;
  await cache.addAll(DESK);
}

self.addEventListener('message', (event) => {
  if (event.data === 'keep-desk') event.waitUntil(keepDesk().catch((e) => console.warn('desk cache:', e)));
});

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const files = SHELL.concat(FIELD, (await ranDesk()) ? DESK : []);
    await (await caches.open(CACHE)).addAll(files);
    await self.skipWaiting();
  })());
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
