'use strict'
// "Stays fast as it grows": background compaction (leveled and tiered), db.compact(range),
// the space it reclaims, block compression (lz4, zstd, zlib, none) across reopens, snapshots
// and iterators across compactions, the new stats() counters, and bad inputs.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')

const { BrowserDB } = require('..')
const { tmpDir, openDb, rejectsCode, throwsCode } = require('./helpers')
const { keyFor, valueFor } = require('./helpers/data')
const { randomTools } = require('./helpers/ordered')

const T = { timeout: 60000 }
const LEVELS = 7
/** Level-0 tables at which writers wait for compaction (leveled); tiered: runs. */
const L0_STOP_TABLES = 12
const TIERED_STOP_RUNS = 30
const COMPRESSIONS = ['lz4', 'zstd', 'zlib', 'none']

// ------------------------------------------------------------------------------------------
// Helpers

/** A Map key → value mirrored next to the database; compared with full scans and point reads. */
class Oracle {
  constructor () {
    this.map = new Map()
  }

  put (key, value) {
    this.map.set(key, value)
  }

  del (key) {
    this.map.delete(key)
  }

  /** Applies batch ops to the oracle (after the batch resolved). */
  apply (ops) {
    for (const op of ops) (op.type === 'put' ? this.put(op.key, op.value) : this.del(op.key))
  }

