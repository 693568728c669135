'use strict'
// One store, one workload, one fresh directory, in its own process:
//   node store-worker.js <store> <workload> <dir> <keys>
//   node store-worker.js <store> probe        (exits non-zero if the store's module cannot load)
//   node store-worker.js bare rss             (the RSS of a node process running no store)
// Prints one JSON line with the result on stdout. As a module (large-worker.js, ultra-worker.js)
// it only exports the store adapters and helpers.
const fs = require('node:fs')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { prng, key, makeData, shuffledIndexes, rangeStarts, prefixBlock, mixExtraData, browserMix } = require('./data')

const BATCH = 1000
const ORDER_SEED = 0x5EED // same random read order for every store
const RANGE_SEED = 0x5CA9 // same range-scan starts for every store
const RANGE_SCANS = 1000 // range scans per run ...
const RANGE_LEN = 1000 // ... of this many consecutive keys each
// The full and prefix scans repeat until they have scanned at least this many keys (a single
// pass over 100000 keys takes well under 0.1 s, too short to time reliably).
const SCAN_KEYS_MIN = 1e6
const PAGE = 1000 // entries per nextv() call
const IN_FLIGHT = 64 // the concurrent get workload: this many gets in flight
const SYNC_WRITES = 2000 // the durable (sync: true) write workloads
const OPEN_RUNS = 20 // timed opens, each in a fresh process (after one untimed)

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
      // Resolves once fdatasync'ed (writes of one tick share one WAL write and one fsync).
      durablePut: (db, k, v) => db.put(k, v, { sync: true }),
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
      // lmdb's writes are durable by default (each commit is flushed; puts issued in one event
      // turn share a commit). With overlappingSync (its default on Linux) `db.flushed` is the
      // promise of the flush itself, so it is awaited too: the write is on disk when this resolves.
      async durablePut (db, k, v) {
        await db.put(k, v)
        await db.flushed
      },
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
      durablePut: (db, k, v) => db.put(k, v, { sync: true }),
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
  },

  // SQLite through better-sqlite3, as its docs advise: WAL journal, synchronous=NORMAL (a
  // committed write survives a process crash, not power loss: like browserdb's and
  // classic-level's default) and, for the durable-write workloads, synchronous=FULL (the WAL is
  // fsynced at every commit). One table, the key its primary key, WITHOUT ROWID (the rows are
  // the primary key's B-tree: one lookup per get), and prepared statements. Its calls are
  // synchronous: the awaited workloads await the returned value, as with lmdb's get.
  'better-sqlite3' () {
    const Database = require('better-sqlite3')
    const handles = new WeakMap() // db -> its prepared statements
    const st = (db) => handles.get(db)
    function openSqlite (dir, synchronous) {
      const db = new Database(path.join(dir, 'kv.sqlite'))
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${synchronous}`)
      db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID')
      const get = db.prepare('SELECT value FROM kv WHERE key = ?').pluck()
      const put = db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)')
      handles.set(db, {
        get,
        put,
        // A batch is one transaction of prepared INSERTs.
        batch: db.transaction((keys, values, from, to) => {
          for (let i = from; i < to; i++) put.run(keys[i], values[i])
        }),
        // Scans: raw() rows ([key, value] arrays). The range and prefix scans take all() of one
        // statement (faster here than iterate(), which crosses into C++ once per row); the full
        // scan iterate()s (faster for 100k rows than all(), which builds a 100k-row array first).
        range: db.prepare('SELECT key, value FROM kv WHERE key >= ? ORDER BY key LIMIT ?').raw(),
        bounded: db.prepare('SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key').raw(),
        everything: db.prepare('SELECT key, value FROM kv ORDER BY key').raw()
      })
      return db
    }
    const rows = (db, r) => {
      const s = st(db)
      if (r.prefix !== undefined) return s.bounded.all(r.prefix, r.end)
      return r.gte !== undefined ? s.range.all(r.gte, r.limit) : s.everything.all()
    }
    return {
      engine () {
        const db = new Database(':memory:')
        try { return `SQLite ${db.prepare('SELECT sqlite_version()').pluck().get()}` } finally { db.close() }
      },
      open: async (dir) => openSqlite(dir, 'NORMAL'),
      openDurable: async (dir) => openSqlite(dir, 'FULL'),
      put: (db, k, v) => { st(db).put.run(k, v) },
      durablePut: (db, k, v) => { st(db).put.run(k, v) }, // on a synchronous=FULL connection
      get: (db, k) => st(db).get.get(k),
      getSync: (db, k) => st(db).get.get(k),
      batch: (db, keys, values, from, to) => st(db).batch(keys, values, from, to),
      scan (db, range) {
        let count = 0
        let bytes = 0
        if (range.prefix === undefined && range.gte === undefined) {
          for (const row of st(db).everything.iterate()) { count++; bytes += row[0].length + row[1].length }
          return { count, bytes }
        }
        const all = rows(db, range)
        for (let i = 0; i < all.length; i++) bytes += all[i][0].length + all[i][1].length
        return { count: all.length, bytes }
      },
      entries: rows,
      close: (db) => { db.close() }
    }
  },

  // RocksDB through @nxtedition/rocksdb (an abstract-level 1 store): its promise API, default
  // options, utf8 keys and values. It has no public synchronous get (n/a). Its writes run on the
  // JS thread and resolve on the next tick.
  rocksdb () {
    const { RocksLevel } = require('@nxtedition/rocksdb')
    return {
      async open (dir) {
        const db = new RocksLevel(dir)
        await db.open()
        return db
      },
      put: (db, k, v) => db.put(k, v),
      // Its put() does not pass `sync` on to the write (index.js _put); batch() does.
      durablePut: (db, k, v) => db.batch([{ type: 'put', key: k, value: v }], { sync: true }),
      get: (db, k) => db.get(k),
      // abstract-level 1 rejects a get of a missing key (LEVEL_NOT_FOUND); only the checks read one.
      getOrUndefined: (db, k) => db.get(k).catch((err) => {
        if (err.code === 'LEVEL_NOT_FOUND') return undefined
        throw err
      }),
      batch: levelBatch,
      scan: (db, range) => nextvScan(db.iterator(rocksRange(range))),
      entries: (db, range) => db.iterator(rocksRange(range)).all(),
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
function rocksRange (r) {
  if (r.prefix !== undefined) return { gte: r.prefix, lt: r.end }
  return r.gte !== undefined ? { gte: r.gte, limit: r.limit } : {}
}
function levelRange (r) {
  const o = { highWaterMarkBytes: 256 * 1024 }
  if (r.prefix !== undefined) return { ...o, gte: r.prefix, lt: r.end }
  return r.gte !== undefined ? { ...o, gte: r.gte, limit: r.limit } : o
}

const gc = () => { if (global.gc) { global.gc(); global.gc() } }
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9
const now = () => performance.now() // ms, as a double (~65 ns a call here)

// The latency percentiles (µs) of per-operation times in ms.
function percentiles (ms) {
  const a = Float64Array.from(ms).sort()
  const at = (q) => a[Math.min(a.length - 1, Math.floor(q * (a.length - 1)))] * 1000
  return { p50: at(0.5), p99: at(0.99), max: a[a.length - 1] * 1000, samples: a.length }
}

// Whether the store has a synchronous get (classic-level >= 3 has; rocksdb has none).
const hasSyncGet = (s, db) => typeof s.getSync === 'function' && (!s.hasGetSync || s.hasGetSync(db))
// An awaited get that returns undefined for a missing key (every store's get but rocksdb's does).
const getOrUndefined = (s, db, k) => s.getOrUndefined ? s.getOrUndefined(db, k) : s.get(db, k)

// Puts all keys, BATCH per batch, one batch awaited at a time. With `lat`, the time of each
// batch (ms) goes into lat[batch].
async function batchPut (s, db, keys, values, lat) {
  for (let i = 0, b = 0; i < keys.length; i += BATCH, b++) {
    const t = lat ? now() : 0
    await s.batch(db, keys, values, i, Math.min(i + BATCH, keys.length))
    if (lat) lat[b] = now() - t
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
  check('get', 'history:missing', await getOrUndefined(s, db, 'history:missing'), undefined)
  let reads = sample.length + 1
  if (hasSyncGet(s, db)) {
    for (let i = 0; i < keys.length; i++) check('getSync', keys[i], s.getSync(db, keys[i]), values[i])
    check('getSync', 'history:missing', s.getSync(db, 'history:missing'), undefined)
    reads += keys.length + 1
  }
  return reads
}

// Reads keys[order[j]] for every j: awaited one at a time, or sync. Returns the time and the
// value bytes read (every value must be there). With `lat`, each read's time (ms) goes into
// lat[j] (a separate pass: the timer calls cost ~0.13 µs a read).
async function readLoop (s, db, keys, order, sync, lat) {
  let bytes = 0
  const t0 = process.hrtime.bigint()
  if (sync) {
    for (let j = 0; j < order.length; j++) {
      const t = lat ? now() : 0
      const v = s.getSync(db, keys[order[j]])
      if (lat) lat[j] = now() - t
      if (v === undefined) throw new Error(`getSync(${keys[order[j]]}) returned undefined`)
      bytes += v.length
    }
  } else {
    for (let j = 0; j < order.length; j++) {
      const t = lat ? now() : 0
      const v = await s.get(db, keys[order[j]])
      if (lat) lat[j] = now() - t
      if (v === undefined) throw new Error(`get(${keys[order[j]]}) returned undefined`)
      bytes += v.length
    }
  }
  return { elapsed: seconds(t0), bytes }
}

// The same reads with `depth` gets in flight: `depth` lanes, each awaiting one get at a time
// and taking the next read as soon as its get resolves. A read's latency runs from its call
// to its resolution (lat[j], ms). `keyOf(i)` gives key i (an array lookup, or made on the fly).
async function inflightReads (s, db, keyOf, order, depth, lat) {
  let next = 0
  let bytes = 0
  async function lane () {
    while (next < order.length) {
      const j = next++
      const k = keyOf(order[j])
      const t = lat ? now() : 0
      const v = await s.get(db, k)
      if (lat) lat[j] = now() - t
      if (v === undefined) throw new Error(`get(${k}) returned undefined`)
      bytes += v.length
    }
  }
  const t0 = process.hrtime.bigint()
  const lanes = []
  for (let l = 0; l < depth; l++) lanes.push(lane())
  await Promise.all(lanes)
  return { elapsed: seconds(t0), bytes }
}

// The durable puts of keys[0..count), `depth` at a time (1: one awaited at a time), each
// timed from call to resolution.
async function durablePuts (s, db, keys, values, count, depth, lat) {
  let next = 0
  async function lane () {
    while (next < count) {
      const j = next++
      const t = now()
      await s.durablePut(db, keys[j], values[j])
      lat[j] = now() - t
    }
  }
  const t0 = process.hrtime.bigint()
  const lanes = []
  for (let l = 0; l < depth; l++) lanes.push(lane())
  await Promise.all(lanes)
  return seconds(t0)
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
// sum (`sums` = prefix sums of key+value lengths). Returns the keys scanned. With `lat`, each
// scan's time (ms) is pushed onto it.
async function scanLoop (s, db, plan, passes, sums, label, lat) {
  let total = 0
  for (let p = 0; p < passes; p++) {
    for (let j = 0; j < plan.length; j++) {
      const { range, from, to } = plan[j]
      const t = lat ? now() : 0
      const r = await s.scan(db, range)
      if (lat) lat.push(now() - t)
      if (r.count !== to - from || r.bytes !== sums[to] - sums[from]) {
        throw new Error(`${label}: scan from ${from} returned ${r.count} entries, ${r.bytes} bytes; expected ${to - from}, ${sums[to] - sums[from]}`)
      }
      total += r.count
    }
  }
  return total
}

// Sum of file sizes (and of allocated blocks) under dir.
function diskUsage (dir) {
  let bytes = 0
  let allocated = 0
  let files = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      const sub = diskUsage(p)
      bytes += sub.bytes; allocated += sub.allocated; files += sub.files
    } else {
      const st = fs.lstatSync(p)
      bytes += st.size
      allocated += st.blocks * 512
      files++
    }
  }
  return { bytes, allocated, files }
}

// Loads keys + values (batches of 1000), closes, and returns the reopened store.
async function loadAndReopen (s, dir, keys, values) {
  let db = await s.open(dir)
  await batchPut(s, db, keys, values)
  await s.close(db)
  db = await s.open(dir)
  return db
}

const result = (store, workload, n, ops, elapsed, extra) =>
  ({ store, workload, n, ops, seconds: elapsed, opsPerSec: ops / elapsed, ...extra })

// Runs another workload of this script in a fresh process (the open and RSS workloads).
function child (args) {
  const { runWorker } = require('./child')
  const r = runWorker('store-worker.js', args)
  if (r.error) throw new Error(`store-worker.js ${args.join(' ')}: ${r.error}`)
  return r
}

const workloads = {
  // 1. Sequential puts, one awaited at a time, into an empty store; 2. batches of 1000.
  async seqput (s, dir, n, keys, values, label) {
    const warmKeys = keys.slice(0, Math.min(1000, n)).map((k) => 'warmup:' + k)
    let db = await s.open(dir)
    for (let i = 0; i < warmKeys.length; i++) await s.put(db, warmKeys[i], values[i])
    const lat = new Float64Array(n)
    gc()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) {
      const t = now()
      await s.put(db, keys[i], values[i])
      lat[i] = now() - t
    }
    const elapsed = seconds(t0)
    await s.close(db) // untimed: the data must survive close + reopen
    db = await s.open(dir)
    const verified = await verify(s, db, keys, values, label)
    await s.close(db)
    return { ops: n, elapsed, lat: percentiles(lat), verified }
  },

  async batchput (s, dir, n, keys, values, label) {
    const warmKeys = keys.slice(0, Math.min(1000, n)).map((k) => 'warmup:' + k)
    let db = await s.open(dir)
    await batchPut(s, db, warmKeys, values)
    const lat = new Float64Array(Math.ceil(n / BATCH))
    gc()
    const t0 = process.hrtime.bigint()
    await batchPut(s, db, keys, values, lat)
    const elapsed = seconds(t0)
    await s.close(db)
    db = await s.open(dir)
    const verified = await verify(s, db, keys, values, label)
    await s.close(db)
    return { ops: n, elapsed, lat: percentiles(lat), latencyOf: 'batch', verified }
  },

  // 3. Random gets awaited one at a time; 4. with 64 in flight; 5. getSync. Each: load,
  // reopen, verify, warm up, one pass for the throughput, one more pass timing each read.
  get: (...a) => pointReads('get', ...a),
  get64: (...a) => pointReads('get64', ...a),
  getsync: (...a) => pointReads('getsync', ...a),

  // 6. The browser mix on 100k history entries + 5000 bookmarks + settings:theme, each
  // operation awaited before the next (a UI's reads and writes), every read checked against
  // the latest value written.
  async mix (s, dir, n, keys, values, label) {
    const extra = mixExtraData()
    let db = await s.open(dir)
    await batchPut(s, db, keys, values)
    await batchPut(s, db, extra.keys, extra.values)
    await s.close(db)
    db = await s.open(dir)
    const m = browserMix(values)
    for (let i = 0; i < Math.min(1000, n); i++) await s.get(db, keys[(i * 7919) % n]) // warm-up reads
    const total = m.key.length
    const lat = new Float64Array(total)
    gc()
    const t0 = process.hrtime.bigint()
    for (let j = 0; j < total; j++) {
      const t = now()
      if (m.write[j] === 1) {
        await s.put(db, m.key[j], m.value[j])
        lat[j] = now() - t
      } else {
        const v = await s.get(db, m.key[j])
        lat[j] = now() - t
        if (v !== m.value[j]) throw new Error(`${label}: get(${m.key[j]}) returned ${JSON.stringify(v)}, expected ${JSON.stringify(m.value[j])}`)
      }
    }
    const elapsed = seconds(t0)
    // Untimed: after close + reopen, every history entry the mix touched and every bookmark
    // reads back its latest value.
    await s.close(db)
    db = await s.open(dir)
    const touched = new Set()
    for (let j = 0; j < total; j++) if (m.kind[j] === 0) touched.add(Number(m.key[j].slice(8)))
    const hk = [...touched].map(key)
    await verifySome(s, db, hk, [...touched].map((i) => m.history[i]), label)
    await verifySome(s, db, extra.keys.slice(0, -1), m.bookmarks, label)
    await s.close(db)
    const kinds = { history: [], bookmarks: [], theme: [] }
    const names = ['history', 'bookmarks', 'theme']
    for (let j = 0; j < total; j++) kinds[names[m.kind[j]]].push(lat[j])
    const reads = []
    const writes = []
    for (let j = 0; j < total; j++) (m.write[j] ? writes : reads).push(lat[j])
    return {
      ops: total,
      elapsed,
      lat: percentiles(lat),
      byKind: Object.fromEntries(names.map((k) => [k, percentiles(kinds[k])])),
      reads: percentiles(reads),
      writes: percentiles(writes),
      verified: hk.length + extra.keys.length - 1
    }
  },

  // 7. Scans: range scans (1000 x 1000 keys from random starts), the prefix block, full passes.
  fullscan: (...a) => scans('fullscan', ...a),
  rangescan: (...a) => scans('rangescan', ...a),
  prefixscan: (...a) => scans('prefixscan', ...a),

  // 8. 2000 durable writes (fsync'ed before they resolve) into an empty store: one awaited at
  // a time, or 64 in flight (where a store groups commits, they share fsyncs).
  syncput: (...a) => syncPuts(1, ...a),
  syncput64: (...a) => syncPuts(IN_FLIGHT, ...a),

  // 9. Opening a database of n keys (loaded by batches, closed) in a fresh process: one untimed
  // open first, then OPEN_RUNS timed ones, each in a new process (open + one get; the files
  // are in the page cache). The disk size is the store's directory after the load and close.
  async open (s, dir, n, keys, values, label, store) {
    let db = await s.open(dir)
    await batchPut(s, db, keys, values)
    await s.close(db)
    const disk = diskUsage(dir)
    const runs = []
    for (let r = 0; r <= OPEN_RUNS; r++) {
      const c = child([store, 'openonce', dir, String(n)])
      if (r > 0) runs.push(c)
    }
    const lat = runs.map((c) => c.openMs)
    const total = lat.reduce((a, b) => a + b, 0) / 1000
    return {
      ops: runs.length,
      elapsed: total,
      lat: percentiles(lat),
      latencyOf: 'open',
      requireMs: percentiles(runs.map((c) => c.requireMs)).p50 / 1000,
      firstGetMs: percentiles(runs.map((c) => c.firstGetMs)).p50 / 1000,
      disk
    }
  },

  // 9. RSS after the read workloads: the data is loaded by another process; this one holds no
  // values (keys are made on the fly; a read's check is its length sum), opens the store, runs
  // the random awaited gets, the 64-in-flight gets, the sync gets (where there are) and one full
  // scan, then reads its RSS after two gcs.
  async rss (s, dir, n, keys, values, label, store) {
    let expectedBytes = 0
    for (let i = 0; i < n; i++) expectedBytes += values[i].length
    let scanBytes = 0
    for (let i = 0; i < n; i++) scanBytes += keys[i].length + values[i].length
    child([store, 'load', dir, String(n)])
    return { expectedBytes, scanBytes }
  }
}

// A sample of keys read back with their expected values (awaited gets).
async function verifySome (s, db, keys, values, label) {
  for (let i = 0; i < keys.length; i++) {
    const v = await s.get(db, keys[i])
    if (v !== values[i]) throw new Error(`${label}: verification failed: get(${keys[i]}) expected ${JSON.stringify(values[i])}, got ${JSON.stringify(v)}`)
  }
}

async function pointReads (workload, s, dir, n, keys, values, label) {
  const db = await loadAndReopen(s, dir, keys, values)
  const verified = await verify(s, db, keys, values, label)
  const sync = workload === 'getsync'
  if (sync && !hasSyncGet(s, db)) {
    await s.close(db)
    return { na: 'no synchronous get' }
  }
  const order = shuffledIndexes(n, ORDER_SEED)
  let expectedBytes = 0
  for (let i = 0; i < n; i++) expectedBytes += values[i].length
  const keyOf = (i) => keys[i]
  const pass = (o, lat) => workload === 'get64'
    ? inflightReads(s, db, keyOf, o, IN_FLIGHT, lat)
    : readLoop(s, db, keys, o, sync, lat)
  await pass(order.subarray(0, Math.min(1000, n))) // warm-up
  gc()
  const r = await pass(order)
  const lat = new Float64Array(n)
  gc()
  const r2 = await pass(order, lat)
  for (const x of [r, r2]) {
    if (x.bytes !== expectedBytes) throw new Error(`${label}: read ${x.bytes} value bytes, expected ${expectedBytes}`)
  }
  await s.close(db)
  return { ops: n, elapsed: r.elapsed, lat: percentiles(lat), timedPassSeconds: r2.elapsed, verified }
}

async function scans (workload, s, dir, n, keys, values, label) {
  const db = await loadAndReopen(s, dir, keys, values)
  const plan = scanPlan(workload, keys)
  // Untimed: every entry of the full and prefix scans, and of a deterministic sample of 100
  // range scans (first, last, every tenth), checked key by key against the data.
  const sample = plan.filter((_, j) => j % 10 === 0 || j === plan.length - 1)
  let verified = 0
  for (const { range, from, to } of sample) {
    verified += checkEntries(label, await s.entries(db, range), keys, values, from, to)
  }
  const sums = new Float64Array(n + 1)
  for (let i = 0; i < n; i++) sums[i + 1] = sums[i] + keys[i].length + values[i].length
  const perPass = plan.reduce((a, { from, to }) => a + to - from, 0)
  const passes = Math.max(1, Math.ceil(SCAN_KEYS_MIN / perPass))
  await scanLoop(s, db, plan.slice(0, 100), 1, sums, label) // warm-up
  gc()
  const lat = []
  const t0 = process.hrtime.bigint()
  const scanned = await scanLoop(s, db, plan, passes, sums, label, lat)
  const elapsed = seconds(t0)
  await s.close(db)
  return { ops: scanned, elapsed, unit: 'keys', scanned, passes, lat: percentiles(lat), latencyOf: 'scan', verified }
}

async function syncPuts (depth, s, dir, n, keys, values, label) {
  const count = Math.min(SYNC_WRITES, n)
  const open = s.openDurable || s.open
  let db = await open(dir)
  const warmKeys = keys.slice(0, 20).map((k) => 'warmup:' + k)
  await durablePuts(s, db, warmKeys, values, warmKeys.length, 1, new Float64Array(warmKeys.length))
  const lat = new Float64Array(count)
  gc()
  const elapsed = await durablePuts(s, db, keys, values, count, depth, lat)
  await s.close(db)
  db = await s.open(dir)
  await verifySome(s, db, keys.slice(0, count), values, label)
  await s.close(db)
  return { ops: count, elapsed, lat: percentiles(lat), verified: count }
}

// The RSS workload's second half, in the process that runs it after the load (see rss above).
async function rssReads (s, dir, n, expectedBytes, scanBytes) {
  const db = await s.open(dir)
  const order = shuffledIndexes(n, ORDER_SEED)
  const check = (r, what) => {
    if (r.bytes !== expectedBytes) throw new Error(`rss: ${what} read ${r.bytes} value bytes, expected ${expectedBytes}`)
  }
  // The keys are made on the fly (key(i)), so this process holds no key or value array.
  check(await inflightReads(s, db, key, order, 1), 'get') // one in flight: one awaited at a time
  check(await inflightReads(s, db, key, order, IN_FLIGHT), 'get64')
  const sync = hasSyncGet(s, db)
  if (sync) {
    let bytes = 0
    for (let j = 0; j < n; j++) {
      const v = s.getSync(db, key(order[j]))
      if (v === undefined) throw new Error(`rss: getSync(${key(order[j])}) returned undefined`)
      bytes += v.length
    }
    check({ bytes }, 'getSync')
  }
  const r = await s.scan(db, {})
  if (r.count !== n || r.bytes !== scanBytes) throw new Error(`rss: full scan returned ${r.count} entries, ${r.bytes} bytes; expected ${n}, ${scanBytes}`)
  gc()
  await new Promise((resolve) => setTimeout(resolve, 200))
  gc()
  const mem = process.memoryUsage()
  await s.close(db)
  return { rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, arrayBuffers: mem.arrayBuffers, syncReads: sync }
}

async function main () {
  const [store, workload, dir, keysArg] = process.argv.slice(2)
  if (store === 'bare' && workload === 'rss') {
    // The baseline: this script with no store loaded, after the same gcs.
    gc()
    await new Promise((resolve) => setTimeout(resolve, 200))
    gc()
    const mem = process.memoryUsage()
    return { store, workload, rss: mem.rss, heapUsed: mem.heapUsed }
  }
  if (!stores[store]) throw new Error(`unknown store ${store}`)
  const t0 = performance.now()
  const s = stores[store]()
  const requireMs = performance.now() - t0
  if (workload === 'probe') return { store, ok: true, engine: s.engine ? s.engine() : undefined }
  const n = Number(keysArg)
  const label = `${store}/${workload}`

  if (workload === 'openonce') {
    // One open in a fresh process (the open workload's child): open, then one get.
    const i = Math.floor(n / 3)
    const want = makeData(n).values[i]
    const t1 = performance.now()
    const db = await s.open(dir)
    const t2 = performance.now()
    const v = await s.get(db, key(i))
    const t3 = performance.now()
    if (v !== want) throw new Error(`${label}: get(${key(i)}) after open returned ${JSON.stringify(v)}, expected ${JSON.stringify(want)}`)
    await s.close(db)
    return { store, workload, requireMs, openMs: t3 - t1, openOnlyMs: t2 - t1, firstGetMs: t3 - t2 }
  }
  if (workload === 'load') {
    const { keys, values } = makeData(n)
    const db = await s.open(dir)
    await batchPut(s, db, keys, values)
    await s.close(db)
    return { store, workload, n }
  }
  if (workload === 'rssreads') {
    const [expectedBytes, scanBytes] = process.argv.slice(6).map(Number)
    return { store, workload, n, ...await rssReads(s, dir, n, expectedBytes, scanBytes) }
  }
  if (!workloads[workload]) throw new Error(`unknown workload ${workload}`)
  const { keys, values } = makeData(n)
  const r = await workloads[workload](s, dir, n, keys, values, label, store)
  if (workload === 'rss') {
    // The reads run in yet another process, which never held the values.
    const c = child([store, 'rssreads', dir, String(n), String(r.expectedBytes), String(r.scanBytes)])
    return { store, workload, n, ...c }
  }
  if (r.na) return { store, workload, n, na: r.na }
  const { ops, elapsed, ...extra } = r
  return result(store, workload, n, ops, elapsed, extra)
}

// large-worker.js and ultra-worker.js reuse the store adapters and helpers.
module.exports = { stores, batchPut, BATCH, readLoop, nextvScan, levelBatch, diskUsage, percentiles }

if (require.main === module) {
  main().then(
    (res) => process.stdout.write(JSON.stringify(res) + '\n', () => process.exit(0)),
    (err) => {
      process.stderr.write((process.argv[3] === 'probe' ? err.message : err.stack) + '\n', () => process.exit(1))
    }
  )
}
