'use strict'
// Snapshots: db.snapshot() and the { snapshot } option of get, getSync, getMany, has and
// iterator. A snapshot never sees later puts, deletes, batches or clears, also after the
// memtable it read from was flushed; closed, foreign and fake snapshots are refused.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { pathToFileURL } = require('node:url')

const { BrowserDB, Snapshot, Iterator } = require('..')
const { ROOT, tmpDir, openDb, rejectsCode, throwsCode } = require('./helpers')
const { waitForFlushes } = require('./helpers/ordered')

const T = { timeout: 30000 }
const pad = (n) => String(n).padStart(5, '0')

test('db.snapshot() returns a Snapshot synchronously; close() is idempotent and returns a Promise', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const snap = db.snapshot()
  assert.ok(snap instanceof Snapshot)
  assert.equal(typeof snap.then, 'undefined', 'snapshot() is synchronous')
  const closing = snap.close()
  assert.ok(closing instanceof Promise)
  assert.equal(await closing, undefined)
  assert.equal(await snap.close(), undefined)
  const disposable = db.snapshot()
  assert.equal(typeof disposable[Symbol.asyncDispose], 'function')
  await disposable[Symbol.asyncDispose]()
  await rejectsCode(() => db.get('k', { snapshot: disposable }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  const esm = await import(pathToFileURL(path.join(ROOT, 'index.mjs')).href)
  assert.equal(esm.Snapshot, Snapshot)
})

test('a snapshot does not see later puts, overwrites, deletes, batches, chained batches or clears', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.batch([
    { type: 'put', key: 'a', value: '1' },
    { type: 'put', key: 'b', value: '2' },
    { type: 'put', key: 'c', value: '3' },
    { type: 'put', key: 'd', value: '4' },
    { type: 'put', key: 'e', value: '5' },
  ])
  const snapshot = db.snapshot()
  const before = [['a', '1'], ['b', '2'], ['c', '3'], ['d', '4'], ['e', '5']]

  await db.put('a', 'changed')
  await db.put('aa', 'new')
  await db.del('b')
  await db.batch([{ type: 'del', key: 'c' }, { type: 'put', key: 'f', value: 'new' }])
  await db.batch().put('d', 'chained').del('e').write()
  await db.clear({ gte: 'e' })
  await db.put('b', 'back')

  const opts = { snapshot }
  assert.equal(await db.get('a', opts), '1')
  assert.equal(await db.get('aa', opts), undefined)
  assert.equal(await db.get('b', opts), '2')
  assert.equal(await db.get('c', opts), '3')
  assert.equal(await db.get('d', opts), '4')
  assert.equal(await db.get('e', opts), '5')
  assert.equal(await db.get('f', opts), undefined)
  assert.equal(db.getSync('a', opts), '1')
  assert.equal(db.getSync('f', opts), undefined)
  assert.equal(db.getSync('c', opts), '3')
  assert.deepEqual(await db.getMany(['a', 'aa', 'b', 'c', 'd', 'e', 'f'], opts), ['1', undefined, '2', '3', '4', '5', undefined])
  assert.equal(await db.has('c', opts), true)
  assert.equal(await db.has('f', opts), false)
  assert.equal(await db.exists('aa', opts), false)
  assert.equal(await db.has(Buffer.from('b'), { snapshot, keyEncoding: 'buffer' }), true)
  assert.deepEqual(await db.iterator(opts).all(), before)
  assert.deepEqual(await db.keys({ snapshot, reverse: true }).all(), ['e', 'd', 'c', 'b', 'a'])
  assert.deepEqual(await db.values({ snapshot, gt: 'a', lt: 'e' }).all(), ['2', '3', '4'])
  assert.deepEqual(await db.range('b', 'd', opts).all(), [['b', '2'], ['c', '3']])
  assert.deepEqual(await db.prefix('a', opts).all(), [['a', '1']])
  // Per-call encodings work with a snapshot.
  assert.deepEqual(await db.get('a', { snapshot, valueEncoding: 'buffer' }), Buffer.from('1'))
  assert.deepEqual(await db.getMany([Buffer.from('b')], { snapshot, keyEncoding: 'buffer', valueEncoding: 'buffer' }), [Buffer.from('2')])

  // Without the snapshot: the current state.
  assert.deepEqual(await db.iterator().all(), [['a', 'changed'], ['aa', 'new'], ['b', 'back'], ['d', 'chained']])
  assert.equal(await db.get('e'), undefined)
  await snapshot.close()
})