  /** Entries sorted bytewise by key (keys here are ASCII, so code-unit order is byte order). */
  sorted (filter = () => true) {
    return [...this.map.entries()].filter(([k]) => filter(k)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }

  /** Sum of the byte lengths of the live keys and values. */
  liveBytes () {
    let bytes = 0
    for (const [k, v] of this.map) bytes += Buffer.byteLength(k) + Buffer.byteLength(v)
    return bytes
  }
}

/**
 * The database holds exactly the oracle: a full forward scan, a reverse scan and a point read
 * (`get`) of every key the oracle has, plus `getMany` of keys the oracle lacks (`absent`).
 */
async function checkMatches (db, oracle, label, { absent = [], reverse = true, options } = {}) {
  const expected = oracle.sorted()
  const scanned = await db.iterator(options).all()
  if (scanned.length !== expected.length) {
    assert.fail(`${label}: the scan returned ${scanned.length} entries, the oracle has ${expected.length}`)
  }
  for (let i = 0; i < expected.length; i++) {
    if (scanned[i][0] !== expected[i][0] || scanned[i][1] !== expected[i][1]) {
      assert.fail(`${label}: scan entry ${i} is ${JSON.stringify(scanned[i][0])}=${String(scanned[i][1]).slice(0, 30)}…, ` +
        `expected ${JSON.stringify(expected[i][0])}=${expected[i][1].slice(0, 30)}…`)
    }
  }
  if (reverse) {
    const back = await db.keys({ ...options, reverse: true }).all()
    assert.deepEqual(back, expected.map(([k]) => k).reverse(), `${label}: reverse scan`)
  }
  // Point reads in chunks (each get is its own promise; a chunk runs concurrently).
  for (let i = 0; i < expected.length; i += 2000) {
    const chunk = expected.slice(i, i + 2000)
    const values = await Promise.all(chunk.map(([k]) => db.get(k, options)))
    chunk.forEach(([k, v], j) => {
      if (values[j] !== v) assert.fail(`${label}: get(${JSON.stringify(k)}) is ${String(values[j]).slice(0, 30)}, expected ${v.slice(0, 30)}…`)
    })
  }
  for (let i = 0; i < absent.length; i += 2000) {
    const chunk = absent.slice(i, i + 2000)
    const values = await db.getMany(chunk, options)
    chunk.forEach((k, j) => {
      if (values[j] !== undefined) assert.fail(`${label}: deleted key ${JSON.stringify(k)} reads as ${String(values[j]).slice(0, 30)}`)
    })
  }
}

const levelTables = (s) => s.levels.map((l) => l.tables)
const levelBytes = (s) => s.levels.reduce((sum, l) => sum + l.bytes, 0)
const describeLevels = (s) => s.levels.map((l, i) => `L${i}:${l.tables}/${l.bytes}`).join(' ')
const sstFiles = (dir) => fs.readdirSync(dir).filter((f) => f.endsWith('.sst'))

/** The keys deleted from `oracle` so far are kept in `deleted` (for absence checks). */
function trackDeletes (oracle) {
  const deleted = new Set()
  const del = oracle.del.bind(oracle)
  const put = oracle.put.bind(oracle)
  oracle.del = (k) => { deleted.add(k); del(k) }
  oracle.put = (k, v) => { deleted.delete(k); put(k, v) }
  return deleted
}

/**
 * Writes 30k keys of ~160 B (in a shuffled order, batches of 100), then overwrites 3000 and
 * deletes 3000 of them; every 50 batches it records level-0's size.
 */
async function writeMany (db, oracle, { keys = 30000, seed = 1 } = {}) {
  const r = randomTools(seed)
  const order = Array.from({ length: keys }, (_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = r.int(i + 1)
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  let maxL0 = 0
  for (let b = 0; b < order.length; b += 100) {
    const ops = order.slice(b, b + 100).map((n) => ({ type: 'put', key: keyFor('a', n), value: valueFor('a', n) }))
    await db.batch(ops)
    oracle.apply(ops)
    maxL0 = Math.max(maxL0, db.stats().levels[0].tables)
  }
  for (let round = 0; round < 30; round++) {
    const ops = []
    for (let j = 0; j < 100; j++) {
      const n = r.int(keys)
      ops.push(j % 2 === 0 ? { type: 'put', key: keyFor('a', n), value: valueFor('a', n, round + 1) } : { type: 'del', key: keyFor('a', n) })
    }
    await db.batch(ops)
    oracle.apply(ops)
    maxL0 = Math.max(maxL0, db.stats().levels[0].tables)
  }
  return maxL0
}

/** Resolves once no compaction is due any more (stats stop changing), or after `ms`. */
async function settle (db, ms = 3000) {
  const deadline = Date.now() + ms
  let last = ''
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const s = db.stats()
    const now = `${s.compactions}/${s.flushes}/${s.immutableMemtables}/${levelTables(s)}`
    if ((now === last && s.immutableMemtables === 0) || Date.now() > deadline) return s
    last = now
  }
}

/** A repetitive JSON document (compresses well). */
function jsonDoc (n, gen = 0) {
  return {
    id: n,
    gen,
    type: 'bookmark',
    url: `https://example.com/articles/${n % 97}/page-${n}`,
    title: `Example article number ${n % 13} about compaction`,
    tags: ['news', 'tech', n % 2 === 0 ? 'even' : 'odd'],
    visits: [{ at: '2024-01-01T00:00:00Z', from: 'search' }, { at: '2024-01-02T00:00:00Z', from: 'link' }],
  }
}

// ------------------------------------------------------------------------------------------
// (a) background compaction keeps level 0 small; every key reads back, also after reopen

test('background compaction: 30k keys with a 64 KiB write buffer compact; level 0 stays small; everything reads back, also after reopen', T, async (t) => {
  const dir = tmpDir(t)
  const db = await openDb(t, BrowserDB, dir, { writeBufferSize: 65536 })
  const oracle = new Oracle()
  const deleted = trackDeletes(oracle)
  const maxL0 = await writeMany(db, oracle)

  const s = db.stats()
  t.diagnostic(`after writes: ${s.flushes} flushes, ${s.compactions} compactions, max L0 ${maxL0}, ${describeLevels(s)}, ` +
    `slowdowns ${s.writeSlowdowns}, stops ${s.writeStops}, WA ${s.writeAmplification.toFixed(2)}`)
  assert.ok(s.flushes >= 20, `expected many flushes, got ${s.flushes}`)
  assert.ok(s.compactions > 0, `expected background compactions, got ${s.compactions}`)
  assert.ok(s.levels[0].tables < L0_STOP_TABLES, `level 0 holds ${s.levels[0].tables} tables at the end`)
  // Writers wait at the stop threshold; at most the flushes of the frozen memtables land on top.
  assert.ok(maxL0 <= L0_STOP_TABLES + 2, `level 0 reached ${maxL0} tables`)
  assert.ok(s.levels.slice(1).some((l) => l.tables > 0), `expected tables below level 0: ${describeLevels(s)}`)
  assert.ok(s.tables < s.flushes, `compaction should have merged tables: ${s.tables} tables after ${s.flushes} flushes`)

  await checkMatches(db, oracle, 'while open', { absent: [...deleted] })
  await db.close()

  const again = await openDb(t, BrowserDB, dir, { writeBufferSize: 65536 })
  await checkMatches(again, oracle, 'after reopen', { absent: [...deleted] })
  const s2 = again.stats()
  assert.equal(s2.levels.length, LEVELS)
  // Counted since open (a compaction may already be running: close() flushed one more table).
  assert.ok(s2.compactions < s.compactions, `compactions counts since open: ${s2.compactions}`)
  // Reading is not disturbed by a compaction that runs after reopen either.
  await again.compact()
  await checkMatches(again, oracle, 'after reopen and compact()', { absent: [...deleted], reverse: false })
  const s3 = again.stats()
  assert.equal(s3.levels[0].tables, 0, `compact() leaves nothing in level 0 (leveled): ${describeLevels(s3)}`)
  assert.equal(s3.tableEntries, oracle.map.size, 'a full compaction keeps one entry per live key and no tombstones')
})

// ------------------------------------------------------------------------------------------
// (b) the space claim: overwrites and tombstones are reclaimed

for (const compression of ['none', 'lz4']) {
  test(`space: 10k keys overwritten 100 times, then compact(): diskBytes <= 2 × live bytes (compression ${compression})`, T, async (t) => {
    const dir = tmpDir(t)
    const options = { writeBufferSize: 1024 * 1024 }
    if (compression !== 'lz4') options.compression = compression // lz4 is the default
    const db = await openDb(t, BrowserDB, dir, options)
    const oracle = new Oracle()
    const value = (i, round) => `${round}|${valueFor('s', i, round).slice(0, 80)}`
    const started = Date.now()
    let maxDisk = 0
    let userBytes = 0
    for (let round = 0; round < 100; round++) {
      for (let b = 0; b < 10; b++) {
        const ops = []
        for (let j = 0; j < 1000; j++) {
          const i = b * 1000 + j
          ops.push({ type: 'put', key: keyFor('s', i), value: value(i, round) })
          userBytes += ops[j].key.length + ops[j].value.length
        }
        await db.batch(ops)
      }
      if (round % 10 === 9) maxDisk = Math.max(maxDisk, db.stats().diskBytes)
    }
    for (let i = 0; i < 10000; i++) oracle.put(keyFor('s', i), value(i, 99))
    const written = db.stats()
    await db.compact()
    const s = db.stats()
    const live = oracle.liveBytes()
    t.diagnostic(`${compression}: writes ${Date.now() - started} ms; user bytes ${written.userBytesWritten}, live ${live}; ` +
      `disk before compact ${written.diskBytes} (max seen ${maxDisk}), after ${s.diskBytes}; ${describeLevels(s)}; ` +
      `${written.flushes} flushes, ${written.compactions} compactions before compact(); WA ${s.writeAmplification.toFixed(2)}, SA ${s.spaceAmplification.toFixed(2)}`)
    assert.ok(written.compactions > 0, 'background compactions ran during the overwrites')
    assert.ok(s.userBytesWritten >= userBytes, `userBytesWritten ${s.userBytesWritten} counts every overwrite (${userBytes} key and value bytes)`)
    assert.ok(s.diskBytes <= 2 * live, `diskBytes ${s.diskBytes} > 2 × live ${live}`)
    assert.ok(s.diskBytes >= levelBytes(s), 'diskBytes counts every table')
    assert.equal(s.tableEntries, 10000, 'one version per key is left')
    assert.ok(s.spaceAmplification >= 1 && s.spaceAmplification <= 2, `spaceAmplification ${s.spaceAmplification}`)
    if (compression === 'none') assert.ok(s.diskBytes >= live, 'uncompressed tables hold at least the live bytes')
    await checkMatches(db, oracle, 'after compact()', { reverse: false })
    await db.close()
    const again = await openDb(t, BrowserDB, dir, options)
    assert.ok(again.stats().diskBytes <= 2 * live, 'still small after reopen')
    await checkMatches(again, oracle, 'after reopen', { reverse: false })
  })
}

test('space: 10k keys written then all deleted; compact() leaves no tables and almost no bytes', T, async (t) => {
  const dir = tmpDir(t)
  const db = await openDb(t, BrowserDB, dir, { writeBufferSize: 65536 })
  for (let b = 0; b < 10000; b += 500) {
    const ops = []
    for (let i = b; i < b + 500; i++) ops.push({ type: 'put', key: keyFor('d', i), value: valueFor('d', i) })
    await db.batch(ops)
  }
  for (let b = 0; b < 10000; b += 500) {
    const ops = []
    for (let i = b; i < b + 500; i++) ops.push({ type: 'del', key: keyFor('d', i) })
    await db.batch(ops)
  }
  const before = db.stats()
  assert.ok(before.diskBytes > 256 * 1024 && before.tables > 0, `the data was on disk before: ${before.diskBytes} B, ${before.tables} tables`)
  await db.compact()
  const s = db.stats()
  t.diagnostic(`before compact ${before.diskBytes} B (${describeLevels(before)}); after ${s.diskBytes} B`)
  assert.ok(s.diskBytes < 64 * 1024, `diskBytes ${s.diskBytes}`)
  assert.deepEqual(levelTables(s), new Array(LEVELS).fill(0), describeLevels(s))
  assert.equal(s.tables, 0)
  assert.equal(s.tableEntries, 0)
  assert.equal(sstFiles(dir).length, 0, `table files left: ${sstFiles(dir)}`)
  assert.deepEqual(await db.iterator().all(), [])
  assert.equal(await db.get(keyFor('d', 1234)), undefined)
  await db.close()
  const again = await openDb(t, BrowserDB, dir)
  assert.deepEqual(await again.keys().all(), [])
  assert.equal(again.stats().tables, 0)
})

// ------------------------------------------------------------------------------------------
// (d) compact(range)

test('compact({ prefix }), compact({ gte, lt }), compact({ gt, lte, keyEncoding }) leave every key correct', T, async (t) => {
  const dir = tmpDir(t)
  const db = await openDb(t, BrowserDB, dir, { writeBufferSize: 65536 })
  const oracle = new Oracle()
  const deleted = trackDeletes(oracle)
  const r = randomTools(4)
  const prefixes = ['a', 'b', 'c', 'd']
  // Interleaved prefixes, so every flushed table spans several of them.
  for (let round = 0; round < 3; round++) {
    for (let b = 0; b < 2000; b += 100) {
      const ops = []
      for (let i = b; i < b + 100; i++) {
        const p = prefixes[(i + round) % 4]
        if (round > 0 && r.chance(0.3)) ops.push({ type: 'del', key: keyFor(p, i) })
        else ops.push({ type: 'put', key: keyFor(p, i), value: valueFor(p, i, round) })
      }
      await db.batch(ops)
      oracle.apply(ops)
    }
  }
  const before = db.stats()
  await checkMatches(db, oracle, 'before', { absent: [...deleted], reverse: false })

  await db.compact({ prefix: 'b:' })
  await checkMatches(db, oracle, "after compact({ prefix: 'b:' })", { absent: [...deleted], reverse: false })
  const afterPrefix = db.stats()
  assert.ok(afterPrefix.compactions > before.compactions, 'compact({ prefix }) ran a compaction')

  // Writes between range compactions land in new tables; compact a range of them.
  for (let i = 0; i < 300; i++) {
    if (i % 3 === 0) {
      await db.del(keyFor('c', i))
      oracle.del(keyFor('c', i))
    } else {
      await db.put(keyFor('c', i), valueFor('c', i, 9))
      oracle.put(keyFor('c', i), valueFor('c', i, 9))
    }
  }
  await db.compact({ gte: 'c:', lt: 'd:' })
  await checkMatches(db, oracle, "after compact({ gte: 'c:', lt: 'd:' })", { absent: [...deleted], reverse: false })
  await db.compact({ gt: Buffer.from('a:000100'), lte: Buffer.from('a:000900'), keyEncoding: 'buffer' })
  await checkMatches(db, oracle, 'after a buffer-bounded compact()', { absent: [...deleted], reverse: false })
  // A range with nothing in it, and an empty (inverted) range: nothing to do, no error.
  await db.compact({ prefix: 'zzz:' })
  await db.compact({ gt: 'd:', lt: 'a:' })
  await db.compact({ lte: '0' })
  await checkMatches(db, oracle, 'after empty-range compactions', { absent: [...deleted], reverse: false })
  await db.close()
  const again = await openDb(t, BrowserDB, dir)
  await checkMatches(again, oracle, 'after reopen', { absent: [...deleted] })
  await again.compact()
  assert.equal(again.stats().tableEntries, oracle.map.size)
  await checkMatches(again, oracle, 'after reopen and compact()', { absent: [...deleted], reverse: false })
})

test('compact() runs while writes are in flight: nothing written before, during or after is lost', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536 })
  const oracle = new Oracle()
  const writes = []
  const compactions = []
  for (let i = 0; i < 6000; i++) {
    const key = keyFor('w', i % 4000)
    const value = valueFor('w', i)
    writes.push(db.put(key, value))
    oracle.put(key, value)
    if (i % 1000 === 500) compactions.push(db.compact())
    if (i % 100 === 99) await writes[writes.length - 1]
  }
  await Promise.all([...writes, ...compactions])
  await checkMatches(db, oracle, 'writes overlapping compact()', { reverse: false })
})

