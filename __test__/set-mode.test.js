'use strict'
// setMode: persistent <-> ultra, atomic with concurrent calls, rolled back on failure with
// BROWSERDB_MODE_SWITCH_FAILED carrying the cause.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { BrowserDB } = require('..')
const { tmpDir, spawnFixture, killAfter } = require('./helpers')

async function fill (db, n, prefix = 'k') {
  const ops = []
  for (let i = 0; i < n; i++) ops.push({ type: 'put', key: `${prefix}${String(i).padStart(5, '0')}`, value: `v${i}` })
  await db.batch(ops)
}

function listing (dir) {
  return fs.readdirSync(dir).sort().map((name) => [name, fs.statSync(path.join(dir, name)).size])
}

test('persistent -> ultra keeps every key and writes nothing more to disk', async (t) => {
  const location = path.join(tmpDir(t), 'db')
  const db = await BrowserDB.open(location)
  await fill(db, 2000)
  await db.put('ttl', 'x', { ttl: 60 * 60 * 1000 })
  await db.setMode('ultra')
  assert.equal(db.mode, 'ultra')
  const before = listing(location)
  assert.equal(await db.get('k01999'), 'v1999')
  assert.equal(await db.get('ttl'), 'x')
  await fill(db, 3000, 'new')
  await db.del('k00000')
  await db.compact()
  assert.deepEqual(listing(location), before, 'the directory changed after the switch to ultra')
  assert.equal(await db.get('new02999'), 'v2999')
  assert.equal(await db.get('k00000'), undefined)
  // The directory stays locked until close.
  await assert.rejects(BrowserDB.open(location), (e) => e.code === 'BROWSERDB_LOCKED')
  await db.close()
  const reopened = await BrowserDB.open(location)
  assert.equal(await reopened.get('k00000'), 'v0', 'ultra-mode writes never reached the disk')
  assert.equal(await reopened.get('new00001'), undefined)
  await reopened.close()
})

test('ultra -> persistent writes everything durably before resolving', async (t) => {
  const base = tmpDir(t)
  const db = await BrowserDB.open(path.join(base, 'u'), { mode: 'ultra' })
  await fill(db, 3000)
  await db.put('session', 'token', { ttl: 60 * 60 * 1000 })
  const location = path.join(base, 'saved')
  await db.setMode('persistent', { location })
  assert.equal(db.mode, 'persistent')
  assert.equal(db.location, location)
  await db.put('after', 'switch')
  await db.close()
  const reopened = await BrowserDB.open(location)
  assert.equal(await reopened.get('k02999'), 'v2999')
  assert.equal(await reopened.get('session'), 'token')
  assert.equal(await reopened.get('after'), 'switch')
  assert.equal((await reopened.keys().all()).length, 3002)
  await reopened.close()
})

test('a round trip persistent -> ultra -> persistent returns to the same directory', async (t) => {
  const location = path.join(tmpDir(t), 'db')
  const db = await BrowserDB.open(location)
  await fill(db, 500)
  await db.setMode('ultra')
  await db.del('k00001')
  await db.put('ultra-only', 'yes')
  await db.setMode('persistent')
  assert.equal(db.location, location)
  await db.close()
  const reopened = await BrowserDB.open(location)
  assert.equal(await reopened.get('k00001'), undefined)
  assert.equal(await reopened.get('ultra-only'), 'yes')
  assert.equal((await reopened.keys().all()).length, 500)
  await reopened.close()
})

test('calls made during a switch land entirely after it; none is lost', async (t) => {
  const base = tmpDir(t)
  const db = await BrowserDB.open(path.join(base, 'u'), { mode: 'ultra' })
  await fill(db, 2000)
  const writes = []
  for (let i = 0; i < 500; i++) writes.push(db.put(`during${i}`, String(i)))
  const switched = db.setMode('persistent', { location: path.join(base, 'p') })
  for (let i = 500; i < 1000; i++) writes.push(db.put(`during${i}`, String(i)))
  const read = db.get('k00042') // issued during the switch, answered after it
  await Promise.all([switched, ...writes])
  assert.equal(await read, 'v42')
  assert.equal(db.mode, 'persistent')
  for (let i = 0; i < 1000; i += 37) assert.equal(await db.get(`during${i}`), String(i))
  await db.close()
  const reopened = await BrowserDB.open(path.join(base, 'p'))
  assert.equal((await reopened.keys({ prefix: 'during' }).all()).length, 1000)
  await reopened.close()
})

test('a switch that fails leaves the database as it was', async (t) => {
  const base = tmpDir(t)
  // LOCK held by another process: MODE_SWITCH_FAILED with cause LOCKED.
  const held = path.join(base, 'held')
  const holder = spawnFixture('hold-open.js', [held], { stdin: 'pipe' })
  killAfter(t, holder.child)
  await holder.waitForLine('ready')
  const db = await BrowserDB.open(path.join(base, 'u'), { mode: 'ultra' })
  await fill(db, 1000)
  await assert.rejects(db.setMode('persistent', { location: held }), (e) => e.code === 'BROWSERDB_MODE_SWITCH_FAILED' && e.cause && e.cause.code === 'BROWSERDB_LOCKED')
  assert.equal(db.mode, 'ultra')
  assert.equal((await db.keys().all()).length, 1000)
  // Over maxMemory: persistent -> ultra fails with cause FULL and stays persistent.
  const location = path.join(base, 'p')
  const p = await BrowserDB.open(location)
  await fill(p, 3000)
  await assert.rejects(p.setMode('ultra', { maxMemory: 64 * 1024 }), (e) => e.code === 'BROWSERDB_MODE_SWITCH_FAILED' && e.cause.code === 'BROWSERDB_FULL')
  assert.equal(p.mode, 'persistent')
  await p.put('still', 'persistent')
  await p.close()
  const reopened = await BrowserDB.open(location)
  assert.equal((await reopened.keys().all()).length, 3001)
  await reopened.close()
  await db.close()
})

test('bad setMode calls', async (t) => {
  const db = await BrowserDB.open(path.join(tmpDir(t), 'db'))
  await assert.rejects(db.setMode('ram'), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT' && e instanceof RangeError)
  await assert.rejects(db.setMode('ultra', { location: '/x' }), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT')
  await assert.rejects(db.setMode('persistent', { maxMemory: 1 << 20 }), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT')
  await assert.rejects(db.setMode('persistent', { location: 5 }), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT' && e instanceof TypeError)
  await db.setMode('persistent') // already persistent: nothing to do
  await db.close()
  await assert.rejects(db.setMode('ultra'), (e) => e.code === 'BROWSERDB_CLOSED')
})
