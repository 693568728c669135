'use strict'
// Per-key TTL in persistent mode: an expired key is invisible at once to get, getSync, has,
// getMany and iterators; the expiry is stored, so it holds across restarts; bad ttls are
// rejected before anything is written.
const { test } = require('node:test')
const assert = require('node:assert/strict')

const { BrowserDB } = require('..')
const { tmpDir, openDb } = require('./helpers')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
// Short ttls must outlive the work a test does before it checks a key is still there (a close,
// a reopen, a compaction: fsyncs on a loaded CI disk), so they are 1.5 s, not a few hundred ms.
const TTL = 1500

test('a key put with a ttl disappears when it expires, everywhere', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('session:1', 'token', { ttl: TTL })
  await db.batch([{ type: 'put', key: 'session:2', value: 'b', ttl: TTL }, { type: 'put', key: 'keep', value: 'k' }])
  await db.batch().put('session:3', 'c', { ttl: TTL }).put('also', 'kept').write()
  assert.equal(await db.get('session:1'), 'token')
  assert.equal(db.getSync('session:2'), 'b')
  assert.deepEqual(await db.keys().all(), ['also', 'keep', 'session:1', 'session:2', 'session:3'])
  await sleep(TTL + 100)
  for (const k of ['session:1', 'session:2', 'session:3']) {
    assert.equal(await db.get(k), undefined, k)
    assert.equal(db.getSync(k), undefined, k)
    assert.equal(await db.has(k), false, k)
  }
  assert.deepEqual(await db.getMany(['session:1', 'keep']), [undefined, 'k'])
  assert.deepEqual(await db.keys().all(), ['also', 'keep'])
  assert.deepEqual(await db.keys({ reverse: true }).all(), ['keep', 'also'])
})

test('the expiry is stored: it holds across close and reopen, and compaction reclaims it', async (t) => {
  const location = tmpDir(t)
  let db = await BrowserDB.open(location)
  await db.put('short', 'x', { ttl: TTL })
  await db.put('long', 'y', { ttl: 60 * 60 * 1000 })
  await db.close()
  db = await openDb(t, BrowserDB, location)
  assert.equal(await db.get('short'), 'x')
  await sleep(TTL + 100)
  assert.equal(await db.get('short'), undefined)
  assert.equal(await db.get('long'), 'y')
  await db.compact()
  assert.deepEqual(await db.keys().all(), ['long'])
  assert.equal(db.stats().tableEntries, 1, 'the expired entry is gone from the tables')
})

test('expired history leaves the disk at the next write, with no compact() and no flush', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const title = (i) => `page ${i} ` + 'abcdefghijklmnopqrstuvwxyz'.repeat(4)
  await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put', key: `bookmark:${i}`, value: title(i) })))
  const visits = Array.from({ length: 3000 }, (_, i) => ({ type: 'put', key: `visit:${String(i).padStart(5, '0')}`, value: title(i), ttl: 3000 }))
  await db.batch(visits)
  await db.compact()
  const before = db.stats()
  assert.equal(before.tableEntries, 3100, 'nothing expired yet (the ttl leaves the compaction 3 s)')
  await sleep(3100)
  // One small write: no flush is due, yet the expired visits' table is rewritten without them.
  await db.put('settings:theme', 'dark')
  const started = Date.now()
  // Both: the version is swapped before the compaction is counted.
  const done = () => { const st = db.stats(); return st.tableEntries === 100 && st.compactions > before.compactions }
  while (!done() && Date.now() - started < 20000) await sleep(20)
  const after = db.stats()
  assert.equal(after.tableEntries, 100, 'only the bookmarks are left in the tables')
  assert.equal(after.flushes, before.flushes)
  assert.ok(after.compactions > before.compactions)
  assert.ok(after.diskBytes * 5 < before.diskBytes, `${after.diskBytes} of ${before.diskBytes} bytes`)
  assert.equal(await db.get('bookmark:7'), title(7))
  assert.equal(await db.get('visit:00007'), undefined)
})

test('an overwrite without ttl makes a key permanent again; a hot key still expires', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 65536 })
  await db.put('k', 'temp', { ttl: 200 })
  await db.put('k', 'perm')
  await db.put('hot', 'v', { ttl: TTL })
  await db.compact()
  for (let i = 0; i < 20; i++) assert.equal(await db.get('hot'), 'v')
  await sleep(TTL + 100)
  assert.equal(await db.get('k'), 'perm')
  assert.equal(await db.get('hot'), undefined, 'not served from the HOT cache after expiry')
})

test('bad ttls are rejected and nothing is written', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  for (const [ttl, Class] of [[0, RangeError], [-5, RangeError], [1.5, RangeError], [NaN, RangeError], [Infinity, RangeError], ['10', TypeError]]) {
    await assert.rejects(db.put('k', 'v', { ttl }), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT' && e instanceof Class, String(ttl))
    await assert.rejects(db.batch([{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'k', value: 'v', ttl }]),
      (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT', String(ttl))
  }
  await assert.rejects(db.batch([{ type: 'del', key: 'k', ttl: 10 }]), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT')
  await assert.rejects(db.del('k', { ttl: 10 }), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT')
  assert.throws(() => db.batch().put('k', 'v', { ttl: -1 }), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT')
  assert.deepEqual(await db.keys().all(), [])
})
