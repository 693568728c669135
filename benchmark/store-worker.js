'use strict'
// One store, one workload, one fresh directory, in its own process:
//   node store-worker.js <store> <workload> <dir> <keys>
//   node store-worker.js <store> probe        (exits non-zero if the store's module cannot load)
// Prints one JSON line with the result on stdout. As a module (large-worker.js) it only
// exports the store adapters.
const path = require('node:path')
const { prng, makeData, shuffledIndexes, rangeStarts, prefixBlock } = require('./data')

const BATCH = 1000
const ORDER_SEED = 0x5EED // same random read order for every store
const RANGE_SEED = 0x5CA9 // same range-scan starts for every store
const RANGE_SCANS = 1000 // range scans per run ...
const RANGE_LEN = 1000 // ... of this many consecutive keys each
// The full and prefix scans repeat until they have scanned at least this many keys (a single
// pass over 100000 keys takes well under 0.1 s, too short to time reliably).
const SCAN_KEYS_MIN = 1e6
const PAGE = 1000 // entries per nextv() call

// A scan's range, for scan() and entries(): { gte, limit } (range scans), { prefix, end } (prefix
// scans: the keys starting with `prefix`, i.e. gte prefix, lt end) or {} (everything).

// Each adapter uses its store's idiomatic API and default settings.

/** Reads an iterator to its end with nextv(PAGE); returns the entry count and key+value bytes. */
async function nextvScan (it) {
  let count = 0
  let bytes = 0
  try {
    for (;;) {
      const page = await it.nextv(PAGE)
      if (page.length === 0) break
      for (let i = 0; i < page.length; i++) {
        count++
        bytes += page[i][0].length + page[i][1].length
      }
    }
  } finally {
    await it.close()
  }
  return { count, bytes }
}

/** `db.batch(ops)` of puts keys[from..to) (browserdb and the Level family share the form). */
function levelBatch (db, keys, values, from, to) {
  const ops = []
  for (let i = from; i < to; i++) ops.push({ type: 'put', key: keys[i], value: values[i] })
  return db.batch(ops)
}

