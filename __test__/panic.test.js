'use strict'
// A Rust panic must never take down the Node process: in a pool task it becomes a rejected
// promise, in a sync call a thrown error, both with code BROWSERDB_INTERNAL.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const { BrowserDB } = require('..')
const native = require(path.join(__dirname, '..', 'browserdb.node'))
const { tmpDir, openDb } = require('./helpers')

test('a panic in a pool task rejects with BROWSERDB_INTERNAL and the process lives on', async (t) => {
  await assert.rejects(native.__testPanicAsync(), (err) => err instanceof Error && err.code === 'BROWSERDB_INTERNAL')
  // Twice, and the database still works afterwards.
  await assert.rejects(native.__testPanicAsync(), (err) => err.code === 'BROWSERDB_INTERNAL')
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('after', 'panic')
  assert.equal(await db.get('after'), 'panic')
})

test('a panic in a sync call throws BROWSERDB_INTERNAL', () => {
  assert.throws(() => native.__testPanicSync(), (err) => err instanceof Error && err.code === 'BROWSERDB_INTERNAL')
})