/** `promise`, or a rejection if it has not settled within `ms` (a hang fails, not times out the file). */
function within (promise, ms, what) {
  let timer
  const late = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

test('writes issued in the same tick as compact() or clear(), or while they run, resolve', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536 })
  for (let b = 0; b < 2000; b += 200) {
    await db.batch(Array.from({ length: 200 }, (_, j) => ({ type: 'put', key: keyFor('n', b + j), value: valueFor('n', b + j) })))
  }
  // A write queued before compact() in the same tick.
  const p1 = db.put('x:1', 'one')
  const c1 = db.compact()
  await within(Promise.all([p1, c1]), 5000, 'put, then compact() in the same tick')
  // Writes issued after compact() in the same tick.
  const c2 = db.compact()
  const p2 = db.put('x:2', 'two')
  const b2 = db.batch([{ type: 'put', key: 'x:3', value: 'three' }, { type: 'del', key: 'x:1' }])
  const d2 = db.del(keyFor('n', 5))
  await within(Promise.all([c2, p2, b2, d2]), 5000, 'compact(), then writes in the same tick')
  // A write in a later tick, while compact() runs.
  const c3 = db.compact()
  await new Promise((resolve) => setImmediate(resolve))
  await within(db.put('x:4', 'four'), 5000, 'a put while compact() runs')
  await c3
  // The same with clear().
  const cl = db.clear({ prefix: 'n:0001' })
  const p5 = db.put('x:5', 'five')
  await within(Promise.all([cl, p5]), 5000, 'clear(), then a put in the same tick')
  assert.deepEqual(await db.iterator({ prefix: 'x:' }).all(), [['x:2', 'two'], ['x:3', 'three'], ['x:4', 'four'], ['x:5', 'five']])
  assert.equal(await db.get(keyFor('n', 5)), undefined)
  assert.equal((await db.keys({ prefix: 'n:' }).all()).length, 2000 - 1 - 100)
})

