'use strict'
// Ordered reads: iterator(), keys(), values(), range(), prefix(); every option and method,
// bytewise order in every encoding, a seeded property test against a sorted-array oracle,
// paging, seek, consistency under concurrent writes and flushes, bad options, close.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { pathToFileURL } = require('node:url')

const { BrowserDB, Iterator } = require('..')
const { ROOT, tmpDir, openDb, rejectsCode, throwsCode } = require('./helpers')
const {
  randomTools,
  encodedBytes,
  sortBytewise,
  oracleRange,
  sortedModel,
  waitForFlushes,
  drainNext,
  drainNextv,
  drainForAwait,
} = require('./helpers/ordered')

const T = { timeout: 30000 }
const SMALL = ['a', 'aa', 'ab', 'b', 'ba', 'c']

async function smallDb(t, options) {
  const db = await openDb(t, BrowserDB, tmpDir(t), options)
  // Written in shuffled order, over two ticks.
  await db.batch([
    { type: 'put', key: 'ba', value: 'v-ba' },
    { type: 'put', key: 'a', value: 'v-a' },
    { type: 'put', key: 'c', value: 'v-c' },
  ])
  await db.batch([
    { type: 'put', key: 'ab', value: 'v-ab' },
    { type: 'put', key: 'b', value: 'v-b' },
    { type: 'put', key: 'aa', value: 'v-aa' },
  ])
  return db
}

const keysOf = (db, options) => db.keys(options).all()

const pad = (n) => String(n).padStart(5, '0')

/** Writes k00000..k{n-1} in batches (several ticks, so a small write buffer flushes). */
async function fillNumbered(db, n, { prefix = 'k', batchSize = 200, value = (i) => `value-${i}` } = {}) {
  for (let start = 0; start < n; start += batchSize) {
    const ops = []
    for (let i = start; i < Math.min(n, start + batchSize); i++) ops.push({ type: 'put', key: prefix + pad(i), value: value(i) })
    await db.batch(ops)
  }
}

// ------------------------------------------------------------------------------------------
// Basics

test('iterator(), keys() and values() return Iterator instances over entries, keys and values in order', T, async (t) => {
  const db = await smallDb(t)
  const it = db.iterator()
  assert.ok(it instanceof Iterator)
  assert.ok(db.keys() instanceof Iterator)
  assert.ok(db.values() instanceof Iterator)
  assert.deepEqual(await it.all(), SMALL.map((k) => [k, 'v-' + k]))
  assert.deepEqual(await db.keys().all(), SMALL)
  assert.deepEqual(await db.values().all(), SMALL.map((k) => 'v-' + k))
  // iterator() with no options, undefined options and an empty object are the same.
  assert.deepEqual(await db.iterator(undefined).all(), await db.iterator({}).all())
  // The ESM entry exports the same class.
  const esm = await import(pathToFileURL(path.join(ROOT, 'index.mjs')).href)
  assert.equal(esm.Iterator, Iterator)
})

test('an empty database yields nothing through every method', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  assert.equal(await db.iterator().next(), undefined)
  assert.deepEqual(await db.iterator().nextv(10), [])
  assert.deepEqual(await db.iterator().all(), [])
  assert.deepEqual(await drainForAwait(db.keys()), [])
})

test('for await yields every entry and closes the iterator at the end, on break and on throw', T, async (t) => {
  const db = await smallDb(t)
  const seen = []
  const it = db.iterator()
  for await (const [key, value] of it) seen.push([key, value])
  assert.deepEqual(seen, SMALL.map((k) => [k, 'v-' + k]))
  await rejectsCode(() => it.next(), 'BROWSERDB_CLOSED', Error)

  const broken = db.keys()
  assert.equal(db.stats().liveIterators, 1)
  for await (const key of broken) {
    assert.equal(key, 'a')
    break
  }
  assert.equal(db.stats().liveIterators, 0, 'break closed the iterator')
  await rejectsCode(() => broken.next(), 'BROWSERDB_CLOSED', Error)

  const thrown = db.values()
  await assert.rejects(async () => {
    for await (const value of thrown) throw new Error('stop at ' + value)
  }, /stop at v-a/)
  assert.equal(db.stats().liveIterators, 0, 'a throw in the loop body closed the iterator')
  await rejectsCode(() => thrown.nextv(1), 'BROWSERDB_CLOSED', Error)
})

test('keys / values flags: an absent part is undefined in the pair', T, async (t) => {
  const db = await smallDb(t)
  assert.deepEqual(await db.iterator({ keys: false }).all(), SMALL.map((k) => [undefined, 'v-' + k]))
  assert.deepEqual(await db.iterator({ values: false }).all(), SMALL.map((k) => [k, undefined]))
  assert.deepEqual(await db.iterator({ keys: true, values: true, limit: 1 }).all(), [['a', 'v-a']])
  assert.deepEqual(await db.iterator({ values: false, reverse: true, gt: 'b' }).all(), [['c', undefined], ['ba', undefined]])
  assert.deepEqual(await db.iterator({ keys: false, limit: 2 }).nextv(5), [[undefined, 'v-a'], [undefined, 'v-aa']])
})

test('keys: false with values: false still yields one [undefined, undefined] per entry in range', T, async (t) => {
  const db = await smallDb(t)
  assert.deepEqual(await db.iterator({ keys: false, values: false }).all(), SMALL.map(() => [undefined, undefined]))
  assert.deepEqual(await db.iterator({ keys: false, values: false, gt: 'b', limit: 1 }).all(), [[undefined, undefined]])
  assert.deepEqual(await db.iterator({ keys: false, values: false }).next(), [undefined, undefined])
})

test('bounds: gt, gte, lt, lte alone and combined, forward and reverse', T, async (t) => {
  const db = await smallDb(t)
  const cases = [
    [{ gt: 'a' }, ['aa', 'ab', 'b', 'ba', 'c']],
    [{ gte: 'a' }, SMALL],
    [{ gte: 'a0' }, ['aa', 'ab', 'b', 'ba', 'c']],
    [{ gt: 'ab' }, ['b', 'ba', 'c']],
    [{ lt: 'b' }, ['a', 'aa', 'ab']],
    [{ lte: 'b' }, ['a', 'aa', 'ab', 'b']],
    [{ lte: 'b0' }, ['a', 'aa', 'ab', 'b']],
    [{ gt: 'a', lt: 'b' }, ['aa', 'ab']],
    [{ gte: 'aa', lte: 'ba' }, ['aa', 'ab', 'b', 'ba']],
    [{ gt: 'aa', lte: 'ba' }, ['ab', 'b', 'ba']],
    [{ gte: 'aa', lt: 'ba' }, ['aa', 'ab', 'b']],
    [{ gte: 'b', lte: 'b' }, ['b']],
    [{ gt: 'b', lte: 'b' }, []],
    [{ gte: 'b', lt: 'b' }, []],
    [{ gt: 'c' }, []],
    [{ gte: 'd' }, []],
    [{ lt: 'a' }, []],
    [{ gte: 'c', lte: 'a' }, []], // inverted
    [{ gt: 'ba', lt: 'aa' }, []], // inverted
    // Empty bounds are allowed: '' is below every key.
    [{ gt: '' }, SMALL],
    [{ gte: '' }, SMALL],
    [{ lt: '' }, []],
    [{ lte: '' }, []],
    [{ gt: '', lt: 'aa' }, ['a']],
  ]
  for (const [range, expected] of cases) {
    assert.deepEqual(await keysOf(db, range), expected, `forward ${JSON.stringify(range)}`)
    assert.deepEqual(await keysOf(db, { ...range, reverse: true }), expected.slice().reverse(), `reverse ${JSON.stringify(range)}`)
    assert.deepEqual(await keysOf(db, { ...range, reverse: false }), expected, `reverse: false ${JSON.stringify(range)}`)
  }
})

