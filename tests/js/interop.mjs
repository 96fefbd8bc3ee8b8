#!/usr/bin/env node
// Interop CLI: drive a REAL automerge-repo JS client (Repo +
// WebSocketClientAdapter from the pinned npm packages) against a sync server
// that speaks automerge-repo's WebSocket protocol v1. Spawned by the Rust
// integration tests; see README.md for the full contract.
//
//   node interop.mjs create <wsUrl> <json> [--timeout ms]
//   node interop.mjs read   <wsUrl> <documentId|url> [--expect path=value ...] [--timeout ms]
//   node interop.mjs edit   <wsUrl> <documentId|url> <path>=<value> [...] [--timeout ms]
//   node interop.mjs append <wsUrl> <documentId|url> <eventJson> [--timeout ms]
//
// `append` pushes an event onto an issue's `events` list, as a JS app would, and waits until
// a fresh client sees it on the server; an event the server refuses never appears there, so
// the caller watches the server's quarantine instead and stops the process.
//
// stdout: exactly one line of JSON on success (exit 0).
// stderr: diagnostics; on failure the reason, exit 1.
// Heads are printed as sorted lowercase hex change hashes (Automerge
// `getHeads`), i.e. the same form as Rust's `ChangeHash` Display, NOT the
// bs58check "UrlHeads" that DocHandle.heads() returns.

import { randomBytes } from "node:crypto"

import * as A from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const DEFAULT_TIMEOUT_MS = 15_000
const POLL_MS = 200 // pause between "does a fresh repo see it?" attempts
const ATTEMPT_MS = 2_000 // how long one verifier repo waits for the heads
const SETTLE_MS = 200 // quiet period after a find before trusting the doc
const RETRY_MS = 1_000 // WebSocketClientAdapter reconnect interval

const USAGE = `usage:
  node interop.mjs create <wsUrl> <json> [--timeout ms]
  node interop.mjs read   <wsUrl> <documentId|url> [--expect path=value ...] [--timeout ms]
  node interop.mjs edit   <wsUrl> <documentId|url> <path>=<value> [...] [--timeout ms]
  node interop.mjs append <wsUrl> <documentId|url> <eventJson> [--timeout ms]`

// ------------------------------------------------------------------ plumbing
const log = (...args) => console.error("interop:", ...args)

let finished = false
function fail(reason) {
  if (finished) return
  finished = true
  console.error(`interop: FAILED: ${reason instanceof Error ? reason.message : reason}`)
  process.exit(1)
}

function succeed(obj) {
  if (finished) return
  finished = true
  process.stdout.write(JSON.stringify(obj) + "\n", () => process.exit(0))
}

// WebSocketClientAdapter re-throws any socket error other than ECONNREFUSED
// (e.g. "Unexpected server response: 401") from inside an event listener, so
// it surfaces here rather than as a rejected promise.
const crash = kind => err => {
  if (err?.stack) console.error(err.stack)
  fail(`${kind}: ${err?.message ?? err}`)
}
process.on("uncaughtException", crash("uncaught exception (websocket error?)"))
process.on("unhandledRejection", crash("unhandled rejection"))

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const remaining = deadline => Math.max(1, deadline - Date.now())

function parseArgs(argv) {
  const [mode, wsUrl, ...rest] = argv
  if (!mode || !wsUrl || !["create", "read", "edit", "append"].includes(mode)) {
    throw new Error(`bad arguments\n${USAGE}`)
  }
  const positional = []
  const expects = []
  let timeout = DEFAULT_TIMEOUT_MS
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    if (arg === "--timeout") {
      timeout = Number(rest[++i])
      if (!Number.isFinite(timeout) || timeout <= 0) throw new Error(`bad --timeout ${rest[i]}`)
    } else if (arg.startsWith("--timeout=")) {
      timeout = Number(arg.slice("--timeout=".length))
      if (!Number.isFinite(timeout) || timeout <= 0) throw new Error(`bad ${arg}`)
    } else if (arg === "--expect") {
      if (i + 1 >= rest.length) throw new Error("--expect needs path=value")
      expects.push(splitAssignment(rest[++i]))
    } else if (arg.startsWith("--expect=")) {
      expects.push(splitAssignment(arg.slice("--expect=".length)))
    } else {
      positional.push(arg)
    }
  }
  if (expects.length && mode !== "read") throw new Error("--expect is only valid for read")
  return { mode, wsUrl, positional, expects, timeout }
}

