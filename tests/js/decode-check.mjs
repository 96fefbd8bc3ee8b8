#!/usr/bin/env node
// Check CBOR wire messages against expectations using the JS packages' own
// decoder and message validators.
//
//   node decode-check.mjs <dir>
//
// For every <name>.cbor in <dir> that has a sibling <name>.expect.json:
//   (a) decode it with the CBOR decoder the websocket adapters use
//       (`cbor.decode` from @automerge/automerge-repo/slim, i.e.
//       dist/helpers/cbor.js -> cbor-x) and deep-compare it with the
//       expectation (exact key sets; order-insensitive for map keys);
//   (b) require that the message is accepted by the packages' type guards:
//       `isRepoMessage` (exported by @automerge/automerge-repo) or, for the
//       websocket handshake messages, `isJoinMessage` / `isPeerMessage` /
//       `isErrorMessage` (from the websocket adapter's dist/messages.js).
//
// Expectation format: plain JSON; a byte string is written {"$bytes": "<hex>"},
// a CBOR `undefined` value is written {"$undefined": true}.
//
// Output: one line per file, `ok <name>` or `FAIL <name>: reason`
// (`skip <name>: ...` for .cbor files without an expectation), then exactly
// `N passed, M failed`. Exit code 1 if anything failed or nothing was checked.

import { existsSync, readFileSync, readdirSync, statSync } from "node:fs"
import { basename, join } from "node:path"

import { cbor, isRepoMessage } from "@automerge/automerge-repo/slim"

let wsGuards = {}
try {
  // The websocket package has no "exports" map, so its dist files are importable.
  wsGuards = await import("@automerge/automerge-repo-network-websocket/dist/messages.js")
} catch (e) {
  console.error(`note: websocket message guards unavailable (${e.message}); using isRepoMessage only`)
}
const validators = [
  ["isRepoMessage", isRepoMessage],
  ["isJoinMessage", wsGuards.isJoinMessage],
  ["isPeerMessage", wsGuards.isPeerMessage],
  ["isErrorMessage", wsGuards.isErrorMessage],
].filter(([, fn]) => typeof fn === "function")

const dir = process.argv[2]
if (!dir) {
  console.error("usage: node decode-check.mjs <dir>")
  process.exit(2)
}
if (!existsSync(dir) || !statSync(dir).isDirectory()) {
  console.error(`not a directory: ${dir}`)
  console.log("0 passed, 0 failed")
  process.exit(1)
}

const toHex = u8 => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString("hex")
const isPlainObject = v => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)
const show = v => {
  if (v === undefined) return "undefined"
  if (v instanceof Uint8Array) return `bytes(${toHex(v)})`
  if (typeof v === "bigint") return `${v}n`
  try {
    return JSON.stringify(v)
  } catch {
    return String(v)
  }
}

/** Returns null if equal, otherwise a description of the first difference. */
function diff(actual, expected, path = "$") {
  if (isPlainObject(expected) && "$bytes" in expected && Object.keys(expected).length === 1) {
    if (!(actual instanceof Uint8Array)) return `${path}: expected bytes, got ${show(actual)}`
    const want = String(expected.$bytes).toLowerCase()
    const got = toHex(actual)
    return got === want ? null : `${path}: bytes differ: got ${got}, expected ${want}`
  }
  if (isPlainObject(expected) && "$undefined" in expected && Object.keys(expected).length === 1) {
    return actual === undefined ? null : `${path}: expected undefined, got ${show(actual)}`
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path}: expected array, got ${show(actual)}`
    if (actual.length !== expected.length)
      return `${path}: array length ${actual.length}, expected ${expected.length}`
    for (let i = 0; i < expected.length; i++) {
      const d = diff(actual[i], expected[i], `${path}[${i}]`)
      if (d) return d
    }
    return null
  }
  if (isPlainObject(expected)) {
    if (actual instanceof Map) actual = Object.fromEntries(actual)
    if (!isPlainObject(actual)) return `${path}: expected map, got ${show(actual)}`
    const extra = Object.keys(actual).filter(k => !(k in expected))
    if (extra.length) return `${path}: unexpected key(s) ${extra.join(", ")}`
    for (const k of Object.keys(expected)) {
      if (!(k in actual)) return `${path}: missing key ${k}`
      const d = diff(actual[k], expected[k], `${path}.${k}`)
      if (d) return d
    }
    return null
  }
  // scalars (string, number, boolean, null)
  if (typeof actual === "bigint" && typeof expected === "number") {
    return actual === BigInt(expected) ? null : `${path}: got ${show(actual)}, expected ${show(expected)}`
  }
  if (actual instanceof Uint8Array) return `${path}: got bytes(${toHex(actual)}), expected ${show(expected)}`
  return Object.is(actual, expected) || actual === expected
    ? null
    : `${path}: got ${show(actual)}, expected ${show(expected)}`
}

let passed = 0
let failed = 0
const files = readdirSync(dir).filter(f => f.endsWith(".cbor")).sort()
for (const file of files) {
  const name = basename(file, ".cbor")
  const expectPath = join(dir, `${name}.expect.json`)
  if (!existsSync(expectPath)) {
    console.log(`skip ${name}: no ${name}.expect.json`)
    continue
  }
  const fail = reason => {
    failed++
    console.log(`FAIL ${name}: ${reason}`)
  }
  let expected, msg
  try {
    expected = JSON.parse(readFileSync(expectPath, "utf8"))
  } catch (e) {
    fail(`cannot read expectation: ${e.message}`)
    continue
  }
  try {
    const bytes = new Uint8Array(readFileSync(join(dir, file)))
    if (bytes.length === 0) throw new Error("empty file")
    msg = cbor.decode(bytes)
  } catch (e) {
    fail(`CBOR decode error: ${e.message}`)
    continue
  }
  const d = diff(msg, expected)
  if (d) {
    fail(d)
    continue
  }
  if (!isPlainObject(msg) || typeof msg.type !== "string") {
    fail(`not a message object with a string "type"`)
    continue
  }
  const accepted = validators.filter(([, fn]) => {
    try {
      return fn(msg) === true
    } catch {
      return false
    }
  })
  if (accepted.length === 0) {
    fail(`type "${msg.type}" rejected by package validators (${validators.map(([n]) => n).join(", ")})`)
    continue
  }
  passed++
  console.log(`ok ${name}`)
}

console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