test('prefix: alone, with bounds, empty, and all-0xff prefixes', T, async (t) => {
  const db = await smallDb(t)
  await db.put('a\u00ff', 'x') // 'a' then 0xC3 0xBF: still under prefix 'a'
  await db.put('b\u0000', 'x') // 'b' then 0x00
  assert.deepEqual(await keysOf(db, { prefix: 'a' }), ['a', 'aa', 'ab', 'a\u00ff'])
  assert.deepEqual(await keysOf(db, { prefix: 'a', reverse: true }), ['a\u00ff', 'ab', 'aa', 'a'])
  assert.deepEqual(await keysOf(db, { prefix: 'b' }), ['b', 'b\u0000', 'ba'])
  assert.deepEqual(await keysOf(db, { prefix: 'aa' }), ['aa'])
  assert.deepEqual(await keysOf(db, { prefix: 'zz' }), [])
  assert.deepEqual(await keysOf(db, { prefix: '' }), ['a', 'aa', 'ab', 'a\u00ff', 'b', 'b\u0000', 'ba', 'c'])
  // Prefix intersects with the bounds.
  assert.deepEqual(await keysOf(db, { prefix: 'a', gt: 'a' }), ['aa', 'ab', 'a\u00ff'])
  assert.deepEqual(await keysOf(db, { prefix: 'a', lt: 'ab' }), ['a', 'aa'])
  assert.deepEqual(await keysOf(db, { prefix: 'a', gte: '0', lte: 'zz' }), ['a', 'aa', 'ab', 'a\u00ff'])
  assert.deepEqual(await keysOf(db, { prefix: 'a', gte: 'b' }), [])
  assert.deepEqual(await keysOf(db, { prefix: 'b', lte: 'b\u0000', reverse: true }), ['b\u0000', 'b'])
  assert.deepEqual(await keysOf(db, { prefix: 'a', limit: 2, reverse: true }), ['a\u00ff', 'ab'])

  const bin = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'buffer' })
  const raw = [[0xfe], [0xfe, 0xff], [0xff], [0xff, 0x00], [0xff, 0xff], [0xff, 0xff, 0xff], [0x00]]
  await bin.batch(raw.map((b) => ({ type: 'put', key: Buffer.from(b), value: 'x' })))
  const hex = async (options) => (await bin.keys(options).all()).map((k) => k.toString('hex'))
  assert.deepEqual(await hex({ prefix: Buffer.from([0xff]) }), ['ff', 'ff00', 'ffff', 'ffffff'])
  assert.deepEqual(await hex({ prefix: Buffer.from([0xff, 0xff]) }), ['ffff', 'ffffff'])
  assert.deepEqual(await hex({ prefix: Buffer.from([0xff, 0xff]), reverse: true }), ['ffffff', 'ffff'])
  assert.deepEqual(await hex({ prefix: Buffer.from([0xfe]) }), ['fe', 'feff'])
  assert.deepEqual(await hex({ prefix: Buffer.alloc(0) }), ['00', 'fe', 'feff', 'ff', 'ff00', 'ffff', 'ffffff'])
  assert.deepEqual(await hex({ prefix: new Uint8Array([0xff]), gt: Buffer.from([0xff, 0x00]) }), ['ffff', 'ffffff'])
})

test('range(start, end) and prefix(p) are iterator({ gte, lt }) and iterator({ prefix })', T, async (t) => {
  const db = await smallDb(t)
  assert.ok(db.range('aa', 'b') instanceof Iterator)
  assert.deepEqual(await db.range('aa', 'b').all(), [['aa', 'v-aa'], ['ab', 'v-ab']])
  assert.deepEqual(await db.range('a', 'c').all(), await db.iterator({ gte: 'a', lt: 'c' }).all())
  assert.deepEqual(await db.range('aa', 'c', { reverse: true, limit: 2 }).all(), [['ba', 'v-ba'], ['b', 'v-b']])
  assert.deepEqual(await db.range('', 'b', { values: false }).all(), [['a', undefined], ['aa', undefined], ['ab', undefined]])
  assert.deepEqual(await db.prefix('a').all(), [['a', 'v-a'], ['aa', 'v-aa'], ['ab', 'v-ab']])
  assert.deepEqual(await db.prefix('b', { reverse: true }).all(), [['ba', 'v-ba'], ['b', 'v-b']])
  assert.deepEqual(await db.prefix('b', { valueEncoding: 'buffer' }).all(), [['b', Buffer.from('v-b')], ['ba', Buffer.from('v-ba')]])
})

test('limit: 0, positive, beyond the count, -1 and Infinity, forward and reverse', T, async (t) => {
  const db = await smallDb(t)
  const zero = db.iterator({ limit: 0 })
  assert.equal(await zero.next(), undefined)
  assert.deepEqual(await zero.nextv(5), [])
  assert.deepEqual(await zero.all(), [])
  assert.deepEqual(await keysOf(db, { limit: 1 }), ['a'])
  assert.deepEqual(await keysOf(db, { limit: 2 }), ['a', 'aa'])
  assert.deepEqual(await keysOf(db, { limit: 2, reverse: true }), ['c', 'ba'])
  assert.deepEqual(await keysOf(db, { limit: 6 }), SMALL)
  assert.deepEqual(await keysOf(db, { limit: 1000 }), SMALL)
  assert.deepEqual(await keysOf(db, { limit: -1 }), SMALL)
  assert.deepEqual(await keysOf(db, { limit: Infinity }), SMALL)
  assert.deepEqual(await keysOf(db, { limit: -1, reverse: true }), SMALL.slice().reverse())
  assert.deepEqual(await keysOf(db, { limit: 3, gt: 'a', lt: 'c' }), ['aa', 'ab', 'b'])
  // A limit holds across next / nextv calls.
  const it = db.keys({ limit: 4 })
  assert.equal(await it.next(), 'a')
  assert.deepEqual(await it.nextv(2), ['aa', 'ab'])
  assert.deepEqual(await it.nextv(10), ['b'])
  assert.equal(await it.next(), undefined)
  await it.close()
})