const stores = {
  browserdb () {
    const { BrowserDB } = require(path.join(__dirname, '..'))
    return {
      open: (dir) => BrowserDB.open(dir),
      put: (db, k, v) => db.put(k, v),
      get: (db, k) => db.get(k),
      getSync: (db, k) => db.getSync(k),
      batch: levelBatch,
      // Iterates with nextv(PAGE) in a loop: the fastest correct way. `for await (const [k, v]
      // of db.iterator())` returns the same entries but goes through one next() promise per
      // entry: about 2.5x slower here (~0.55M vs ~1.5M keys/s on a 100000-key full scan).
      // nextv(1000) matches the iterator's 1000-entry pages from Rust; larger sizes were slower.
      scan: (db, range) => nextvScan(db.iterator(browserdbRange(range))),
      entries: (db, range) => db.iterator(browserdbRange(range)).all(),
      close: (db) => db.close()
    }
  },

  lmdb () {
    const { open } = require('lmdb')
    return {
      // lmdb's defaults (synced, durable commits) except: values stored as plain utf8 strings
      // (the default is msgpack) so every store holds the same bytes, and no compression.
      open: async (dir) => open({ path: dir, encoding: 'string', compression: false }),
      put: (db, k, v) => db.put(k, v),
      // lmdb's get is synchronous (its README: "lmdb-js uses synchronous gets"); in the
      // awaited-get workload the caller awaits the returned value like any other store's.
      get: (db, k) => db.get(k),
      getSync: (db, k) => db.get(k),
      // lmdb's idiomatic fastest bulk write: put() without awaiting each one. All puts issued
      // in one event turn are committed together in one transaction on lmdb's write thread,
      // and the promise of the last one resolves when that transaction is committed and
      // flushed. (Its README says this is a bit faster than db.transaction(() => ...), which
      // must also run the callback on the main thread.)
      batch (db, keys, values, from, to) {
        let last
        for (let i = from; i < to; i++) last = db.put(keys[i], values[i])
        return last
      },
      // lmdb's range read is getRange(), a synchronous iterable of { key, value } (run here with
      // its defaults, so each getRange() reads in one read transaction, a snapshot like the
      // other stores' iterators).
      scan (db, range) {
        let count = 0
        let bytes = 0
        for (const { key, value } of db.getRange(lmdbRange(range))) {
          count++
          bytes += key.length + value.length
        }
        return { count, bytes }
      },
      entries: (db, range) => db.getRange(lmdbRange(range)).map(({ key, value }) => [key, value]).asArray,
      close: (db) => db.close()
    }
  },

  'classic-level' () {
    const { ClassicLevel } = require('classic-level')
    return {
      async open (dir) {
        const db = new ClassicLevel(dir) // utf8 keys and values by default
        await db.open()
        return db
      },
      put: (db, k, v) => db.put(k, v),
      get: (db, k) => db.get(k),
      // classic-level >= 3 has getSync(); older versions report n/a.
      hasGetSync: (db) => db.supports.getSync === true,
      getSync: (db, k) => db.getSync(k),
      batch: levelBatch,
      // db.iterator() with nextv(PAGE) in a loop (for await / next() are slower: one promise per
      // entry). The range scans take one nextv() each; all() would do the same (abstract-level's
      // all() is nextv(1000) in a loop). highWaterMarkBytes: classic-level's README says nextv(size)
      // is fastest when it is at least size x the entry size, else nextv stops reading early (the
      // 16 KiB default gives ~90 of our entries per call); 256 KiB holds 1000 of our <= 217-byte
      // entries, and matches browserdb's page byte cap (its first try, on the JS thread).
      scan: (db, range) => nextvScan(db.iterator(levelRange(range))),
      entries: (db, range) => db.iterator(levelRange(range)).all(),
      close: (db) => db.close()
    }
  }
}

// Each store's spelling of a scan's range. browserdb has a prefix option; the others get the
// equivalent gte/lt bounds.
function browserdbRange (r) {
  if (r.prefix !== undefined) return { prefix: r.prefix }
  return r.gte !== undefined ? { gte: r.gte, limit: r.limit } : {}
}
function lmdbRange (r) {
  if (r.prefix !== undefined) return { start: r.prefix, end: r.end }
  return r.gte !== undefined ? { start: r.gte, limit: r.limit } : {}
}
function levelRange (r) {
  const o = { highWaterMarkBytes: 256 * 1024 }
  if (r.prefix !== undefined) return { ...o, gte: r.prefix, lt: r.end }
  return r.gte !== undefined ? { ...o, gte: r.gte, limit: r.limit } : o
}

const gc = () => { if (global.gc) global.gc() }
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

// Puts all keys, BATCH per batch, one batch awaited at a time.
async function batchPut (s, db, keys, values) {
  for (let i = 0; i < keys.length; i += BATCH) {
    await s.batch(db, keys, values, i, Math.min(i + BATCH, keys.length))
  }
}

// Fails loudly unless the store holds exactly the expected data: awaited get() of a
// deterministic sample (first, last, ~1000 random keys, one missing key) and, where the store
// has a synchronous get, getSync() of every key. Returns the number of reads checked.
async function verify (s, db, keys, values, label) {
  const check = (how, k, got, want) => {
    if (got !== want) {
      throw new Error(`${label}: verification failed: ${how}(${k}) expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`)
    }
  }
  const rand = prng(42)
  const sample = [0, keys.length - 1]
  for (let i = 0; i < Math.min(1000, keys.length); i++) sample.push(Math.floor(rand() * keys.length))
  for (const i of sample) check('get', keys[i], await s.get(db, keys[i]), values[i])
  check('get', 'history:missing', await s.get(db, 'history:missing'), undefined)
  let reads = sample.length + 1
  if (!s.hasGetSync || s.hasGetSync(db)) {
    for (let i = 0; i < keys.length; i++) check('getSync', keys[i], s.getSync(db, keys[i]), values[i])
    check('getSync', 'history:missing', s.getSync(db, 'history:missing'), undefined)
    reads += keys.length + 1
  }
  return reads
}

