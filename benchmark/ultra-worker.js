'use strict'
// One in-memory store, one workload, in its own process (ultra.js runs one per pair):
//   node ultra-worker.js <store> <workload> <keys> <passes>
//   node ultra-worker.js <store> probe        (exits non-zero if the store's module cannot load)
// Stores: browserdb (ultra mode), memory-level, map (a plain JS Map). Prints one JSON line with
// the result on stdout.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { prng, makeData, shuffledIndexes } = require('./data')
const { stores: diskStores, batchPut, readLoop, nextvScan } = require('./store-worker')


// Where browserdb's ultra store "lives": a path that is never created. Ultra mode touches no
// file, so the worker fails loudly if this directory exists after the run.
const ULTRA_PATH = path.join(os.tmpdir(), `browserdb-ultra-bench-${process.pid}-never-created`)


// Each adapter: the store's idiomatic API, default settings. `scan` (full iteration in key
// order) and `entries` are missing where the store has no order.
const stores = {
  // The same calls as run.js's browserdb adapter (batch, iterator().nextv(1000), all()), opened
  // in ultra mode: RAM only, nothing written to disk.
  browserdb () {
    const { BrowserDB } = require(path.join(__dirname, '..'))
    const disk = diskStores.browserdb()
    return {
      ...disk,
      async open () {
        const db = await BrowserDB.open(ULTRA_PATH, { mode: 'ultra' })
        if (db.mode !== 'ultra') throw new Error(`browserdb opened in mode ${db.mode}, expected ultra`)
        return db
      },
      scan: (db) => nextvScan(db.iterator()),
      entries: (db) => db.iterator().all(),
      close: (db) => db.close(),
      // Ultra mode must not have written anything: checked once the run is over.
      after () {
        if (fs.existsSync(ULTRA_PATH)) throw new Error(`browserdb ultra mode created ${ULTRA_PATH}`)
      }
    }
  },

  'memory-level' () {
    const { MemoryLevel } = require('memory-level')
    return {
      async open () {
        const db = new MemoryLevel() // utf8 keys and values; its default storeEncoding ('buffer')
        await db.open()
        return db
      },
      put: (db, k, v) => db.put(k, v),
      get: (db, k) => db.get(k),
      // memory-level >= 2 has getSync() (abstract-level 2's supports.getSync); else n/a.
      hasGetSync: (db) => db.supports.getSync === true,
      getSync: (db, k) => db.getSync(k),
      batch (db, keys, values, from, to) {
        const ops = []
        for (let i = from; i < to; i++) ops.push({ type: 'put', key: keys[i], value: values[i] })
        return db.batch(ops)
      },
      scan: (db) => nextvScan(db.iterator()),
      entries: (db) => db.iterator().all(),
      close: (db) => db.close()
    }
  },

  // The baseline: a plain Map. The awaited rows go through async functions (so each call costs
  // one promise, as for the stores); the sync get is Map#get itself; a batch is a loop of set().
  // A Map keeps insertion order, not key order: no iteration row.
  map () {
    return {
      open: async () => new Map(),
      put: async (m, k, v) => { m.set(k, v) },
      get: async (m, k) => m.get(k),
      getSync: (m, k) => m.get(k),
      async batch (m, keys, values, from, to) {
        for (let i = from; i < to; i++) m.set(keys[i], values[i])
      },
      size: (m) => m.size,
      close: async (m) => { m.clear() }
    }
  }
}

const gc = () => { if (global.gc) global.gc() }
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

// Fails loudly unless the store holds exactly the expected data: awaited get() of a
// deterministic sample (first, last, ~1000 random keys) and of a missing key; where the store
// has a synchronous get, the same of every key; and the whole store's contents: every entry in
// key order with its value (ordered stores) or its size (Map). Returns the values checked.
async function verify (s, db, keys, values, label) {
  const fail = (msg) => { throw new Error(`${label}: verification failed: ${msg}`) }
  const check = (how, k, got, want) => {
    if (got !== want) fail(`${how}(${k}) expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`)
  }
  const n = keys.length
  const rand = prng(42)
  const sample = [0, n - 1]
  for (let i = 0; i < Math.min(1000, n); i++) sample.push(Math.floor(rand() * n))
  for (const i of sample) check('get', keys[i], await s.get(db, keys[i]), values[i])
  check('get', 'history:missing', await s.get(db, 'history:missing'), undefined)
  let reads = sample.length + 1
  if (!s.hasGetSync || s.hasGetSync(db)) {
    for (let i = 0; i < n; i++) check('getSync', keys[i], s.getSync(db, keys[i]), values[i])
    check('getSync', 'history:missing', s.getSync(db, 'history:missing'), undefined)
    reads += n + 1
  }
  if (s.entries) {
    const got = await s.entries(db)
    if (got.length !== n) fail(`iteration returned ${got.length} entries, expected ${n}`)
    for (let j = 0; j < n; j++) {
      const [k, v] = got[j]
      if (k !== keys[j]) fail(`iteration entry ${j}: expected key ${keys[j]}, got ${JSON.stringify(k)}`)
      if (v !== values[j]) fail(`iteration ${k}: expected ${JSON.stringify(values[j])}, got ${JSON.stringify(v)}`)
    }
    reads += n
  } else if (s.size(db) !== n) {
    fail(`holds ${s.size(db)} keys, expected ${n}`)
  }
  return reads
}


