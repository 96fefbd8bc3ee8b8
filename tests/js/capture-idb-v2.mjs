// Captures the IndexedDB a release of the app wrote into fixtures/idb-v2.json, for the upgrade
// scenario of browser.mjs. fixtures/idb-v2.json was captured from the release before schema 3
// (commit 3a79cab), run as `node capture-idb-v2.mjs http://127.0.0.1:PORT` against that
// release's server (`cargo xtask start` at that commit): the worker of s01/c01/g01 synced the
// demo grid, then recorded one visit offline, so one change waits in the saved database.
import { chromium } from 'playwright-core';
import { mkdtemp, writeFile } from 'node:fs/promises';
const base = process.argv[2];
const dir = await mkdtemp('/tmp/gvc-');
const ctx = await chromium.launchPersistentContext(dir, { executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox','--disable-gpu','--disable-background-networking'] });
const page = ctx.pages()[0] ?? await ctx.newPage();
await page.goto(base);
await page.waitForSelector('[data-testid=signin]');
await page.fill('input[name=username]', 'w-s01-c01-g01');
await page.fill('input[name=password]', 'gridvisit-demo');
await page.click('[data-testid=signin] button[type=submit]');
await page.waitForSelector('[data-testid=sync-status][data-state=online]');
await page.waitForSelector('[data-testid=pending][data-count="0"]');
await page.waitForSelector('[data-testid=households][data-ready=true]');
// One visit recorded offline: it waits to sync in the saved database.
await ctx.setOffline(true);
await page.waitForSelector('[data-testid=sync-status][data-state=offline]');
const id = await page.$eval('[data-testid=household-row][data-due=due]', (r) => r.dataset.id);
await page.click(`[data-testid=household-row][data-id="${id}"] button`);
await page.click('[data-testid=record-visit]');
await page.check('input[name=outcome][value=met]');
await page.click('[data-testid=save-visit]');
await page.waitForSelector('[data-testid=pending][data-count="1"]');
const dump = await page.evaluate(() => new Promise((resolve, reject) => {
  const open = indexedDB.open('gridvisit');
  open.onerror = () => reject(open.error);
  open.onsuccess = async () => {
    const db = open.result;
    const b64 = (u8) => btoa(String.fromCharCode(...u8));
    const out = { version: db.version, stores: {} };
    for (const name of db.objectStoreNames) {
      const store = db.transaction(name).objectStore(name);
      out.stores[name] = { keyPath: store.keyPath, rows: [] };
      await new Promise((done) => {
        const req = store.openCursor();
        req.onsuccess = () => {
          const c = req.result;
          if (!c) return done();
          let v = c.value;
          if (v && v.bytes instanceof Uint8Array) v = { ...v, bytes: { $b64: b64(v.bytes) } };
          out.stores[name].rows.push({ key: store.keyPath ? undefined : c.key, value: v });
          c.continue();
        };
      });
    }
    resolve(out);
  };
}));
await writeFile(new URL('./fixtures/idb-v2.json', import.meta.url), JSON.stringify(dump, null, 1));
console.log(dump.version, Object.fromEntries(Object.entries(dump.stores).map(([k, v]) => [k, v.rows.length])), id);
await ctx.close();