async function readLoop (s, db, keys, order, sync) {
  let bytes = 0
  const t0 = process.hrtime.bigint()
  if (sync) {
    for (let j = 0; j < order.length; j++) {
      const v = s.getSync(db, keys[order[j]])
      if (v === undefined) throw new Error(`getSync(${keys[order[j]]}) returned undefined`)
      bytes += v.length
    }
  } else {
    for (let j = 0; j < order.length; j++) {
      const v = await s.get(db, keys[order[j]])
      if (v === undefined) throw new Error(`get(${keys[order[j]]}) returned undefined`)
      bytes += v.length
    }
  }
  return { elapsed: seconds(t0), bytes }
}

// The scans of one scan workload: each { range, from, to } expects exactly the keys from..to-1.
function scanPlan (workload, keys) {
  const n = keys.length
  if (workload === 'fullscan') return [{ range: {}, from: 0, to: n }]
  if (workload === 'prefixscan') {
    const { prefix, end, from, to } = prefixBlock(n)
    if (to <= from) throw new Error(`prefix scan: ${n} keys are too few (no key has the prefix ${prefix})`)
    return [{ range: { prefix, end }, from, to }]
  }
  const len = Math.min(RANGE_LEN, n)
  return Array.from(rangeStarts(n, RANGE_SCANS, len, RANGE_SEED), (from) => (
    { range: { gte: keys[from], limit: len }, from, to: from + len }
  ))
}

// Fails loudly unless the scan returns exactly keys[from..to-1] in ascending order with their values.
function checkEntries (label, got, keys, values, from, to) {
  const fail = (msg) => { throw new Error(`${label}: verification failed: ${msg}`) }
  if (!Array.isArray(got)) fail(`expected an array of entries, got ${typeof got}`)
  if (got.length !== to - from) fail(`expected ${to - from} entries from ${keys[from]}, got ${got.length}`)
  for (let j = 0; j < got.length; j++) {
    const [k, v] = got[j]
    if (j > 0 && !(k > got[j - 1][0])) fail(`not in ascending order: ${got[j - 1][0]} then ${k}`)
    if (k !== keys[from + j]) fail(`entry ${j}: expected key ${keys[from + j]}, got ${JSON.stringify(k)}`)
    if (v !== values[from + j]) fail(`${k}: expected ${JSON.stringify(values[from + j])}, got ${JSON.stringify(v)}`)
  }
  return got.length
}

// Runs the plan `passes` times; every scan must return its expected count and key+value length
// sum (`sums` = prefix sums of key+value lengths). Returns the keys scanned.
async function scanLoop (s, db, plan, passes, sums, label) {
  let total = 0
  for (let p = 0; p < passes; p++) {
    for (let j = 0; j < plan.length; j++) {
      const { range, from, to } = plan[j]
      const r = await s.scan(db, range)
      if (r.count !== to - from || r.bytes !== sums[to] - sums[from]) {
        throw new Error(`${label}: scan from ${from} returned ${r.count} entries, ${r.bytes} bytes; expected ${to - from}, ${sums[to] - sums[from]}`)
      }
      total += r.count
    }
  }
  return total
}

