// End-to-end scenarios of the field app in Debian's headless Chromium, driven by playwright-core,
// against a real gridvisit server. Run by tests/tests/browser.rs:
//
//   node browser.mjs <scenario> <http://127.0.0.1:port> [server pid]
//
// Each scenario asserts with node:assert and exits non-zero on the first failure. Every wait is
// on an event or a DOM state with a timeout, never a fixed sleep.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [scenario, base, serverPid] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const PASSWORD = 'gridvisit-demo';
const WORKER = 'w-s01-c01-g01';
const VOLUNTEER = 'v-s01-c01-g01';
const T = 30_000;

const dirs = [];
const contexts = [];

/** A browser profile of its own (its own IndexedDB, service worker and cookies): one phone. */
async function phone() {
  const dir = await mkdtemp(join(tmpdir(), 'gv-chromium-'));
  dirs.push(dir);
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 390, height: 844 },
    locale: 'zh-CN',
  });
  contexts.push(context);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`[console] ${m.text()}`);
  });
  return { context, page };
}

async function signIn(page, user, timeout = T) {
  await page.goto(base);
  await page.waitForSelector('[data-testid=signin]', { timeout: T });
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('[data-testid=signin] button[type=submit]');
  await waitSynced(page, timeout);
  // The service worker controls the page once it has cached the shell.
  await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: T });
}

async function waitState(page, state, timeout = T) {
  await page.waitForSelector(`[data-testid=sync-status][data-state=${state}]`, { timeout });
}

async function pending(page) {
  return Number(await page.getAttribute('[data-testid=pending]', 'data-count'));
}

/** Online, caught up with the server, nothing waiting. */
async function waitSynced(page, timeout = T) {
  await waitState(page, 'online', timeout);
  await page.waitForSelector('[data-testid=pending][data-count="0"]', { timeout });
}

async function goOffline(context, page) {
  await context.setOffline(true);
  await waitState(page, 'offline');
}

async function goOnline(context, page) {
  await context.setOffline(false);
  await waitSynced(page);
}

async function householdIds(page, due) {
  await page.click('.tabs button:nth-child(1)');
  const sel = due ? `[data-testid=household-row][data-due=${due}]` : '[data-testid=household-row]';
  await page.waitForSelector(sel, { timeout: T });
  return page.$$eval(sel, (rows) => rows.map((r) => r.dataset.id));
}

async function openHousehold(page, id) {
  await page.click('.tabs button:nth-child(1)');
  await page.click(`[data-testid=household-row][data-id="${id}"] button`);
  await page.waitForSelector(`[data-testid=household][data-id="${id}"]`, { timeout: T });
}

async function visitIds(page) {
  return page.$$eval('[data-testid=visit-row]', (rows) => rows.map((r) => r.dataset.id));
}

/** Records a visit through the form; returns the new visit's ID. */
async function recordVisit(page, household, { outcome, item }) {
  await openHousehold(page, household);
  const before = await visitIds(page);
  await page.click('[data-testid=record-visit]');
  await page.waitForSelector('[data-testid=visit-form]', { timeout: T });
  await page.check(`input[name=outcome][value=${outcome}]`);
  if (item) {
    await page.click('[data-testid=add-item]');
    await page.selectOption('[data-testid=item] select[name=area]', item.area);
    await page.fill('[data-testid=item] textarea[name=description]', item.description);
    if (!item.solved) await page.uncheck('[data-testid=item] input[name=solved]');
  }
  await page.click('[data-testid=save-visit]');
  await page.waitForSelector(`[data-testid=household][data-id="${household}"]`, { timeout: T });
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid=visit-row]').length > n,
    before.length,
    { timeout: T },
  );
  const after = await visitIds(page);
  const added = after.filter((id) => !before.includes(id));
  assert.equal(added.length, 1, 'exactly one new visit shows');
  return added[0];
}

async function api(path, user) {
  const login = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user, password: PASSWORD }),
  });
  assert.equal(login.status, 200, 'API login');
  const { token } = await login.json();
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