test('value and key encodings per call change what entries decode to', T, async (t) => {
  const db = await smallDb(t)
  const [bk, bv] = await db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' }).next()
  assert.ok(Buffer.isBuffer(bk) && Buffer.isBuffer(bv))
  assert.deepEqual([bk, bv], [Buffer.from('a'), Buffer.from('v-a')])
  const [vk, vv] = await db.iterator({ keyEncoding: 'view', valueEncoding: 'view', limit: 1 }).next()
  assert.ok(vk instanceof Uint8Array && !Buffer.isBuffer(vk), 'view keys are plain Uint8Arrays')
  assert.ok(vv instanceof Uint8Array && !Buffer.isBuffer(vv), 'view values are plain Uint8Arrays')
  assert.deepEqual(Buffer.from(vk), Buffer.from('a'))
  assert.deepEqual(Buffer.from(vv), Buffer.from('v-a'))
  assert.deepEqual(await db.values({ valueEncoding: 'buffer', limit: 2 }).all(), [Buffer.from('v-a'), Buffer.from('v-aa')])

  const js = await openDb(t, BrowserDB, tmpDir(t), { valueEncoding: 'json' })
  await js.put('x', { n: 1, list: [1, 'two'] })
  await js.put('y', null)
  await js.put('z', 'text')
  assert.deepEqual(await js.iterator().all(), [['x', { n: 1, list: [1, 'two'] }], ['y', null], ['z', 'text']])
  assert.deepEqual(await js.values({ valueEncoding: 'utf8' }).all(), ['{"n":1,"list":[1,"two"]}', 'null', '"text"'])
  // Bounds are encoded with the per-call key encoding.
  assert.deepEqual(await js.keys({ keyEncoding: 'buffer', gt: Buffer.from('x') }).all(), [Buffer.from('y'), Buffer.from('z')])
})

// ------------------------------------------------------------------------------------------
// Bytewise order in every encoding

test('utf8 keys sort by their UTF-8 bytes, not by UTF-16 code units', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const keys = ['z', 'a', 'é', '€', '😀', '\uffff', 'A', 'Z', '0', ' ', 'a\u0000b', 'ab', 'aé', '\u007f', '\u0080', '~', 'a\u0000', 'zz']
  for (const k of keys) await db.put(k, 'v:' + k)
  const expected = sortBytewise(keys, 'utf8')
  // The two orders differ here: '😀' (a surrogate pair, 0xD83D) sorts before '\uffff' in
  // JS but after it in UTF-8 (F0 9F 98 80 > EF BF BF).
  assert.notDeepEqual(expected, keys.slice().sort(), 'the fixture must tell the orders apart')
  assert.deepEqual(await db.keys().all(), expected)
  assert.deepEqual(await db.keys({ reverse: true }).all(), expected.slice().reverse())
  assert.deepEqual(await db.iterator().all(), expected.map((k) => [k, 'v:' + k]))
  assert.ok(expected.indexOf('é') > expected.indexOf('zz'), "'é' (C3 A9) sorts after 'zz'")
  assert.ok(expected.indexOf('😀') > expected.indexOf('\uffff'))
  // Bounds compare bytewise too.
  assert.deepEqual(await db.keys({ gt: 'z' }).all(), expected.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from('z')) > 0))
  assert.deepEqual(await db.keys({ gte: '\u0080', lt: '😀' }).all(), ['\u0080', 'é', '€', '\uffff'])
  assert.deepEqual(await db.keys({ prefix: 'a\u0000' }).all(), ['a\u0000', 'a\u0000b'])
})

test('buffer and view keys sort by raw bytes, also with a per-call keyEncoding', T, async (t) => {
  const raw = [[0xff], [0x00, 0x00], [0x01], [0x00], [0x7f], [0x80], [0x00, 0xff], [0xff, 0x00], [0x01, 0x00, 0x00], [0xc3, 0xa9]]
  const expectedHex = sortBytewise(raw.map((b) => Buffer.from(b)), 'buffer').map((b) => b.toString('hex'))
  assert.deepEqual(expectedHex.slice(0, 4), ['00', '0000', '00ff', '01'])

  const bufDb = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'buffer' })
  for (const b of raw) await bufDb.put(Buffer.from(b), 'v' + Buffer.from(b).toString('hex'))
  const bufKeys = await bufDb.keys().all()
  assert.ok(bufKeys.every((k) => Buffer.isBuffer(k)))
  assert.deepEqual(bufKeys.map((k) => k.toString('hex')), expectedHex)
  assert.deepEqual((await bufDb.keys({ reverse: true }).all()).map((k) => k.toString('hex')), expectedHex.slice().reverse())
  assert.deepEqual(await bufDb.values().all(), expectedHex.map((h) => 'v' + h))
  assert.deepEqual(
    (await bufDb.keys({ gt: Buffer.from([0x00]), lte: Buffer.from([0x01]) }).all()).map((k) => k.toString('hex')),
    ['0000', '00ff', '01'],
  )

  const viewDb = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'view' })
  for (const b of raw.slice().reverse()) await viewDb.put(new Uint8Array(b), 'x')
  const viewKeys = await viewDb.keys().all()
  assert.ok(viewKeys.every((k) => k instanceof Uint8Array && !Buffer.isBuffer(k)))
  assert.deepEqual(viewKeys.map((k) => Buffer.from(k).toString('hex')), expectedHex)
  // A Uint8Array view into a larger buffer is encoded from its own bytes only.
  const backing = new Uint8Array([0x99, 0x00, 0xff, 0x99])
  assert.deepEqual(
    (await viewDb.keys({ gte: backing.subarray(1, 3) }).all()).map((k) => Buffer.from(k).toString('hex')),
    expectedHex.filter((h) => Buffer.compare(Buffer.from(h, 'hex'), Buffer.from([0x00, 0xff])) >= 0),
  )

  // A utf8 database read with keyEncoding 'buffer': keys come back as their UTF-8 bytes.
  const strDb = await openDb(t, BrowserDB, tmpDir(t))
  for (const k of ['é', 'z', 'a']) await strDb.put(k, k)
  assert.deepEqual(await strDb.keys({ keyEncoding: 'buffer' }).all(), [Buffer.from('a'), Buffer.from('z'), Buffer.from('é')])
  assert.deepEqual(await strDb.keys({ keyEncoding: 'buffer', gt: Buffer.from([0xc3]) }).all(), [Buffer.from('é')])
})

