// Photos the field app takes (DESIGN decision 12): scaled down here (at most 1600 px on the
// long side, at most 300 KB), kept in their own IndexedDB database until the server holds
// them, and uploaded over HTTP by their SHA-256 (the wasm app names them; the server checks
// the name). The queue resumes at the first photo the server does not hold: on start, when
// the network comes back, and after each new photo. Uploads use the session cookie.
'use strict';
(function () {
  const DB = 'gridvisit-photos';
  const STORE = 'photos';
  const MAX_SIDE = 1600;
  const MAX_BYTES = 300 * 1024;

  function open() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'hash' });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  function tx(mode, f) {
    return open().then((db) => new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const out = f(t.objectStore(STORE));
      t.oncomplete = () => { db.close(); resolve(out instanceof IDBRequest ? out.result : out); };
      t.onerror = () => { db.close(); reject(t.error); };
    }));
  }

  function readAsDataUrl(blob) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(r.result);
      r.onerror = () => reject(r.error);
      r.readAsDataURL(blob);
    });
  }

  // A picked or taken photo, scaled: its JPEG bytes.
  async function scale(file) {
    const url = await readAsDataUrl(file);
    const img = await new Promise((resolve, reject) => {
      const i = new Image();
      i.onload = () => resolve(i);
      i.onerror = () => reject(new Error('not an image'));
      i.src = url;
    });
    const k = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
    const c = document.createElement('canvas');
    c.width = Math.max(1, Math.round(img.width * k));
    c.height = Math.max(1, Math.round(img.height * k));
    c.getContext('2d').drawImage(img, 0, 0, c.width, c.height);
    let q = 0.85;
    let blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', q));
    while (blob.size > MAX_BYTES && q > 0.3) {
      q -= 0.1;
      blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', q));
    }
    return new Uint8Array(await blob.arrayBuffer());
  }

  let running = null;
  async function uploadAll() {
    const all = await tx('readonly', (s) => s.getAll());
    let left = 0;
    for (const p of all.filter((p) => !p.uploaded)) {
      let ok = false;
      try {
        const head = await fetch(`/api/photos/${p.hash}`, { method: 'HEAD', credentials: 'same-origin' });
        if (head.status === 200) ok = true;
        else if (head.status === 404) {
          const put = await fetch(`/api/photos/${p.hash}?grid=${encodeURIComponent(p.grid)}`, {
            method: 'PUT', body: p.bytes, credentials: 'same-origin',
            headers: { 'content-type': 'image/jpeg' },
          });
          ok = put.status === 201;
          if (!ok && put.status >= 400 && put.status < 500 && put.status !== 401 && put.status !== 429) {
            // Refused for good (a quota, a grid no longer ours): say so, keep the photo here.
            console.warn(`photo ${p.hash} refused: ${put.status} ${await put.text()}`);
          }
        }
      } catch (_) {
        return left + 1; // Offline: the rest waits for the network.
      }
      if (ok) {
        p.uploaded = true;
        await tx('readwrite', (s) => s.put(p));
      } else {
        left += 1;
      }
    }
    return left;
  }

  // Uploads what waits; one run at a time (a second call joins the first, then runs again).
  function upload() {
    const run = () => uploadAll().then((left) => {
      // Screens and tests hear how many still wait.
      window.dispatchEvent(new CustomEvent('gv-photos', { detail: { left } }));
      return left;
    });
    const next = (running || Promise.resolve()).then(run, run);
    running = next.finally(() => { if (running === next) running = null; });
    return next;
  }

  window.gvPhotos = {
    scale,
    // Keeps a photo until the server holds it; starts uploading.
    keep(hash, grid, bytes) {
      return tx('readwrite', (s) => s.put({ hash, grid, bytes, uploaded: false, at: Date.now() }))
        .then(() => { upload(); });
    },
    // Photos not yet uploaded.
    pending() {
      return tx('readonly', (s) => s.getAll()).then((all) => all.filter((p) => !p.uploaded).length);
    },
    upload,
    // A photo kept here, as a data URL (the app's CSP allows no blob: images), or null.
    local(hash) {
      return tx('readonly', (s) => s.get(hash)).then((p) =>
        p ? readAsDataUrl(new Blob([p.bytes], { type: 'image/jpeg' })) : null);
    },
  };
  window.addEventListener('online', () => { upload(); });
  upload();
})();
