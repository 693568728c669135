'use strict'
// One case of benchmark/indexes.js, in its own process; prints one JSON line.
//   writes <keys> <indexes>: batches of 1000, then 10k awaited single puts (overwrites).
//   recent <keys>: the index build time, then "20 most recent" via the index vs a full scan.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { BrowserDB } = require('..')
const { percentiles } = require('./store-worker')

const [mode, keysArg, indexesArg] = process.argv.slice(2)
const keys = Number(keysArg)
const key = (n) => 'history:' + String(n).padStart(9, '0')
// Visit times are a permutation of 0..keys-1, so the 20 most recent are known.
const visitOf = (n) => (n * 7919) % keys
const visit = (n) => ({ url: `https://www.example${n % 997}.com/articles/${n}/index.html`, title: `Article number ${n} of the example site`, lastVisit: visitOf(n), meta: { folder: 'f' + (n % 13) } })

async function fill (db) {
  const started = process.hrtime.bigint()
  for (let i = 0; i < keys; i += 1000) {
    const ops = []
    for (let n = i; n < Math.min(keys, i + 1000); n++) ops.push({ type: 'put', key: key(n), value: visit(n) })
    await db.batch(ops)
  }
  return Number(process.hrtime.bigint() - started) / 1e6
}

async function writes (db, indexes) {
  if (indexes >= 1) await db.createIndex('byVisit', { prefix: 'history:', field: 'lastVisit' })
  if (indexes >= 2) await db.createIndex('byFolder', { prefix: 'history:', field: 'meta.folder' })
  const fillMs = await fill(db)
  const puts = Math.min(10_000, keys)
  const lat = []
  const started = process.hrtime.bigint()
  for (let i = 0; i < puts; i++) {
    const n = (i * 104729) % keys
    const t0 = process.hrtime.bigint()
    await db.put(key(n), { ...visit(n), lastVisit: keys + i })
    lat.push(Number(process.hrtime.bigint() - t0) / 1e9)
  }
  const putMs = Number(process.hrtime.bigint() - started) / 1e6
  return { batchPerSec: keys / fillMs * 1000, putPerSec: puts / putMs * 1000, putP99Us: percentiles(lat).p99 * 1000 }
}

async function recent (db) {
  await fill(db)
  const t0 = process.hrtime.bigint()
  await db.createIndex('byVisit', { prefix: 'history:', field: 'lastVisit' })
  const buildMs = Number(process.hrtime.bigint() - t0) / 1e6
  const expected = Array.from({ length: 20 }, (_, i) => keys - 1 - i)
  const viaIndex = async () => (await db.index('byVisit').iterator({ reverse: true, limit: 20 }).all()).map((r) => r[0])
  const viaScan = async () => {
    const top = []
    for await (const [, v] of db.iterator({ prefix: 'history:' })) {
      if (top.length < 20 || v.lastVisit > top[top.length - 1]) {
        top.push(v.lastVisit)
        top.sort((a, b) => b - a)
        if (top.length > 20) top.pop()
      }
    }
    return top
  }
  for (const f of [viaIndex, viaScan]) {
    const got = await f()
    if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`${f.name} returned ${got}`)
  }
  const time = async (f, n) => {
    const s = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await f()
    return Number(process.hrtime.bigint() - s) / 1e6 / n
  }
  return { buildMs, indexMs: await time(viaIndex, 500), scanMs: await time(viaScan, 3) }
}

async function main () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bdb-index-bench-'))
  const db = await BrowserDB.open(dir, { valueEncoding: 'json' })
  try {
    const result = mode === 'writes' ? await writes(db, Number(indexesArg)) : await recent(db)
    console.log(JSON.stringify(result))
  } finally {
    await db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err) => { console.error(err); process.exit(1) })
