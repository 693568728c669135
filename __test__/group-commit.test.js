'use strict'
// Writes issued in one JS tick are committed by one native task: one WAL write, and one
// fdatasync when any of them asked for sync. Each of them still resolves, and reads back.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')

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

// In-place commits (docs/design.md "In-place commits"): on Linux a write without `sync` is
// committed on the JS thread by a copy into the WAL's prepared memory, with no pool hop.
// The file systems whose WAL is mapped (ext4, XFS, tmpfs), by `statfs` type.
const MAPPED_WAL_FILE_SYSTEMS = new Set([0xEF53, 0x58465342, 0x01021994])

test('awaited writes without sync commit in place; synced ones go to the pool', async (t) => {
  const dir = tmpDir(t)
  const fsType = process.platform === 'linux' && typeof fs.statfsSync === 'function' ? fs.statfsSync(dir).type : undefined
  if (!MAPPED_WAL_FILE_SYSTEMS.has(fsType)) {
    t.skip(`no in-place commits here (${process.platform}, file system type ${fsType})`)
    return
  }
  // Preparing the WAL's pages needs MADV_POPULATE_WRITE (Linux 5.14); older kernels keep a plain WAL.
  const [major, minor] = os.release().split('.').map((part) => parseInt(part, 10))
  if (major < 5 || (major === 5 && minor < 14)) {
    t.skip(`no in-place commits on Linux ${os.release()} (before 5.14)`)
    return
  }
  const db = await openDb(t, BrowserDB, dir)
  await db.put('warm', 'up')
  const before = db.stats()
  for (let i = 0; i < 200; i++) await db.put('k' + i, 'v' + i)
  await db.put('synced', 'yes', { sync: true })
  const after = db.stats()
  assert.equal(after.walWrites - before.walWrites, 201)
  assert.ok(after.walInMemoryWrites - before.walInMemoryWrites >= 190, `in place: ${after.walInMemoryWrites - before.walInMemoryWrites} of 200`)
  assert.equal(after.walSyncs - before.walSyncs, 1)
  assert.equal(db.getSync('k199'), 'v199')
  assert.equal(await db.get('synced'), 'yes')
})

test('a later tick\'s write never lands before an earlier tick\'s write still on the pool', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('warm', 'up')
  for (let round = 0; round < 200; round++) {
    const key = 'order' + round
    // The synced write goes to the pool (an fdatasync); the next tick's write could commit
    // in place at once, and must wait its turn instead.
    const first = db.put(key, 'first', { sync: true })
    // Past the first tick's commit (a microtask), so the second write is a tick of its own.
    await null
    await null
    const second = db.put(key, 'second')
    await Promise.all([first, second])
    assert.equal(await db.get(key), 'second', `round ${round}`)
  }
})