function splitAssignment(s) {
  const eq = s.indexOf("=")
  if (eq <= 0) throw new Error(`expected path=value, got ${JSON.stringify(s)}`)
  return { path: s.slice(0, eq), value: s.slice(eq + 1) }
}

const splitPath = path => path.split(".")

function getPath(obj, path) {
  let cur = obj
  for (const seg of splitPath(path)) {
    if (cur === null || cur === undefined || typeof cur !== "object") return undefined
    cur = cur[seg]
  }
  return cur
}

// ---------------------------------------------------------------- doc <-> JSON
const hex = bytes => Buffer.from(bytes).toString("hex")

const hexHeads = doc => [...A.getHeads(doc)].sort()

/** Convert an Automerge doc (or sub-value) to plain JSON, recording the
 * dotted paths of scalar (non-text) strings in `scalars`. */
function toPlain(value, path, scalars) {
  if (A.isImmutableString(value)) {
    scalars.push(path)
    return value.val
  }
  if (A.isCounter(value)) return value.value
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array) return { $bytes: hex(value) }
  if (Array.isArray(value)) {
    return value.map((v, i) => toPlain(v, path === "" ? String(i) : `${path}.${i}`, scalars))
  }
  if (value !== null && typeof value === "object") {
    const out = {}
    for (const key of Object.keys(value)) {
      out[key] = toPlain(value[key], path === "" ? key : `${path}.${key}`, scalars)
    }
    return out
  }
  return value // string (= text in automerge 3), number, boolean, null
}

function docSnapshot(doc) {
  const scalarStrings = []
  const plain = toPlain(doc, "", scalarStrings)
  return { doc: plain, heads: hexHeads(doc), scalarStrings: scalarStrings.sort() }
}

/** Parse an `edit` value. Plain values are JS strings (Automerge text). */
function parseValue(raw) {
  if (raw.startsWith("num:")) {
    const n = Number(raw.slice(4))
    if (raw.length === 4 || !Number.isFinite(n)) throw new Error(`bad number ${JSON.stringify(raw)}`)
    return n
  }
  if (raw.startsWith("bool:")) {
    const b = raw.slice(5)
    if (b !== "true" && b !== "false") throw new Error(`bad boolean ${JSON.stringify(raw)}`)
    return b === "true"
  }
  if (raw === "null:") return null
  if (raw.startsWith("scalar:")) return new A.ImmutableString(raw.slice(7))
  if (raw.startsWith("text:")) return raw.slice(5)
  return raw
}

function setPath(root, path, value) {
  const segs = splitPath(path)
  let cur = root
  for (const seg of segs.slice(0, -1)) {
    const next = cur[seg]
    if (next === null || typeof next !== "object" || Array.isArray(next) ||
        A.isImmutableString(next) || A.isCounter(next) || next instanceof Date ||
        next instanceof Uint8Array) {
      cur[seg] = {}
    }
    cur = cur[seg]
  }
  cur[segs[segs.length - 1]] = value
}

/** Build the initial document for `create` from the CLI JSON. */
function buildInitial(json) {
  let obj
  try {
    obj = JSON.parse(json)
  } catch (e) {
    throw new Error(`initial content is not valid JSON: ${e.message}`)
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new Error("initial content must be a JSON object")
  }
  const textKeys = obj.$text ?? []
  const scalarKeys = obj.$scalar ?? []
  delete obj.$text
  delete obj.$scalar
  if (!Array.isArray(textKeys) || !Array.isArray(scalarKeys)) {
    throw new Error("$text and $scalar must be arrays of (dotted) keys")
  }
  for (const key of textKeys) {
    // In automerge 3 a plain JS string IS collaborative text; just validate.
    if (typeof getPath(obj, key) !== "string") throw new Error(`$text key ${key} is not a string`)
  }
  for (const key of scalarKeys) {
    if (textKeys.includes(key)) throw new Error(`key ${key} is in both $text and $scalar`)
    const v = getPath(obj, key)
    if (typeof v !== "string") throw new Error(`$scalar key ${key} is not a string`)
    setPath(obj, key, new A.ImmutableString(v))
  }
  return obj
}