test('json keys sort by their JSON text', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'json', valueEncoding: 'json' })
  const keys = [10, 9, -1, 0.5, 'a', 'B', 'é', [1], [1, 2], [], { a: 1 }, { b: [2] }, null, true, false, '10']
  for (const k of keys) await db.put(k, { k })
  const expected = sortBytewise(keys, 'json')
  // JSON text order: '"' (0x22) < '-' < digits < '[' < 'f' < 'n' < 't' < '{'.
  assert.deepEqual(expected.slice(0, 5), ['10', 'B', 'a', 'é', -1])
  assert.deepEqual(await db.keys().all(), expected)
  assert.deepEqual(await db.iterator({ reverse: true }).all(), expected.slice().reverse().map((k) => [k, { k }]))
  // Bounds are JSON-encoded: '[1,2]' < '[1]' < '[]' < 'false' (',' < ']' and '1' < ']').
  assert.deepEqual(await db.keys({ gte: [1], lt: false }).all(), [[1], []])
  assert.deepEqual(await db.keys({ prefix: 1 }).all(), [10])
  assert.deepEqual((await db.keys({ keyEncoding: 'utf8', gt: '[' }).all()).slice(0, 3), ['[1,2]', '[1]', '[]'])
})

// ------------------------------------------------------------------------------------------
// Seeded property test against a sorted-array oracle

/** Builds a database whose data lives in flushed tables and in the memtable; returns the model. */
/**
 * Writes the memtable to a level-0 table now: compact(range) flushes the memtable first, then
 * merges the tables holding the range (docs/design.md), and no UTF-8 key starts with 0xff, so
 * this range holds none.
 */
async function flushMemtable(db) {
  const before = db.stats().levels[0].tables
  await db.compact({ gte: Buffer.from([0xff]), keyEncoding: 'buffer' })
  assert.equal(db.stats().levels[0].tables, before + 1, 'flushMemtable made one level-0 table')
}

// The layout is made explicitly, not left to the memtable size and background compaction (with
// 64 KiB memtables, a compaction that ran late under load merged all the level-0 tables):
// phase 1 is compacted into one level-1 table, phase 2 goes into three overlapping level-0
// tables above it (fewer than the 4 that start a background compaction), phase 3 stays in the
// 1 MiB memtable.
async function buildMixedDb(t, seed) {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 1024 * 1024 })
  const r = randomTools(seed)
  const alphabet = ['a', 'b', 'z', '0', '~', 'é', '€', '😀']
  const model = new Map()
  const randomKey = (maxLen) => {
    let k = ''
    const len = 1 + r.int(maxLen)
    for (let i = 0; i < len; i++) k += r.pick(alphabet)
    return k
  }
  const put = (key, value) => model.set(Buffer.from(key).toString('hex'), { bytes: Buffer.from(key), key, value })
  const del = (key) => model.delete(Buffer.from(key).toString('hex'))
  const filler = (n) => 'x'.repeat(20 + r.int(100)) + n

  // Phase 1: ~3000 distinct keys in batches of 100, then compacted into one level-1 table.
  const all = new Set()
  while (all.size < 3000) all.add(randomKey(5))
  const keys = [...all]
  for (let i = 0; i < keys.length; i += 100) {
    const ops = keys.slice(i, i + 100).map((key, j) => ({ type: 'put', key, value: `p1:${i + j}:${filler(i + j)}` }))
    await db.batch(ops)
    for (const op of ops) put(op.key, op.value)
  }
  await db.compact()
  // Phase 2: overwrite 600 and delete 600 keys (tombstones over flushed tables), re-put some;
  // a level-0 table after rounds 3 and 7, and one after the re-puts.
  for (let round = 0; round < 12; round++) {
    const ops = []
    for (let j = 0; j < 50; j++) ops.push({ type: 'put', key: r.pick(keys), value: `p2:${round}:${j}:${filler(j)}` })
    for (let j = 0; j < 50; j++) ops.push({ type: 'del', key: r.pick(keys) })
    await db.batch(ops)
    for (const op of ops) (op.type === 'put' ? put(op.key, op.value) : del(op.key))
    if (round === 3 || round === 7) await flushMemtable(db)
  }
  for (let j = 0; j < 50; j++) {
    const key = r.pick(keys)
    await db.del(key)
    del(key)
    if (j % 2 === 0) {
      await db.put(key, 'resurrected:' + j)
      put(key, 'resurrected:' + j)
    }
  }
  await flushMemtable(db)
  // Phase 3: a little more, in the memtable.
  const ops = []
  for (let j = 0; j < 150; j++) {
    if (j % 3 === 0) ops.push({ type: 'del', key: r.pick(keys) })
    else ops.push({ type: 'put', key: r.chance(0.5) ? r.pick(keys) : randomKey(6), value: `p3:${j}` })
  }
  await db.batch(ops)
  for (const op of ops) (op.type === 'put' ? put(op.key, op.value) : del(op.key))

  const stats = db.stats()
  const levels = stats.levels.map((l) => l.tables)
  assert.deepEqual(levels, [3, 1, 0, 0, 0, 0, 0], 'expected three level-0 tables over one level-1 table')
  assert.equal(stats.immutableMemtables, 0)
  assert.ok(stats.memtableBytes > 0, 'expected data in the memtable too')
  return { db, model, keys, alphabet, r }
}

