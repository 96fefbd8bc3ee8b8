// End-to-end scenarios of the field app in Debian's headless Chromium, driven by playwright-core,
// against a real gridvisit server. Run by tests/tests/browser.rs:
//
//   node browser.mjs <scenario> <http://127.0.0.1:port> [server pid]
//
// Each scenario asserts with node:assert and exits non-zero on the first failure. Every wait is
// on an event or a DOM state with a timeout, never a fixed sleep.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
const SECRETARY = 'sec-s01-c01';
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

/** The wasm modules the page loaded (`gridvisit` for field roles, `gridvisit-desk` for
 *  supervisors and admins). */
async function modulesLoaded(page) {
  return page.evaluate(() => performance.getEntriesByType('resource')
    .map((e) => new URL(e.name).pathname.slice(1))
    .filter((n) => n.endsWith('_bg.wasm'))
    .map((n) => n.replace(/_bg\.wasm$/, '')));
}

/** Whether the service worker's cache holds the desk module (run in the page). */
const DESK_CACHED = async () => {
  for (const k of await caches.keys()) {
    if (await (await caches.open(k)).match('./gridvisit-desk_bg.wasm')) return true;
  }
  return false;
};

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

/** A supervisor's overview shows the server's figures for the area on screen, live. */
async function liveFigures(page) {
  await page.waitForSelector('[data-testid=overview] [data-testid=figures-as-of][data-live=true]', { timeout: T });
}

/** What this browser's IndexedDB holds: the kind of each record. */
async function heldKinds(page) {
  return (await held(page)).map((r) => r.kind);
}

/** What this browser's IndexedDB holds: `{ id, kind }` of each record. */
async function held(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('gridvisit');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const req = open.result.transaction('meta').objectStore('meta').getAll();
      req.onerror = () => reject(req.error);
      req.onsuccess = () => resolve(req.result.map((r) => ({ id: r.id, kind: JSON.parse(r.summary ?? '{}').kind ?? '?' })));
    };
  }));
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

/** The entries of a zip whose entries are stored (not compressed), read from its central
 *  directory: what the app's Excel export writes. */
function unzipStored(buf) {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'a zip end record');
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const files = {};
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(at), 0x02014b50, 'a central directory entry');
    assert.equal(buf.readUInt16LE(at + 10), 0, 'stored');
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extra = buf.readUInt16LE(at + 30);
    const comment = buf.readUInt16LE(at + 32);
    const offset = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    assert.equal(buf.readUInt32LE(offset), 0x04034b50, `a local header for ${name}`);
    const dataAt = offset + 30 + buf.readUInt16LE(offset + 26) + buf.readUInt16LE(offset + 28);
    files[name] = buf.toString('utf8', dataAt, dataAt + size);
    at += 46 + nameLen + extra + comment;
  }
  return files;
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


/** Signs in with a password other than the demo one (an admin, or an account made here). */
async function signInAs(page, user, password) {
  await page.goto(base);
  await page.waitForSelector('[data-testid=signin]', { timeout: T });
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('[data-testid=signin] button[type=submit]');
  await waitSynced(page);
}

/** An init script: records what the first-sync progress shows, each time it changes
 *  ([received, total, text] in `window.__firstSync`). */