test('snapshots taken at different times each keep their own view', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const snaps = []
  for (let gen = 0; gen < 5; gen++) {
    await db.put('counter', String(gen))
    if (gen % 2 === 0) await db.del('odd')
    else await db.put('odd', 'yes' + gen)
    await db.put('k' + gen, 'v' + gen)
    snaps.push(db.snapshot())
  }
  for (let gen = 0; gen < 5; gen++) {
    const snapshot = snaps[gen]
    assert.equal(await db.get('counter', { snapshot }), String(gen))
    assert.equal(db.getSync('odd', { snapshot }), gen % 2 === 0 ? undefined : 'yes' + gen)
    const expectedKeys = ['counter', ...Array.from({ length: gen + 1 }, (_, i) => 'k' + i)]
    if (gen % 2 === 1) expectedKeys.push('odd')
    assert.deepEqual(await db.keys({ snapshot }).all(), expectedKeys)
  }
  assert.equal(db.stats().liveSnapshots, 5)
  await Promise.all(snaps.map((s) => s.close()))
  assert.equal(db.stats().liveSnapshots, 0)
})

test('a snapshot keeps its view after its memtable is flushed and 3000 more writes land in tables', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536 })
  // Part of the data already in tables, part in the memtable, when the snapshot is taken.
  for (let start = 0; start < 2000; start += 200) {
    const ops = []
    for (let i = start; i < start + 200; i++) ops.push({ type: 'put', key: 's:' + pad(i), value: `old-${i}-`.padEnd(80, '.') })
    await db.batch(ops)
  }
  await waitForFlushes(db)
  await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'del', key: 's:' + pad(i * 20) })))
  assert.ok(db.stats().memtableBytes > 0)
  const expected = []
  for (let i = 0; i < 2000; i++) if (i % 20 !== 0) expected.push(['s:' + pad(i), `old-${i}-`.padEnd(80, '.')])
  const snapshot = db.snapshot()
  const flushes = db.stats().flushes

  // 3000 overwrites, new keys and deletes in many ticks: several flushes.
  for (let b = 0; b < 30; b++) {
    const ops = []
    for (let j = 0; j < 100; j++) {
      const n = (b * 100 + j) % 2000
      if (j % 3 === 0) ops.push({ type: 'del', key: 's:' + pad(n) })
      else if (j % 3 === 1) ops.push({ type: 'put', key: 's:' + pad(n), value: `new-${b}-${j}`.padEnd(80, '!') })
      else ops.push({ type: 'put', key: 's:' + pad(n) + 'x', value: `extra-${b}` })
    }
    await db.batch(ops)
  }
  await db.clear({ gte: 's:01000', lt: 's:01100' })
  await waitForFlushes(db)
  assert.ok(db.stats().flushes > flushes, 'the memtable the snapshot read from was flushed')

  assert.deepEqual(await db.iterator({ snapshot }).all(), expected)
  assert.deepEqual(await db.keys({ snapshot, reverse: true, limit: 3 }).all(), ['s:01999', 's:01998', 's:01997'])
  const probe = ['s:00000', 's:00001', 's:00020', 's:01050', 's:01999', 's:00002x']
  const want = probe.map((k) => {
    const hit = expected.find((e) => e[0] === k)
    return hit && hit[1]
  })
  assert.deepEqual(await db.getMany(probe, { snapshot }), want)
  assert.deepEqual(probe.map((k) => db.getSync(k, { snapshot })), want)
  for (let i = 0; i < probe.length; i++) assert.equal(await db.get(probe[i], { snapshot }), want[i])
  // The current state differs.
  assert.equal(await db.get('s:01050'), undefined)
  assert.match(await db.get('s:00002x'), /^extra-/)
  await snapshot.close()
})