test('property: 200 seeded random ranges (bounds, prefix, reverse, limit, encodings, methods) match a sorted-array oracle', T, async (t) => {
  const { db, model, keys, alphabet, r } = await buildMixedDb(t, 0xb0d5eed)
  const sorted = sortedModel(model)
  // Sanity: the whole database in order.
  assert.deepEqual(await db.iterator().all(), sorted.map((e) => [e.key, e.value]))

  const randomString = (maxLen) => {
    let s = ''
    const len = r.int(maxLen + 1)
    for (let i = 0; i < len; i++) s += r.pick(alphabet)
    return s
  }
  // A bound as bytes: an existing key, a cut of one, a nudged cut, random text or raw bytes.
  const randomBoundBytes = (binary) => {
    const choice = r.int(binary ? 5 : 3)
    if (choice === 0) return Buffer.from(r.pick(keys))
    if (choice === 1) return Buffer.from(randomString(4))
    if (choice === 2) {
      const k = Buffer.from(r.pick(keys))
      return Buffer.from(k.subarray(0, r.int(k.length + 1)))
    }
    if (choice === 3) {
      const k = Buffer.from(r.pick(keys))
      const cut = Buffer.from(k.subarray(0, 1 + r.int(k.length)))
      cut[cut.length - 1] = (cut[cut.length - 1] + (r.chance(0.5) ? 1 : 255)) & 0xff
      return cut
    }
    return Buffer.from(Array.from({ length: r.int(3) }, () => r.pick([0x00, 0x30, 0x61, 0x7a, 0x7e, 0x80, 0xc3, 0xe2, 0xf0, 0xff])))
  }
  const limits = [undefined, undefined, -1, Infinity, 0, 1, 2, 3, 7, 20, 100, 5000]

  for (let c = 0; c < 200; c++) {
    const binary = r.chance(0.25)
    const keyEncoding = binary ? 'buffer' : 'utf8'
    const range = {}
    const options = {}
    const setBound = (name) => {
      const bytes = binary ? randomBoundBytes(true) : Buffer.from(r.chance(0.6) ? randomBoundBytes(false).toString() : randomString(3))
      range[name] = bytes
      options[name] = binary ? bytes : bytes.toString()
    }
    const lower = r.int(3)
    if (lower === 1) setBound('gt')
    if (lower === 2) setBound('gte')
    const upper = r.int(3)
    if (upper === 1) setBound('lt')
    if (upper === 2) setBound('lte')
    // Mostly ordered ranges (an inverted one is empty; a few of those are enough).
    const lowerName = ['gt', 'gte'].find((n) => range[n] !== undefined)
    const upperName = ['lt', 'lte'].find((n) => range[n] !== undefined)
    if (lowerName && upperName && r.chance(0.8) && Buffer.compare(range[lowerName], range[upperName]) > 0) {
      ;[range[lowerName], range[upperName]] = [range[upperName], range[lowerName]]
      ;[options[lowerName], options[upperName]] = [options[upperName], options[lowerName]]
    }
    if (r.chance(0.3)) {
      const p = r.chance(0.7) ? Buffer.from(r.pick(keys)).subarray(0, r.int(3)) : Buffer.from(randomString(2))
      // Under utf8 the prefix is a string (a cut through a character becomes U+FFFD; the
      // oracle uses the string's own bytes below).
      range.prefix = Buffer.from(p)
      options.prefix = binary ? Buffer.from(p) : p.toString()
    }
    if (r.chance(0.5)) options.reverse = range.reverse = true
    else if (r.chance(0.2)) options.reverse = range.reverse = false
    const limit = r.pick(limits)
    if (limit !== undefined) options.limit = range.limit = limit
    if (binary) options.keyEncoding = 'buffer'
    // The oracle compares the UTF-8 bytes of string bounds.
    for (const name of ['gt', 'gte', 'lt', 'lte', 'prefix']) {
      if (!binary && options[name] !== undefined) range[name] = Buffer.from(options[name])
    }

    const expected = oracleRange(sorted, range)
    const keyOut = (e) => (binary ? Buffer.from(e.bytes) : e.key)
    const method = r.pick(['all', 'keys', 'values', 'nextv', 'forAwait', 'next'])
    const where = `case ${c} (${method}) options ${JSON.stringify(options, (k, v) => (v && v.type === 'Buffer' ? 'hex:' + Buffer.from(v.data).toString('hex') : v))}`
    let actual
    let wanted
    if (method === 'all') {
      actual = await db.iterator(options).all()
      wanted = expected.map((e) => [keyOut(e), e.value])
    } else if (method === 'keys') {
      actual = await db.keys(options).all()
      wanted = expected.map(keyOut)
    } else if (method === 'values') {
      actual = await db.values(options).all()
      wanted = expected.map((e) => e.value)
    } else if (method === 'nextv') {
      actual = await drainNextv(db.iterator(options), 1 + r.int(60))
      wanted = expected.map((e) => [keyOut(e), e.value])
    } else if (method === 'forAwait') {
      actual = await drainForAwait(db.keys(options))
      wanted = expected.map(keyOut)
    } else {
      const it = db.keys({ ...options, limit: Math.min(options.limit === undefined || options.limit === -1 ? Infinity : options.limit, 60) })
      actual = await drainNext(it)
      wanted = expected.slice(0, 60).map(keyOut)
    }
    assert.deepEqual(actual, wanted, where)
  }
  assert.equal(db.stats().liveIterators, 0, 'every iterator of the property test was closed')
})

// ------------------------------------------------------------------------------------------
// Paging

test('paging: 6000 entries (some large values) read alike by next(), nextv(7), nextv(1000), all() and for await, cold and warm', T, async (t) => {
  const location = tmpDir(t)
  let db = await openDb(t, BrowserDB, location, { writeBufferSize: 65536 })
  const N = 6000
  // Mostly small values, a few of 300 KB so pages hit their byte budgets.
  const value = (i) => (i % 997 === 0 ? `big-${i}-`.padEnd(300 * 1024, '#') : `v-${i}-`.padEnd(20 + (i % 150), '.'))
  await fillNumbered(db, N, { batchSize: 300, value })
  const expected = Array.from({ length: N }, (_, i) => ['k' + pad(i), value(i)])
  await db.close()
  // Reopened: everything is in tables and the block cache is cold, so pages come from disk.
  db = await openDb(t, BrowserDB, location, { writeBufferSize: 65536 })
  assert.equal(db.stats().memtableBytes, 0)
  assert.ok(db.stats().tables >= 1) // flushed (compaction may merge level 0 into one table)

  assert.deepEqual(await drainNext(db.iterator()), expected, 'next()')
  assert.deepEqual(await drainNextv(db.iterator(), 7), expected, 'nextv(7)')
  assert.deepEqual(await drainNextv(db.iterator(), 1000), expected, 'nextv(1000)')
  assert.deepEqual(await db.iterator().all(), expected, 'all()')
  assert.deepEqual(await drainForAwait(db.iterator()), expected, 'for await')
  const reversed = expected.slice().reverse()
  assert.deepEqual(await drainNextv(db.iterator({ reverse: true }), 7), reversed, 'reverse nextv(7)')
  assert.deepEqual(await db.iterator({ reverse: true }).all(), reversed, 'reverse all()')
  // Every page from the libuv pool (as with a cold page cache).
  assert.deepEqual(await drainNextv(forceDiskPages(db.iterator()), 7), expected, 'pool pages, nextv(7)')
  assert.deepEqual(await forceDiskPages(db.iterator({ reverse: true })).all(), reversed, 'pool pages, reverse all()')
  assert.deepEqual(await drainNext(forceDiskPages(db.keys({ gt: 'k05000' }))), expected.slice(5001).map((e) => e[0]), 'pool pages, next()')
  assert.deepEqual(await db.keys().all(), expected.map((e) => e[0]), 'keys()')
  assert.deepEqual(await db.values({ reverse: true }).all(), reversed.map((e) => e[1]), 'values() reverse')
  // Mixed page sizes over one iterator.
  const it = db.iterator({ gte: 'k00100', limit: 3000 })
  const mixed = []
  let step = 0
  for (;;) {
    const size = [1, 3, 16, 1000, 999, 2][step++ % 6]
    if (size === 1) {
      const e = await it.next()
      if (e === undefined) break
      mixed.push(e)
    } else {
      const page = await it.nextv(size)
      if (page.length === 0) break
      mixed.push(...page)
    }
  }
  await it.close()
  assert.deepEqual(mixed, expected.slice(100, 3100), 'mixed next/nextv sizes')
})