const RECORD_FIRST_SYNC = () => {
  window.__firstSync = [];
  new MutationObserver(() => {
    const el = document.querySelector('[data-testid=first-sync]');
    const last = window.__firstSync[window.__firstSync.length - 1];
    if (el && (!last || last[0] !== Number(el.dataset.received))) {
      window.__firstSync.push([Number(el.dataset.received), Number(el.dataset.total), el.textContent]);
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
};

const scenarios = {
  /** Sign in; go offline; record three visits; reload offline and see them; go online and
   *  see the server hold them. */
  async 'offline-visits'() {
    const { context, page } = await phone();
    await signIn(page, WORKER);
    // A worker's phone runs the field module and never downloads the desk module.
    assert.deepEqual(await modulesLoaded(page), ['gridvisit']);
    assert.equal(await page.evaluate(DESK_CACHED), false, 'the desk module is not precached on a worker phone');
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
    // The list is published shortly after the records are stored (at most every 50 ms): wait
    // for it rather than read it the moment the bar says online.
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid=households][data-ready=true]')?.dataset.count) > 0,
      null, { timeout: T });
    const count = Number(await page.getAttribute('[data-testid=households]', 'data-count'));
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

  /** A worker records a visit and reports an issue; the supervisor's open dashboard shows the
   *  new figures and the issue without a reload. */
  async 'supervisor-live'() {
    const w = await phone();
    const s = await phone();
    await signIn(w.page, WORKER);
    await signIn(s.page, SECRETARY);
    await s.page.waitForSelector('[data-testid=overview]', { timeout: T });
    await liveFigures(s.page);
    const figure = (name) => s.page.getAttribute('[data-testid=overview]', `data-${name}`).then(Number);
    const today = await figure('today');
    const open = await figure('open');
    const [household] = await householdIds(w.page, 'due');
    const visit = await recordVisit(w.page, household, {
      outcome: 'met',
      item: { area: 'disputes', description: '邻里噪音纠纷 noise dispute', solved: false },
    });
    await waitSynced(w.page);
    // The supervisor's page was not touched: the figures move by themselves.
    await s.page.waitForSelector(`[data-testid=overview][data-today="${today + 1}"][data-open="${open + 1}"]`, { timeout: T });
    const { body } = await api(`/api/records/${visit}`, WORKER);
    const issue = body.record.items[0].issue;
    await s.page.click('.tabs button:nth-child(2)');
    await s.page.click('.chips button:nth-child(2)');
    await s.page.waitForSelector(`[data-testid=issue-row][data-id="${issue}"]`, { timeout: T });
    console.log(JSON.stringify({ visit, issue }));
  },

  /** Two workers set the same household field offline; the supervisor sees the conflict with
   *  who set what, resolves it, and every replica ends with the chosen value. */
  async 'conflict-resolve'() {
    const a = await phone();
    const b = await phone();
    const s = await phone();
    await signIn(a.page, WORKER);
    await signIn(b.page, VOLUNTEER);
    await signIn(s.page, SECRETARY);
    const [household] = await householdIds(a.page);
    const label = await a.page.textContent(`[data-testid=household-row][data-id="${household}"] .addr`);
    await goOffline(a.context, a.page);
    await goOffline(b.context, b.page);
    for (const [page, members] of [[a.page, '4'], [b.page, '6']]) {
      await openHousehold(page, household);
      await page.click('[data-testid=edit-household]');
      await page.waitForSelector('[data-testid=household-form]', { timeout: T });
      await page.fill('input[name=members]', members);
      await page.click('[data-testid=save-household]');
      await page.waitForSelector('[data-testid=household]', { timeout: T });
    }
    await goOnline(a.context, a.page);
    await goOnline(b.context, b.page);

    // The supervisor searches the community's households on the server by its address.
    await s.page.click('.tabs button:nth-child(3)');
    await s.page.fill('input.search', label);
    await s.page.click(`[data-testid=household-row][data-id="${household}"] button`);
    const field = '[data-testid=conflicts] [data-field=members]';
    await s.page.waitForSelector(field, { timeout: T });
    const text = await s.page.textContent(field);
    assert.ok(text.includes('4') && text.includes('6'), `both values show: ${text}`);
    assert.ok(text.includes(WORKER) && text.includes(VOLUNTEER), `who set them shows: ${text}`);
    await s.page.click(`${field} [data-testid=resolve][data-value="6"]`);
    for (const [name, page] of [['supervisor', s.page], ['A', a.page], ['B', b.page]]) {
      if (name !== 'supervisor') await openHousehold(page, household);
      await page.waitForFunction(() => {
        const m = document.querySelector('[data-testid=members]')?.textContent ?? '';
        return m.trim() === '6' && !document.querySelector('[data-testid=conflicts]');
      }, null, { timeout: T }).catch((e) => { throw new Error(`${name} did not converge on 6: ${e}`); });
    }
    const { body } = await api(`/api/records/${household}`, WORKER);
    assert.equal(body.record.members.value, 6);
    assert.deepEqual(body.record.members.conflicts, []);
    console.log(JSON.stringify({ household }));
  },

  /** A worker's phone escalates an issue while the worker's other phone closes it offline
   *  (only the grid may do either: a secretary has no escalate button on a grid-level issue);
   *  after sync every replica derives the same status and both events are in the timeline. */
  async 'escalate-vs-close'() {
    const w = await phone();
    const b = await phone();
    const s = await phone();
    await signIn(w.page, WORKER);
    await signIn(b.page, WORKER);
    await signIn(s.page, SECRETARY);
    const [household] = await householdIds(w.page, 'due');
    const visit = await recordVisit(w.page, household, {
      outcome: 'met',
      item: { area: 'infrastructure', description: '井盖松动 loose manhole cover', solved: false },
    });
    await waitSynced(w.page);
    const { body } = await api(`/api/records/${visit}`, WORKER);
    const issue = body.record.items[0].issue;
    const openIssue = async (page, tab) => {
      await page.click(`.tabs button:nth-child(${tab})`);
      if (page === s.page) await page.click('.chips button:nth-child(2)');
      await page.click(`[data-testid=issue-row][data-id="${issue}"] button`);
      await page.waitForSelector(`[data-testid=issue][data-id="${issue}"]`, { timeout: T });
    };
    await openIssue(w.page, 2);
    for (const action of ['accept', 'handle']) {
      await w.page.click(`[data-action=${action}]`);
      await w.page.waitForSelector(`[data-testid=issue][data-status=${action === 'accept' ? 'accepted' : 'handled'}]`, { timeout: T });
    }
    await waitSynced(w.page);
    // The secretary sees the grid-level issue but may only comment on it.
    await openIssue(s.page, 2);
    await s.page.waitForSelector('[data-testid=issue][data-status=handled]', { timeout: T });
    const secretaryActions = await s.page.$$eval('[data-action]', (bs) => bs.map((b) => b.dataset.action));
    assert.deepEqual(secretaryActions, ['comment'], 'a grid-level issue is the grid\'s');
    await openIssue(b.page, 2);
    await b.page.waitForSelector('[data-testid=issue][data-status=handled]', { timeout: T });

    await goOffline(w.context, w.page);
    // A visit's issue closes after the resident is asked (回访).
    await w.page.click('[data-action=followup-yes]');
    await w.page.waitForSelector('[data-action=close]', { timeout: T });
    await w.page.click('[data-action=close]');
    await w.page.waitForSelector('[data-testid=issue][data-status=closed]', { timeout: T });
    await b.page.fill('textarea[name=note]', '需社区协调 needs the community');
    await b.page.click('[data-action=escalate]');
    await b.page.waitForSelector('[data-testid=issue][data-level=community]', { timeout: T });
    await goOnline(w.context, w.page);

    const state = async (page) => {
      await page.waitForFunction(() => {
        const kinds = [...document.querySelectorAll('[data-testid=timeline] li')].map((li) => li.dataset.kind);
        return kinds.includes('close') && kinds.includes('escalate');
      }, null, { timeout: T });
      return page.$eval('[data-testid=issue]', (el) => `${el.dataset.status}/${el.dataset.level}`);
    };
    const seen = [await state(w.page), await state(b.page), await state(s.page)];
    const server = await api(`/api/records/${issue}`, WORKER);
    const derived = `${server.body.record.state.status}/${server.body.record.state.level}`;
    assert.deepEqual(seen, [derived, derived, derived], `every replica derives ${derived}`);
    const kinds = server.body.record.events.map((e) => e.kind);
    assert.ok(kinds.includes('close') && kinds.includes('escalate'), kinds.join());
    console.log(JSON.stringify({ issue, derived }));
  },

  /**
   * A phone whose clock runs two hours ahead writes a comment: the server refuses it (dated
   * after its clock plus 10 minutes). The worker is told which edit was refused and why; with
   * the clock right again, the next comment on the same issue reaches the server.
   */
  async 'refused-edit'() {
    const w = await phone();
    await signIn(w.page, WORKER);
    const [household] = await householdIds(w.page, 'due');
    const visit = await recordVisit(w.page, household, {
      outcome: 'met',
      item: { area: 'livelihood', description: '楼道堆物 clutter in the stairwell', solved: false },
    });
    await waitSynced(w.page);
    const { body } = await api(`/api/records/${visit}`, WORKER);
    const issue = body.record.items[0].issue;
    await w.page.click('.tabs button:nth-child(2)');
    await w.page.click(`[data-testid=issue-row][data-id="${issue}"] button`);
    await w.page.waitForSelector(`[data-testid=issue][data-id="${issue}"]`, { timeout: T });

    await w.page.evaluate(() => {
      window.__realNow = Date.now;
      Date.now = () => window.__realNow() + 2 * 3600 * 1000;
    });
    await w.page.fill('textarea[name=note]', '未来的评论 from the future');
    await w.page.click('[data-action=comment]');
    const banner = await w.page.waitForSelector('[data-testid=error]', { timeout: T });
    const text = await banner.textContent();
    assert.match(text, /拒绝/, text);
    assert.match(text, /server's clock/, text);
    await w.page.click('[data-testid=error] button');

    await w.page.evaluate(() => { Date.now = window.__realNow; });
    await w.page.fill('textarea[name=note]', '之后的评论 a later comment');
    await w.page.click('[data-action=comment]');
    await waitSynced(w.page);
    // Nothing waits on the phone: the server acknowledged what it holds.
    const held = (await api(`/api/records/${issue}`, WORKER)).body.record.events.map((e) => e.note);
    assert.ok(held.includes('之后的评论 a later comment'), `the later edit reached the server: ${held}`);
    assert.ok(!held.includes('未来的评论 from the future'), 'the refused edit did not');
    // The phone shows what the server holds: the refused comment is gone from its timeline.
    await w.page.waitForFunction(() => {
      const notes = [...document.querySelectorAll('[data-testid=timeline] li')].map((li) => li.textContent);
      return notes.some((n) => n.includes('a later comment')) && !notes.some((n) => n.includes('from the future'));
    }, null, { timeout: T });
    console.log(JSON.stringify({ issue, events: held.length }));
  },

  /**
   * One phone, two workers. Signing out with everything synced leaves nothing of the first
   * worker's on the phone; with a change waiting, the records stay, another worker cannot
   * sign in over them, and the first worker's sign-in syncs the change.
   */
  async 'shared-phone'() {
    const p = await phone();
    const OTHER = 'w-s01-c01-g02';
    const stored = () => p.page.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('gridvisit');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction(['docs', 'chunks', 'meta', 'acked'], 'readonly');
        const counts = {};
        let left = 4;
        for (const name of ['docs', 'chunks', 'meta', 'acked']) {
          const req = tx.objectStore(name).count();
          req.onsuccess = () => { counts[name] = req.result; if (--left === 0) { db.close(); resolve(counts); } };
        }
      };
    }));
    const signOut = async () => {
      await p.page.click('[data-testid=sign-out]');
      await p.page.waitForSelector('[data-testid=signin]', { timeout: T });
    };
    await signIn(p.page, WORKER);
    const first = await householdIds(p.page);
    assert.ok(first.length > 0);
    assert.ok((await stored()).meta > 0);
    await signOut();
    assert.deepEqual(await stored(), { docs: 0, chunks: 0, meta: 0, acked: 0 }, 'nothing of the first worker stays');
    await signIn(p.page, OTHER);
    const second = await householdIds(p.page);
    assert.ok(second.length > 0);
    assert.ok(!second.some((id) => first.includes(id)), 'the second worker sees only their grid');

    // A change waits: signing out keeps it, and only its writer may sign in.
    await goOffline(p.context, p.page);
    await recordVisit(p.page, second[0], { outcome: 'not_home' });
    assert.ok((await pending(p.page)) > 0);
    p.page.once('dialog', (d) => d.accept());
    await signOut();
    await p.page.fill('input[name=username]', WORKER);
    await p.page.fill('input[name=password]', PASSWORD);
    await p.page.click('[data-testid=signin] button[type=submit]');
    const refusal = await p.page.waitForSelector('[data-testid=signin] .error', { timeout: T });
    assert.match(await refusal.textContent(), new RegExp(OTHER));
    await p.context.setOffline(false);
    await p.page.fill('input[name=username]', OTHER);
    await p.page.click('[data-testid=signin] button[type=submit]');
    await waitSynced(p.page);
    console.log(JSON.stringify({ first: first.length, second: second.length }));
  },

  /** Text with script and image-onerror payloads renders as text and runs nothing. */
  async 'inert-text'() {
    const w = await phone();
    const s = await phone();
    await signIn(w.page, WORKER);
    await signIn(s.page, SECRETARY);
    await w.page.addInitScript(() => { window.__xss = 0; });
    const payload = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';
    const [household] = await householdIds(w.page, 'due');
    const visit = await recordVisit(w.page, household, {
      outcome: 'met',
      item: { area: 'needs', description: payload, solved: false },
    });
    await waitSynced(w.page);
    const { body } = await api(`/api/records/${visit}`, WORKER);
    const issue = body.record.items[0].issue;
    await s.page.click('.tabs button:nth-child(2)');
    await s.page.click('.chips button:nth-child(2)');
    await s.page.click(`[data-testid=issue-row][data-id="${issue}"] button`);
    const desc = await s.page.waitForSelector('[data-testid=description]', { timeout: T });
    assert.equal(await desc.textContent(), payload, 'the text shows as written');
    assert.equal(await s.page.$$eval('[data-testid=issue] img, [data-testid=issue] script', (e) => e.length), 0);
    const row = await s.page.$$eval('[data-testid=issue-row] img', (e) => e.length).catch(() => 0);
    assert.equal(row, 0);
    assert.equal(await s.page.evaluate(() => window.__xss), undefined, 'nothing ran on the supervisor page');
    console.log(JSON.stringify({ issue }));
  },

  /** DESIGN decision 10: the secretary's overview is complete and live from the server's
   *  figures while the browser holds nothing but the community's queue; the dashboard opens
   *  offline from its cache, dated; a grid's households come from the server's list. */
  async 'supervisor-holds-queue'() {
    const w = await phone();
    const s = await phone();
    await signIn(w.page, WORKER);
    await signIn(s.page, SECRETARY);
    await s.page.waitForSelector('[data-testid=overview]', { timeout: T });
    // The supervisor's device reloaded into the desk module at sign-in and keeps it offline.
    assert.deepEqual(await modulesLoaded(s.page), ['gridvisit-desk']);
    await s.page.waitForFunction(DESK_CACHED, null, { timeout: T, polling: 200 });
    await liveFigures(s.page);
    const figure = (name) => s.page.getAttribute('[data-testid=overview]', `data-${name}`).then(Number);
    const { body } = await api('/api/aggregates', SECRETARY);
    assert.equal(await figure('open'), body.figures.total.open_by_level.reduce((a, b) => a + b, 0));
    assert.equal(await figure('today'), body.figures.total.visits_today);
    const kinds = await heldKinds(s.page);
    assert.ok(kinds.every((k) => k === 'issue'), `only the queue is held: ${kinds}`);
    assert.equal(kinds.length, body.figures.total.open_by_level[1], 'the queue: open community-level issues');
    // Live: a worker's visit moves the figures on the untouched page.
    const today = await figure('today');
    const [household] = await householdIds(w.page, 'due');
    await recordVisit(w.page, household, { outcome: 'met' });
    await waitSynced(w.page);
    await s.page.waitForSelector(`[data-testid=overview][data-today="${today + 1}"]`, { timeout: T });
    // A grid from the table: its households are the server's list.
    await s.page.click('[data-testid=area-table] tbody tr:first-child td:first-child button');
    await s.page.waitForSelector('[data-testid=overview][data-path="s01"]', { timeout: T });
    await liveFigures(s.page);
    await s.page.click('[data-testid=area-table] tbody tr:first-child td:first-child button');
    await s.page.waitForSelector('[data-testid=overview][data-path="s01/c01"]', { timeout: T });
    await liveFigures(s.page);
    await s.page.click('[data-testid=area-table] tbody tr[data-key="s01/c01/g01"] td:first-child button');
    await s.page.waitForSelector('[data-testid=overview][data-path="s01/c01/g01"]', { timeout: T });
    const grid = await api('/api/records?kind=household&grid=s01/c01/g01&limit=1000&view=summary', SECRETARY);
    await s.page.waitForSelector(`[data-testid=grid-households][data-count="${grid.body.items.length}"]`, { timeout: T });
    assert.ok(grid.body.items.length > 0);
    assert.ok((await heldKinds(s.page)).every((k) => k === 'issue'), 'drilling in replicates nothing');
    // Offline, the dashboard opens from its cache with the time it is from.
    await s.page.click('[data-testid=overview] .crumbs button:first-child');
    await liveFigures(s.page);
    const shown = await figure('today');
    await goOffline(s.context, s.page);
    await s.page.reload();
    await s.page.waitForSelector('[data-testid=overview] [data-testid=figures-as-of][data-live=false][data-at]', { timeout: T });
    const asOf = await s.page.textContent('[data-testid=figures-as-of]');
    assert.match(asOf, /离线，数据截至 \d{4}-\d\d-\d\d \d\d:\d\d/, asOf);
    assert.equal(await figure('today'), shown, 'the cached figures show');
    console.log(JSON.stringify({ queue: kinds.length, households: grid.body.items.length, asOf }));
  },

  /** DESIGN decision 10: a visit older than the phone's window leaves the phone once the
   *  server holds it, and comes back on demand in the household's history (not offline). */
  async 'old-visit'() {
    const { context, page } = await phone();
    await signIn(page, WORKER);
    const [household] = await householdIds(page, 'due');
    // Recorded on a phone whose clock says 100 days ago.
    await page.evaluate(() => {
      window.__realNow = Date.now;
      Date.now = () => window.__realNow() - 100 * 86_400_000;
    });
    const visit = await recordVisit(page, household, { outcome: 'met' });
    await waitSynced(page);
    await page.evaluate(() => { Date.now = window.__realNow; });
    const stored = await api(`/api/records/${visit}`, WORKER);
    assert.equal(stored.status, 200, 'the server holds it');
    // Next start: the phone lets it go.
    await page.reload();
    await waitSynced(page);
    await openHousehold(page, household);
    assert.ok(!(await visitIds(page)).includes(visit), 'the old visit left the phone');
    assert.ok(!(await held(page)).some((r) => r.id === visit), 'and its IndexedDB');
    // Offline, the history says older visits need the network.
    await goOffline(context, page);
    await page.click('[data-testid=older-visits]');
    await page.waitForSelector('[data-testid=older-note]', { timeout: T });
    assert.match(await page.textContent('[data-testid=older-note]'), /离线/);
    await goOnline(context, page);
    await openHousehold(page, household);
    await page.click('[data-testid=older-visits]');
    await page.waitForSelector(`[data-testid=visit-row][data-id="${visit}"]`, { timeout: T });
    await page.click(`[data-testid=visit-row][data-id="${visit}"] button`);
    await page.waitForSelector(`[data-testid=visit][data-id="${visit}"] [data-testid=visit-notes]`, { timeout: T });
    console.log(JSON.stringify({ visit }));
  },

  /** The month view of a generated city (4 grids × 20 households × 9 weeks) shows what a
   *  brute-force count over every record the server lists gives, this month and last,
   *  the share of grids that held their monthly review among them; the secretary records a
   *  review from the view, opens it, pins it, and reads it again offline after a reload. */
  async 'month-view'() {
    const { context, page } = await phone();
    await signIn(page, SECRETARY);
    // Every visit and issue of the community, page by page, counted here.
    const all = async (kind) => {
      const items = [];
      let before = null;
      for (;;) {
        const { body } = await api(`/api/records?kind=${kind}&view=summary&limit=1000${before ? `&before=${before}` : ''}`, SECRETARY);
        items.push(...body.items);
        if (body.next == null) return items;
        before = body.next;
      }
    };
    const visits = (await all('visit')).map((i) => i.summary);
    const issues = (await all('issue')).map((i) => i.summary);
    const reviews = (await all('review')).map((i) => i.summary);
    assert.ok(reviews.length > 0, 'the generated city held reviews');
    const monthOf = (ms) => {
      const d = new Date(ms + 8 * 3600 * 1000);
      return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    };
    const count = (month) => {
      const inMonth = visits.filter((v) => monthOf(v.at) === month);
      return {
        visits: inMonth.length,
        met: inMonth.filter((v) => v.outcome === 'met').length,
        households: new Set(inMonth.map((v) => v.household)).size,
        opened: issues.filter((i) => monthOf(i.reported_at) === month).length,
        reviewed: new Set(reviews.filter((r) => monthOf(r.held_at) === month).flatMap((r) => r.grids)).size,
      };
    };
    await page.click('.tabs button:nth-child(4)');
    const shown = async () => {
      await page.waitForSelector('[data-testid=month][data-state=ready]', { timeout: T });
      const value = (id) => page.textContent(`[data-testid=month-${id}] .value`);
      return {
        visits: Number(await value('visits')),
        met: Number(await value('met')),
        households: Number((await value('visited')).split(' ')[0]),
        opened: Number(await value('opened')),
        reviewed: Number((await value('reviewed')).split(' ')[0]),
      };
    };
    const thisMonth = await page.getAttribute('[data-testid=month]', 'data-month');
    const now = await shown();
    assert.deepEqual(now, count(thisMonth), `${thisMonth}: the view equals the count`);
    await page.click('[data-testid=month-prev]');
    await page.waitForSelector(`[data-testid=month]:not([data-month="${thisMonth}"])`, { timeout: T });
    const lastMonth = await page.getAttribute('[data-testid=month]', 'data-month');
    const before = await shown();
    assert.deepEqual(before, count(lastMonth), `${lastMonth}: the view equals the count`);
    assert.ok(before.visits > 0, 'last month had visits');
    const weeks = await page.$$eval('[data-testid=month-weeks] tbody tr', (trs) => trs.length);
    assert.ok(weeks >= 4 && weeks <= 6, `weeks of the month: ${weeks}`);
    const workers = await page.$$eval('[data-testid=month-workers] tbody tr', (trs) => trs.length);
    assert.ok(workers >= 4, `a row per worker: ${workers}`);
    // This month again: the secretary records a review of two grids from the view.
    await page.click('[data-testid=month-next]');
    await page.waitForSelector(`[data-testid=month][data-month="${thisMonth}"][data-state=ready]`, { timeout: T });
    const listed = Number(await page.getAttribute('[data-testid=month-reviews]', 'data-count'));
    await page.click('[data-testid=new-review]');
    await page.waitForSelector('[data-testid=review-form]', { timeout: T });
    const boxes = await page.$$('[data-testid=review-form] input[name=grid]');
    assert.equal(boxes.length, 4, 'every grid of the community is offered');
    await boxes[2].uncheck();
    await boxes[3].uncheck();
    await page.fill('[data-testid=review-form] input[name=attendees]', '王书记、李网格员');
    await page.fill('[data-testid=review-form] textarea[name=topics]', '楼道灯\n独居老人探访');
    await page.fill('[data-testid=review-form] textarea[name=conclusions]', '物业三日内修复');
    await page.click('[data-testid=save-review]');
    await page.waitForSelector(`[data-testid=month-reviews][data-count="${listed + 1}"]`, { timeout: T });
    const review = await page.$$eval('[data-testid=review-row]', (rows) => rows.map((r) => r.dataset.id))
      .then(async (ids) => {
        for (const id of ids) {
          const { body } = await api(`/api/records/${id}`, SECRETARY);
          if (body.record?.conclusions === '物业三日内修复') return id;
        }
        return null;
      });
    assert.ok(review, 'the new review is listed');
    const stored = await api(`/api/records/${review}`, SECRETARY);
    assert.equal(stored.body.record.grids.length, 2, 'it covers the two grids left ticked');
    assert.deepEqual(stored.body.record.topics, ['楼道灯', '独居老人探访']);
    reviews.push({ grids: stored.body.record.grids, held_at: stored.body.record.held_at });
    assert.equal((await shown()).reviewed, count(thisMonth).reviewed, 'the share counts it');
    // Opened from the list, pinned, and read again offline after a reload.
    await page.click(`[data-testid=review-row][data-id="${review}"] button`);
    await page.waitForSelector(`[data-testid=review][data-id="${review}"] [data-testid=review-attendees]`, { timeout: T });
    assert.equal(await page.textContent('[data-testid=review-attendees]'), '王书记、李网格员');
    await page.click('[data-testid=pin]');
    await page.waitForSelector('[data-testid=pin][data-pinned=true]', { timeout: T });
    await waitSynced(page);
    await goOffline(context, page);
    await page.reload();
    await page.waitForSelector(`[data-testid=pinned-row][data-id="${review}"]`, { timeout: T });
    await page.click(`[data-testid=pinned-row][data-id="${review}"] button`);
    await page.waitForSelector(`[data-testid=review][data-id="${review}"] [data-testid=review-conclusions]`, { timeout: T });
    assert.equal(await page.textContent('[data-testid=review-conclusions]'), '物业三日内修复');
    console.log(JSON.stringify({ thisMonth, now, lastMonth, before, weeks, workers, review }));
  },

  /** Benchmark (not a test): the `city` supervisor on a fresh profile with the app cached:
   *  sign-in to a complete overview, the bytes it took, drilling into a grid, and a worker's
   *  visit reaching the figures on screen. Run by `city-bench --browser`. */
  async 'city-overview'() {
    const { page } = await phone();
    await page.goto(base);
    await page.waitForSelector('[data-testid=signin]', { timeout: T });
    await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: T });
    await page.reload();
    await page.waitForSelector('[data-testid=signin]', { timeout: T });
    let ws = 0;
    let apiBytes = 0;
    page.on('websocket', (s) => {
      s.on('framereceived', (f) => { ws += typeof f.payload === 'string' ? Buffer.byteLength(f.payload) : f.payload.length; });
      s.on('framesent', (f) => { ws += typeof f.payload === 'string' ? Buffer.byteLength(f.payload) : f.payload.length; });
    });
    page.on('response', async (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/')) apiBytes += (await r.body().catch(() => Buffer.alloc(0))).length;
    });
    const t0 = Date.now();
    await page.fill('input[name=username]', 'city');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('[data-testid=signin] button[type=submit]');
    await liveFigures(page);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=area-table] tbody tr').length >= 6, null, { timeout: T });
    const overviewMs = Date.now() - t0;
    const overviewBytes = { ws, api: apiBytes };
    const drill = async (sel, path) => {
      const t = Date.now();
      await page.click(sel);
      await page.waitForSelector(`[data-testid=overview][data-path="${path}"]`, { timeout: T });
      await liveFigures(page);
      return Date.now() - t;
    };
    const streetMs = await drill('[data-testid=area-table] tbody tr[data-key="s01"] td:first-child button', 's01');
    const communityMs = await drill('[data-testid=area-table] tbody tr[data-key="s01/c01"] td:first-child button', 's01/c01');
    const t1 = Date.now();
    await page.click('[data-testid=area-table] tbody tr[data-key="s01/c01/g01"] td:first-child button');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=grid-households]')?.dataset.count ?? 0) > 0, null, { timeout: T });
    const gridMs = Date.now() - t1;
    // A worker's visit, to the city's figures on screen.
    await page.click('[data-testid=overview] .crumbs button:first-child');
    await liveFigures(page);
    const w = await phone();
    await signIn(w.page, WORKER, 600_000);
    const today = Number(await page.getAttribute('[data-testid=overview]', 'data-today'));
    const [household] = await householdIds(w.page, 'due');
    await openHousehold(w.page, household);
    await w.page.click('[data-testid=record-visit]');
    await w.page.waitForSelector('[data-testid=visit-form]', { timeout: T });
    await w.page.check('input[name=outcome][value=met]');
    const t2 = Date.now();
    await w.page.click('[data-testid=save-visit]');
    await page.waitForSelector(`[data-testid=overview][data-today="${today + 1}"]`, { timeout: T });
    const editMs = Date.now() - t2;
    console.log(JSON.stringify({ overviewMs, overviewBytes, streetMs, communityMs, gridMs, editMs }));
  },

  /** An export holds exactly the rows shown, as CSV and as an Excel workbook. */
  async export() {
    const { page } = await phone();
    await signIn(page, SECRETARY);
    await page.waitForSelector('[data-testid=overview]', { timeout: T });
    await liveFigures(page);
    await page.click('[data-testid=area-table] tbody tr:first-child td:first-child button');
    await page.waitForSelector('[data-testid=overview][data-path="s01"]', { timeout: T });
    await liveFigures(page);
    await page.click('[data-testid=area-table] tbody tr:first-child td:first-child button');
    await page.waitForSelector('[data-testid=overview][data-path="s01/c01"]', { timeout: T });
    await liveFigures(page);
    // Sort by coverage, so the export must follow the order shown, not the stored one.
    await page.click('[data-testid=area-table] th button[data-col="3"]');
    const shown = await page.$$eval('[data-testid=area-table] tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent.replace(/ [▲▼]$/, ''))));
    assert.ok(shown.length > 2, 'the table has rows');

    const [csvDl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-csv]')]);
    const csv = (await readFile(await csvDl.path(), 'utf8')).replace(/^\uFEFF/, '');
    const csvRows = csv.trimEnd().split('\r\n').map((l) => l.split(','));
    assert.deepEqual(csvRows, shown, 'the CSV holds the rows shown, in order');

    const [xlsxDl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-xlsx]')]);
    const sheet = unzipStored(await readFile(await xlsxDl.path()))['xl/worksheets/sheet1.xml'];
    assert.ok(sheet, 'the workbook has its sheet');
    const xlsxRows = [...sheet.matchAll(/<row [^>]*>(.*?)<\/row>/g)].map((m) =>
      [...m[1].matchAll(/<c [^>]*>(?:<v>([^<]*)<\/v>|<is><t[^>]*>([^<]*)<\/t><\/is>)<\/c>/g)]
        .map((c) => (c[1] ?? c[2]).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&')));
    assert.deepEqual(xlsxRows, shown, 'the workbook holds the rows shown, in order');
    console.log(JSON.stringify({ rows: shown.length - 1 }));
  },

  /** A phone that saved its records with the release before IndexedDB schema 3 (captured in
   *  fixtures/idb-v2.json, with one visit still waiting) opens the new app: the upgrade keeps
   *  every record and the waiting visit, which reaches the server after signing in. */
  async 'upgrade-v2'() {
    const fixture = JSON.parse(await readFile(new URL('./fixtures/idb-v2.json', import.meta.url), 'utf8'));
    assert.equal(fixture.version, 2, 'the fixture is a schema-2 database');
    const households = fixture.stores.meta.rows.filter((r) => JSON.parse(r.value.summary ?? '{}').kind === 'household').length;
    const { page } = await phone();
    // Same origin, before the app runs: write the old database as the old app left it.
    await page.goto(`${base}/healthz`);
    await page.evaluate((dump) => new Promise((resolve, reject) => {
      const open = indexedDB.open('gridvisit', dump.version);
      open.onupgradeneeded = () => {
        for (const [name, s] of Object.entries(dump.stores)) {
          open.result.createObjectStore(name, s.keyPath ? { keyPath: s.keyPath } : undefined);
        }
      };
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction(Object.keys(dump.stores), 'readwrite');
        const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        for (const [name, s] of Object.entries(dump.stores)) {
          for (const row of s.rows) {
            const v = row.value?.bytes?.$b64 ? { ...row.value, bytes: bytes(row.value.bytes.$b64) } : row.value;
            if (s.keyPath) tx.objectStore(name).put(v); else tx.objectStore(name).put(v, row.key);
          }
        }
        tx.oncomplete = () => { db.close(); resolve(); };
        tx.onerror = () => reject(tx.error);
      };
    }), fixture);
    await page.goto(base);
    // The old session's token belongs to another server: the app asks to sign in again and
    // shows every record meanwhile, with the visit still waiting.
    await page.waitForSelector(`[data-testid=households][data-ready=true][data-count="${households}"]`, { timeout: T });
    await waitState(page, 'signin');
    assert.equal(await pending(page), 1, 'the visit recorded before the upgrade still waits');
    const version = await page.evaluate(() => new Promise((resolve) => {
      const open = indexedDB.open('gridvisit');
      open.onsuccess = () => { resolve([open.result.version, [...open.result.objectStoreNames]]); open.result.close(); };
    }));
    assert.equal(version[0], 3, 'upgraded to schema 3');
    assert.ok(version[1].includes('chunks'), 'with the chunks store');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('[data-testid=signin] button[type=submit]');
    await waitSynced(page);
    const visits = fixture.stores.meta.rows
      .filter((r) => JSON.parse(r.value.summary ?? '{}').kind === 'visit')
      .map((r) => r.value.id);
    const acked = new Set(fixture.stores.acked.rows.map((r) => r.key));
    const waiting = visits.filter((id) => !acked.has(id));
    assert.equal(waiting.length, 1, 'one visit was waiting in the fixture');
    const { status, body } = await api(`/api/records/${waiting[0]}`, WORKER);
    assert.equal(status, 200, 'the waiting visit reached the server');
    assert.equal(body.kind, 'visit');
    // And an edit after the upgrade is saved as a chunk and syncs too.
    const [household] = await householdIds(page);
    const visit = await recordVisit(page, household, { outcome: 'not_home' });
    await waitSynced(page);
    assert.equal((await api(`/api/records/${visit}`, WORKER)).status, 200);
    console.log(JSON.stringify({ households, waiting: waiting[0], visit }));
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
        const req = open.result.transaction('meta').objectStore('meta').count();
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
      const marks = await page.evaluate(() => Object.fromEntries(
        performance.getEntriesByType('mark').map((m) => [m.name, Math.round(m.startTime)])));
      runs.push({ listMs: marks['gv-list'] ?? Math.round(listMs), readyMs: Math.round(readyMs), marks });
      await context.close();
    }
    const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(JSON.stringify({
      records, households, firstSyncMs, runs,
      medianListMs: median(runs.map((r) => r.listMs)),
      medianReadyMs: median(runs.map((r) => r.readyMs)),
    }));
  },

  /** An empty city set up by its admin in the app: a street, a community, a grid, a worker
   *  and a secretary; 1,000 households from an .xlsx with 3 bad rows (named; 997 imported; the
   *  same file again changes nothing); the worker's phone signed in by a one-time QR code
   *  (refused a second time and after it expires) lists the households; the secretary
   *  dispatches an issue by picking the worker; the audit log shows each step; a changed row
   *  reads in words in the household's history. */
  async 'admin-setup'() {
    const a = await phone();
    await signInAs(a.page, 'admin', process.env.GV_ADMIN_PASSWORD);
    await a.page.waitForSelector('[data-testid=guide-step-1][data-done=false]', { timeout: T });
    await a.page.click('[data-testid=admin-org]');
    for (const [kind, code, name] of [
      ['street', 's01', '花洲街道'], ['community', 's01/c01', '东关社区'], ['grid', 's01/c01/g01', '第一网格'],
    ]) {
      await a.page.selectOption('[data-testid=org-form] select[name=kind]', kind);
      await a.page.fill('[data-testid=org-form] input[name=code]', code);
      await a.page.fill('[data-testid=org-form] input[name=name]', name);
      await a.page.click('[data-testid=org-form] button[type=submit]');
      await a.page.waitForSelector(`[data-testid=org-units] tr[data-code="${code}"]`, { timeout: T });
    }
    const gridRow = await a.page.textContent('[data-testid=org-units] tr[data-code="s01/c01/g01"]');
    assert.ok(gridRow.includes('东关社区 · 第一网格'), gridRow);

    const made = {};
    await a.page.click('[data-testid=admin-people]');
    for (const [user, name, role, scope] of [
      ['wang', '王秀英', 'worker', 'grids:s01/c01/g01'],
      ['li', '李书记', 'community_supervisor', 'community:s01/c01'],
    ]) {
      await a.page.fill('[data-testid=person-form] input[name=user]', user);
      await a.page.fill('[data-testid=person-form] input[name=name]', name);
      await a.page.selectOption('[data-testid=person-form] select[name=role]', role);
      await a.page.fill('[data-testid=person-form] input[name=scope]', scope);
      await a.page.click('[data-testid=person-form] button[type=submit]');
      await a.page.waitForSelector(`[data-testid=people-message][data-user="${user}"]`, { timeout: T });
      made[user] = await a.page.getAttribute('[data-testid=people-message]', 'data-password');
      await a.page.waitForSelector(`[data-testid=people-list] tr[data-user="${user}"]`, { timeout: T });
    }

    // The import, twice.
    await a.page.click('[data-testid=admin-import]');
    const importFile = async (path) => {
      await a.page.setInputFiles('[data-testid=import] input[type=file]', path);
      await a.page.waitForSelector('[data-testid=import-report]', { timeout: 60_000 });
      const r = await a.page.$eval('[data-testid=import-report]', (el) => ({ ...el.dataset }));
      const rows = await a.page.$$eval('[data-testid=import-errors] tr[data-row]', (rs) => rs.map((r) => Number(r.dataset.row)));
      return { ...r, rows };
    };
    const first = await importFile(process.env.GV_XLSX);
    assert.deepEqual([first.imported, first.errors, first.rows], ['997', '3', [12, 502, 1001]]);
    await a.page.click('[data-testid=admin-audit]');
    await a.page.click('[data-testid=admin-import]');
    const second = await importFile(process.env.GV_XLSX);
    assert.deepEqual([second.imported, second.updated, second.unchanged], ['0', '0', '997']);

    // The worker's phone, by QR code.
    await a.page.click('[data-testid=admin-people]');
    await a.page.click('[data-testid=people-list] tr[data-user="wang"] [data-testid=provision]');
    await a.page.waitForSelector('[data-testid=provision-qr] svg', { timeout: T });
    const url = await a.page.getAttribute('[data-testid=provision-qr]', 'data-url');
    const w = await phone();
    await w.page.addInitScript(RECORD_FIRST_SYNC);
    const t0 = Date.now();
    await w.page.goto(url);
    await waitSynced(w.page, 60_000);
    await w.page.waitForSelector('[data-testid=households][data-count="997"]', { timeout: 60_000 });
    const provisionedMs = Date.now() - t0;
    // Its first sync came in bulk, and the bar counted the records as they came.
    const progress = await w.page.evaluate(() => window.__firstSync);
    assert.ok(progress.length >= 2, `progress shown as it went: ${JSON.stringify(progress)}`);
    for (const [received, total, text] of progress) {
      assert.equal(total, 997, `of all 997 households: ${text}`);
      assert.ok(received > 0 && received <= total);
      assert.ok(text.includes(`已收到 ${received} / 共 997 条记录`), text);
    }
    assert.ok(progress.every(([r], i) => i === 0 || r >= progress[i - 1][0]), 'it only grows');
    assert.equal(await w.page.$('[data-testid=first-sync]'), null, 'gone once in sync');
    const banner = await w.page.textContent('.grid-name');
    assert.ok(banner.includes('东关社区 · 第一网格'), `the banner names the grid: ${banner}`);
    const other = await phone();
    await other.page.goto(url);
    await other.page.waitForSelector('[data-testid=provision-signin] .error', { timeout: T });
    assert.match(await other.page.textContent('[data-testid=provision-signin] .error'), /已使用/);
    // A second code, left to expire.
    await a.page.click('[data-testid=people-list] tr[data-user="wang"] [data-testid=provision]');
    await a.page.waitForFunction((old) => {
      const el = document.querySelector('[data-testid=provision-qr]');
      return el && el.dataset.url !== old;
    }, url, { timeout: T });
    const late = await a.page.$eval('[data-testid=provision-qr]', (el) => ({ url: el.dataset.url, expires: Number(el.dataset.expires) }));
    const late2 = await phone();
    await late2.page.waitForFunction((t) => Date.now() > t + 200, late.expires, { timeout: T });
    await late2.page.goto(late.url);
    await late2.page.waitForSelector('[data-testid=provision-signin] .error', { timeout: T });
    assert.match(await late2.page.textContent('[data-testid=provision-signin] .error'), /过期/);

    // The step deadlines: a community now has 2 days to handle what it dispatches.
    await a.page.click('[data-testid=admin-limits]');
    await a.page.fill('[data-testid=limits-form] input[name=dispatched-1]', '2');
    await a.page.click('[data-testid=limits-form] button[type=submit]');
    await a.page.waitForSelector('[data-testid=limits-message].notice', { timeout: T });

    // An issue from a visit, escalated; the secretary dispatches it by picking the worker.
    const [household] = await householdIds(w.page, 'due');
    const visit = await recordVisit(w.page, household, {
      outcome: 'met',
      item: { area: 'infrastructure', description: '楼道灯不亮 stairwell light out', solved: false },
    });
    await waitSynced(w.page);
    await w.page.click('.tabs button:nth-child(2)');
    await w.page.waitForSelector('[data-testid=issue-row] button', { timeout: T });
    await w.page.click('[data-testid=issue-row] button');
    await w.page.click('[data-action=escalate]');
    await w.page.waitForSelector('[data-testid=issue][data-level=community]', { timeout: T });
    await waitSynced(w.page);
    const issue = await w.page.getAttribute('[data-testid=issue]', 'data-id');
    const s = await phone();
    await signInAs(s.page, 'li', made.li);
    await s.page.click('.tabs button:nth-child(2)');
    await s.page.waitForSelector(`[data-testid=issue-row][data-id="${issue}"]`, { timeout: T });
    await s.page.click(`[data-testid=issue-row][data-id="${issue}"] button`);
    await s.page.fill('input[name=assignee-search]', '王');
    await s.page.click('[data-testid=person-picker] li[data-user="wang"] button', { timeout: T });
    assert.equal(await s.page.inputValue('input[name=assignee]'), 'wang');
    await s.page.click('[data-action=dispatch]');
    await s.page.waitForSelector('[data-testid=issue][data-status=dispatched]', { timeout: T });
    await w.page.waitForSelector(`[data-testid=issue][data-id="${issue}"][data-status=dispatched]`, { timeout: T });
    // The dispatch carries the rule in force, and the deadline follows it.
    const liLogin = await (await fetch(`${base}/api/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'li', password: made.li }),
    })).json();
    const rec = await (await fetch(`${base}/api/records/${issue}`, { headers: { authorization: `Bearer ${liLogin.token}` } })).json();
    const dispatch = rec.record.events.find((e) => e.kind === 'dispatch');
    assert.equal(dispatch.limit, 2 * 86_400_000, JSON.stringify(rec.record.events));
    assert.equal(rec.record.state.deadline - dispatch.at, 2 * 86_400_000);

    // A changed row updates the household; its history reads in words.
    await a.page.click('[data-testid=admin-import]');
    const third = await importFile(process.env.GV_CSV);
    assert.deepEqual([third.imported, third.updated], ['0', '1']);
    await w.page.click('.tabs button:nth-child(1)');
    await w.page.fill('input.search', '1-1-1001');
    await w.page.waitForFunction(() => document.querySelectorAll('[data-testid=household-row]').length === 1, null, { timeout: T });
    await w.page.click('[data-testid=household-row] button');
    await w.page.waitForFunction(
      () => document.querySelector('[data-testid=members]')?.textContent.trim().startsWith('4'), null, { timeout: T });
    const history = await w.page.textContent('[data-testid=history]');
    assert.ok(history.includes('成员数 3 → 4'), history);
    assert.ok(history.includes('137****5678') && !history.includes('13712345678'), `the phone is masked: ${history}`);

    // The audit log.
    await a.page.click('[data-testid=admin-audit]');
    await a.page.waitForSelector('[data-testid=audit-list] tr[data-action="households.import"]', { timeout: T });
    const actions = await a.page.$$eval('[data-testid=audit-list] tr[data-action]', (rs) => rs.map((r) => r.dataset.action).reverse());
    assert.deepEqual(actions, [
      'org.create', 'org.create', 'org.create', 'person.create', 'person.create',
      'households.import', 'households.import', 'person.provision', 'person.provisioned',
      'person.provision', 'settings.step_limits', 'households.import',
    ]);
    console.log(JSON.stringify({ visit, issue, provisionedMs, households: 997 }));
  },

  /** A phone keeps the app cached while the server is upgraded: its waiting visit (written
   *  offline) stays in IndexedDB; the next time the app opens online it finds a newer app,
   *  installs it and reloads into it before it syncs, and the visit then reaches the server. */
  async 'app-update'() {
    const { writeFile } = await import('node:fs/promises');
    const { context, page } = await phone();
    await signIn(page, WORKER);
    const before = await page.evaluate(() => caches.keys());
    assert.equal(before.filter((k) => k.startsWith('gridvisit-shell-')).length, 1, before.join());
    const [household] = await householdIds(page, 'due');
    await goOffline(context, page);
    const visit = await recordVisit(page, household, { outcome: 'met' });
    assert.equal(await pending(page), 1);
    await page.close();

    // The server gets a new release of the app (its worker and version change).
    const dir = process.env.GV_APP_DIR;
    const sw = await readFile(join(dir, 'sw.js'), 'utf8');
    const next = 'update' + Date.now().toString(16);
    const { brotliCompressSync, gzipSync } = await import('node:zlib');
    const release = async (name, text) => {
      // With its precompressed copies, as `cargo xtask app` writes them (the server sends those).
      await writeFile(join(dir, name), text);
      await writeFile(join(dir, name + '.gz'), gzipSync(text));
      await writeFile(join(dir, name + '.br'), brotliCompressSync(text));
    };
    await release('sw.js', sw.replace(/gridvisit-shell-[0-9a-z]+/, `gridvisit-shell-${next}`));
    await release('version.json', JSON.stringify({ app: next }));

    // Days later the phone opens the app with the network on.
    await context.setOffline(false);
    const p2 = await context.newPage();
    p2.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    const loads = [];
    p2.on('load', () => loads.push(Date.now()));
    await p2.goto(base);
    await p2.waitForFunction(
      (n) => caches.keys().then((ks) => ks.length === 1 && ks[0] === `gridvisit-shell-${n}`), next,
      { timeout: T, polling: 200 });
    await waitSynced(p2);
    assert.ok(loads.length >= 2, `the page reloaded into the new app (${loads.length} loads)`);
    const { status, body } = await api(`/api/records/${visit}`, WORKER);
    assert.equal(status, 200, 'the visit written offline reached the server after the update');
    assert.equal(body.kind, 'visit');
    console.log(JSON.stringify({ visit, updatedTo: next, loads: loads.length }));
  },
  /** A resident scans the grid's QR code and reports a problem with a photo and a position
   *  (no account); the page stays under 50 KB; the tracking code comes back; the grid's worker
   *  sees it in the queue without a reload and escalates it to the community; the secretary
   *  accepts and handles it, follows up (回访) and closes it; the resident's status page shows
   *  the result and takes a rating. Another grid's worker cannot fetch the photo, a burst from
   *  one address is limited, and the `<script>` a resident wrote is text everywhere. */
  async 'resident-report'() {
    const w = await phone();
    const s = await phone();
    await signIn(w.page, WORKER);
    await signIn(s.page, SECRETARY);
    await w.page.click('.tabs button:nth-child(2)');
    await w.page.waitForSelector('[data-testid=issues]', { timeout: T });

    const dir = await mkdtemp(join(tmpdir(), 'gv-resident-'));
    dirs.push(dir);
    const resident = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 360, height: 740 },
      locale: 'zh-CN', permissions: ['geolocation'], geolocation: { latitude: 31.2304, longitude: 121.4737 },
    });
    contexts.push(resident);
    const r = resident.pages()[0] ?? (await resident.newPage());
    r.on('pageerror', (e) => console.error(`[resident page error] ${e.message}`));
    await r.addInitScript(() => { window.__xss = 0; });
    await r.goto(`${base}/report/s01/c01/g01`);
    await r.waitForSelector('[data-testid=report-page]', { timeout: T });
    const bytes = await r.evaluate(() => performance.getEntries()
      .filter((e) => 'transferSize' in e).reduce((n, e) => n + e.transferSize, 0));
    assert.ok(bytes > 0 && bytes <= 50 * 1024, `the report page transferred ${bytes} bytes`);

    const payload = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> 3号楼楼道灯不亮';
    await r.selectOption('#area', 'infrastructure');
    await r.fill('#description', payload);
    await r.fill('#phone', '13800000000');
    await r.check('#locate');
    await r.waitForFunction(() => document.querySelector('#where').textContent.length > 0, null, { timeout: T });
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
    await r.setInputFiles('#photos', { name: 'light.png', mimeType: 'image/png', buffer: png });
    await r.waitForSelector('#thumbs img', { timeout: T });
    const sent = Date.now();
    await r.click('#report button[type=submit]');
    const code = (await (await r.waitForSelector('[data-testid=tracking-code]', { timeout: T })).textContent()).trim();
    assert.match(code, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{5}$/);

    // The worker's queue shows it without a reload.
    const row = await w.page.waitForSelector('[data-testid=issue-row]:has-text("3号楼楼道灯不亮")', { timeout: T });
    const inQueueMs = Date.now() - sent;
    const issue = await row.getAttribute('data-id');
    await row.$eval('button', (b) => b.click());
    const desc = await w.page.waitForSelector(`[data-testid=issue][data-id="${issue}"] [data-testid=description]`, { timeout: T });
    assert.equal(await desc.textContent(), payload, 'the text shows as written');
    assert.ok((await w.page.textContent('[data-testid=source]')).includes('扫码'));
    assert.ok(await w.page.$('[data-testid=geo]'), 'the position shows');
    await w.page.waitForFunction(() => {
      const img = document.querySelector('[data-testid=photos] img');
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: T });
    assert.ok(![1, 2].includes(await w.page.evaluate(() => window.__xss)), 'nothing ran on the worker page');

    // The photo: another grid's worker may not fetch it.
    const rec = await api(`/api/records/${issue}`, WORKER);
    const hash = rec.body.record.detail.photos[0];
    assert.match(hash, /^[0-9a-f]{64}$/);
    const other = await fetch(`${base}/api/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'w-s01-c01-g02', password: PASSWORD }),
    }).then((x) => x.json());
    const denied = await fetch(`${base}/api/photos/${hash}`, { headers: { authorization: `Bearer ${other.token}` } });
    assert.equal(denied.status, 403, 'another grid\'s worker cannot fetch the photo');

    // The worker escalates it; the secretary accepts, handles, follows up and closes.
    await w.page.fill('textarea[name=note]', '需物业协调 needs the property company');
    await w.page.click('[data-action=escalate]');
    await w.page.waitForSelector('[data-testid=issue][data-level=community]', { timeout: T });
    await waitSynced(w.page);
    await s.page.click('.tabs button:nth-child(2)');
    await s.page.waitForSelector(`[data-testid=issue-row][data-id="${issue}"]`, { timeout: T });
    await s.page.click(`[data-testid=issue-row][data-id="${issue}"] button`);
    await s.page.waitForSelector(`[data-testid=issue][data-id="${issue}"]`, { timeout: T });
    const step = async (action, attr) => {
      await s.page.click(`[data-action=${action}]`);
      await s.page.waitForSelector(`[data-testid=issue]${attr}`, { timeout: T });
    };
    await step('accept', '[data-status=accepted]');
    await s.page.fill('textarea[name=note]', '已更换灯泡 the bulb is replaced');
    await step('handle', '[data-status=handled]');
    const before = await s.page.$$eval('[data-action]', (bs) => bs.map((b) => b.dataset.action));
    assert.ok(!before.includes('close') && before.includes('followup-yes'), `closing waits for the follow-up: ${before}`);
    await s.page.click('[data-action=followup-yes]');
    await s.page.waitForSelector('[data-action=close]', { timeout: T });
    await step('close', '[data-status=closed]');
    await waitSynced(s.page);

    // The resident's status page: each step, the result note, the follow-up; then a rating.
    await r.goto(`${base}/report/status/${code}`);
    await r.waitForSelector('[data-testid=status-page][data-status=closed]', { timeout: T });
    const steps = await r.$$eval('ol.steps li', (ls) => ls.map((l) => l.dataset.step));
    for (const k of ['received', 'accepted', 'handled', 'followup', 'closed']) assert.ok(steps.includes(k), steps.join());
    assert.ok((await r.textContent('ol.steps')).includes('已更换灯泡'), 'the result note');
    assert.equal(await r.textContent('[data-testid=description]'), payload);
    await r.click('[data-testid=rate] button[data-score="5"]');
    await r.waitForSelector('[data-testid=rating]', { timeout: T });
    assert.ok((await r.textContent('[data-testid=rating]')).includes('5'));
    assert.equal(await r.evaluate(() => window.__xss), 0, 'nothing ran on the resident page');
    const after = await api(`/api/records/${issue}`, SECRETARY);
    assert.equal(after.body.record.state.rating, 5);

    // A burst from one address to one grid is limited (429), with a clear message.
    const statuses = await r.evaluate(async () => {
      const out = [];
      for (let i = 0; i < 7; i++) {
        const body = new FormData();
        body.append('service_code', 'needs');
        body.append('description', `burst ${i}`);
        body.append('attribute[grid]', 's01/c01/g02');
        out.push((await fetch('/open311/v2/requests.json', { method: 'POST', body })).status);
      }
      return out;
    });
    assert.deepEqual(statuses.slice(0, 5), [201, 201, 201, 201, 201], statuses.join());
    assert.ok(statuses.slice(5).every((x) => x === 429), statuses.join());

    // The secretary prints the community's grid QR codes from the team screen, in the browser
    // that holds the app (its service worker leaves the server's pages alone).
    await s.page.click('.tabs button:has-text("人员")');
    const link = await s.page.getAttribute('[data-testid=qr-sheets] a', 'href', { timeout: T });
    assert.equal(link, '/qr-sheet/s01/c01');
    await s.page.goto(`${base}${link}`);
    await s.page.waitForSelector('[data-testid=qr-sheet] .card svg', { timeout: T });
    const cards = await s.page.$$eval('[data-testid=qr-sheet] .card', (cs) => cs.map((c) => c.dataset.grid));
    assert.ok(cards.includes('s01/c01/g01') && cards.every((g) => g.startsWith('s01/c01/')), cards.join());
    console.log(JSON.stringify({ code, issue, reportPageBytes: bytes, inQueueMs, qrCards: cards.length }));
  },

  /** A resident opens the report page, loses the network, and submits: the report is kept
   *  on the phone and sent when the network is back, and the tracking code then shows. */
  async 'resident-offline'() {
    const { context, page } = await phone();
    await page.goto(`${base}/report/s01/c01/g01`);
    await page.waitForSelector('[data-testid=report-page]', { timeout: T });
    await context.setOffline(true);
    await page.fill('#description', '地下室积水 a flooded basement');
    await page.click('#report button[type=submit]');
    await page.waitForSelector('#notice.queued', { timeout: T });
    const queued = await page.evaluate(() => JSON.parse(localStorage.getItem('gv-report-queue')).length);
    assert.equal(queued, 1, 'kept on the phone');
    await context.setOffline(false);
    const code = (await (await page.waitForSelector('[data-testid=tracking-code]', { timeout: T })).textContent()).trim();
    const got = await fetch(`${base}/open311/v2/requests/${code}.json`).then((x) => x.json());
    assert.equal(got[0].description, '地下室积水 a flooded basement');
    assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('gv-report-queue')).length), 0);
    console.log(JSON.stringify({ code }));
  },
  /** A worker on patrol reports two issues with ten photos while offline (issues anywhere,
   *  no household); the photos survive a reload and show from the phone; when the network
   *  comes back (throttled to 2 Mbit/s up) they upload by hash; the secretary may fetch them,
   *  another grid's worker may not. */
  async 'photo-offline'() {
    const { context, page } = await phone();
    await signIn(page, WORKER);
    // Ten different photos, as a phone camera might give (noise compresses badly).
    const photos = await page.evaluate(async () => {
      const out = [];
      for (let n = 0; n < 10; n++) {
        const c = document.createElement('canvas');
        c.width = 1200; c.height = 900;
        const g = c.getContext('2d');
        const img = g.createImageData(c.width, c.height);
        let x = 1234567 + n * 7919;
        for (let i = 0; i < img.data.length; i += 4) {
          x = (x * 1103515245 + 12345) & 0x7fffffff;
          img.data[i] = x & 255; img.data[i + 1] = (x >> 8) & 255; img.data[i + 2] = (x >> 16) & 255; img.data[i + 3] = 255;
        }
        g.putImageData(img, 0, 0);
        const blob = await new Promise((r) => c.toBlob(r, 'image/png'));
        const bytes = new Uint8Array(await blob.arrayBuffer());
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        out.push(btoa(s));
      }
      return out;
    });
    await page.click('.tabs button:nth-child(2)');
    // Offline through the DevTools protocol, which also throttles the link when it comes back.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const link = { latency: 40, downloadThroughput: -1, uploadThroughput: (2_000_000 / 8) };
    await cdp.send('Network.emulateNetworkConditions', { offline: true, ...link });
    await waitState(page, 'offline');
    const issues = [];
    for (const [k, batch] of [[0, photos.slice(0, 5)], [1, photos.slice(5)]]) {
      await page.click('[data-testid=new-issue-button]');
      await page.waitForSelector('[data-testid=new-issue]', { timeout: T });
      await page.fill('[data-testid=new-issue] textarea[name=description]', `巡查发现 ${k}：路面塌陷 a sunken pavement`);
      await page.fill('[data-testid=new-issue] input[name=place]', `5号楼南侧 ${k}`);
      await page.setInputFiles('[data-testid=new-issue] input[name=photo]',
        batch.map((b, i) => ({ name: `p${k}-${i}.png`, mimeType: 'image/png', buffer: Buffer.from(b, 'base64') })));
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=new-issue] [data-testid=photos] img').length === 5,
        null, { timeout: T });
      await page.click('[data-testid=new-issue] button[type=submit]');
      await page.waitForSelector('[data-testid=issue][data-status=reported]', { timeout: T });
      issues.push(await page.getAttribute('[data-testid=issue]', 'data-id'));
      await page.click('[data-testid=issue] .back');
    }
    assert.equal(await page.evaluate(() => gvPhotos.pending()), 10, 'ten photos wait on the phone');

    // A reload while offline: the photos are still here, and show from the phone.
    await page.reload();
    await waitState(page, 'offline');
    await page.click('.tabs button:nth-child(2)');
    await page.click(`[data-testid=issue-row][data-id="${issues[0]}"] button`);
    await page.waitForFunction(() => {
      const imgs = [...document.querySelectorAll('[data-testid=issue] [data-testid=photos] img')];
      return imgs.length === 5 && imgs.every((i) => i.dataset.local === 'true' && i.complete && i.naturalWidth > 0);
    }, null, { timeout: T });
    assert.equal(await page.evaluate(() => gvPhotos.pending()), 10);
    const sizes = await page.evaluate(() => new Promise((resolve) => {
      const open = indexedDB.open('gridvisit-photos');
      open.onsuccess = () => {
        const req = open.result.transaction('photos').objectStore('photos').getAll();
        req.onsuccess = () => { resolve(req.result.map((p) => p.bytes.byteLength)); open.result.close(); };
      };
    }));
    assert.ok(sizes.every((n) => n <= 300 * 1024), `each photo is at most 300 KB: ${sizes}`);

    // Back online over a 2 Mbit/s uplink: the photos upload.
    const started = Date.now();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, ...link });
    // Waits for the queue to report itself empty (photos.js dispatches `gv-photos`).
    await page.evaluate(() => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('photos still waiting after 60 s')), 60_000);
      window.addEventListener('gv-photos', (e) => {
        if (e.detail.left === 0) { clearTimeout(timer); resolve(); }
      });
    }));
    assert.equal(await page.evaluate(() => gvPhotos.pending()), 0);
    const uploadMs = Date.now() - started;
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await waitSynced(page);

    // Served to the grid's people, not to another grid's worker.
    const rec = await api(`/api/records/${issues[1]}`, SECRETARY);
    assert.equal(rec.status, 200);
    const hashes = rec.body.record.detail.photos;
    assert.equal(hashes.length, 5);
    const token = async (user) => (await fetch(`${base}/api/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: user, password: PASSWORD }),
    }).then((x) => x.json())).token;
    const [sec, other] = [await token(SECRETARY), await token('w-s01-c01-g02')];
    const got = await fetch(`${base}/api/photos/${hashes[0]}`, { headers: { authorization: `Bearer ${sec}` } });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/jpeg');
    const denied = await fetch(`${base}/api/photos/${hashes[0]}`, { headers: { authorization: `Bearer ${other}` } });
    assert.equal(denied.status, 403);
    const bytes = sizes.reduce((a, b) => a + b, 0);
    console.log(JSON.stringify({ issues, photos: 10, bytes, uploadMs }));
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
