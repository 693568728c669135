'use strict'
// The point reads without a snapshot are called straight through N-API (src/node/point_read.rs):
// `pointReads()` gives `getFast(handle, key, asString)` and `getSync(handle, key, asString)`.
// They read through a handle only if this thread made it and it is still alive, and every
// failure is a thrown error with a code.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const v8 = require('node:v8')
const vm = require('node:vm')

const { BrowserDB } = require('..')
const { native } = require('../loader.js').loadNative()
const { tmpDir, openDb } = require('./helpers')

const { getFast, getSync } = native.pointReads()

const throwsWithCode = (fn, code) => assert.throws(fn, (err) => err instanceof Error && err.code === code)

test('a live handle reads its database: values, absent keys, bytes or strings', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('k', 'value')
  await db.put(Buffer.from([0, 1]), Buffer.from([2, 3]), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const handle = db._native.handle()
  assert.equal(getSync(handle, 'k', true), 'value')
  assert.equal(getFast(handle, 'k', true), 'value')
  assert.deepEqual(Buffer.from(getSync(handle, 'k', false)), Buffer.from('value'))
  assert.deepEqual(Buffer.from(getSync(handle, new Uint8Array([0, 1]), false)), Buffer.from([2, 3]))
  assert.equal(getSync(handle, 'missing', true), undefined)
  assert.equal(getFast(handle, 'missing', true), undefined)
})

test('what is not a live handle of this thread is refused with a code, and reads go on', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('k', 'v')
  for (const notHandle of [{}, [], 1, 'handle', null, undefined, () => {}, db, db._native]) {
    throwsWithCode(() => getSync(notHandle, 'k', true), 'BROWSERDB_INTERNAL')
    throwsWithCode(() => getFast(notHandle, 'k', true), 'BROWSERDB_INTERNAL')
  }
  assert.equal(db.getSync('k'), 'v')
  assert.equal(await db.get('k'), 'v')
})

test('bad keys, a missing asString and too few arguments are BROWSERDB_INVALID_ARGUMENT', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const handle = db._native.handle()
  for (const key of [1, {}, null, undefined, true]) {
    throwsWithCode(() => getSync(handle, key, true), 'BROWSERDB_INVALID_ARGUMENT')
    throwsWithCode(() => getFast(handle, key, true), 'BROWSERDB_INVALID_ARGUMENT')
  }
  throwsWithCode(() => getSync(handle, 'k', 'yes'), 'BROWSERDB_INVALID_ARGUMENT')
  throwsWithCode(() => getSync(handle, 'k'), 'BROWSERDB_INVALID_ARGUMENT')
  throwsWithCode(() => getFast(handle), 'BROWSERDB_INVALID_ARGUMENT')
  throwsWithCode(() => getSync(handle, '', true), 'BROWSERDB_INVALID_ARGUMENT')
})

test('the handle of a closed database answers BROWSERDB_CLOSED', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('k', 'v')
  const handle = db._native.handle()
  await db.close()
  throwsWithCode(() => getSync(handle, 'k', true), 'BROWSERDB_CLOSED')
  throwsWithCode(() => getFast(handle, 'k', true), 'BROWSERDB_CLOSED')
})

test('handles collected by the GC are freed; the handles still held keep reading their own databases', async (t) => {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  const one = await openDb(t, BrowserDB, tmpDir(t))
  const two = await openDb(t, BrowserDB, tmpDir(t))
  await one.put('k', 'one')
  await two.put('k', 'two')
  const kept = two._native.handle()
  for (let i = 0; i < 2000; i++) one._native.handle()
  gc()
  await new Promise((resolve) => setImmediate(resolve)) // finalizers may be deferred a tick
  gc()
  assert.equal(getSync(kept, 'k', true), 'two')
  assert.equal(one.getSync('k'), 'one')
  assert.equal(await one.get('k'), 'one')
  assert.equal(two.getSync('k'), 'two')
})