test('pages mixing ASCII, non-ASCII and invalid UTF-8 decode alike from memory and from the pool, as strings and Buffers', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  // ASCII strings are made from Latin-1 bytes, the rest from UTF-8: both must give the same text.
  const texts = ['plain', '', 'caf\u00e9', '\u00ff', 'emoji \u{1F600}', '\u007f\u0000end', 'x'.repeat(300), '\u00e9'.repeat(300)]
  const ops = []
  for (let i = 0; i < 600; i++) ops.push({ type: 'put', key: `k${pad(i)}${texts[i % texts.length]}`, value: texts[(i * 3) % texts.length] + i })
  await db.batch(ops)
  // Bytes that are not UTF-8 (a lone continuation byte, a truncated sequence): U+FFFD as a string.
  const raw = { keyEncoding: 'buffer', valueEncoding: 'buffer' }
  await db.put(Buffer.from('z1'), Buffer.from([0x61, 0x80, 0x62]), raw)
  await db.put(Buffer.from('z2'), Buffer.from([0xe2, 0x82]), raw)
  const expected = ops.map((o) => [o.key, o.value]).sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])))
  expected.push(['z1', 'a\ufffdb'], ['z2', '\ufffd'])
  for (const disk of [false, true]) {
    const label = disk ? 'pool pages' : 'JS-thread pages'
    const it = (options) => (disk ? forceDiskPages(db.iterator(options)) : db.iterator(options))
    assert.deepEqual(await drainNextv(it(), 1000), expected, `${label}: strings`)
    assert.deepEqual(await it({ reverse: true }).all(), expected.slice().reverse(), `${label}: reverse`)
    const buffers = await it({ keyEncoding: 'buffer', valueEncoding: 'buffer' }).all()
    assert.deepEqual(buffers.slice(0, 600).map(([k, v]) => [k.toString(), v.toString()]), expected.slice(0, 600), `${label}: Buffers`)
    assert.deepEqual(buffers[600][1], Buffer.from([0x61, 0x80, 0x62]), `${label}: raw bytes`)
    assert.deepEqual(await (disk ? forceDiskPages(db.values()) : db.values()).all(), expected.map((e) => e[1]), `${label}: values()`)
  }
})

test('a JS-thread page longer than the collector takes at once is still whole and in order', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await fillNumbered(db, 5000, { batchSize: 1000 })
  // The native page call, as index.js makes it, with more entries than it ever asks for.
  const it = db.iterator()
  const page = it._native.nextFast(6000, 64 * 1024 * 1024, (...items) => items)
  await it.close()
  assert.equal(page[0], 1) // exhausted
  assert.equal(page.length, 1 + 2 * 5000)
  for (let i = 0; i < 5000; i++) {
    assert.equal(page[1 + 2 * i], 'k' + pad(i))
    assert.equal(page[2 + 2 * i], `value-${i}`)
  }
})

test('nextv(0), nextv beyond the end and next() after the end', T, async (t) => {
  const db = await smallDb(t)
  const it = db.keys()
  assert.deepEqual(await it.nextv(0), [])
  assert.deepEqual(await it.nextv(4), ['a', 'aa', 'ab', 'b'])
  assert.deepEqual(await it.nextv(100), ['ba', 'c'])
  assert.deepEqual(await it.nextv(100), [])
  assert.equal(await it.next(), undefined)
  assert.equal(await it.next(), undefined)
  assert.deepEqual(await it.all(), [])
  // Calls issued together are served in order.
  const together = db.keys()
  const results = await Promise.all([together.next(), together.nextv(2), together.next(), together.nextv(5), together.next()])
  assert.deepEqual(results, ['a', ['aa', 'ab'], 'b', ['ba', 'c'], undefined])
  await together.close()
})

// ------------------------------------------------------------------------------------------
// seek

async function seekDb(t) {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536 })
  // Even numbers 0..1998 (k00000, k00002, ...), long enough values to spread over tables.
  for (let start = 0; start < 2000; start += 200) {
    const ops = []
    for (let i = start; i < start + 200; i += 2) ops.push({ type: 'put', key: 'k' + pad(i), value: 'v'.repeat(300) + i })
    await db.batch(ops)
  }
  await waitForFlushes(db)
  assert.ok(db.stats().tables >= 1) // flushed (compaction may merge level 0 into one table)
  return db
}

test('seek forward: to a key, between keys, backwards, repeatedly; buffered entries are dropped', T, async (t) => {
  const db = await seekDb(t)
  const it = db.keys()
  assert.equal(await it.next(), 'k00000')
  it.seek('k01000')
  assert.equal(await it.next(), 'k01000')
  assert.deepEqual(await it.nextv(2), ['k01002', 'k01004'])
  it.seek('k00501') // between keys: the next one at or after
  assert.equal(await it.next(), 'k00502')
  it.seek('k00010') // backwards: rewinds
  assert.deepEqual(await it.nextv(3), ['k00010', 'k00012', 'k00014'])
  it.seek('k01998')
  assert.equal(await it.next(), 'k01998')
  assert.equal(await it.next(), undefined)
  it.seek('') // an empty target is allowed: before every key
  assert.equal(await it.next(), 'k00000')
  it.seek('k00100')
  it.seek('k00200') // the last seek wins
  assert.equal(await it.next(), 'k00200')
  // Per-call key encoding of the target.
  it.seek(Buffer.from('k00300'), { keyEncoding: 'buffer' })
  assert.equal(await it.next(), 'k00300')
  it.seek('k99999') // past the end
  assert.equal(await it.next(), undefined)
  await it.close()

  // Seek on an iterator that has not read anything yet, with values.
  const entries = db.iterator()
  entries.seek('k01500')
  assert.deepEqual(await entries.next(), ['k01500', 'v'.repeat(300) + 1500])
  await entries.close()
})

test('seek in reverse: the next entry is at or before the target', T, async (t) => {
  const db = await seekDb(t)
  const it = db.keys({ reverse: true })
  assert.equal(await it.next(), 'k01998')
  it.seek('k01000')
  assert.deepEqual(await it.nextv(2), ['k01000', 'k00998'])
  it.seek('k00501') // between keys: the previous one
  assert.equal(await it.next(), 'k00500')
  it.seek('k01500') // "backwards" in reverse means up
  assert.equal(await it.next(), 'k01500')
  it.seek('k00000')
  assert.equal(await it.next(), 'k00000')
  assert.equal(await it.next(), undefined)
  it.seek('zzz') // above every key: from the top
  assert.equal(await it.next(), 'k01998')
  it.seek('a') // below every key
  assert.equal(await it.next(), undefined)
  await it.close()
})

