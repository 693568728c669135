'use strict'
// The "grows large" workloads for one store, in its own process, in one fresh directory:
//   node --expose-gc large-worker.js <store> <dir> <keys> <ops>
// fill random -> stats -> close + reopen -> check -> random gets (awaited, then sync) -> mixed
// -> check -> stats -> close -> disk size.
//   node --expose-gc large-worker.js <store> <dir> <keys> <ops> reads
// a read round over the directory a full run left: open -> warm-up -> random gets (awaited,
// then sync) -> close (large.js alternates these rounds between the stores).
//   node --expose-gc large-worker.js <store> <dir> <keys> <ops> fill
// a fill round: the timed fill alone into the empty <dir>, then close (alternated the same way). Progress goes to stderr; the result is one JSON line
// on stdout. The store adapters (each store's idiomatic API, default settings) are
// store-worker.js's.
const { prng, makeData, shuffledIndexes } = require('./data')
const { stores, batchPut, diskUsage } = require('./store-worker')

const FILL_SEED = 0xF111 // the random fill order, the same for every store
const GET_SEED = 0x6E7 // keys of the awaited random gets
const SYNC_SEED = 0x5C // keys of the sync random gets
const MIXED_SEED = 0x3D // keys of the mixed workload
const WARM_SEED = 0x3A // keys of the untimed warm-up reads
const VALUE_SEED = 0xB10D // the overwrite values (makeData's default seed is 0xB10C)
const CHECK_SEED = 42 // the 1000-key samples of check()
const CHECK_KEYS = 1000
const PUT_EVERY = 5 // mixed: op j is an overwrite when j % 5 === 4 (20%), else a read

const gc = () => { if (global.gc) global.gc() }
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9
const log = (msg) => process.stderr.write(`  ${msg}\n`)

// `count` key indexes, uniform in 0..n-1 (with repeats), from a seeded PRNG.
function randomIndexes (n, count, seed) {
  const rand = prng(seed)
  const idx = new Uint32Array(count)
  for (let i = 0; i < count; i++) idx[i] = Math.floor(rand() * n)
  return idx
}

// Fails loudly unless get() returns the expected latest value (`want[i]`) for the first and
// last key and CHECK_KEYS random ones, and undefined for a missing key. Returns the reads.
async function check (s, db, keys, want, label) {
  const fail = (k, got, exp) => {
    throw new Error(`${label}: verification failed: get(${k}) expected ${JSON.stringify(exp)}, got ${JSON.stringify(got)}`)
  }
  const n = keys.length
  const sample = [0, n - 1, ...randomIndexes(n, Math.min(CHECK_KEYS, n), CHECK_SEED)]
  for (const i of sample) {
    const got = await s.get(db, keys[i])
    if (got !== want[i]) fail(keys[i], got, want[i])
  }
  const missing = await s.get(db, 'history:missing')
  if (missing !== undefined) fail('history:missing', missing, undefined)
  return sample.length + 1
}

// Awaited (or sync) gets of keys[idx[j]]; each must return exactly want[idx[j]].
async function readLoop (s, db, keys, want, idx, sync, label) {
  const t0 = process.hrtime.bigint()
  for (let j = 0; j < idx.length; j++) {
    const i = idx[j]
    const v = sync ? s.getSync(db, keys[i]) : await s.get(db, keys[i])
    if (v !== want[i]) throw new Error(`${label}: ${sync ? 'getSync' : 'get'}(${keys[i]}) returned ${JSON.stringify(v)}, expected ${JSON.stringify(want[i])}`)
  }
  return seconds(t0)
}