// ------------------------------------------------------------------- repos
const openRepos = new Set()

function startRepo(wsUrl) {
  const adapter = new WebSocketClientAdapter(wsUrl, RETRY_MS)
  const repo = new Repo({
    peerId: `js-interop-${randomBytes(6).toString("hex")}`,
    network: [adapter],
    sharePolicy: async () => true,
  })
  openRepos.add(repo)
  return repo
}

async function stopRepo(repo) {
  if (!openRepos.delete(repo)) return
  try {
    await repo.shutdown()
  } catch (e) {
    log(`shutdown of ${repo.peerId} failed (ignored): ${e.message}`)
  }
}

const stopAll = () => Promise.all([...openRepos].map(stopRepo))

/** Resolve once the server answered our join with a peer message. */
function waitForPeer(repo, wsUrl, deadline) {
  if (repo.peers.length > 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      repo.networkSubsystem.off("peer", onPeer)
      reject(new Error(`no peer message from ${redact(wsUrl)} (could not connect / join)`))
    }, remaining(deadline))
    const onPeer = () => {
      clearTimeout(timer)
      repo.networkSubsystem.off("peer", onPeer)
      resolve()
    }
    repo.networkSubsystem.on("peer", onPeer)
  })
}

/** Wait until predicate() is true, re-checking on every handle change and
 * every 100 ms, up to `until`. Resolves true/false. */
function waitForCondition(handle, predicate, until) {
  return new Promise(resolve => {
    let done = false
    const finish = ok => {
      if (done) return
      done = true
      clearInterval(ticker)
      clearTimeout(timer)
      handle.off("change", check)
      resolve(ok)
    }
    const check = () => {
      try {
        if (predicate()) finish(true)
      } catch (e) {
        log(`condition check threw: ${e.message}`)
      }
    }
    const ticker = setInterval(check, 100)
    const timer = setTimeout(() => finish(false), Math.max(0, until - Date.now()))
    handle.on("change", check)
    check()
  })
}

/** After a find, wait until no change has arrived for SETTLE_MS so a
 * multi-round sync has a chance to complete. */
async function settle(handle, deadline) {
  let last = Date.now()
  const bump = () => { last = Date.now() }
  handle.on("change", bump)
  try {
    while (Date.now() - last < SETTLE_MS && Date.now() < deadline) {
      await sleep(Math.min(50, remaining(deadline)))
    }
  } finally {
    handle.off("change", bump)
  }
}

async function findDoc(repo, wsUrl, target, deadline) {
  await waitForPeer(repo, wsUrl, deadline)
  try {
    return await repo.find(target, { signal: AbortSignal.timeout(remaining(deadline)) })
  } catch (e) {
    if (e?.name === "AbortError" || e?.name === "TimeoutError") {
      throw new Error(`timed out finding ${target}`)
    }
    throw e // includes "Document ... is unavailable"
  }
}

/** "The server has it": a SECOND, fresh Repo (new peer id, no storage, so it
 * can only get the doc from the server) connected to the same URL can find
 * the document and its heads contain every one of `expectedHeads` (normally
 * they are identical). A fresh Repo is used per attempt because a Repo caches
 * an "unavailable" answer for a document. */
async function waitUntilServerHas(wsUrl, documentId, expectedHeads, deadline) {
  let attempt = 0
  let lastReason = "no attempt made"
  while (Date.now() < deadline) {
    attempt++
    const repo = startRepo(wsUrl)
    try {
      const handle = await findDoc(repo, wsUrl, documentId, deadline)
      const ok = await waitForCondition(
        handle,
        () => A.hasHeads(handle.doc(), expectedHeads),
        Math.min(deadline, Date.now() + ATTEMPT_MS),
      )
      const seen = hexHeads(handle.doc())
      if (ok) {
        log(`verifier ${repo.peerId} sees heads ${seen.join(",")} (attempt ${attempt})`)
        return seen
      }
      lastReason = `verifier saw heads [${seen.join(",")}], want [${expectedHeads.join(",")}]`
    } catch (e) {
      lastReason = e.message
    } finally {
      await stopRepo(repo)
    }
    log(`attempt ${attempt}: ${lastReason}`)
    await sleep(Math.min(POLL_MS, remaining(deadline)))
  }
  throw new Error(`server did not serve ${documentId} with the expected heads: ${lastReason}`)
}