// ------------------------------------------------------------------------------------------
// (e) compression: each codec, reopened with every other

test('compression: each of lz4, zstd, zlib, none reads back after reopening with every other, and compacts', T, async (t) => {
  for (const first of COMPRESSIONS) {
    const dir = tmpDir(t)
    const oracle = new Oracle()
    let db = await openDb(t, BrowserDB, dir, { compression: first, writeBufferSize: 65536, valueEncoding: 'utf8' })
    for (let b = 0; b < 1500; b += 100) {
      const ops = []
      for (let i = b; i < b + 100; i++) ops.push({ type: 'put', key: keyFor(first, i), value: JSON.stringify(jsonDoc(i)) })
      await db.batch(ops)
      oracle.apply(ops)
    }
    await db.close()
    for (const next of COMPRESSIONS.filter((c) => c !== first)) {
      db = await openDb(t, BrowserDB, dir, { compression: next, writeBufferSize: 65536 })
      await checkMatches(db, oracle, `${first} reopened as ${next}`, { reverse: false })
      const ops = []
      for (let i = 0; i < 400; i++) {
        const key = i % 4 === 0 ? keyFor(first, i * 3) : keyFor(next, i)
        ops.push({ type: 'put', key, value: JSON.stringify(jsonDoc(i, COMPRESSIONS.indexOf(next) + 1)) })
      }
      ops.push({ type: 'del', key: keyFor(first, 7) })
      await db.batch(ops)
      oracle.apply(ops)
      await db.compact()
      await checkMatches(db, oracle, `${first} reopened as ${next}, written and compacted`, { reverse: false })
      await db.close()
    }
    db = await openDb(t, BrowserDB, dir, { compression: first })
    await checkMatches(db, oracle, `${first} after the round of reopens`)
    await db.close()
  }
})

test('compression: lz4, zstd and zlib tables are smaller than none for repetitive JSON values', T, async (t) => {
  const sizes = {}
  for (const compression of COMPRESSIONS) {
    const db = await openDb(t, BrowserDB, tmpDir(t), { compression, valueEncoding: 'json', writeBufferSize: 65536 })
    for (let b = 0; b < 3000; b += 200) {
      const ops = []
      for (let i = b; i < b + 200; i++) ops.push({ type: 'put', key: keyFor('j', i), value: jsonDoc(i) })
      await db.batch(ops)
    }
    await db.compact()
    const s = db.stats()
    sizes[compression] = levelBytes(s)
    assert.equal(s.tableEntries, 3000)
    assert.deepEqual(await db.get(keyFor('j', 1234)), jsonDoc(1234))
    await db.close()
  }
  t.diagnostic(`table bytes after compact(): ${JSON.stringify(sizes)}`)
  for (const c of ['lz4', 'zstd', 'zlib']) {
    assert.ok(sizes[c] < sizes.none, `${c} tables (${sizes[c]} B) are not smaller than uncompressed ones (${sizes.none} B)`)
  }
  // Repetitive JSON compresses by well over half with any of the codecs.
  assert.ok(sizes.zstd < sizes.none / 2 && sizes.zlib < sizes.none / 2, JSON.stringify(sizes))
})