// Whatever the store reports about itself (untimed, before a close).
function storeStats (store, db) {
  if (store === 'browserdb') {
    const st = db.stats()
    const pick = ['compactions', 'flushes', 'userBytesWritten', 'flushBytesWritten', 'compactionBytesWritten',
      'writeAmplification', 'diskBytes', 'liveBytesEstimate', 'spaceAmplification', 'writeSlowdowns',
      'writeStops', 'tables', 'tableEntries', 'memtableBytes', 'immutableMemtables']
    const out = Object.fromEntries(pick.map((k) => [k, st[k]]))
    out.levels = st.levels.map((l) => ({ tables: l.tables, bytes: l.bytes }))
    return out
  }
  if (store === 'lmdb') {
    const st = db.getStats()
    const out = {}
    for (const k of ['pageSize', 'treeDepth', 'treeBranchPageCount', 'treeLeafPageCount', 'entryCount',
      'overflowPages', 'mapSize', 'lastPageNumber']) {
      if (typeof st[k] === 'number') out[k] = st[k]
    }
    if (out.pageSize && typeof out.lastPageNumber === 'number') out.usedBytes = (out.lastPageNumber + 1) * out.pageSize
    return out
  }
  if (store === 'classic-level') {
    // LevelDB's own per-level table counts and compaction I/O since open ("leveldb.stats").
    const text = db.getProperty('leveldb.stats')
    const levels = []
    let writeMB = 0
    for (const line of text.split('\n')) {
      const m = /^\s*(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$/.exec(line)
      if (!m) continue
      levels[Number(m[1])] = { tables: Number(m[2]), mb: Number(m[3]) }
      writeMB += Number(m[6])
    }
    for (let i = 0; i < levels.length; i++) if (!levels[i]) levels[i] = { tables: 0, mb: 0 }
    return { levels, flushAndCompactionWriteMB: writeMB }
  }
  return {}
}

// Polls the store's statistics until its background work looks finished: no memtable waiting
// to be flushed and the counters unchanged for SETTLE_QUIET_MS (at most SETTLE_MAX_MS).
// lmdb has no background work.
const SETTLE_POLL_MS = 100
const SETTLE_QUIET_MS = 2000
const SETTLE_MAX_MS = 120000
async function settle (store, db) {
  if (store === 'lmdb') return { stats: storeStats(store, db), seconds: 0 }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  const state = () => {
    const st = storeStats(store, db)
    const busy = store === 'browserdb' && st.immutableMemtables > 0
    const key = store === 'browserdb'
      ? JSON.stringify([st.compactions, st.flushes, st.compactionBytesWritten, st.levels])
      : JSON.stringify(st)
    return { st, busy, key }
  }
  const start = Date.now()
  let last = state()
  let quietSince = Date.now()
  while (Date.now() - start < SETTLE_MAX_MS) {
    await sleep(SETTLE_POLL_MS)
    const now = state()
    if (now.busy || now.key !== last.key) quietSince = Date.now()
    last = now
    if (Date.now() - quietSince >= SETTLE_QUIET_MS) break
  }
  // seconds: until the last change seen (about how long the background work went on).
  return { stats: last.st, seconds: (quietSince - start) / 1000 }
}

// The mixed workload's overwrites: op j writes when isMixedPut(j), the next value of
// mixedValues(ops) (fresh 100-200 byte JSON values).
const isMixedPut = (j) => j % PUT_EVERY === PUT_EVERY - 1
const mixedValues = (ops) => makeData(Math.floor(ops / PUT_EVERY), VALUE_SEED).values

// Each key's value after the fill and the mixed workload, recomputed without the store.
function valuesAfterMixed (values, ops) {
  const current = values.slice()
  const idx = randomIndexes(values.length, ops, MIXED_SEED)
  const pool = mixedValues(ops)
  let p = 0
  for (let j = 0; j < ops; j++) if (isMixedPut(j)) current[idx[j]] = pool[p++]
  return current
}

// Random gets (awaited, then sync) over what a full run left in `dir`: one read round.
async function readRound (s, store, dir, n, ops) {
  const { keys, values } = makeData(n)
  const want = valuesAfterMixed(values, ops)
  const label = `${store}/large reads`
  const db = await s.open(dir)
  await readLoop(s, db, keys, want, randomIndexes(n, Math.min(1000, ops), WARM_SEED), false, label) // warm-up
  const result = { store }
  gc()
  let t = await readLoop(s, db, keys, want, randomIndexes(n, ops, GET_SEED), false, `${label} get`)
  result.get = { seconds: t, opsPerSec: ops / t }
  if (!s.hasGetSync || s.hasGetSync(db)) {
    gc()
    t = await readLoop(s, db, keys, want, randomIndexes(n, ops, SYNC_SEED), true, `${label} getSync`)
    result.getsync = { seconds: t, opsPerSec: ops / t }
  }
  await s.close(db)
  log(`read round: get ${Math.round(result.get.opsPerSec)} ops/s, sync get ${result.getsync ? Math.round(result.getsync.opsPerSec) : 'n/a'} ops/s`)
  return result
}

// The fill's keys and values in the fill's random order.
function fillData (keys, values) {
  const order = shuffledIndexes(keys.length, FILL_SEED)
  const fillKeys = new Array(keys.length)
  const fillValues = new Array(keys.length)
  for (let j = 0; j < keys.length; j++) { fillKeys[j] = keys[order[j]]; fillValues[j] = values[order[j]] }
  return { fillKeys, fillValues }
}

// The timed fill alone, into an empty `dir`, then a close (untimed): one fill round.
async function fillRound (s, store, dir, n) {
  const { keys, values } = makeData(n)
  const { fillKeys, fillValues } = fillData(keys, values)
  const db = await s.open(dir)
  gc()
  const t0 = process.hrtime.bigint()
  await batchPut(s, db, fillKeys, fillValues)
  const t = seconds(t0)
  await s.close(db)
  log(`fill round: ${Math.round(n / t)} ops/s (${t.toFixed(2)} s)`)
  return { store, fill: { seconds: t, opsPerSec: n / t } }
}

async function main () {
  const [store, dir, keysArg, opsArg, mode] = process.argv.slice(2)
  if (!stores[store]) throw new Error(`unknown store ${store}`)
  const s = stores[store]()
  const n = Number(keysArg)
  const ops = Number(opsArg)
  if (mode === 'reads') return readRound(s, store, dir, n, ops)
  if (mode === 'fill') return fillRound(s, store, dir, n)
  const label = `${store}/large`

  const { keys, values } = makeData(n)
  let userBytes = 0
  for (let i = 0; i < n; i++) userBytes += keys[i].length + values[i].length
  const { fillKeys, fillValues } = fillData(keys, values)
  const result = { store, n, ops, userBytes }

  // 1. fill random: every key once, in a random order, 1000 per batch, each batch awaited.
  let db = await s.open(dir)
  gc()
  let t0 = process.hrtime.bigint()
  await batchPut(s, db, fillKeys, fillValues)
  let t = seconds(t0)
  result.fill = { seconds: t, opsPerSec: n / t }
  log(`fill random: ${Math.round(n / t)} ops/s (${t.toFixed(2)} s)`)
  result.statsFillEnd = storeStats(store, db)
  // Untimed: let the background flushes and compactions the fill left due run out, so the
  // statistics account for all of the fill's work (a close would only finish the one running).
  const settled = await settle(store, db)
  result.statsAfterFill = settled.stats
  result.settleSeconds = settled.seconds
  if (store !== 'lmdb') log(`background work went on for ${settled.seconds.toFixed(1)} s after the fill`)
  if (store === 'classic-level') result.approximateSizeAfterFill = await db.approximateSize('history:', 'history;')

  // Close and reopen, then check a sample.
  t0 = process.hrtime.bigint()
  await s.close(db)
  result.closeAfterFillSeconds = seconds(t0)
  t0 = process.hrtime.bigint()
  db = await s.open(dir)
  result.reopenSeconds = seconds(t0)
  result.verified = await check(s, db, keys, values, `${label} after fill`)
  await readLoop(s, db, keys, values, randomIndexes(n, Math.min(1000, ops), WARM_SEED), false, label) // warm-up

  // 2. random gets: awaited one at a time, then sync.
  let idx = randomIndexes(n, ops, GET_SEED)
  gc()
  t = await readLoop(s, db, keys, values, idx, false, `${label} get`)
  result.get = { seconds: t, opsPerSec: ops / t }
  log(`random get: ${Math.round(ops / t)} ops/s (${t.toFixed(2)} s)`)
  if (s.hasGetSync && !s.hasGetSync(db)) {
    result.getsync = { na: 'no synchronous get' }
  } else {
    idx = randomIndexes(n, ops, SYNC_SEED)
    gc()
    t = await readLoop(s, db, keys, values, idx, true, `${label} getSync`)
    result.getsync = { seconds: t, opsPerSec: ops / t }
    log(`random sync get: ${Math.round(ops / t)} ops/s (${t.toFixed(2)} s)`)
  }

  // 3. mixed: 80% awaited random gets, 20% awaited overwrites of random existing keys
  // (every fifth op), each read checked against the latest value.
  const current = values.slice()
  idx = randomIndexes(n, ops, MIXED_SEED)
  const pool = mixedValues(ops)
  let p = 0
  let mixedUserBytes = 0
  gc()
  t0 = process.hrtime.bigint()
  for (let j = 0; j < ops; j++) {
    const i = idx[j]
    if (isMixedPut(j)) {
      const v = pool[p++]
      await s.put(db, keys[i], v)
      current[i] = v
      mixedUserBytes += keys[i].length + v.length
    } else {
      const v = await s.get(db, keys[i])
      if (v !== current[i]) throw new Error(`${label} mixed: get(${keys[i]}) returned ${JSON.stringify(v)}, expected ${JSON.stringify(current[i])}`)
    }
  }
  t = seconds(t0)
  result.mixed = { seconds: t, opsPerSec: ops / t, reads: ops - pool.length, puts: pool.length }
  result.mixedUserBytes = mixedUserBytes
  log(`mixed 80/20: ${Math.round(ops / t)} ops/s (${t.toFixed(2)} s)`)
  result.verified += await check(s, db, keys, current, `${label} after mixed`)

  // 4. stats before close, disk size after close.
  result.statsEnd = storeStats(store, db)
  if (store === 'classic-level') result.approximateSizeEnd = await db.approximateSize('history:', 'history;')
  t0 = process.hrtime.bigint()
  await s.close(db)
  result.closeSeconds = seconds(t0)
  result.disk = diskUsage(dir)
  log(`disk: ${(result.disk.bytes / 1e6).toFixed(1)} MB in ${result.disk.files} files`)

  // 5. The same data compacted whole (what its size settles to, whatever the background work
  // had reached at the close): reopen, compact everything, close. lmdb has no compaction.
  const compactAll = {
    browserdb: (db) => db.compact(),
    'classic-level': (db) => db.compactRange('\x00', '\xff')
  }[store]
  if (compactAll) {
    db = await s.open(dir)
    await compactAll(db)
    await s.close(db)
    result.diskCompacted = diskUsage(dir)
    log(`disk after a full compaction: ${(result.diskCompacted.bytes / 1e6).toFixed(1)} MB`)
  }
  return result
}

main().then(
  (result) => process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0)),
  (err) => process.stderr.write(err.stack + '\n', () => process.exit(1))
)
