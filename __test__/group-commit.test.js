'use strict'
// Writes issued in one JS tick are committed by one native task: one WAL write, and one
// fdatasync when any of them asked for sync. Each of them still resolves, and reads back.
const { test } = require('node:test')
const assert = require('node:assert/strict')

const { BrowserDB } = require('..')
const { tmpDir, openDb } = require('./helpers')

test('puts, dels and batches of one tick share one WAL write', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('warm', 'up')
  const before = db.stats()
  const writes = []
  for (let i = 0; i < 100; i++) writes.push(db.put('k' + i, 'v' + i))
  writes.push(db.del('k3'))
  writes.push(db.batch([{ type: 'put', key: 'b1', value: '1' }, { type: 'del', key: 'k4' }]))
  await Promise.all(writes)
  const after = db.stats()
  assert.equal(after.walWrites - before.walWrites, 1)
  assert.equal(after.walSyncs - before.walSyncs, 0)
  assert.equal(after.lastSequence - before.lastSequence, 103)
  assert.equal(await db.get('k99'), 'v99')
  assert.equal(await db.get('k3'), undefined)
  assert.equal(await db.get('k4'), undefined)
  assert.equal(await db.get('b1'), '1')
})

test('one synced write in a tick makes the tick one fdatasync', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const before = db.stats()
  const writes = []
  for (let i = 0; i < 50; i++) writes.push(db.put('k' + i, 'v', { sync: i === 25 }))
  await Promise.all(writes)
  const after = db.stats()
  assert.equal(after.walWrites - before.walWrites, 1)
  assert.equal(after.walSyncs - before.walSyncs, 1)
})

test('writes awaited one at a time are committed one by one', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const before = db.stats()
  for (let i = 0; i < 10; i++) await db.put('k' + i, 'v', { sync: true })
  const after = db.stats()
  assert.equal(after.walWrites - before.walWrites, 10)
  assert.equal(after.walSyncs - before.walSyncs, 10)
})