test('compression: Buffer values that do not compress (random bytes) round-trip under every codec', T, async (t) => {
  const r = randomTools(77)
  const values = Array.from({ length: 400 }, (_, i) => Buffer.from(Array.from({ length: 50 + (i % 9) * 300 }, () => r.int(256))))
  for (const compression of COMPRESSIONS) {
    const dir = tmpDir(t)
    let db = await openDb(t, BrowserDB, dir, { compression, valueEncoding: 'buffer', writeBufferSize: 65536 })
    await db.batch(values.map((value, i) => ({ type: 'put', key: keyFor('r', i), value })))
    await db.compact()
    await db.close()
    db = await openDb(t, BrowserDB, dir, { compression: COMPRESSIONS[(COMPRESSIONS.indexOf(compression) + 1) % 4], valueEncoding: 'buffer' })
    const got = await db.values().all()
    assert.equal(got.length, values.length)
    got.forEach((v, i) => assert.ok(v.equals(values[i]), `${compression}: value ${i} differs`))
  }
})

// ------------------------------------------------------------------------------------------
// (f) tiered

test("compactionStyle 'tiered': churn reads back correctly, runs stay in level 0, compact() makes one run", T, async (t) => {
  const dir = tmpDir(t)
  const db = await openDb(t, BrowserDB, dir, { writeBufferSize: 65536, compactionStyle: 'tiered' })
  const oracle = new Oracle()
  const deleted = trackDeletes(oracle)
  const r = randomTools(31)
  let maxRuns = 0
  for (let b = 0; b < 300; b++) {
    const ops = []
    for (let j = 0; j < 100; j++) {
      const n = r.int(6000)
      if (r.chance(0.2)) ops.push({ type: 'del', key: keyFor('t', n) })
      else ops.push({ type: 'put', key: keyFor('t', n), value: valueFor('t', n, b) })
    }
    await db.batch(ops)
    oracle.apply(ops)
    maxRuns = Math.max(maxRuns, db.stats().levels[0].tables)
    if (b % 100 === 50) await checkMatches(db, oracle, `tiered, batch ${b}`, { reverse: false })
  }
  const s = db.stats()
  t.diagnostic(`tiered: ${s.flushes} flushes, ${s.compactions} compactions, max runs ${maxRuns}, ${describeLevels(s)}, WA ${s.writeAmplification.toFixed(2)}`)
  assert.ok(s.compactions > 0, 'tiered merges ran in the background')
  assert.ok(s.levels[0].tables < TIERED_STOP_RUNS, `${s.levels[0].tables} runs`)
  assert.ok(maxRuns <= TIERED_STOP_RUNS + 2, `level 0 reached ${maxRuns} runs`)
  assert.deepEqual(levelTables(s).slice(1), new Array(LEVELS - 1).fill(0), 'tiered keeps its runs in level 0')
  await checkMatches(db, oracle, 'tiered after churn', { absent: [...deleted] })

  await db.compact()
  const c = db.stats()
  assert.equal(c.levels[0].tables, 1, `compact() merges every run into one: ${describeLevels(c)}`)
  assert.equal(c.tableEntries, oracle.map.size, 'no overwritten versions or tombstones left')
  assert.ok(c.diskBytes <= 2 * oracle.liveBytes(), `diskBytes ${c.diskBytes}, live ${oracle.liveBytes()}`)
  await checkMatches(db, oracle, 'tiered after compact()', { absent: [...deleted] })

  // More churn on top of the single run, then a range compaction.
  for (let b = 0; b < 50; b++) {
    const ops = []
    for (let j = 0; j < 100; j++) {
      const n = r.int(6000)
      ops.push(r.chance(0.3) ? { type: 'del', key: keyFor('t', n) } : { type: 'put', key: keyFor('t', n), value: valueFor('t', n, 1000 + b) })
    }
    await db.batch(ops)
    oracle.apply(ops)
  }
  await db.compact({ gte: keyFor('t', 1000), lt: keyFor('t', 2000) })
  await checkMatches(db, oracle, 'tiered after a range compact()', { absent: [...deleted], reverse: false })
  await db.close()
  const again = await openDb(t, BrowserDB, dir, { compactionStyle: 'tiered' })
  await checkMatches(again, oracle, 'tiered after reopen', { absent: [...deleted] })
})

test('a database written leveled reopens tiered and back, and reads the same', T, async (t) => {
  const dir = tmpDir(t)
  const oracle = new Oracle()
  const deleted = trackDeletes(oracle)
  const styles = ['leveled', 'tiered', 'leveled', 'tiered']
  for (let phase = 0; phase < styles.length; phase++) {
    const db = await openDb(t, BrowserDB, dir, { writeBufferSize: 65536, compactionStyle: styles[phase] })
    await checkMatches(db, oracle, `phase ${phase} (${styles[phase]}) at open`, { absent: [...deleted], reverse: false })
    for (let b = 0; b < 40; b++) {
      const ops = []
      for (let j = 0; j < 100; j++) {
        const n = (b * 100 + j * 7 + phase * 1000) % 5000
        ops.push(j % 5 === 4 ? { type: 'del', key: keyFor('m', n) } : { type: 'put', key: keyFor('m', n), value: valueFor('m', n, phase) })
      }
      await db.batch(ops)
      oracle.apply(ops)
    }
    if (phase % 2 === 1) await db.compact({ prefix: 'm:001' })
    await checkMatches(db, oracle, `phase ${phase} (${styles[phase]}) after writes`, { absent: [...deleted], reverse: false })
    await db.close()
  }
})

