'use strict'
// db.clear(options): deletes exactly the keys of a range (gt/gte/lt/lte/prefix, reverse,
// limit, keyEncoding), all keys without options; nothing outside the range is touched.
const { test } = require('node:test')
const assert = require('node:assert/strict')

const { BrowserDB } = require('..')
const { tmpDir, openDb, rejectsCode } = require('./helpers')
const { randomTools, oracleRange, waitForFlushes } = require('./helpers/ordered')

const T = { timeout: 30000 }
const pad = (n) => String(n).padStart(5, '0')

/** A utf8 database of k00000..k02999 spread over tables and the memtable, and its model. */
async function numberedDb(t, n = 3000) {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536 })
  const model = new Map()
  for (let start = 0; start < n; start += 250) {
    const ops = []
    for (let i = start; i < Math.min(n, start + 250); i++) ops.push({ type: 'put', key: 'k' + pad(i), value: `v${i}-`.padEnd(60, '.') })
    await db.batch(ops)
    for (const op of ops) model.set(op.key, op.value)
  }
  await waitForFlushes(db)
  // A memtable is frozen by the write that fills it: flush the rest of the load (compact() of a
  // range holding no key only flushes), so the overwrites below start an empty memtable.
  await db.compact({ gte: '~', lte: '~' })
  // Overwrites and deletes on top of the tables, left in the memtable.
  const ops = []
  for (let i = 0; i < n; i += 37) ops.push({ type: 'put', key: 'k' + pad(i), value: 'over' + i })
  for (let i = 5; i < n; i += 41) ops.push({ type: 'del', key: 'k' + pad(i) })
  await db.batch(ops)
  for (const op of ops) (op.type === 'put' ? model.set(op.key, op.value) : model.delete(op.key))
  assert.ok(db.stats().tables >= 1 && db.stats().memtableBytes > 0, 'data in tables and in the memtable')
  return { db, model }
}

