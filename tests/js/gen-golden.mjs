#!/usr/bin/env node
// Generate golden automerge-repo websocket wire messages by capturing the
// ACTUAL binary frames that the real npm packages put on a WebSocket.
//
//   cd tests/js && npm ci && node gen-golden.mjs [outDir]
//
// Default outDir: ../../shared/tests/golden (relative to this file).
//
// Scenarios (all on 127.0.0.1, port 0):
//   A  real Repo + WebSocketServerAdapter (sharePolicy: never announce, like
//      automerge-repo-sync-server)  <->  raw `ws` clients that we drive by hand
//      -> peer, sync_from_server, doc_unavailable, ephemeral_from_server, error
//   B  real Repo + WebSocketClientAdapter  <->  raw `ws` server driven by hand
//      -> join, sync_from_client*, request, request_existing, ephemeral
//   C  real Repo + WebSocketServerAdapter with enableRemoteHeadsGossiping
//      <-> two raw clients with storage ids
//      -> remote_subscription_change_from_server, remote_heads_changed
//   D  real Repo + WebSocketClientAdapter with enableRemoteHeadsGossiping and
//      subscribeToRemotes()  <->  raw server
//      -> remote_subscription_change
//
// Frames sent by the raw peers are built with the package's own CBOR encoder
// (the `cbor` namespace exported by @automerge/automerge-repo, which is what
// the websocket adapters use) and carry real Automerge sync messages.
//
// Determinism: fixed peer ids, fixed document ids, fixed Automerge actor ids
// and change timestamps, and Math.random is seeded while the repos are
// constructed (so the ephemeral `sessionId` is stable). The only fields that
// would vary, the `timestamp`s inside remote_heads_changed (Date.now()), are
// made stable by freezing Date.now while scenario C runs.

import { mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

import * as A from "@automerge/automerge"
import {
  Repo,
  cbor,
  isRepoMessage,
  parseAutomergeUrl,
  stringifyAutomergeUrl,
} from "@automerge/automerge-repo"
import {
  WebSocketClientAdapter,
  WebSocketServerAdapter,
} from "@automerge/automerge-repo-network-websocket"
import { WebSocket, WebSocketServer } from "ws"

// ---------------------------------------------------------------- hard timeout
const HARD_TIMEOUT_MS = 20_000
setTimeout(() => {
  console.error(`gen-golden: hard timeout after ${HARD_TIMEOUT_MS} ms, aborting`)
  process.exit(2)
}, HARD_TIMEOUT_MS).unref()

process.on("unhandledRejection", err => {
  console.error("gen-golden: unhandled rejection:", err)
  process.exit(3)
})

const here = dirname(fileURLToPath(import.meta.url))
const OUT_DIR = resolve(process.argv[2] ?? join(here, "../../shared/tests/golden"))

// ------------------------------------------------------------------ constants
const TITLE = "门牌 3-2-501"
const CHANGE_TIME = 1_700_000_000 // seconds, fixed Automerge change timestamp

const SERVER_PEER = "js-server"
const GOSSIP_SERVER_PEER = "js-server-gossip"
const CLIENT_PEER = "js-client"
const GOSSIP_CLIENT_PEER = "js-client-gossip"
const RAW_CLIENT_PEER = "raw-client"
const RAW_BAD_CLIENT_PEER = "raw-client-badproto"
const RAW_SERVER_PEER = "raw-server"
const RAW_GOSSIP_A = "raw-peer-a"
const RAW_GOSSIP_B = "raw-peer-b"

const docIdFromSeed = seed => {
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => (seed * 16 + i) & 0xff)
  return parseAutomergeUrl(stringifyAutomergeUrl(bytes)).documentId
}
const DOC_SERVER_HAS = docIdFromSeed(1) // held by the real server repo (A, C)
const DOC_MISSING = docIdFromSeed(2) // nobody has it
const DOC_CLIENT_HAS = docIdFromSeed(3) // held by the real client repo (B)
const DOC_RAW_SERVER_HAS = docIdFromSeed(4) // held by the raw server (B)
const docUrl = documentId => stringifyAutomergeUrl({ documentId })

