// Starts the app. Kept out of index.html so the Content-Security-Policy needs no inline script.
//
// An app cached on a phone for days may be older than the server: before it starts (and so
// before it syncs anything, records of kinds it does not know included), it asks the server
// which app is current (`version.json`, never cached) and, when that is not the one it runs,
// installs the new service worker and reloads into it. Waiting changes are in IndexedDB, and
// the old app never started, so nothing is lost. Offline, or when the server does not answer
// within seconds, the cached app starts as it is.
const PREFIX = 'gridvisit-shell-';

async function current() {
  if (!('serviceWorker' in navigator) || !('caches' in self) || !navigator.onLine) return;
  const mine = (await caches.keys()).find((k) => k.startsWith(PREFIX));
  if (!mine) return; // first start: this is the server's app
  let latest;
  try {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 4000);
    const r = await fetch('./version.json', { cache: 'no-store', signal: ctl.signal });
    clearTimeout(timer);
    if (!r.ok) return;
    latest = (await r.json()).app;
  } catch {
    return;
  }
  if (!latest || mine === PREFIX + latest) return;
  // Once per version a session: a server whose files disagree cannot loop the phone.
  const tried = 'gridvisit-update-' + latest;
  if (sessionStorage.getItem(tried)) return;
  sessionStorage.setItem(tried, '1');
  const reg = await navigator.serviceWorker.getRegistration();
  if (!reg) return;
  const changed = new Promise((resolve) => {
    navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true });
    setTimeout(resolve, 15000);
  });
  await reg.update().catch(() => {});
  await changed;
  location.reload();
  await new Promise(() => {}); // the old app never starts
}

await current().catch((e) => console.warn('update check:', e));
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js').catch((e) => console.warn('service worker:', e));
}
// Two modules: `gridvisit` (every role's field screens) and `gridvisit-desk` (all screens, the
// supervisors' and the admin's too). The app records which one its signed-in role needs
// (`web::switch_module`); a desk device that cannot load its module (offline before it ever
// cached it) starts the field module, which says so.
async function start(base) {
  const { default: init } = await import(base + '.js');
  await init({ module_or_path: base + '_bg.wasm' });
}
const desk = localStorage.getItem('gridvisit-module') === 'desk';
try {
  await start(desk ? './gridvisit-desk' : './gridvisit').catch((e) => {
    if (!desk) throw e;
    console.warn('desk module:', e);
    sessionStorage.setItem('gridvisit-desk-failed', '1');
    return start('./gridvisit');
  });
  if (desk && !sessionStorage.getItem('gridvisit-desk-failed')) {
    // Kept for offline starts, on this device only.
    navigator.serviceWorker?.ready.then((reg) => reg.active?.postMessage('keep-desk'));
  }
} catch (e) {
  const app = document.getElementById('app');
  app.textContent = '应用加载失败 · The app failed to load: ' + e;
}