/** The model as the oracle's sorted entry list. */
function entriesOf(model) {
  return [...model.entries()]
    .map(([key, value]) => ({ key, value, bytes: Buffer.from(key) }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
}

/** Applies `clear(options)` to the db and to the model; checks the whole database after. */
async function clearAndCheck(db, model, options, where = JSON.stringify(options)) {
  const range = {}
  for (const name of ['gt', 'gte', 'lt', 'lte', 'prefix']) if (options[name] !== undefined) range[name] = Buffer.from(options[name])
  range.reverse = options.reverse
  range.limit = options.limit
  const doomed = oracleRange(entriesOf(model), range)
  assert.equal(await db.clear(options), undefined, `clear resolves to undefined (${where})`)
  for (const e of doomed) model.delete(e.key)
  assert.deepEqual(await db.iterator().all(), entriesOf(model).map((e) => [e.key, e.value]), `contents after clear(${where})`)
  return doomed.map((e) => e.key)
}

test('clear deletes exactly the range: bounds, prefix, limit, reverse + limit, empty ranges', T, async (t) => {
  const { db, model } = await numberedDb(t)
  assert.deepEqual(await clearAndCheck(db, model, { gte: 'k00100', lt: 'k00103' }), ['k00100', 'k00101', 'k00102'])
  await clearAndCheck(db, model, { gte: 'k00100', lt: 'k00200' })
  assert.equal(await db.get('k00099'), 'v99-'.padEnd(60, '.'))
  assert.equal(await db.get('k00200'), 'v200-'.padEnd(60, '.'))
  await clearAndCheck(db, model, { gt: 'k00300', lte: 'k00400' })
  assert.equal(await db.get('k00300'), 'v300-'.padEnd(60, '.'))
  assert.equal(await db.get('k00400'), undefined)
  assert.equal((await clearAndCheck(db, model, { prefix: 'k009' })).length, 100 - 3) // k00907, k00948, k00989 were deleted before
  // limit: the first n keys of the range.
  assert.deepEqual(await clearAndCheck(db, model, { gte: 'k01000', limit: 3 }), ['k01000', 'k01001', 'k01002'])
  await clearAndCheck(db, model, { gte: 'k01000', limit: 50 })
  // reverse + limit: from the top of the range.
  assert.deepEqual(await clearAndCheck(db, model, { gte: 'k01500', lt: 'k02000', reverse: true, limit: 3 }), ['k01999', 'k01998', 'k01997'])
  await clearAndCheck(db, model, { gte: 'k01500', lt: 'k02000', reverse: true, limit: 30 })
  assert.deepEqual(await clearAndCheck(db, model, { reverse: true, limit: 2 }), ['k02999', 'k02997']) // k02998 was deleted before
  assert.deepEqual(await clearAndCheck(db, model, { lte: 'k00002' }), ['k00000', 'k00001', 'k00002'])
  // Nothing to do.
  assert.deepEqual(await clearAndCheck(db, model, { limit: 0 }), [])
  assert.deepEqual(await clearAndCheck(db, model, { gt: 'k02500', lt: 'k02400' }), [])
  assert.deepEqual(await clearAndCheck(db, model, { gte: 'k00100', lt: 'k00200' }), [], 'an already-cleared range')
  assert.deepEqual(await clearAndCheck(db, model, { prefix: 'zzz' }), [])
  assert.deepEqual(await clearAndCheck(db, model, { lt: '' }), [])
  assert.deepEqual(await clearAndCheck(db, model, { reverse: false, limit: 0, gte: '' }), [])
  // No limit, spelled three ways.
  await clearAndCheck(db, model, { gte: 'k02600', lt: 'k02700', limit: -1 })
  await clearAndCheck(db, model, { gte: 'k02700', lt: 'k02800', limit: Infinity })
  await clearAndCheck(db, model, { gte: 'k02800', lt: 'k02900', limit: undefined })
  // Everything.
  assert.ok(model.size > 1000)
  await clearAndCheck(db, model, {}, 'everything')
  assert.equal(model.size, 0)
  assert.deepEqual(await db.keys().all(), [])
  // The database is usable afterwards.
  await db.put('k00001', 'again')
  assert.deepEqual(await db.iterator().all(), [['k00001', 'again']])
})

test('clear() without options and with undefined deletes every key', T, async (t) => {
  const { db } = await numberedDb(t, 1200)
  assert.equal(await db.clear(), undefined)
  assert.deepEqual(await db.keys().all(), [])
  assert.equal(await db.get('k00000'), undefined)
  await db.put('x', '1')
  await db.clear(undefined)
  assert.deepEqual(await db.keys().all(), [])
  await db.clear() // on an empty database
})

test('seeded: 40 random clears, each checked against the oracle over the whole database', T, async (t) => {
  const { db, model } = await numberedDb(t)
  const r = randomTools(0xc1ea2)
  const randomBound = () => 'k' + pad(r.int(3100)) + (r.chance(0.2) ? '5' : '')
  for (let c = 0; c < 40; c++) {
    const options = {}
    if (r.chance(0.6)) options[r.pick(['gt', 'gte'])] = randomBound()
    if (r.chance(0.6)) options[r.pick(['lt', 'lte'])] = randomBound()
    if (r.chance(0.2)) options.prefix = 'k0' + r.int(3) + r.int(10)
    if (r.chance(0.5)) options.reverse = true
    options.limit = r.pick([undefined, -1, 0, 1, 5, 20, 200])
    await clearAndCheck(db, model, options, `case ${c}: ${JSON.stringify(options)}`)
    // Refill a few keys now and then so later cases have something to delete.
    if (c % 8 === 7) {
      const ops = []
      for (let i = 0; i < 150; i++) {
        const key = 'k' + pad(r.int(3000))
        ops.push({ type: 'put', key, value: 'refill' + c })
        model.set(key, 'refill' + c)
      }
      await db.batch(ops)
    }
  }
})

test('clear over more keys than one internal batch (12000), with and without a limit', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  for (let start = 0; start < 12000; start += 1000) {
    await db.batch(Array.from({ length: 1000 }, (_, j) => ({ type: 'put', key: 'b:' + pad(start + j), value: 'v' })))
  }
  await db.put('a', 'before')
  await db.put('c', 'after')
  await db.clear({ prefix: 'b:', limit: 10500 })
  const left = await db.keys().all()
  assert.equal(left.length, 2 + 1500)
  assert.deepEqual(left.slice(0, 3), ['a', 'b:10500', 'b:10501'])
  await db.clear({ gte: 'b:', lt: 'c' })
  assert.deepEqual(await db.keys().all(), ['a', 'c'])
})

test('clear with binary keys: bytewise ranges and prefixes, all-0xff prefix, per-call keyEncoding', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'buffer' })
  const raw = [[0x00], [0x00, 0x00], [0x00, 0xff], [0x01], [0x7f], [0x80], [0xc3, 0xa9], [0xfe, 0xff], [0xff], [0xff, 0x00], [0xff, 0xff], [0xff, 0xff, 0xff]]
  await db.batch(raw.map((b) => ({ type: 'put', key: Buffer.from(b), value: 'v' })))
  const hex = async () => (await db.keys().all()).map((k) => k.toString('hex'))
  await db.clear({ prefix: Buffer.from([0xff, 0xff]) })
  assert.deepEqual(await hex(), ['00', '0000', '00ff', '01', '7f', '80', 'c3a9', 'feff', 'ff', 'ff00'])
  await db.clear({ prefix: new Uint8Array([0xff]) })
  assert.deepEqual(await hex(), ['00', '0000', '00ff', '01', '7f', '80', 'c3a9', 'feff'])
  await db.clear({ gt: Buffer.from([0x00]), lt: Buffer.from([0x01]) })
  assert.deepEqual(await hex(), ['00', '01', '7f', '80', 'c3a9', 'feff'])
  await db.clear({ gte: Buffer.from([0x7f]), lte: Buffer.from([0x80]), reverse: true, limit: 1 })
  assert.deepEqual(await hex(), ['00', '01', '7f', 'c3a9', 'feff'])
  await db.clear({ gt: Buffer.alloc(0), limit: 1 })
  assert.deepEqual(await hex(), ['01', '7f', 'c3a9', 'feff'])
  // Per-call keyEncoding: a utf8 bound over the same bytes ('é' is C3 A9).
  await db.clear({ keyEncoding: 'utf8', gte: 'é' })
  assert.deepEqual(await hex(), ['01', '7f'])

  // A utf8 database cleared with raw-byte bounds.
  const text = await openDb(t, BrowserDB, tmpDir(t))
  for (const k of ['a', 'z', 'é', '€', '😀']) await text.put(k, k)
  await text.clear({ keyEncoding: 'buffer', gte: Buffer.from([0xc3]), lt: Buffer.from([0xf0]) })
  assert.deepEqual(await text.keys().all(), ['a', 'z', '😀'])
  await text.clear({ keyEncoding: 'view', prefix: new Uint8Array([0xf0]) })
  assert.deepEqual(await text.keys().all(), ['a', 'z'])

  // json keys: bounds are JSON-encoded.
  const js = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'json' })
  for (const k of [1, 2, 10, 'a', [1], null]) await js.put(k, 'v')
  await js.clear({ gte: 1, lt: 2 }) // '1' and '10'
  assert.deepEqual(await js.keys().all(), ['a', 2, [1], null])
})