async function main () {
  const [store, workload, dir, keysArg] = process.argv.slice(2)
  if (!stores[store]) throw new Error(`unknown store ${store}`)
  const s = stores[store]()
  if (workload === 'probe') return { store, ok: true }

  const n = Number(keysArg)
  const { keys, values } = makeData(n)
  const warm = Math.min(1000, n)
  const warmKeys = keys.slice(0, warm).map((k) => 'warmup:' + k)
  let db = await s.open(dir)
  let elapsed
  let verified

  if (workload === 'seqput' || workload === 'batchput') {
    if (workload === 'seqput') {
      for (let i = 0; i < warm; i++) await s.put(db, warmKeys[i], values[i])
      gc()
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < n; i++) await s.put(db, keys[i], values[i])
      elapsed = seconds(t0)
    } else {
      await batchPut(s, db, warmKeys, values)
      gc()
      const t0 = process.hrtime.bigint()
      await batchPut(s, db, keys, values)
      elapsed = seconds(t0)
    }
    // Untimed: the data must survive close + reopen.
    await s.close(db)
    db = await s.open(dir)
    verified = await verify(s, db, keys, values, `${store}/${workload}`)
  } else if (workload === 'get' || workload === 'getsync') {
    await batchPut(s, db, keys, values) // untimed load, then read from the reopened store
    await s.close(db)
    db = await s.open(dir)
    verified = await verify(s, db, keys, values, `${store}/${workload}`)
    const sync = workload === 'getsync'
    if (sync && s.hasGetSync && !s.hasGetSync(db)) {
      await s.close(db)
      return { store, workload, n, na: 'no synchronous get' }
    }
    const order = shuffledIndexes(n, ORDER_SEED)
    await readLoop(s, db, keys, order.subarray(0, warm), sync) // warm-up
    gc()
    const r = await readLoop(s, db, keys, order, sync)
    let expectedBytes = 0
    for (let i = 0; i < n; i++) expectedBytes += values[i].length
    if (r.bytes !== expectedBytes) throw new Error(`${store}/${workload}: read ${r.bytes} value bytes, expected ${expectedBytes}`)
    elapsed = r.elapsed
  } else if (workload === 'fullscan' || workload === 'rangescan' || workload === 'prefixscan') {
    const label = `${store}/${workload}`
    await batchPut(s, db, keys, values) // untimed load, then scan the reopened store
    await s.close(db)
    db = await s.open(dir)
    const plan = scanPlan(workload, keys)
    // Untimed: every entry of the full and prefix scans, and of a deterministic sample of 100
    // range scans (first, last, every tenth), checked key by key against the data.
    const sample = plan.filter((_, j) => j % 10 === 0 || j === plan.length - 1)
    verified = 0
    for (const { range, from, to } of sample) {
      verified += checkEntries(label, await s.entries(db, range), keys, values, from, to)
    }
    const sums = new Float64Array(n + 1)
    for (let i = 0; i < n; i++) sums[i + 1] = sums[i] + keys[i].length + values[i].length
    const perPass = plan.reduce((a, { from, to }) => a + to - from, 0)
    const passes = Math.max(1, Math.ceil(SCAN_KEYS_MIN / perPass))
    await scanLoop(s, db, plan.slice(0, 100), 1, sums, label) // warm-up
    gc()
    const t0 = process.hrtime.bigint()
    const scanned = await scanLoop(s, db, plan, passes, sums, label)
    elapsed = seconds(t0)
    await s.close(db)
    return { store, workload, n, seconds: elapsed, opsPerSec: scanned / elapsed, unit: 'keys', scanned, passes, verified }
  } else {
    throw new Error(`unknown workload ${workload}`)
  }
  await s.close(db)
  return { store, workload, n, seconds: elapsed, opsPerSec: n / elapsed, verified }
}

// large-worker.js reuses the store adapters and the batch put.
module.exports = { stores, batchPut, BATCH, readLoop, nextvScan, levelBatch }

if (require.main === module) {
  main().then(
    (result) => process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0)),
    (err) => {
      process.stderr.write((process.argv[3] === 'probe' ? err.message : err.stack) + '\n', () => process.exit(1))
    }
  )
}