test('seek outside the range is clamped to it; seek after exhaustion resumes; limit counts across seeks', T, async (t) => {
  const db = await seekDb(t)
  const forward = db.keys({ gte: 'k00100', lt: 'k00200' })
  forward.seek('k00000') // below the range: from its start
  assert.equal(await forward.next(), 'k00100')
  forward.seek('k00300') // above the range: nothing
  assert.equal(await forward.next(), undefined)
  forward.seek('k00198')
  assert.deepEqual(await forward.nextv(5), ['k00198'])
  await forward.close()

  const reverse = db.keys({ gt: 'k00100', lte: 'k00200', reverse: true })
  reverse.seek('k00300') // above the range: from its top
  assert.equal(await reverse.next(), 'k00200')
  reverse.seek('k00100') // the excluded lower bound: nothing at or before it inside the range
  assert.equal(await reverse.next(), undefined)
  reverse.seek('k00050')
  assert.equal(await reverse.next(), undefined)
  reverse.seek('k00103')
  assert.deepEqual(await reverse.all(), ['k00102'])

  const prefixed = db.keys({ prefix: 'k001' })
  prefixed.seek('k00050')
  assert.equal(await prefixed.next(), 'k00100')
  prefixed.seek('k00198')
  assert.deepEqual(await prefixed.nextv(3), ['k00198'])
  await prefixed.close()

  // Exhausted, then seek: reading resumes.
  const exhausted = db.keys({ gte: 'k01990' })
  assert.deepEqual(await exhausted.nextv(10), ['k01990', 'k01992', 'k01994', 'k01996', 'k01998'])
  assert.equal(await exhausted.next(), undefined)
  exhausted.seek('k01994')
  assert.deepEqual(await exhausted.nextv(10), ['k01994', 'k01996', 'k01998'])
  await exhausted.close()

  // The limit counts every entry returned, across seeks.
  const limited = db.keys({ limit: 3 })
  assert.deepEqual(await limited.nextv(2), ['k00000', 'k00002'])
  limited.seek('k01000')
  assert.deepEqual(await limited.nextv(5), ['k01000'])
  limited.seek('k00000')
  assert.equal(await limited.next(), undefined)
  await limited.close()
})

test('seek: a bad target throws synchronously; seek on a closed iterator throws BROWSERDB_CLOSED', T, async (t) => {
  const db = await smallDb(t)
  const it = db.keys()
  throwsCode(() => it.seek(5), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => it.seek(undefined), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => it.seek(Buffer.from('a')), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => it.seek('a', { keyEncoding: 'hex' }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  throwsCode(() => it.seek('a', { keyEncoding: 'buffer' }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => it.seek('a', 'utf8'), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => it.seek('x'.repeat(64 * 1024 + 1)), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  // A failed seek leaves the position alone.
  assert.equal(await it.next(), 'a')
  assert.equal(await it.next(), 'aa')
  await it.close()
  throwsCode(() => it.seek('b'), 'BROWSERDB_CLOSED', Error)
  const done = db.keys()
  await done.all()
  throwsCode(() => done.seek('b'), 'BROWSERDB_CLOSED', Error)
})

/**
 * Makes `it` behave as if no block were in memory (a cold OS page cache), so every page is
 * read on the libuv pool. Reaches into the iterator's native handle: this is the only way to
 * get that path deterministically on a machine whose page cache holds the fresh tables.
 */
function forceDiskPages(it) {
  it._native.nextFast = () => [2] // PAGE_NEEDS_DISK, no entries
  return it
}

test('seek while a next() is in flight: the entries returned afterwards follow the seek', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536 })
  await fillNumbered(db, 3000, { value: (i) => 'v'.repeat(100) + i })
  for (const disk of [false, true]) {
    const it = db.keys()
    if (disk) forceDiskPages(it)
    const pending = it.next()
    it.seek('k02000')
    const first = await pending
    const second = await it.next()
    // Either the seek applied to the pending call, or that call finished first and the seek
    // applies to the next one; never entries from before the seek after it.
    if (first === 'k00000') assert.equal(second, 'k02000', `disk=${disk}: the seek was lost; got ${first}, ${second}`)
    else assert.deepEqual([first, second], ['k02000', 'k02001'], `disk=${disk}`)
    await it.close()
  }
})

// ------------------------------------------------------------------------------------------
// Consistency while writes and flushes go on

test('an iterator reads the state at its creation while 20k writes, deletes, a clear and flushes go on', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536 })
  const N = 5000
  const value0 = (i) => `gen0-${i}-`.padEnd(60, '.')
  await fillNumbered(db, N, { prefix: 'c:', batchSize: 250, value: value0 })
  const before = Array.from({ length: N }, (_, i) => ['c:' + pad(i), value0(i)])

  const forward = db.iterator()
  const reverseKeys = db.keys({ reverse: true })
  const ranged = db.values({ gte: 'c:01000', lt: 'c:02000' })
  const flushesBefore = db.stats().flushes
  assert.equal(db.stats().liveIterators, 3)

  let writing = true
  const model = new Map(before)
  async function writer() {
    // 200 batches of 100 ops: overwrites, new keys inside the range (odd suffixes), deletes.
    for (let b = 0; b < 200; b++) {
      const ops = []
      for (let j = 0; j < 100; j++) {
        const n = (b * 100 + j) % N
        const kind = j % 4
        if (kind === 0) ops.push({ type: 'put', key: 'c:' + pad(n), value: `gen1-${b}-${j}`.padEnd(60, '!') })
        else if (kind === 1) ops.push({ type: 'put', key: 'c:' + pad(n) + '+', value: `new-${b}-${j}` })
        else if (kind === 2) ops.push({ type: 'del', key: 'c:' + pad(n) })
        else ops.push({ type: 'put', key: 'c:' + pad((n * 7) % N), value: `gen2-${b}-${j}` })
      }
      await db.batch(ops)
      for (const op of ops) (op.type === 'put' ? model.set(op.key, op.value) : model.delete(op.key))
      if (b === 100) {
        await db.clear({ gte: 'c:01500', lt: 'c:01600' })
        for (const k of [...model.keys()]) if (k >= 'c:01500' && k < 'c:01600') model.delete(k)
      }
    }
    writing = false
  }
  async function reader(it, size) {
    const out = []
    let pagesWhileWriting = 0
    for (;;) {
      const page = await it.nextv(size)
      if (page.length === 0) break
      if (writing) pagesWhileWriting++
      out.push(...page)
      await new Promise((resolve) => setImmediate(resolve))
    }
    await it.close()
    return { out, pagesWhileWriting }
  }
  const [, a, b, c] = await Promise.all([writer(), reader(forward, 7), reader(reverseKeys, 13), reader(ranged, 5)])
  assert.ok(db.stats().flushes > flushesBefore, 'the memtable was flushed while the iterators were open')
  assert.ok(a.pagesWhileWriting > 10 && b.pagesWhileWriting > 10, `reads interleaved with writes (${a.pagesWhileWriting}, ${b.pagesWhileWriting})`)
  assert.deepEqual(a.out, before)
  assert.deepEqual(b.out, before.map((e) => e[0]).reverse())
  assert.deepEqual(c.out, before.slice(1000, 2000).map((e) => e[1]))
  // A new iterator sees every write.
  const after = [...model.entries()].sort((x, y) => Buffer.compare(Buffer.from(x[0]), Buffer.from(y[0])))
  assert.deepEqual(await db.iterator().all(), after)
  assert.equal(db.stats().liveIterators, 0)
})