async function putPass (s, db, keys, values, seq) {
  const t0 = process.hrtime.bigint()
  if (seq) {
    for (let i = 0; i < keys.length; i++) await s.put(db, keys[i], values[i])
  } else {
    await batchPut(s, db, keys, values)
  }
  return seconds(t0)
}

async function main () {
  const [store, workload, keysArg, passesArg] = process.argv.slice(2)
  if (!stores[store]) throw new Error(`unknown store ${store}`)
  const s = stores[store]()
  if (workload === 'probe') return { store, ok: true }

  const n = Number(keysArg)
  const passes = Number(passesArg)
  const label = `${store}/${workload}`
  const { keys, values } = makeData(n)
  let valueBytes = 0
  for (let i = 0; i < n; i++) valueBytes += values[i].length
  const passSeconds = []
  let verified = 0
  let unit = 'ops'

  if (workload === 'seqput' || workload === 'batchput') {
    const seq = workload === 'seqput'
    // Untimed warm-up: one whole pass into a fresh store, verified before any timing.
    let db = await s.open()
    await putPass(s, db, keys, values, seq)
    verified += await verify(s, db, keys, values, `${label} (warm-up pass)`)
    await s.close(db)
    // Timed: each pass puts every key into a fresh, empty store (inserts, not overwrites).
    for (let p = 0; p < passes; p++) {
      db = await s.open()
      gc()
      passSeconds.push(await putPass(s, db, keys, values, seq))
      if (p < passes - 1) await s.close(db)
    }
    verified += await verify(s, db, keys, values, `${label} (last timed pass)`)
    await s.close(db)
  } else if (workload === 'get' || workload === 'getsync') {
    const sync = workload === 'getsync'
    const db = await s.open()
    await batchPut(s, db, keys, values) // untimed load
    verified = await verify(s, db, keys, values, label)
    if (sync && s.hasGetSync && !s.hasGetSync(db)) {
      await s.close(db)
      return { store, workload, n, na: 'no sync get' }
    }
    const order = shuffledIndexes(n, 0x5EED) // the same random order for every store (as run.js)
    await readLoop(s, db, keys, order.subarray(0, Math.min(1000, n)), sync) // warm-up
    for (let p = 0; p < passes; p++) {
      gc()
      const r = await readLoop(s, db, keys, order, sync)
      if (r.bytes !== valueBytes) throw new Error(`${label}: read ${r.bytes} value bytes, expected ${valueBytes}`)
      passSeconds.push(r.elapsed)
    }
    await s.close(db)
  } else if (workload === 'iterate') {
    if (!s.scan) return { store, workload, n, na: 'unordered' }
    unit = 'keys'
    const db = await s.open()
    await batchPut(s, db, keys, values) // untimed load
    verified = await verify(s, db, keys, values, label) // includes every entry of a full iteration
    let keyValueBytes = valueBytes
    for (let i = 0; i < n; i++) keyValueBytes += keys[i].length
    const onePass = async () => {
      const t0 = process.hrtime.bigint()
      const r = await s.scan(db)
      const elapsed = seconds(t0)
      if (r.count !== n || r.bytes !== keyValueBytes) {
        throw new Error(`${label}: iteration returned ${r.count} entries, ${r.bytes} bytes; expected ${n}, ${keyValueBytes}`)
      }
      return elapsed
    }
    await onePass() // warm-up
    for (let p = 0; p < passes; p++) {
      gc()
      passSeconds.push(await onePass())
    }
    await s.close(db)
  } else {
    throw new Error(`unknown workload ${workload}`)
  }
  if (s.after) s.after()
  const total = passSeconds.reduce((a, b) => a + b, 0)
  return { store, workload, n, passes, seconds: total, passSeconds, opsPerSec: (n * passes) / total, unit, verified }
}

if (require.main === module) {
  main().then(
    (result) => process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0)),
    (err) => {
      process.stderr.write((process.argv[3] === 'probe' ? err.message : err.stack) + '\n', () => process.exit(1))
    }
  )
}