// ------------------------------------------------------------------------------------------
// (g) snapshots and iterators across compact()

test('a snapshot and an open iterator keep reading the old data across compact(); releasing them lets compact() reclaim it', T, async (t) => {
  const dir = tmpDir(t)
  const db = await openDb(t, BrowserDB, dir, { writeBufferSize: 65536 })
  const N = 3000
  const old = new Oracle()
  for (let b = 0; b < N; b += 250) {
    const ops = []
    for (let i = b; i < b + 250; i++) ops.push({ type: 'put', key: keyFor('g', i), value: valueFor('g', i, 0) })
    await db.batch(ops)
    old.apply(ops)
  }
  await db.compact()
  const expectedOld = old.sorted()

  const snapshot = db.snapshot()
  const it = db.iterator()
  const head = await it.nextv(100)
  assert.deepEqual(head, expectedOld.slice(0, 100))
  const reverseIt = db.keys({ reverse: true, snapshot })
  assert.deepEqual(await reverseIt.nextv(10), expectedOld.slice(-10).map(([k]) => k).reverse())

  // Overwrite everything, delete a third, and compact (several times: background and manual).
  const now = new Oracle()
  for (const [k, v] of expectedOld) now.put(k, v)
  for (let gen = 1; gen <= 3; gen++) {
    for (let b = 0; b < N; b += 250) {
      const ops = []
      for (let i = b; i < b + 250; i++) {
        ops.push(i % 3 === 0 ? { type: 'del', key: keyFor('g', i) } : { type: 'put', key: keyFor('g', i), value: valueFor('g', i, gen) })
      }
      await db.batch(ops)
      now.apply(ops)
    }
    await db.compact()
  }
  const held = db.stats()
  const filesWhileHeld = sstFiles(dir).length

  // The current view.
  await checkMatches(db, now, 'current view after compact()', { reverse: false })
  // The iterator goes on with the old data.
  const rest = await it.all()
  assert.equal(rest.length, N - 100)
  assert.deepEqual(rest, expectedOld.slice(100), 'the open iterator reads the data of its creation')
  // The snapshot still reads the old data, by get, getSync, getMany, has and a new iterator.
  const keys = expectedOld.map(([k]) => k)
  assert.deepEqual(await db.getMany(keys, { snapshot }), expectedOld.map(([, v]) => v))
  assert.equal(await db.get(keyFor('g', 3), { snapshot }), valueFor('g', 3, 0))
  assert.equal(db.getSync(keyFor('g', 6), { snapshot }), valueFor('g', 6, 0))
  assert.equal(await db.has(keyFor('g', 9), { snapshot }), true)
  assert.equal(await db.has(keyFor('g', 9)), false)
  assert.deepEqual(await db.iterator({ snapshot }).all(), expectedOld)
  assert.deepEqual(await reverseIt.all(), keys.slice(0, -10).reverse())
  t.diagnostic(`held: ${held.tableEntries} table entries for ${now.map.size} live keys; ${filesWhileHeld} .sst files, ${held.tables} live tables`)
  assert.ok(held.tableEntries >= N + now.map.size, `compact() kept the versions the snapshot needs: ${held.tableEntries} entries`)

  // Released: the next compaction drops the old versions and the old files go.
  await snapshot.close()
  await it.close()
  assert.equal(db.stats().liveSnapshots, 0)
  assert.equal(db.stats().liveIterators, 0)
  await db.compact()
  const freed = db.stats()
  assert.equal(freed.tableEntries, now.map.size, 'without snapshots compact() keeps one version per live key')
  assert.ok(freed.diskBytes < held.diskBytes, `diskBytes ${freed.diskBytes} < ${held.diskBytes}`)
  assert.equal(sstFiles(dir).length, freed.tables, 'replaced table files are deleted once nothing reads them')
  await checkMatches(db, now, 'after release and compact()', { reverse: false })
})

test('an iterator created before background compactions reads one consistent view while they run', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536 })
  const old = new Oracle()
  for (let b = 0; b < 4000; b += 200) {
    const ops = []
    for (let i = b; i < b + 200; i++) ops.push({ type: 'put', key: keyFor('v', i), value: valueFor('v', i) })
    await db.batch(ops)
    old.apply(ops)
  }
  const it = db.iterator()
  const seen = []
  const compactionsBefore = db.stats().compactions
  let gen = 1
  // Read a page, then write a lot (flushes and compactions), repeatedly.
  for (;;) {
    const page = await it.nextv(150)
    if (page.length === 0) break
    seen.push(...page)
    const ops = []
    for (let j = 0; j < 400; j++) {
      const n = (gen * 389 + j * 11) % 4000
      ops.push(j % 4 === 0 ? { type: 'del', key: keyFor('v', n) } : { type: 'put', key: keyFor('v', n), value: valueFor('v', n, gen) })
    }
    await db.batch(ops)
    gen++
  }
  await it.close()
  assert.ok(db.stats().compactions > compactionsBefore, 'compactions ran while the iterator was open')
  assert.deepEqual(seen, old.sorted())
})

// ------------------------------------------------------------------------------------------
// (h) stats