const scenarios = {
  /** Sign in; go offline; record three visits; reload offline and see them; go online and
   *  see the server hold them. */
  async 'offline-visits'() {
    const { context, page } = await phone();
    await signIn(page, WORKER);
    const due = await householdIds(page, 'due');
    assert.ok(due.length >= 3, `at least three households due (got ${due.length})`);

    await goOffline(context, page);
    const visits = [];
    visits.push(await recordVisit(page, due[0], { outcome: 'met' }));
    visits.push(await recordVisit(page, due[1], { outcome: 'not_home' }));
    visits.push(await recordVisit(page, due[2], {
      outcome: 'met',
      item: { area: 'infrastructure', description: '楼道灯坏了 corridor light broken', solved: false },
    }));
    // Three visits and the issue the unsolved item became wait for the network.
    assert.equal(await pending(page), 4, 'four changes wait to sync');
    await waitState(page, 'offline');

    await page.reload();
    await page.waitForSelector('[data-testid=households][data-ready=true]', { timeout: T });
    await waitState(page, 'offline');
    assert.equal(await pending(page), 4, 'still four waiting after the reload');
    for (const [i, h] of due.slice(0, 3).entries()) {
      await openHousehold(page, h);
      assert.ok((await visitIds(page)).includes(visits[i]), `visit ${i + 1} survived the reload`);
    }
    const rowOf = async (h) => page.getAttribute(`[data-testid=household-row][data-id="${h}"]`, 'data-due');
    await page.click('.tabs button:nth-child(1)');
    assert.equal(await rowOf(due[0]), 'visited');
    assert.equal(await rowOf(due[1]), 'not-home');

    await goOnline(context, page);
    for (const id of visits) {
      const { status, body } = await api(`/api/records/${id}`, WORKER);
      assert.equal(status, 200, `the server holds visit ${id}`);
      assert.equal(body.kind, 'visit');
      assert.equal(body.record.type, 'visit');
      assert.equal(body.record.household, due[visits.indexOf(id)]);
    }
    const third = await api(`/api/records/${visits[2]}`, WORKER);
    const issue = third.body.record.items[0].issue;
    assert.ok(issue, 'the unsolved item links its issue');
    const held = await api(`/api/records/${issue}`, WORKER);
    assert.equal(held.status, 200, 'the server holds the issue');
    console.log(JSON.stringify({ visits, issue }));
  },

  /** Two phones edit the same household offline; after reconnecting both show both edits. */
  async 'concurrent-household'() {
    const a = await phone();
    const b = await phone();
    await signIn(a.page, WORKER);
    await signIn(b.page, VOLUNTEER);
    const [household] = await householdIds(a.page);
    await goOffline(a.context, a.page);
    await goOffline(b.context, b.page);

    // A appends to the notes; B changes the member count and adds a tag.
    await openHousehold(a.page, household);
    await a.page.click('[data-testid=edit-household]');
    await a.page.waitForSelector('[data-testid=household-form]', { timeout: T });
    const notes = await a.page.inputValue('textarea[name=notes]');
    await a.page.fill('textarea[name=notes]', `${notes}A：楼道堆放杂物`);
    await a.page.click('[data-testid=save-household]');
    await a.page.waitForSelector('[data-testid=household]', { timeout: T });

    await openHousehold(b.page, household);
    await b.page.click('[data-testid=edit-household]');
    await b.page.waitForSelector('[data-testid=household-form]', { timeout: T });
    await b.page.fill('input[name=members]', '7');
    await b.page.check('input[name=veteran]');
    await b.page.click('[data-testid=save-household]');
    await b.page.waitForSelector('[data-testid=household]', { timeout: T });

    assert.equal(await pending(a.page), 1);
    assert.equal(await pending(b.page), 1);
    await goOnline(a.context, a.page);
    await goOnline(b.context, b.page);

    for (const [name, page] of [['A', a.page], ['B', b.page]]) {
      await openHousehold(page, household);
      await page.waitForFunction(() => {
        const text = (id) => document.querySelector(`[data-testid=${id}]`)?.textContent ?? '';
        return text('notes').includes('A：楼道堆放杂物') && text('members').startsWith('7')
          && /退役军人|Veteran/.test(text('tags'));
      }, null, { timeout: T }).catch(async (e) => {
        const shown = await page.textContent('[data-testid=household]');
        throw new Error(`phone ${name} does not show both edits: ${shown}\n${e}`);
      });
    }
    const { body } = await api(`/api/records/${household}`, WORKER);
    assert.equal(body.record.members.value, 7);
    assert.ok(body.record.notes.includes('A：楼道堆放杂物'));
    assert.ok(body.record.tags.includes('veteran'));
    console.log(JSON.stringify({ household }));
  },

  /** Once loaded, the app opens with the server gone: the shell from the service worker's
   *  cache, the records from IndexedDB. */
  async 'shell-offline'() {
    assert.ok(serverPid, 'the server pid is passed');
    const { page } = await phone();
    await signIn(page, WORKER);
    const count = Number(await page.getAttribute('[data-testid=households]', 'data-count'));
    assert.ok(count > 0);
    process.kill(Number(serverPid), 'SIGKILL');
    await waitState(page, 'offline');
    await page.goto(base);
    await page.waitForSelector(`[data-testid=households][data-ready=true][data-count="${count}"]`, { timeout: T });
    await waitState(page, 'offline');
    // Fully closed and reopened: a new tab in the same profile.
    const again = await page.context().newPage();
    await page.close();
    await again.goto(base);
    await again.waitForSelector(`[data-testid=households][data-count="${count}"]`, { timeout: T });
    console.log(JSON.stringify({ households: count }));
  },

  /** A revoked login asks for sign-in again; the visit recorded meanwhile is kept and syncs
   *  after signing in. */
  async 'expired-login'() {
    const { context, page } = await phone();
    await signIn(page, WORKER);
    const [household] = await householdIds(page, 'due');
    await goOffline(context, page);
    const visit = await recordVisit(page, household, { outcome: 'met' });
    // The token is revoked while the phone is offline (the cookie carries the same token).
    const out = await context.request.post(`${base}/api/logout`);
    assert.ok(out.ok(), `logout answered ${out.status()}`);
    await context.setOffline(false);
    await waitState(page, 'signin');
    await page.waitForSelector('[data-testid=signin]', { timeout: T });
    assert.equal(await pending(page), 1, 'the visit still waits');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('[data-testid=signin] button[type=submit]');
    await waitSynced(page);
    const { status } = await api(`/api/records/${visit}`, WORKER);
    assert.equal(status, 200, 'the visit reached the server after signing in again');
    console.log(JSON.stringify({ visit }));
  },

  /** Benchmark (tests/src/bin/app-bench.rs): sync a big grid, then time cached cold starts. */
  async coldstart() {
    const user = process.env.GV_USER || WORKER;
    const dir = await mkdtemp(join(tmpdir(), 'gv-chromium-'));
    dirs.push(dir);
    const open = () => chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 390, height: 844 },
    });
    let context = await open();
    let page = context.pages()[0] ?? (await context.newPage());
    const t0 = Date.now();
    await signIn(page, user, 600_000);
    await page.waitForFunction(() => {
      const s = document.querySelector('[data-testid=households]');
      return s && Number(s.dataset.count) > 0;
    }, null, { timeout: 300_000 });
    const households = Number(await page.getAttribute('[data-testid=households]', 'data-count'));
    const records = await page.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('gridvisit');
      open.onsuccess = () => {
        const req = open.result.transaction('docs').objectStore('docs').count();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      };
      open.onerror = () => reject(open.error);
    }));
    const firstSyncMs = Date.now() - t0;
    await context.close();
    const runs = [];
    for (let i = 0; i < 5; i++) {
      context = await open();
      page = context.pages()[0] ?? (await context.newPage());
      await page.goto(base);
      await page.waitForSelector('[data-testid=household-row]', { timeout: T });
      const listMs = await page.evaluate(() => performance.now());
      await page.waitForSelector('[data-testid=households][data-ready=true]', { timeout: T });
      const readyMs = await page.evaluate(() => performance.now());
      runs.push({ listMs: Math.round(listMs), readyMs: Math.round(readyMs) });
      await context.close();
    }
    const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(JSON.stringify({
      records, households, firstSyncMs, runs,
      medianListMs: median(runs.map((r) => r.listMs)),
      medianReadyMs: median(runs.map((r) => r.readyMs)),
    }));
  },
};

const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}; one of: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
let failed = false;
try {
  await run();
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  for (const c of contexts) await c.close().catch(() => {});
  for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => {});
}
process.exit(failed ? 1 : 0);
