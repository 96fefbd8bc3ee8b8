#!/usr/bin/env node
// Reference JS sync server for gridvisit's loadgen benchmark.
//
//   node sync-server.mjs <data-dir> [port]
//
// It is set up the same way as automerge/automerge-repo-sync-server (v0.3.0,
// src/server.js): a Repo with a NodeWSServerAdapter over a `ws`
// WebSocketServer in noServer mode, fed from the HTTP server's "upgrade"
// event; a NodeFSStorageAdapter on the data directory; peerId
// `storage-server-<hostname>`; and `sharePolicy: async () => false`, so the
// server only syncs documents that a peer asks for by id. Package versions are
// pinned in package.json: @automerge/automerge-repo,
// -network-websocket and -storage-nodefs 2.5.6, @automerge/automerge 3.5.0,
// ws 8.23.0. The Repo keeps its defaults, including saveDebounceRate 100 ms.
//
// Differences from the reference, none of which touch sync or storage (see also the
// unhandled-rejection handler below):
// - It uses Node's built-in `http` instead of express. The reference only uses
//   express for `GET /` and express.static("public").
// - It binds 127.0.0.1 only. The port comes from argv, not $PORT, and
//   defaults to 0 (the OS picks a free port).
// - Once the server is listening it prints exactly one line to stdout,
//   `listening on <port>`. Anything else goes to stderr, console.log included,
//   so a harness that reads only that first line and then stops reading
//   stdout can never block the server on a full pipe.
// - On SIGTERM/SIGINT it drops the clients, saves every loaded document and
//   exits 0. The reference has no signal handler; Node just dies, which can
//   lose up to one save-debounce interval of changes.

import fs from "node:fs"
import http from "node:http"
import os from "node:os"

import { Repo } from "@automerge/automerge-repo"
import { NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { WebSocketServer } from "ws"

const SHUTDOWN_TIMEOUT_MS = 10_000

const [dataDir, portArg = "0"] = process.argv.slice(2)
const port = Number(portArg)
if (!dataDir || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("usage: node sync-server.mjs <data-dir> [port]")
  process.exit(2)
}

// stdout carries only the "listening on" line (see above).
console.log = console.info = console.error

fs.mkdirSync(dataDir, { recursive: true })

const wss = new WebSocketServer({ noServer: true })
const repo = new Repo({
  network: [new NodeWSServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dataDir),
  peerId: `storage-server-${os.hostname()}`,
  // A server is not generous: it syncs only the documents that peers already
  // know about and ask for by id.
  sharePolicy: async () => false,
})

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/") {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" })
    res.end("👍 automerge-repo sync server (gridvisit benchmark reference) is running\n")
  } else {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" })
    res.end("not found\n")
  }
})

server.on("upgrade", (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, ws => {
    wss.emit("connection", ws, request)
  })
})

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening on ${server.address().port}\n`)
})

let closing = false
async function shutdown(signal) {
  if (closing) return
  closing = true
  console.error(`sync-server: ${signal}, shutting down`)
  setTimeout(() => {
    console.error("sync-server: shutdown timed out")
    process.exit(1)
  }, SHUTDOWN_TIMEOUT_MS).unref()

  server.close()
  wss.close()
  for (const ws of wss.clients) ws.terminate()

  // Repo.shutdown() would also save, but its flush calls handle.doc() on every
  // cached handle, and that throws for a handle that is not ready (e.g. a
  // document that a client asked for and nobody has). So save only the ready
  // ones.
  const ready = Object.values(repo.handles)
    .filter(handle => handle.isReady())
    .map(handle => handle.documentId)
  try {
    await repo.flush(ready)
  } catch (err) {
    console.error("sync-server: flush failed:", err)
    process.exit(1)
  }
  process.exit(0)
}
// Under patchy connectivity automerge-repo 2.5.6 can reject a promise nobody awaits
// ("withTimeout: timed out after 60000ms", seen in loadgen's steady run), which by Node's
// default kills the process. The reference server would die there; this one logs it and keeps
// serving, so the benchmark measures the sync path rather than the crash.
let unhandled = 0
process.on("unhandledRejection", err => {
  unhandled += 1
  console.error(`sync-server: unhandled rejection #${unhandled}:`, err?.message ?? err)
})

process.on("SIGTERM", () => void shutdown("SIGTERM"))
process.on("SIGINT", () => void shutdown("SIGINT"))
