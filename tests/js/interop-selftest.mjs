#!/usr/bin/env node
// Self-test for interop.mjs without the Rust server: start a real
// automerge-repo sync server in-process (Repo + WebSocketServerAdapter on
// 127.0.0.1, port 0; the ?token= query is ignored) and run
// create -> read --expect -> edit -> read through child processes, plus a few
// failure cases. Runs once with a server sharePolicy of `true` and once with
// `false` (like automerge-repo-sync-server).
//
//   cd tests/js && node interop-selftest.mjs
//
// Exit 0 when every check passes, 1 otherwise.

import { spawn } from "node:child_process"
import { deepStrictEqual, equal, match, ok } from "node:assert/strict"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { createServer } from "node:net"

import * as A from "@automerge/automerge"
import { Repo, generateAutomergeUrl } from "@automerge/automerge-repo"
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { WebSocketServer } from "ws"

const HARD_TIMEOUT_MS = 120_000
setTimeout(() => {
  console.error("interop-selftest: hard timeout")
  process.exit(1)
}, HARD_TIMEOUT_MS).unref()

const here = dirname(fileURLToPath(import.meta.url))
const CLI = join(here, "interop.mjs")

function runCli(args) {
  return new Promise(resolve => {
    const started = Date.now()
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", d => (stdout += d))
    child.stderr.on("data", d => (stderr += d))
    child.on("close", code => resolve({ code, stdout, stderr, ms: Date.now() - started }))
  })
}

async function runOk(args) {
  const r = await runCli(args)
  if (r.code !== 0) {
    throw new Error(`interop ${args[0]} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  }
  const lines = r.stdout.split("\n").filter(l => l !== "")
  equal(lines.length, 1, `expected exactly one stdout line, got ${JSON.stringify(r.stdout)}`)
  console.log(`  ok   ${args[0]} (${r.ms} ms)`)
  return JSON.parse(lines[0])
}

async function runFail(args, reason) {
  const r = await runCli(args)
  equal(r.code, 1, `expected exit 1, got ${r.code}; stderr: ${r.stderr}`)
  equal(r.stdout, "", "stdout must be empty on failure")
  match(r.stderr, reason)
  console.log(`  ok   ${args[0]} fails as expected (${r.ms} ms): ${r.stderr.trim().split("\n").pop()}`)
}

async function startServer(sharePolicy) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  await new Promise((resolve, reject) => {
    wss.once("listening", resolve)
    wss.once("error", reject)
  })
  const repo = new Repo({
    network: [new WebSocketServerAdapter(wss)],
    peerId: "selftest-server",
    sharePolicy: async () => sharePolicy,
  })
  const { port } = wss.address()
  const close = async () => {
    await repo.shutdown()
    for (const client of wss.clients) client.terminate()
    await new Promise(resolve => wss.close(() => resolve()))
  }
  return { repo, url: `ws://127.0.0.1:${port}/sync?token=selftest-token`, close }
}

async function freePort() {
  const srv = createServer()
  await new Promise(resolve => srv.listen(0, "127.0.0.1", resolve))
  const { port } = srv.address()
  await new Promise(resolve => srv.close(resolve))
  return port
}

const INITIAL = {
  title: "门牌 3-2-501",
  head: "Alice",
  notes: "bring keys",
  contact: "+86 138 0000 0000",
  type: "visit",
  grid: "3-2-501",
  members: 3,
  address: { building: "3", room: "501" },
  $text: ["head", "notes"],
  $scalar: ["contact", "type", "grid", "address.room"],
}

async function scenario(sharePolicy) {
  console.log(`server sharePolicy: ${sharePolicy}`)
  const server = await startServer(sharePolicy)
  try {
    const { url } = server

    const created = await runOk(["create", url, JSON.stringify(INITIAL)])
    match(created.url, /^automerge:/)
    equal(created.url, `automerge:${created.documentId}`)
    ok(created.heads.length === 1 && /^[0-9a-f]{64}$/.test(created.heads[0]))
    // the server repo itself holds the doc with these heads
    const serverHandle = server.repo.handles[created.documentId]
    ok(serverHandle, "server repo has a handle for the created doc")
    deepStrictEqual([...A.getHeads(serverHandle.doc())].sort(), created.heads)

    // The creating process has exited, so this can only come from the server.
    const read1 = await runOk([
      "read", url, created.documentId,
      "--expect", "head=Alice",
      "--expect", "address.room=501",
      "--expect", "members=3",
    ])
    const { $text, $scalar, ...plain } = INITIAL
    deepStrictEqual(read1.doc, plain)
    deepStrictEqual(read1.heads, created.heads)
    deepStrictEqual(read1.scalarStrings, ["address.room", "contact", "grid", "type"])

    const edited = await runOk([
      "edit", url, created.url,
      "members=num:5",
      "address.room=scalar:502",
      "address.floor=5",
      "visit.status=done",
      "notes=text:num:not-a-number",
    ])
    ok(edited.heads.length === 1 && edited.heads[0] !== created.heads[0])

    const read2 = await runOk([
      "read", url, created.url,
      "--expect", "members=5",
      "--expect", "address.room=502",
      "--expect", "visit.status=done",
      "--timeout", "10000",
    ])
    deepStrictEqual(read2.heads, edited.heads)
    deepStrictEqual(read2.doc, {
      ...plain,
      members: 5,
      notes: "num:not-a-number",
      address: { building: "3", room: "502", floor: "5" },
      visit: { status: "done" },
    })
    deepStrictEqual(read2.scalarStrings, ["address.room", "contact", "grid", "type"])

    // failures
    await runFail(
      ["read", url, created.documentId, "--expect", "members=6", "--timeout", "1500"],
      /expectations not met.*members: want "6", got "5"/,
    )
    const unknown = generateAutomergeUrl()
    await runFail(["read", url, unknown, "--timeout", "5000"], /unavailable/)
  } finally {
    await server.close()
  }
}

async function main() {
  for (const policy of [true, false]) await scenario(policy)
  const port = await freePort()
  await runFail(
    ["read", `ws://127.0.0.1:${port}/sync?token=x`, generateAutomergeUrl(), "--timeout", "1500"],
    /no peer message/,
  )
  // a server that rejects the upgrade (e.g. bad token) must fail fast
  const reject = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    verifyClient: (_info, cb) => cb(false, 401, "Unauthorized"),
  })
  await new Promise(resolve => reject.once("listening", resolve))
  try {
    await runFail(
      ["read", `ws://127.0.0.1:${reject.address().port}/sync?token=bad`, generateAutomergeUrl()],
      /Unexpected server response: 401/,
    )
  } finally {
    await new Promise(resolve => reject.close(() => resolve()))
  }
  await runFail(["bogus", "ws://x"], /bad arguments/)
  console.log("interop-selftest: all passed")
}

main().then(
  () => process.exit(0),
  err => {
    console.error("interop-selftest: FAILED:", err)
    process.exit(1)
  },
)
