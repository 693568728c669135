'use strict'
// all() keeps every entry it makes, so the entries of a large all() survive young-generation
// GCs; V8 then pretenures their allocation site (allocates there straight in the old
// generation, for good), which made every later next()/nextv() scan ~3x slower. So all() makes
// its entries at their own site (index.js keptPair, indexes/attach.js keptEntry, and level.js's
// _all goes through the inner all()). Checked without timing: after a kept 50k-entry all(), the
// entries of a new iterator's nextv() are still allocated young. A control run (nextv(Infinity),
// which shares the site) shows the check can see pretenuring; if it cannot on this V8, the
// checks are skipped. The behaviour of all() and of reads after it is checked as well.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { BrowserDB } = require('..')
const { BrowserLevel } = require('../level.js')
const { FIXTURES, tmpDir, openDb } = require('./helpers')

const T = { timeout: 60000 }

/** Opens like BrowserDB.open, so the helpers close it after the test (before removing its directory). */
const Opener = {
  async open (location, options) {
    const db = new BrowserLevel(location, options)
    await db.open()
    return db
  }
}

/** Entries of the last 10 of 20 nextv(1000) pages in the young generation (pretenure-child.js). */
function youngAfter (t, mode, withoutAll) {
  const out = execFileSync(process.execPath, [
    '--allow-natives-syntax', '--expose-gc', '--single-threaded', '--min-semi-space-size=8', '--max-semi-space-size=8',
    path.join(FIXTURES, 'pretenure-child.js'), tmpDir(t), mode, withoutAll ? 'without-all' : 'with-all',
  ], { encoding: 'utf8' })
  const result = JSON.parse(out.trim().split('\n').pop())
  assert.equal(result.kept, withoutAll ? 0 : 50000, `${mode}: the kept result`)
  assert.equal(result.total, 10000, `${mode}: the entries read after it`)
  t.diagnostic(`${mode}${withoutAll ? ' without all()' : ''}: ${result.young} of ${result.total} later entries young`)
  return result.young
}

test('after a large kept all(), level and index iterators still allocate nextv() entries young', T, async (t) => {
  // The check can see pretenuring only if the shared site of nextv(Infinity) gets pretenured,
  // and means something only if the entries are young without any all().
  if (youngAfter(t, 'control', false) !== 0) return t.skip('this V8 did not pretenure the shared site of the control run')
  for (const mode of ['level', 'index']) {
    if (youngAfter(t, mode, true) === 0) return t.skip(`${mode}: entries are pretenured even without all() on this V8`)
  }
  assert.ok(youngAfter(t, 'level', false) > 0, 'BrowserLevel all() made V8 pretenure the pairs of later nextv() calls')
  assert.ok(youngAfter(t, 'index', false) > 0, 'index iterator all() made V8 pretenure the entries of later nextv() calls')
})

test('BrowserLevel: all() returns every entry, closes the inner iterator; next()/nextv() after it read right', T, async (t) => {
  const db = await openDb(t, Opener, path.join(tmpDir(t), 'db'))
  const entries = Array.from({ length: 3000 }, (_, i) => ['k' + String(i).padStart(5, '0'), 'v' + i])
  await db.batch(entries.map(([key, value]) => ({ type: 'put', key, value })))
  const it = db.iterator({ gte: 'k00010' })
  assert.deepEqual(await it.next(), entries[10])
  assert.deepEqual(await it.nextv(2), entries.slice(11, 13))
  assert.deepEqual(await it.all(), entries.slice(13), 'all() returns the rest')
  assert.equal(db.browserdb.stats().liveIterators, 0, 'all() closed the inner iterator')
  assert.deepEqual(await db.iterator({ limit: 5, reverse: true }).all(), entries.slice(-5).reverse())
  assert.deepEqual(await db.keys({ lt: 'k00003' }).all(), ['k00000', 'k00001', 'k00002'])
  assert.deepEqual(await db.values({ gt: 'k02997' }).all(), ['v2998', 'v2999'])
  assert.deepEqual(await db.iterator({ keys: false, lt: 'k00002' }).all(), [[undefined, 'v0'], [undefined, 'v1']])
  // Reads after a large all(): nextv() and next() pages.
  const later = db.iterator()
  assert.deepEqual(await later.nextv(1000), entries.slice(0, 1000))
  assert.deepEqual(await later.next(), entries[1000])
  assert.deepEqual(await later.nextv(5000), entries.slice(1001))
  assert.deepEqual(await later.nextv(10), [])
  await later.close()
  assert.equal(db.browserdb.stats().liveIterators, 0)
})

test('index iterator: all() returns every entry after next()/nextv(); reads after it are right', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { valueEncoding: 'json' })
  await db.createIndex('byN', { prefix: 'u:', field: 'n' })
  // Indexed values in the reverse order of the keys.
  const N = 3000
  await db.batch(Array.from({ length: N }, (_, i) => ({ type: 'put', key: 'u:' + String(i).padStart(5, '0'), value: { n: N - i } })))
  const expected = Array.from({ length: N }, (_, j) => {
    const i = N - 1 - j
    return [N - i, 'u:' + String(i).padStart(5, '0'), { n: N - i }]
  })
  const index = db.index('byN')
  const it = index.iterator()
  assert.deepEqual(await it.next(), expected[0])
  assert.deepEqual(await it.nextv(2), expected.slice(1, 3))
  assert.deepEqual(await it.all(), expected.slice(3), 'all() returns the rest')
  assert.equal(db.stats().liveIterators, 0, 'all() closed the iterator')
  assert.deepEqual(await index.iterator({ gt: 10, lte: 12 }).all(), expected.slice(10, 12))
  assert.deepEqual(await index.iterator({ reverse: true, limit: 2 }).all(), expected.slice(-2).reverse())
  assert.deepEqual(await index.keys({ lte: 2 }).all(), [expected[0][1], expected[1][1]])
  assert.deepEqual(await index.iterator({ valueEncoding: 'utf8', lte: 1 }).all(), [[1, expected[0][1], JSON.stringify({ n: 1 })]])
  const later = index.iterator()
  assert.deepEqual(await later.nextv(1000), expected.slice(0, 1000))
  assert.deepEqual(await later.next(), expected[1000])
  const rest = []
  for await (const entry of later) rest.push(entry)
  assert.deepEqual(rest, expected.slice(1001))
})
