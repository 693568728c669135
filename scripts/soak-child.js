#!/usr/bin/env node
'use strict'
// The crash soak's writer (scripts/soak.js runs it and SIGKILLs it at a random moment).
//
//   node scripts/soak-child.js <location> <log file> <cycle> <seed>
//
// Opens the database, prints `ready`, then runs WORKERS concurrent workers until killed. Each
// worker owns its own keys (`w<worker>:<k>`) and awaits each operation before the next, so a
// key never has two operations in flight and its history is a plain sequence. Operations: puts,
// deletes, batches of 2..8 operations (array and chained form), large puts that fill memtables
// (flushes and compactions run while the process is killed); some with `sync: true`.
//
// The expected-state log is an append-only text file, one line per event, written with
// fs.writeSync (the bytes are in the OS before the line returns, so they survive a SIGKILL of
// this process; the soak does not simulate power loss, so no fsync is needed):
//   B <worker> <n> <op JSON>   before operation n of a worker is issued
//   A <worker> <n>             after its promise resolved (the operation is acknowledged)
// An op JSON is { type: 'put' | 'del' | 'batch', sync, ops: [[key, valueLength | null], ...] }
// (null: a delete). Values are deterministic (`valueOf`), so the log stays small and the
// parent can tell every value that was ever written from one that never was.
const fs = require('node:fs')

const WORKERS = 6
const KEYS_PER_WORKER = 40

/** A small deterministic PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function keyOf(worker, k) {
  return `w${worker}:${String(k).padStart(3, '0')}`
}

/** The value written by operation `n` of `worker` in `cycle` to `key`: unique per write. */
function valueOf(cycle, worker, n, key, length) {
  const head = `${cycle}.${worker}.${n}.${key}|`
  if (length <= head.length) return head
  const fill = 'abcdefghijklmnopqrstuvwxyz0123456789'
  let body = ''
  let x = (cycle * 7919 + worker * 104729 + n * 31) >>> 0
  while (body.length < 64 && head.length + body.length < length) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    body += fill[(x >>> 16) % fill.length]
  }
  return (head + body.repeat(Math.ceil(length / Math.max(1, body.length)))).slice(0, length)
}

/** The next operation of a worker, as logged. */
function nextOp(random, worker) {
  const key = () => keyOf(worker, Math.floor(random() * KEYS_PER_WORKER))
  const smallLength = () => 20 + Math.floor(random() * 200)
  const r = random()
  if (r < 0.4) return { type: 'put', sync: random() < 0.1, ops: [[key(), smallLength()]] }
  if (r < 0.55) return { type: 'del', sync: random() < 0.1, ops: [[key(), null]] }
  if (r < 0.9) {
    const size = 2 + Math.floor(random() * 7)
    const keys = new Set()
    while (keys.size < size) keys.add(key())
    const ops = [...keys].map((k) => [k, random() < 0.8 ? smallLength() : null])
    return { type: 'batch', sync: random() < 0.15, chained: random() < 0.5, ops }
  }
  return { type: 'put', sync: random() < 0.05, ops: [[key(), 4000 + Math.floor(random() * 16000)]] }
}

async function run(db, op, cycle, worker, n) {
  const options = op.sync ? { sync: true } : undefined
  const value = (key, length) => valueOf(cycle, worker, n, key, length)
  if (op.type === 'put') return db.put(op.ops[0][0], value(op.ops[0][0], op.ops[0][1]), options)
  if (op.type === 'del') return db.del(op.ops[0][0], options)
  if (op.chained) {
    const batch = db.batch()
    for (const [k, length] of op.ops) {
      if (length === null) batch.del(k)
      else batch.put(k, value(k, length))
    }
    return batch.write(options)
  }
  return db.batch(op.ops.map(([k, length]) => (length === null ? { type: 'del', key: k } : { type: 'put', key: k, value: value(k, length) })), options)
}

async function main() {
  const [location, logFile, cycleArg, seedArg] = process.argv.slice(2)
  const cycle = Number(cycleArg)
  const seed = Number(seedArg)
  const { BrowserDB } = require('..')
  const log = fs.openSync(logFile, 'a')
  const line = (text) => fs.writeSync(log, text + '\n')
  const db = await BrowserDB.open(location, { writeBufferSize: 64 * 1024 })
  process.stdout.write('ready\n')
  const worker = async (w) => {
    const random = rng(seed * 1000003 + cycle * 101 + w)
    for (let n = 0; ; n++) {
      const op = nextOp(random, w)
      line(`B ${w} ${n} ${JSON.stringify(op)}`)
      await run(db, op, cycle, w, n)
      line(`A ${w} ${n}`)
    }
  }
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`soak child failed: ${err && err.stack}\n`)
    process.exit(1)
  })
}

module.exports = { WORKERS, KEYS_PER_WORKER, rng, keyOf, valueOf }