test('an iterator created with a snapshot reads at the snapshot, also after the snapshot is closed', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('a', '1')
  await db.put('b', '2')
  const snapshot = db.snapshot()
  await db.put('c', '3')
  await db.del('a')
  const it = db.iterator({ snapshot })
  assert.ok(it instanceof Iterator)
  await snapshot.close()
  await db.put('d', '4')
  assert.deepEqual(await it.all(), [['a', '1'], ['b', '2']])
  // But no new iterator can use the closed snapshot.
  throwsCode(() => db.iterator({ snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
})

test('a closed snapshot is refused with a RangeError by get, getSync, getMany, has and iterator', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('a', '1')
  const snapshot = db.snapshot()
  await snapshot.close()
  await rejectsCode(() => db.get('a', { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  throwsCode(() => db.getSync('a', { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await rejectsCode(() => db.getMany(['a'], { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await rejectsCode(() => db.has('a', { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await rejectsCode(() => db.exists('a', { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  for (const method of ['iterator', 'keys', 'values']) {
    throwsCode(() => db[method]({ snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  }
  throwsCode(() => db.range('a', 'b', { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  throwsCode(() => db.prefix('a', { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
})

test('a snapshot of another database is a RangeError; a non-snapshot is a TypeError', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const other = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('a', '1')
  const foreign = other.snapshot()
  await rejectsCode(() => db.get('a', { snapshot: foreign }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  throwsCode(() => db.getSync('a', { snapshot: foreign }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await rejectsCode(() => db.getMany(['a'], { snapshot: foreign }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await rejectsCode(() => db.has('a', { snapshot: foreign }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  throwsCode(() => db.iterator({ snapshot: foreign }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await foreign.close()

  const fakes = [{}, 'snapshot', 1, true, { close() {} }, db, db.keys()]
  for (const snapshot of fakes) {
    await rejectsCode(() => db.get('a', { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
    throwsCode(() => db.getSync('a', { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
    await rejectsCode(() => db.getMany(['a'], { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
    await rejectsCode(() => db.has('a', { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
    throwsCode(() => db.iterator({ snapshot }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  }
  // null is not "no snapshot".
  await rejectsCode(() => db.get('a', { snapshot: null }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  // undefined is.
  assert.equal(await db.get('a', { snapshot: undefined }), '1')
  // The snapshot option is for reads only.
  const snapshot = db.snapshot()
  await rejectsCode(() => db.put('a', '2', { snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await rejectsCode(() => db.clear({ snapshot }), 'BROWSERDB_INVALID_ARGUMENT', RangeError)
  await snapshot.close()
  assert.equal(await db.get('a'), '1')
})

test('stats().liveSnapshots counts open snapshots; db.snapshot() after close throws BROWSERDB_CLOSED', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  assert.equal(db.stats().liveSnapshots, 0)
  const a = db.snapshot()
  const b = db.snapshot()
  assert.equal(db.stats().liveSnapshots, 2)
  await a.close()
  await a.close()
  assert.equal(db.stats().liveSnapshots, 1)
  await b.close()
  assert.equal(db.stats().liveSnapshots, 0)

  const open = db.snapshot()
  await db.put('k', 'v')
  await db.close()
  throwsCode(() => db.snapshot(), 'BROWSERDB_CLOSED', Error)
  // Reads with a snapshot after db.close(): BROWSERDB_CLOSED, not a crash.
  await rejectsCode(() => db.get('k', { snapshot: open }), 'BROWSERDB_CLOSED', Error)
  throwsCode(() => db.getSync('k', { snapshot: open }), 'BROWSERDB_CLOSED', Error)
  await rejectsCode(() => db.getMany(['k'], { snapshot: open }), 'BROWSERDB_CLOSED', Error)
  await rejectsCode(() => db.has('k', { snapshot: open }), 'BROWSERDB_CLOSED', Error)
  throwsCode(() => db.iterator({ snapshot: open }), 'BROWSERDB_CLOSED', Error)
  // Closing a snapshot after its database is closed is harmless.
  assert.equal(await open.close(), undefined)
})

test('a database with an open snapshot closes, and reopens with every write', T, async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location)
  await db.put('a', '1')
  const snapshot = db.snapshot()
  await db.put('a', '2')
  await db.put('b', '3')
  await db.close()
  await snapshot.close()
  const again = await openDb(t, BrowserDB, location)
  assert.deepEqual(await again.iterator().all(), [['a', '2'], ['b', '3']])
  assert.equal(again.stats().liveSnapshots, 0)
})