const makeDoc = (actorByte, title = TITLE) =>
  A.change(
    A.init({ actor: actorByte.repeat(16) }),
    { time: CHANGE_TIME, message: "golden" },
    d => {
      d.title = title
    }
  )

// ------------------------------------------------------------------- helpers
const sleep = ms => new Promise(r => setTimeout(r, ms))
const hex = u8 => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString("hex")

async function waitFor(what, pred, timeoutMs = 5000) {
  const start = performance.now()
  for (;;) {
    const v = pred()
    if (v) return v
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

// Deterministic PRNG (mulberry32) used while constructing repos.
function withSeededRandom(seed, fn) {
  const orig = Math.random
  let a = seed >>> 0
  Math.random = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  try {
    return fn()
  } finally {
    Math.random = orig
  }
}

const listen = wss =>
  new Promise((res, rej) => {
    wss.once("listening", () => res(wss.address().port))
    wss.once("error", rej)
  })
const closeWss = wss =>
  new Promise(res => {
    for (const c of wss.clients) c.terminate()
    wss.close(() => res())
  })
const openClient = url =>
  new Promise((res, rej) => {
    const ws = new WebSocket(url)
    ws.binaryType = "nodebuffer"
    ws.once("open", () => res(ws))
    ws.once("error", rej)
  })

const send = (ws, msg) => ws.send(cbor.encode(msg))

/** Frame record: raw bytes + decoded message. */
const record = (list, data, label) => {
  const bytes = new Uint8Array(data) // copy
  const msg = cbor.decode(bytes)
  list.push({ bytes, msg, label })
  return list[list.length - 1]
}

// A tiny hand-driven automerge-repo peer that runs the real Automerge sync
// protocol per document over one socket. Used for the raw client/server sides.
class RawSyncPeer {
  constructor(ws, myId, remoteId, docs = {}) {
    this.ws = ws
    this.myId = myId
    this.remoteId = remoteId
    this.docs = { ...docs } // documentId -> Automerge doc
    this.states = {} // documentId -> sync state
  }
  #state(documentId) {
    return (this.states[documentId] ??= A.initSyncState())
  }
  /** send a `request` (we have nothing) or `sync` for documentId */
  start(documentId, type = "request") {
    const doc = (this.docs[documentId] ??= A.init())
    const [st, data] = A.generateSyncMessage(doc, this.#state(documentId))
    this.states[documentId] = st
    if (data) send(this.ws, { type, senderId: this.myId, targetId: this.remoteId, documentId, data })
  }
  /** feed an incoming sync/request; reply with sync if Automerge has something to say */
  receive(msg) {
    const { documentId } = msg
    const doc = this.docs[documentId] ?? A.init()
    const [doc2, st] = A.receiveSyncMessage(doc, this.#state(documentId), msg.data)
    this.docs[documentId] = doc2
    const [st2, reply] = A.generateSyncMessage(doc2, st)
    this.states[documentId] = st2
    if (reply) {
      send(this.ws, {
        type: "sync",
        senderId: this.myId,
        targetId: this.remoteId,
        documentId,
        data: reply,
      })
    }
  }
}

// ------------------------------------------------------------- golden output
const golden = {} // name -> { frame, direction, scenario, description }
const transcripts = {}
const addGolden = (name, frame, scenario, direction, description) => {
  if (!frame) throw new Error(`no frame captured for ${name}`)
  if (golden[name]) throw new Error(`duplicate golden ${name}`)
  golden[name] = { frame, scenario, direction, description }
}

const cleanups = []
const cleanupAll = async () => {
  while (cleanups.length) {
    const fn = cleanups.pop()
    try {
      await fn()
    } catch (e) {
      console.error("cleanup error (ignored):", e?.message ?? e)
    }
  }
}

// ============================================================== scenario A
async function scenarioA() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  const port = await listen(wss)
  cleanups.push(() => closeWss(wss))
  const url = `ws://127.0.0.1:${port}`

  // Like automerge-repo-sync-server: never announce documents, only answer requests.
  const repo = withSeededRandom(1, () => new Repo({
    network: [new WebSocketServerAdapter(wss)],
    peerId: SERVER_PEER,
    sharePolicy: async () => false,
  }))
  cleanups.push(() => repo.shutdown())
  const handle = repo.import(A.save(makeDoc("a1")), { docId: DOC_SERVER_HAS })
  await handle.whenReady()

  // --- raw client: join, request existing doc, request missing doc
  const frames = []
  const ws = await openClient(url)
  cleanups.push(() => ws.terminate())
  const peer = new RawSyncPeer(ws, RAW_CLIENT_PEER, SERVER_PEER)
  ws.on("message", data => {
    const f = record(frames, data)
    if (f.msg.type === "sync" || f.msg.type === "request") peer.receive(f.msg)
  })
  send(ws, {
    type: "join",
    senderId: RAW_CLIENT_PEER,
    peerMetadata: { isEphemeral: true },
    supportedProtocolVersions: ["1"],
  })
  const peerFrame = await waitFor("peer", () => frames.find(f => f.msg.type === "peer"))
  addGolden("peer", peerFrame, "A", "server->client", "WebSocketServerAdapter reply to a valid join")

  peer.start(DOC_SERVER_HAS, "request")
  const syncFromServer = await waitFor("sync from server", () =>
    frames.find(f => f.msg.type === "sync" && f.msg.documentId === DOC_SERVER_HAS)
  )
  addGolden(
    "sync_from_server",
    syncFromServer,
    "A",
    "server->client",
    "server Repo answering a `request` (from an empty doc) for a document it has; carries the change(s)"
  )
  await waitFor("raw client to hold the title", () => peer.docs[DOC_SERVER_HAS]?.title === TITLE)

  peer.start(DOC_MISSING, "request")
  const unavailable = await waitFor("doc-unavailable", () =>
    frames.find(f => f.msg.type === "doc-unavailable")
  )
  // The server Repo answers the request with an (empty-doc) sync message first,
  // then with doc-unavailable.
  const syncUnknown = frames.find(f => f.msg.type === "sync" && f.msg.documentId === DOC_MISSING)
  if (syncUnknown) {
    addGolden("sync_from_server_unknown_doc", syncUnknown, "A", "server->client",
      "server Repo's sync reply (from an empty doc) to a `request` for an unknown document, sent just before doc-unavailable")
  }
  addGolden("doc_unavailable", unavailable, "A", "server->client",
    "server Repo answering a `request` for a document id it does not know")

  handle.broadcast({ kind: "cursor", pos: 7, who: TITLE })
  const eph = await waitFor("ephemeral from server", () => frames.find(f => f.msg.type === "ephemeral"))
  addGolden("ephemeral_from_server", eph, "A", "server->client",
    "handle.broadcast({kind:'cursor',pos:7,who:TITLE}) on the server repo")
  await sleep(150) // let any trailing sync frames arrive for the transcript
  transcripts.A_raw_client = frames.map(f => `server->client ${f.msg.type}${f.msg.documentId ? " " + f.msg.documentId : ""}`)

  // --- raw client with an unsupported protocol version
  const badFrames = []
  const bad = await openClient(url)
  cleanups.push(() => bad.terminate())
  const badClosed = new Promise(r => bad.once("close", (code, reason) => r({ code, reason: reason.toString() })))
  bad.on("message", data => record(badFrames, data))
  send(bad, {
    type: "join",
    senderId: RAW_BAD_CLIENT_PEER,
    peerMetadata: { isEphemeral: true },
    supportedProtocolVersions: ["99"],
  })
  const errFrame = await waitFor("error", () => badFrames.find(f => f.msg.type === "error"))
  const closeInfo = await Promise.race([badClosed, sleep(2000).then(() => null)])
  addGolden("error", errFrame, "A", "server->client",
    `reply to join with supportedProtocolVersions ["99"]; server then closes the socket (close: ${JSON.stringify(closeInfo)})`)
  transcripts.A_raw_bad_client = badFrames.map(f => `server->client ${f.msg.type}`)
}

// ============================================ raw server used by B and D
async function startRawServer({ docs = {} } = {}) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  const port = await listen(wss)
  cleanups.push(() => closeWss(wss))
  const frames = []
  const state = { frames, peer: null, wss, url: `ws://127.0.0.1:${port}` }
  wss.on("connection", ws => {
    ws.on("message", data => {
      const f = record(frames, data)
      const m = f.msg
      if (m.type === "join") {
        state.peer = new RawSyncPeer(ws, RAW_SERVER_PEER, m.senderId, docs)
        send(ws, {
          type: "peer",
          senderId: RAW_SERVER_PEER,
          peerMetadata: { isEphemeral: true },
          selectedProtocolVersion: "1",
          targetId: m.senderId,
        })
      } else if (m.type === "request" && !(m.documentId in state.peer.docs)) {
        send(ws, {
          type: "doc-unavailable",
          senderId: RAW_SERVER_PEER,
          targetId: m.senderId,
          documentId: m.documentId,
        })
      } else if (m.type === "sync" || m.type === "request") {
        state.peer.receive(m)
      }
    })
  })
  return state
}

// ============================================================== scenario B
async function scenarioB() {
  const raw = await startRawServer({ docs: { [DOC_RAW_SERVER_HAS]: makeDoc("b4") } })
  const { frames } = raw

  const repo = withSeededRandom(2, () => new Repo({
    network: [new WebSocketClientAdapter(raw.url, 60_000)],
    peerId: CLIENT_PEER,
  }))
  cleanups.push(() => repo.shutdown())
  // Document the client already has; default sharePolicy announces it on connect.
  const handle = repo.import(A.save(makeDoc("c3")), { docId: DOC_CLIENT_HAS })

  const joinFrame = await waitFor("join", () => frames.find(f => f.msg.type === "join"))
  addGolden("join", joinFrame, "B", "client->server", "WebSocketClientAdapter join on open")

  const clientSyncs = () => frames.filter(f => f.msg.type === "sync" && f.msg.documentId === DOC_CLIENT_HAS)
  const first = await waitFor("first client sync", () => clientSyncs()[0])
  addGolden("sync_from_client_initial", first, "B", "client->server",
    "client Repo announcing a document it has (heads + bloom, no changes yet)")
  const withChanges = await waitFor("client sync carrying changes", () =>
    clientSyncs().find(f => A.decodeSyncMessage(f.msg.data).changes.length > 0)
  )
  addGolden("sync_from_client", withChanges, "B", "client->server",
    "client Repo sending the document's change(s) after the raw server's empty-doc sync reply")
  await waitFor("raw server to hold the title", () => raw.peer.docs[DOC_CLIENT_HAS]?.title === TITLE)

  // request for a doc the server lacks -> raw server answers doc-unavailable
  const missing = repo.find(docUrl(DOC_MISSING)).then(
    () => "found?!",
    e => `rejected: ${e?.message ?? e}`
  )
  const req = await waitFor("request (missing)", () =>
    frames.find(f => f.msg.type === "request" && f.msg.documentId === DOC_MISSING)
  )
  addGolden("request", req, "B", "client->server",
    "client Repo.find() of a document the server does not have (server answers doc-unavailable)")
  const missingResult = await Promise.race([missing, sleep(3000).then(() => "still pending")])

  // request for a doc the server has -> raw server syncs it over
  const found = repo.find(docUrl(DOC_RAW_SERVER_HAS))
  const req2 = await waitFor("request (existing)", () =>
    frames.find(f => f.msg.type === "request" && f.msg.documentId === DOC_RAW_SERVER_HAS)
  )
  addGolden("request_existing", req2, "B", "client->server",
    "client Repo.find() of a document the server has")
  const foundHandle = await Promise.race([found, sleep(5000).then(() => { throw new Error("find existing timed out") })])
  if (foundHandle.doc()?.title !== TITLE) throw new Error("client did not receive the document")
  const ack = await waitFor("client sync after request", () =>
    frames.find(f => f.msg.type === "sync" && f.msg.documentId === DOC_RAW_SERVER_HAS)
  )
  addGolden("sync_from_client_after_request", ack, "B", "client->server",
    "client Repo acknowledging the document it just received (heads, no changes)")

  handle.broadcast({ kind: "cursor", pos: 7, who: TITLE })
  const eph = await waitFor("ephemeral", () => frames.find(f => f.msg.type === "ephemeral"))
  addGolden("ephemeral", eph, "B", "client->server",
    "handle.broadcast({kind:'cursor',pos:7,who:TITLE}) on the client repo")
  await sleep(150)
  transcripts.B_client_repo = frames.map(f => `client->server ${f.msg.type}${f.msg.documentId ? " " + f.msg.documentId : ""}`)
  transcripts.B_notes = [`find(missing doc) -> ${missingResult}`]
}

// ============================================================== scenario C
// remote-heads-changed carries Date.now() timestamps; freeze the clock for this
// scenario so the golden bytes are reproducible.
const FROZEN_NOW_MS = 1_700_000_000_000
async function scenarioC() {
  const realNow = Date.now
  Date.now = () => FROZEN_NOW_MS
  try {
    await scenarioCInner()
  } finally {
    Date.now = realNow
  }
}
async function scenarioCInner() {
  const wss = new WebSocketServerAdapter(new WebSocketServer({ host: "127.0.0.1", port: 0 }))
  const port = await listen(wss.server)
  cleanups.push(() => closeWss(wss.server))
  const url = `ws://127.0.0.1:${port}`
  const repo = withSeededRandom(3, () => new Repo({
    network: [wss],
    peerId: GOSSIP_SERVER_PEER,
    enableRemoteHeadsGossiping: true,
  }))
  cleanups.push(() => repo.shutdown())
  const handle = repo.import(A.save(makeDoc("a1")), { docId: DOC_SERVER_HAS })
  await handle.whenReady()

  const connectRaw = async (peerId, storageId) => {
    const frames = []
    const ws = await openClient(url)
    cleanups.push(() => ws.terminate())
    const p = new RawSyncPeer(ws, peerId, GOSSIP_SERVER_PEER)
    ws.on("message", data => {
      const f = record(frames, data)
      if (f.msg.type === "sync" || f.msg.type === "request") p.receive(f.msg)
    })
    send(ws, {
      type: "join",
      senderId: peerId,
      peerMetadata: { storageId, isEphemeral: false },
      supportedProtocolVersions: ["1"],
    })
    await waitFor(`peer for ${peerId}`, () => frames.find(f => f.msg.type === "peer"))
    return { ws, frames, p }
  }

  // B subscribes to storage-a and opens the doc
  const b = await connectRaw(RAW_GOSSIP_B, "storage-b")
  await waitFor("B synced", () => b.p.docs[DOC_SERVER_HAS]?.title === TITLE)
  send(b.ws, {
    type: "remote-subscription-change",
    senderId: RAW_GOSSIP_B,
    targetId: GOSSIP_SERVER_PEER,
    add: ["storage-a"],
  })
  const rsc = await waitFor("remote-subscription-change from server", () =>
    b.frames.find(f => f.msg.type === "remote-subscription-change")
  )
  addGolden("remote_subscription_change_from_server", rsc, "C", "server->client",
    "gossiping server Repo forwarding a new subscription (add: ['storage-a']) to its generous peers")

  // A (storage-a) syncs the doc -> server tells B the new heads of storage-a
  const a = await connectRaw(RAW_GOSSIP_A, "storage-a")
  await waitFor("A synced", () => a.p.docs[DOC_SERVER_HAS]?.title === TITLE)
  const rhc = await waitFor("remote-heads-changed for storage-a", () =>
    b.frames.find(f => f.msg.type === "remote-heads-changed" && f.msg.newHeads?.["storage-a"]?.heads?.length > 0)
  )
  addGolden("remote_heads_changed", rhc, "C", "server->client",
    "gossiping server Repo telling a subscriber (storage-a subscribed, doc open) the heads storage-a now has after syncing; timestamp is Date.now(), frozen to FROZEN_NOW_MS in this script")
  await sleep(150)
  transcripts.C_raw_peer_b = b.frames.map(f => `server->client ${f.msg.type}${f.msg.documentId ? " " + f.msg.documentId : ""}`)
  transcripts.C_raw_peer_a = a.frames.map(f => `server->client ${f.msg.type}${f.msg.documentId ? " " + f.msg.documentId : ""}`)
}

// ============================================================== scenario D
async function scenarioD() {
  const raw = await startRawServer()
  const repo = withSeededRandom(4, () => new Repo({
    network: [new WebSocketClientAdapter(raw.url, 60_000)],
    peerId: GOSSIP_CLIENT_PEER,
    enableRemoteHeadsGossiping: true,
  }))
  cleanups.push(() => repo.shutdown())
  repo.subscribeToRemotes(["storage-x"])
  const rsc = await waitFor("remote-subscription-change from client", () =>
    raw.frames.find(f => f.msg.type === "remote-subscription-change")
  )
  addGolden("remote_subscription_change", rsc, "D", "client->server",
    "gossiping client Repo (subscribeToRemotes(['storage-x'])) telling a newly connected generous peer its subscriptions")
  await sleep(50)
  transcripts.D_client_repo = raw.frames.map(f => `client->server ${f.msg.type}`)
}

// ------------------------------------------------------------- JSON forms
const UNDEF = { $undefined: true }

/** Decoded message -> JSON (byte strings as hex, undefined as {"$undefined":true}). */
function toJson(v) {
  if (v === undefined) return UNDEF
  if (v instanceof Uint8Array) return hex(v)
  if (Array.isArray(v)) return v.map(toJson)
  if (v && typeof v === "object") {
    const o = {}
    for (const [k, x] of Object.entries(v)) o[k] = toJson(x)
    return o
  }
  return v
}
/** Same, but bytes tagged for decode-check.mjs's .expect.json format. */
function toExpect(v) {
  if (v === undefined) return UNDEF
  if (v instanceof Uint8Array) return { $bytes: hex(v) }
  if (Array.isArray(v)) return v.map(toExpect)
  if (v && typeof v === "object") {
    const o = {}
    for (const [k, x] of Object.entries(v)) o[k] = toExpect(x)
    return o
  }
  return v
}
function valueTypes(msg) {
  const t = {}
  for (const [k, v] of Object.entries(msg)) {
    t[k] =
      v === undefined ? "undefined"
      : v === null ? "null"
      : v instanceof Uint8Array ? "bytes"
      : Array.isArray(v) ? `array<${[...new Set(v.map(x => typeof x))].join("|") || "empty"}>`
      : typeof v
  }
  return t
}
const summarizeChange = c => {
  const d = A.decodeChange(c)
  return {
    hash: d.hash, actor: d.actor, seq: d.seq, startOp: d.startOp, time: d.time,
    message: d.message, deps: d.deps, ops: d.ops.length,
  }
}
// An entry of a sync message's `changes` is an Automerge chunk:
// magic(4) checksum(4) chunk-type(1): 0 = whole document, 1 = change, 2 = compressed change.
function describeChunk(c) {
  const chunkType = c[8]
  if (chunkType === 0) {
    const doc = A.load(c)
    return {
      chunk: "document", bytes: c.length, heads: A.getHeads(doc),
      contains: A.getAllChanges(doc).map(summarizeChange), doc: A.toJS(doc),
    }
  }
  return { chunk: chunkType === 1 ? "change" : `type-${chunkType}`, bytes: c.length, ...summarizeChange(c) }
}
function describeSync(data) {
  const s = A.decodeSyncMessage(data)
  return {
    type: s.type,
    heads: s.heads,
    need: s.need,
    have: s.have.map(h => ({ lastSync: h.lastSync, bloom: hex(h.bloom) })),
    supportedCapabilities: s.supportedCapabilities,
    changes: s.changes.map(describeChunk),
  }
}

// --------------------------------------------------------------------- main
async function main() {
  try {
    await scenarioA()
    await scenarioB()
    await scenarioC()
    await scenarioD()
  } finally {
    await cleanupAll()
  }

  mkdirSync(OUT_DIR, { recursive: true })
  // remove stale outputs we own
  for (const f of readdirSync(OUT_DIR)) {
    if (f.endsWith(".cbor") || f.endsWith(".expect.json") || f === "manifest.json") unlinkSync(join(OUT_DIR, f))
  }

  const pkgJsonOf = dir => JSON.parse(readFileSync(join(here, "node_modules", dir, "package.json"), "utf8")).version
  const versions = {
    node: process.version,
    "@automerge/automerge-repo": pkgJsonOf("@automerge/automerge-repo"),
    "@automerge/automerge-repo-network-websocket": pkgJsonOf("@automerge/automerge-repo-network-websocket"),
    "@automerge/automerge": pkgJsonOf("@automerge/automerge"),
    "cbor-x": pkgJsonOf("cbor-x"),
    "cbor-extract (optional native decoder; pinned by package.json overrides)": pkgJsonOf("cbor-extract"),
    ws: pkgJsonOf("ws"),
  }

  const manifest = {
    generator: "tests/js/gen-golden.mjs",
    note:
      "Each <name>.cbor is one binary WebSocket frame exactly as sent by the real JS packages. " +
      "`decoded` is the CBOR-decoded message with byte strings as lowercase hex and CBOR undefined as " +
      '{"$undefined":true}; key order is wire order. <name>.expect.json is the same in decode-check.mjs format.',
    versions,
    fixtures: {
      title: TITLE,
      change_time: CHANGE_TIME,
      documents: { DOC_SERVER_HAS, DOC_MISSING, DOC_CLIENT_HAS, DOC_RAW_SERVER_HAS },
      peers: {
        SERVER_PEER, GOSSIP_SERVER_PEER, CLIENT_PEER, GOSSIP_CLIENT_PEER,
        RAW_CLIENT_PEER, RAW_BAD_CLIENT_PEER, RAW_SERVER_PEER, RAW_GOSSIP_A, RAW_GOSSIP_B,
      },
      frozen_date_now_ms_in_scenario_C: FROZEN_NOW_MS,
      notes: [
        "remote_heads_changed newHeads.*.timestamp is Date.now() in the real code; this script freezes Date.now during scenario C",
        "ephemeral sessionId comes from Math.random, seeded by this script while each Repo is constructed",
      ],
    },
    files: {},
    transcripts,
  }

  const written = []
  for (const name of Object.keys(golden).sort()) {
    const { frame, scenario, direction, description } = golden[name]
    const file = `${name}.cbor`
    writeFileSync(join(OUT_DIR, file), frame.bytes)
    writeFileSync(join(OUT_DIR, `${name}.expect.json`), JSON.stringify(toExpect(frame.msg), null, 2) + "\n")
    const entry = {
      file,
      type: frame.msg.type,
      scenario,
      direction,
      description,
      size: frame.bytes.length,
      isRepoMessage: isRepoMessage(frame.msg),
      keys: Object.keys(frame.msg),
      value_types: valueTypes(frame.msg),
      decoded: toJson(frame.msg),
      cbor_hex: hex(frame.bytes),
    }
    if ((frame.msg.type === "sync" || frame.msg.type === "request") && frame.msg.data) {
      entry.sync_message = describeSync(frame.msg.data)
    }
    if (frame.msg.type === "ephemeral") entry.data_decoded = toJson(cbor.decode(frame.msg.data))
    manifest.files[name] = entry
    written.push(`${file} (${frame.bytes.length} bytes, ${frame.msg.type}, ${direction})`)
  }
  writeFileSync(join(OUT_DIR, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n")

  console.log(`gen-golden: wrote ${written.length} frames to ${OUT_DIR}`)
  for (const w of written) console.log(`  ${w}`)
  console.log(`  + ${written.length} *.expect.json, manifest.json`)
  console.log(`versions: ${JSON.stringify(versions)}`)
}

main().then(
  () => process.exit(0),
  async err => {
    console.error("gen-golden: FAILED:", err?.stack ?? err)
    await cleanupAll()
    process.exit(1)
  }
)