const redact = url => url.replace(/([?&]token=)[^&]*/i, "$1***")

// ------------------------------------------------------------------- modes
async function cmdCreate({ wsUrl, positional }, deadline) {
  if (positional.length !== 1) throw new Error(`create takes exactly one <json>\n${USAGE}`)
  const initial = buildInitial(positional[0])
  const repo = startRepo(wsUrl)
  await waitForPeer(repo, wsUrl, deadline)
  const handle = repo.create(initial)
  const heads = hexHeads(handle.doc())
  log(`created ${handle.url} heads ${heads.join(",")}`)
  await waitUntilServerHas(wsUrl, handle.documentId, heads, deadline)
  return { url: handle.url, documentId: handle.documentId, heads }
}

async function cmdRead({ wsUrl, positional, expects }, deadline) {
  if (positional.length !== 1) throw new Error(`read takes exactly one <documentId|url>\n${USAGE}`)
  const repo = startRepo(wsUrl)
  const handle = await findDoc(repo, wsUrl, positional[0], deadline)
  const mismatches = () =>
    expects
      .map(({ path, value }) => ({ path, want: value, got: getPath(handle.doc(), path) }))
      .filter(({ want, got }) => String(got) !== want)
  const ok = await waitForCondition(handle, () => mismatches().length === 0, deadline)
  if (!ok) {
    const detail = mismatches()
      .map(m => `${m.path}: want ${JSON.stringify(m.want)}, got ${JSON.stringify(String(m.got))}`)
      .join("; ")
    throw new Error(`expectations not met before timeout: ${detail}`)
  }
  if (expects.length === 0) await settle(handle, deadline)
  return docSnapshot(handle.doc())
}

async function cmdEdit({ wsUrl, positional }, deadline) {
  if (positional.length < 2) throw new Error(`edit takes <documentId|url> <path>=<value> ...\n${USAGE}`)
  const [target, ...assignmentArgs] = positional
  const assignments = assignmentArgs.map(splitAssignment).map(({ path, value }) => ({
    path,
    value: parseValue(value),
  }))
  const repo = startRepo(wsUrl)
  const handle = await findDoc(repo, wsUrl, target, deadline)
  await settle(handle, deadline)
  handle.change(doc => {
    for (const { path, value } of assignments) setPath(doc, path, value)
  })
  const heads = hexHeads(handle.doc())
  log(`edited ${handle.url} heads ${heads.join(",")}`)
  await waitUntilServerHas(wsUrl, handle.documentId, heads, deadline)
  return { heads }
}

async function cmdAppend({ wsUrl, positional }, deadline) {
  if (positional.length !== 2) throw new Error(`append takes <documentId|url> <eventJson>\n${USAGE}`)
  const [target, json] = positional
  const event = JSON.parse(json)
  const repo = startRepo(wsUrl)
  const handle = await findDoc(repo, wsUrl, target, deadline)
  await settle(handle, deadline)
  handle.change(doc => {
    doc.events.push(event)
  })
  const heads = hexHeads(handle.doc())
  log(`appended ${event.kind} to ${handle.url} heads ${heads.join(",")}`)
  await waitUntilServerHas(wsUrl, handle.documentId, heads, deadline)
  return { heads }
}

// -------------------------------------------------------------------- main
async function main() {
  let args
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (e) {
    fail(e.message)
    return
  }
  const deadline = Date.now() + args.timeout
  setTimeout(() => {
    console.error("timeout")
    process.exit(1)
  }, args.timeout + 5_000).unref()

  log(`${args.mode} against ${redact(args.wsUrl)} (timeout ${args.timeout} ms)`)
  const run = { create: cmdCreate, read: cmdRead, edit: cmdEdit, append: cmdAppend }[args.mode]
  let result
  try {
    result = await run(args, deadline)
  } catch (e) {
    await stopAll()
    fail(e)
    return
  }
  await stopAll()
  succeed(result)
}

main()
