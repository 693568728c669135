'use strict'
// One store, one workload, one fresh directory, in its own process:
//   node store-worker.js <store> <workload> <dir> <keys>
//   node store-worker.js <store> probe        (exits non-zero if the store's module cannot load)
// Prints one JSON line with the result on stdout.
const path = require('node:path')
const { prng, makeData, shuffledIndexes } = require('./data')

const BATCH = 1000
const ORDER_SEED = 0x5EED // same random read order for every store

// Each adapter uses its store's idiomatic API and default settings.
const stores = {
  browserdb () {
    const { BrowserDB } = require(path.join(__dirname, '..'))
    return {
      open: (dir) => BrowserDB.open(dir),
      put: (db, k, v) => db.put(k, v),
      get: (db, k) => db.get(k),
      getSync: (db, k) => db.getSync(k),
      batch (db, keys, values, from, to) {
        const ops = []
        for (let i = from; i < to; i++) ops.push({ type: 'put', key: keys[i], value: values[i] })
        return db.batch(ops)
      },
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
      batch (db, keys, values, from, to) {
        const ops = []
        for (let i = from; i < to; i++) ops.push({ type: 'put', key: keys[i], value: values[i] })
        return db.batch(ops)
      },
      close: (db) => db.close()
    }
  }
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
  } else {
    throw new Error(`unknown workload ${workload}`)
  }
  await s.close(db)
  return { store, workload, n, seconds: elapsed, opsPerSec: n / elapsed, verified }
}

main().then(
  (result) => process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0)),
  (err) => {
    process.stderr.write((process.argv[3] === 'probe' ? err.message : err.stack) + '\n', () => process.exit(1))
  }
)