test('an iterator created before a put, a delete and a batch does not see them', T, async (t) => {
  const db = await smallDb(t)
  const it = db.iterator()
  const keysIt = db.keys({ reverse: true })
  await db.put('aa', 'changed')
  await db.put('a0', 'new')
  await db.del('b')
  await db.batch([{ type: 'del', key: 'c' }, { type: 'put', key: 'd', value: 'new' }])
  assert.deepEqual(await it.all(), SMALL.map((k) => [k, 'v-' + k]))
  assert.deepEqual(await keysIt.all(), SMALL.slice().reverse())
  assert.deepEqual(await db.keys().all(), ['a', 'a0', 'aa', 'ab', 'ba', 'd'])
})

// ------------------------------------------------------------------------------------------
// Bad options and closed iterators

test('bad options throw synchronously with BROWSERDB_INVALID_ARGUMENT (TypeError or RangeError)', T, async (t) => {
  const db = await smallDb(t)
  const other = await openDb(t, BrowserDB, tmpDir(t))
  const cases = [
    [{ foo: 1 }, RangeError],
    [{ start: 'a' }, RangeError],
    [{ ttl: 1 }, RangeError],
    [{ gt: 5 }, TypeError],
    [{ gte: null }, TypeError],
    [{ lt: {} }, TypeError],
    [{ lte: Buffer.from('a') }, TypeError],
    [{ prefix: 1 }, TypeError],
    [{ gt: 'a', keyEncoding: 'buffer' }, TypeError],
    [{ gt: 'x'.repeat(64 * 1024 + 1) }, RangeError],
    [{ reverse: 1 }, TypeError],
    [{ reverse: 'true' }, TypeError],
    [{ limit: -2 }, RangeError],
    [{ limit: -100 }, RangeError],
    [{ limit: '5' }, TypeError],
    [{ limit: 1.5 }, TypeError],
    [{ limit: NaN }, TypeError],
    [{ limit: null }, TypeError],
    [{ keys: 1 }, TypeError],
    [{ values: 'no' }, TypeError],
    [{ keyEncoding: 'hex' }, RangeError],
    [{ valueEncoding: 'binary' }, RangeError],
    [{ snapshot: {} }, TypeError],
    [{ snapshot: 'snap' }, TypeError],
    [{ snapshot: other.snapshot() }, RangeError],
    ['gt', TypeError],
    [['a'], TypeError],
    [42, TypeError],
  ]
  for (const [options, Class] of cases) {
    for (const method of ['iterator', 'keys', 'values']) {
      const err = throwsCode(() => db[method](options), 'BROWSERDB_INVALID_ARGUMENT', Class)
      assert.ok(err instanceof Class, `${method}(${String(JSON.stringify(options)).slice(0, 60)})`)
    }
  }
  throwsCode(() => db.range('a', 5), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => db.range(5, 'b'), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => db.range('a', 'b', 'opts'), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => db.range('a', 'b', { limit: -2 }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  throwsCode(() => db.prefix(5), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => db.prefix('a', { bogus: true }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  assert.equal(db.stats().liveIterators, 0, 'a rejected iterator() leaves no live iterator behind')

  // nextv with a bad size rejects (it is a promise method).
  const it = db.keys()
  for (const size of [-1, 1.5, '3', NaN, undefined, null, -Infinity]) {
    await rejectsCode(() => it.nextv(size), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  }
  assert.equal(await it.next(), 'a', 'a rejected nextv left the position alone')
  await it.close()
})

test('calls on a closed iterator reject with BROWSERDB_CLOSED; close() is idempotent; asyncDispose closes', T, async (t) => {
  const db = await smallDb(t)
  const it = db.iterator()
  assert.deepEqual(await it.next(), ['a', 'v-a'])
  assert.equal(db.stats().liveIterators, 1)
  const closing = it.close()
  assert.ok(closing instanceof Promise)
  assert.equal(await closing, undefined)
  assert.equal(db.stats().liveIterators, 0)
  assert.equal(await it.close(), undefined, 'second close resolves')
  await rejectsCode(() => it.next(), 'BROWSERDB_CLOSED', Error)
  await rejectsCode(() => it.nextv(2), 'BROWSERDB_CLOSED', Error)
  await rejectsCode(() => it.all(), 'BROWSERDB_CLOSED', Error)
  await assert.rejects(async () => {
    for await (const e of it) assert.fail(`yielded ${e}`)
  }, (err) => err.code === 'BROWSERDB_CLOSED')
  throwsCode(() => it.seek('a'), 'BROWSERDB_CLOSED', Error)

  // all() closes.
  const viaAll = db.keys()
  await viaAll.all()
  await rejectsCode(() => viaAll.next(), 'BROWSERDB_CLOSED', Error)

  // Symbol.asyncDispose closes.
  const disposable = db.values()
  assert.equal(typeof disposable[Symbol.asyncDispose], 'function')
  await disposable[Symbol.asyncDispose]()
  await rejectsCode(() => disposable.next(), 'BROWSERDB_CLOSED', Error)
  assert.equal(db.stats().liveIterators, 0)

  // close() while a read is in flight waits for it; the read completes normally.
  const busy = db.keys()
  const reading = busy.nextv(3)
  const closed = busy.close()
  assert.deepEqual(await reading, ['a', 'aa', 'ab'])
  await closed
  await rejectsCode(() => busy.next(), 'BROWSERDB_CLOSED', Error)
  assert.equal(db.stats().liveIterators, 0)

  // Creating an iterator on a closed database throws synchronously.
  await db.close()
  for (const method of ['iterator', 'keys', 'values']) throwsCode(() => db[method](), 'BROWSERDB_CLOSED', Error)
  throwsCode(() => db.range('a', 'b'), 'BROWSERDB_CLOSED', Error)
  throwsCode(() => db.prefix('a'), 'BROWSERDB_CLOSED', Error)
})

test('stats().liveIterators counts open iterators', T, async (t) => {
  const db = await smallDb(t)
  assert.equal(db.stats().liveIterators, 0)
  const its = [db.iterator(), db.keys({ reverse: true }), db.values({ limit: 1 }), db.range('a', 'b'), db.prefix('a')]
  assert.equal(db.stats().liveIterators, 5)
  await its[0].next()
  await its[1].all()
  assert.equal(db.stats().liveIterators, 4)
  await Promise.all(its.map((it) => it.close()))
  assert.equal(db.stats().liveIterators, 0)
})