test('stats(): the compaction counters exist, are numbers and relate sensibly', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536 })
  const fields = [
    'compactions', 'userBytesWritten', 'flushBytesWritten', 'compactionBytesWritten', 'writeAmplification',
    'diskBytes', 'liveBytesEstimate', 'spaceAmplification', 'writeSlowdowns', 'writeStops',
    'tables', 'tableEntries', 'flushes', 'immutableMemtables', 'liveIterators', 'liveSnapshots',
    'clearCompactionsPending', 'tableMetadataBytes',
  ]
  const checkShape = (s, label) => {
    for (const f of fields) {
      assert.equal(typeof s[f], 'number', `${label}: ${f} is ${typeof s[f]}`)
      assert.ok(Number.isFinite(s[f]) && s[f] >= 0, `${label}: ${f} = ${s[f]}`)
    }
    assert.ok(Array.isArray(s.levels), `${label}: levels is an array`)
    assert.equal(s.levels.length, LEVELS, `${label}: levels has one entry per level`)
    for (const l of s.levels) {
      assert.deepEqual(Object.keys(l).sort(), ['bytes', 'filters', 'tables'])
      assert.ok(Number.isInteger(l.tables) && l.tables >= 0 && Number.isInteger(l.bytes) && l.bytes >= 0)
      // A database this small keeps every table's Bloom filter in memory.
      assert.equal(l.filters, l.tables, `${label}: every table has its filter`)
      assert.equal(l.tables === 0, l.bytes === 0, `${label}: a level has bytes iff it has tables`)
    }
    for (const f of ['compactions', 'userBytesWritten', 'flushBytesWritten', 'compactionBytesWritten', 'diskBytes',
      'liveBytesEstimate', 'writeSlowdowns', 'writeStops']) {
      assert.ok(Number.isInteger(s[f]), `${label}: ${f} is an integer`)
    }
    assert.equal(s.tables, s.levels.reduce((n, l) => n + l.tables, 0), `${label}: tables = sum of levels`)
    assert.ok(s.diskBytes >= levelBytes(s), `${label}: diskBytes counts the tables`)
    const expectedWA = s.userBytesWritten === 0 ? 0 : (s.flushBytesWritten + s.compactionBytesWritten) / s.userBytesWritten
    assert.ok(Math.abs(s.writeAmplification - expectedWA) < 1e-9, `${label}: writeAmplification ${s.writeAmplification} vs ${expectedWA}`)
    const expectedSA = s.liveBytesEstimate === 0 ? 0 : s.diskBytes / s.liveBytesEstimate
    assert.ok(Math.abs(s.spaceAmplification - expectedSA) < 1e-9, `${label}: spaceAmplification ${s.spaceAmplification} vs ${expectedSA}`)
    assert.ok(s.liveBytesEstimate <= levelBytes(s), `${label}: liveBytesEstimate is the bytes of one level`)
    // Filters (~10 bits per key) and indexes (~30 bytes per data block of ~4 KiB): a few
    // percent of the tables, and none without tables.
    assert.equal(s.tables === 0, s.tableMetadataBytes === 0, `${label}: tableMetadataBytes ${s.tableMetadataBytes}`)
    assert.ok(s.tableMetadataBytes <= levelBytes(s) / 20 + 1024 * s.tables, `${label}: tableMetadataBytes ${s.tableMetadataBytes} of ${levelBytes(s)}`)
  }

  const fresh = db.stats()
  checkShape(fresh, 'fresh')
  assert.equal(fresh.compactions, 0)
  assert.equal(fresh.userBytesWritten, 0)
  assert.equal(fresh.writeAmplification, 0)
  assert.equal(fresh.tables, 0)

  await db.put('k', 'v')
  assert.ok(db.stats().userBytesWritten >= 2, 'user bytes count the key and value')

  const oracle = new Oracle()
  await writeMany(db, oracle, { keys: 12000, seed: 9 })
  const s = await settle(db)
  checkShape(s, 'after writes')
  t.diagnostic(`${describeLevels(s)}; user ${s.userBytesWritten}, flush ${s.flushBytesWritten}, compaction ${s.compactionBytesWritten}, ` +
    `WA ${s.writeAmplification.toFixed(2)}, disk ${s.diskBytes}, live est. ${s.liveBytesEstimate}, SA ${s.spaceAmplification.toFixed(2)}, ` +
    `slowdowns ${s.writeSlowdowns}, stops ${s.writeStops}`)
  assert.ok(s.compactions > 0)
  assert.ok(s.userBytesWritten >= oracle.liveBytes(), 'userBytesWritten counts at least the live data written')
  assert.ok(s.flushBytesWritten > 0 && s.compactionBytesWritten > 0)
  assert.ok(s.writeAmplification > 0, 'writeAmplification > 0 after compactions')
  assert.ok(s.liveBytesEstimate > 0 && s.spaceAmplification >= 1, `SA ${s.spaceAmplification}`)
  assert.ok(s.tables > 0 && s.tableEntries > 0)
  assert.ok(s.tableMetadataBytes >= s.tableEntries * 10 / 8, `the filters alone take 10 bits per key: ${s.tableMetadataBytes}`)

  await db.compact()
  const c = db.stats()
  checkShape(c, 'after compact()')
  assert.ok(c.compactions > s.compactions, 'compact() counts as a compaction')
  assert.ok(c.compactionBytesWritten > s.compactionBytesWritten)
  const deepest = c.levels.findLastIndex((l) => l.tables > 0)
  assert.ok(deepest >= 1, describeLevels(c))
  assert.equal(c.levels.filter((l) => l.tables > 0).length, 1, `compact() leaves one sorted run: ${describeLevels(c)}`)
  assert.equal(c.liveBytesEstimate, c.levels[deepest].bytes, 'liveBytesEstimate is the deepest non-empty level')
  assert.ok(c.spaceAmplification >= 1 && c.spaceAmplification < 1.5, `SA ${c.spaceAmplification} after a full compaction`)

  // Counters are per open: a reopened database starts at 0, levels come from the MANIFEST.
  const location = db.location
  await db.close()
  const again = await openDb(t, BrowserDB, location)
  const r = again.stats()
  checkShape(r, 'reopened')
  assert.equal(r.compactions, 0)
  assert.equal(r.userBytesWritten, 0)
  assert.deepEqual(levelTables(r), levelTables(c))
})