test('clear is durable and does not disturb an iterator or snapshot taken before it', T, async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location, { writeBufferSize: 65536 })
  await db.batch(Array.from({ length: 500 }, (_, i) => ({ type: 'put', key: 'k' + pad(i), value: 'v' + i })))
  const it = db.keys()
  const snapshot = db.snapshot()
  await db.clear({ gte: 'k00100' })
  assert.equal((await it.all()).length, 500)
  assert.equal((await db.keys({ snapshot }).all()).length, 500)
  assert.equal(await db.get('k00499', { snapshot }), 'v499')
  await snapshot.close()
  await db.close()
  const again = await openDb(t, BrowserDB, location)
  const keys = await again.keys().all()
  assert.equal(keys.length, 100)
  assert.equal(keys[99], 'k00099')
})

test('bad clear options reject (never throw) with BROWSERDB_INVALID_ARGUMENT and delete nothing', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.batch(['a', 'b', 'c'].map((key) => ({ type: 'put', key, value: key })))
  const snapshot = db.snapshot()
  const cases = [
    [{ foo: 1 }, RangeError],
    [{ keys: true }, RangeError],
    [{ values: false }, RangeError],
    [{ valueEncoding: 'utf8' }, RangeError],
    [{ snapshot }, RangeError],
    [{ sync: true }, RangeError],
    [{ gt: 5 }, TypeError],
    [{ lte: null }, TypeError],
    [{ prefix: ['a'] }, TypeError],
    [{ gt: 'a', keyEncoding: 'buffer' }, TypeError],
    [{ lt: 'x'.repeat(64 * 1024 + 1) }, RangeError],
    [{ reverse: 'yes' }, TypeError],
    [{ limit: -2 }, RangeError],
    [{ limit: '1' }, TypeError],
    [{ limit: 0.5 }, TypeError],
    [{ keyEncoding: 'hex' }, RangeError],
    ['all', TypeError],
    [['a'], TypeError],
    [7, TypeError],
  ]
  for (const [options, Class] of cases) {
    await rejectsCode(() => db.clear(options), 'BROWSERDB_INVALID_ARGUMENT', Class)
  }
  await snapshot.close()
  assert.deepEqual(await db.keys().all(), ['a', 'b', 'c'], 'a rejected clear deleted nothing')

  await db.close()
  await rejectsCode(() => db.clear(), 'BROWSERDB_CLOSED', Error)
  await rejectsCode(() => db.clear({ gt: 5 }), 'BROWSERDB_CLOSED', Error)
})