test("stats() in tiered style: liveBytesEstimate is the oldest run's bytes", T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536, compactionStyle: 'tiered' })
  for (let b = 0; b < 60; b++) {
    const ops = []
    for (let j = 0; j < 100; j++) ops.push({ type: 'put', key: keyFor('x', b * 100 + j), value: valueFor('x', j) })
    await db.batch(ops)
  }
  const s = await settle(db)
  assert.equal(s.levels.length, LEVELS)
  assert.ok(s.levels[0].tables > 0)
  assert.ok(s.liveBytesEstimate > 0 && s.liveBytesEstimate <= s.levels[0].bytes)
  await db.compact()
  const c = db.stats()
  assert.equal(c.levels[0].tables, 1)
  assert.equal(c.liveBytesEstimate, c.levels[0].bytes)
})

// ------------------------------------------------------------------------------------------
// (i) bad inputs

test('compact() and the open options reject bad input with typed errors', T, async (t) => {
  const dir = tmpDir(t)
  const db = await openDb(t, BrowserDB, dir)
  await db.put('a', '1')
  for (const bad of [5, 'a', true, [], () => {}]) {
    await rejectsCode(() => db.compact(bad), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  }
  await rejectsCode(() => db.compact({ limit: 1 }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await rejectsCode(() => db.compact({ reverse: true }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await rejectsCode(() => db.compact({ snapshot: db.snapshot() }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await rejectsCode(() => db.compact({ gt: 5 }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  await rejectsCode(() => db.compact({ prefix: Buffer.from('a') }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  await rejectsCode(() => db.compact({ gte: 'a', keyEncoding: 'hex' }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await rejectsCode(() => db.compact({ lt: 'x'.repeat(64 * 1024 + 1) }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  // undefined, null and {} mean "everything".
  await db.compact(undefined)
  await db.compact(null)
  await db.compact({})
  assert.equal(await db.get('a'), '1')

  for (const [options, what] of [
    [{ compression: 'brotli' }, 'compression'],
    [{ compression: 'LZ4' }, 'compression'],
    [{ compression: null }, 'compression'],
    [{ compression: 1 }, 'compression'],
    [{ compactionStyle: 'x' }, 'compactionStyle'],
    [{ compactionStyle: 'universal' }, 'compactionStyle'],
    [{ compactionStyle: null }, 'compactionStyle'],
  ]) {
    const err = await rejectsCode(() => BrowserDB.open(tmpDir(t), options), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
    assert.ok(err.message.includes(what), `${JSON.stringify(options)}: ${err.message}`)
  }
  // Valid values open.
  for (const compression of COMPRESSIONS) {
    for (const compactionStyle of ['leveled', 'tiered']) {
      const other = await openDb(t, BrowserDB, tmpDir(t), { compression, compactionStyle })
      await other.close()
    }
  }

  await db.close()
  await rejectsCode(() => db.compact(), 'BROWSERDB_CLOSED', Error)
  await rejectsCode(() => db.compact({ prefix: 'a' }), 'BROWSERDB_CLOSED', Error)
  throwsCode(() => db.stats(), 'BROWSERDB_CLOSED', Error)
})

test('close() waits for a compact() in flight; the compaction completes', T, async (t) => {
  const dir = tmpDir(t)
  const db = await openDb(t, BrowserDB, dir, { writeBufferSize: 65536 })
  const oracle = new Oracle()
  for (let b = 0; b < 5000; b += 250) {
    const ops = []
    for (let i = b; i < b + 250; i++) ops.push({ type: 'put', key: keyFor('q', i % 2500), value: valueFor('q', i) })
    await db.batch(ops)
    oracle.apply(ops)
  }
  const compacting = db.compact()
  const closing = db.close()
  await rejectsCode(() => db.compact(), 'BROWSERDB_CLOSED', Error)
  await compacting
  await closing
  const again = await openDb(t, BrowserDB, dir)
  assert.equal(again.stats().tableEntries, 2500, 'the compaction finished before close')
  await checkMatches(again, oracle, 'after close during compact()', { reverse: false })
})

// ------------------------------------------------------------------------------------------
// Binary keys at the top of the keyspace

test('compact() without options, and with only a lower bound, also compacts tables whose keys are all 0xff bytes', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'buffer' })
  const high = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])
  const higher = Buffer.alloc(300, 0xff)
  for (let i = 0; i < 3; i++) {
    await db.put(high, `v${i}`)
    await db.put(higher, `w${i}`)
    await db.compact()
  }
  let s = db.stats()
  assert.equal(s.tables, 1, `repeated compact() keeps one table: ${describeLevels(s)}`)
  assert.equal(s.tableEntries, 2, 'and one version per key')
  assert.equal(await db.get(high), 'v2')
  assert.equal(await db.get(higher), 'w2')
  await db.del(high)
  await db.compact({ gte: Buffer.from([0xff, 0xff, 0xff, 0xff]) })
  s = db.stats()
  assert.equal(s.tableEntries, 1, `the tombstone and the old version are gone: ${describeLevels(s)}`)
  await db.del(higher)
  await db.compact()
  s = db.stats()
  assert.equal(await db.get(high), undefined)
  assert.equal(s.tables, 0, `expected no tables after deleting every key and compacting: ${describeLevels(s)}`)
})
