'use strict'
// Data survives close and reopen, across many memtable flushes, and across a process that
// exits without closing.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')

const { BrowserDB } = require('..')
const { tmpDir, openDb, spawnFixture, killAfter } = require('./helpers')
const { keyFor, valueFor, exitModel } = require('./helpers/data')

const SMALL_BUFFER = { writeBufferSize: 64 * 1024 }

/** Check that `db` holds exactly `model` (a Map key → value) among `allKeys`. */
async function verify(db, model, allKeys, label) {
  const chunk = 500
  let present = 0
  for (let i = 0; i < allKeys.length; i += chunk) {
    const keys = allKeys.slice(i, i + chunk)
    const values = await db.getMany(keys)
    for (let j = 0; j < keys.length; j++) {
      const want = model.get(keys[j])
      if (values[j] !== want) {
        assert.fail(`${label}: key ${keys[j]}: expected ${want === undefined ? 'absent' : JSON.stringify(want.slice(0, 40)) + '…'}, got ${values[j] === undefined ? 'absent' : JSON.stringify(String(values[j]).slice(0, 40)) + '…'}`)
      }
      if (want !== undefined) present++
    }
  }
  // Spot-check the other read paths on a sample.
  for (let i = 0; i < allKeys.length; i += 97) {
    const k = allKeys[i]
    assert.equal(await db.get(k), model.get(k), `${label}: get(${k})`)
    assert.equal(db.getSync(k), model.get(k), `${label}: getSync(${k})`)
    assert.equal(await db.has(k), model.has(k), `${label}: has(${k})`)
  }
  assert.equal(present, model.size, `${label}: number of present keys`)
}

test('10k keys across many flushes survive close and several reopens', { timeout: 60000 }, async (t) => {
  const location = path.join(tmpDir(t), 'many.bdb')
  const N = 10000
  const allKeys = []
  for (let i = 0; i < N + 1000; i++) allKeys.push(keyFor('k', i))
  const model = new Map()

  let db = await openDb(t, BrowserDB, location, SMALL_BUFFER)
  // 1. Keys 0..4999: single puts, 32 in flight.
  for (let i = 0; i < 5000; i += 32) {
    const ps = []
    for (let j = i; j < Math.min(i + 32, 5000); j++) {
      ps.push(db.put(keyFor('k', j), valueFor('k', j)))
      model.set(keyFor('k', j), valueFor('k', j))
    }
    await Promise.all(ps)
  }
  // 2. Keys 5000..9999: batches of 250, array and chained forms alternating.
  for (let b = 0; b < 20; b++) {
    const ops = []
    for (let j = 5000 + b * 250; j < 5000 + (b + 1) * 250; j++) {
      ops.push({ type: 'put', key: keyFor('k', j), value: valueFor('k', j) })
      model.set(keyFor('k', j), valueFor('k', j))
    }
    if (b % 2 === 0) await db.batch(ops)
    else {
      const chained = db.batch()
      for (const op of ops) chained.put(op.key, op.value)
      await chained.write()
    }
  }
  // 3. Overwrite every 7th key (the old versions are in older tables by now).
  for (let i = 0; i < N; i += 7 * 32) {
    const ps = []
    for (let j = i; j < Math.min(i + 7 * 32, N); j += 7) {
      ps.push(db.put(keyFor('k', j), valueFor('k', j, 1)))
      model.set(keyFor('k', j), valueFor('k', j, 1))
    }
    await Promise.all(ps)
  }
  // 4. Delete every 10th key: odd tens by del(), even tens in batches.
  const batchDels = []
  const singleDels = []
  for (let i = 0; i < N; i += 10) {
    model.delete(keyFor('k', i))
    if ((i / 10) % 2 === 0) batchDels.push({ type: 'del', key: keyFor('k', i) })
    else singleDels.push(keyFor('k', i))
  }
  for (let i = 0; i < singleDels.length; i += 50) await Promise.all(singleDels.slice(i, i + 50).map((k) => db.del(k)))
  for (let i = 0; i < batchDels.length; i += 100) await db.batch(batchDels.slice(i, i + 100))
  await verify(db, model, allKeys, 'before close')
  await db.close()

  const files = fs.readdirSync(location)
  assert.ok(files.some((f) => f.endsWith('.sst')), `expected table files after flushes, got ${files.join(', ')}`)

  // Reopen 1 (default options).
  db = await openDb(t, BrowserDB, location)
  await verify(db, model, allKeys, 'reopen 1')
  await db.close()

  // Reopen 2 with another compression setting; write more, overwrite, delete.
  db = await openDb(t, BrowserDB, location, { ...SMALL_BUFFER, compression: 'none' })
  await verify(db, model, allKeys, 'reopen 2')
  const more = []
  for (let j = N; j < N + 1000; j++) {
    more.push({ type: 'put', key: keyFor('k', j), value: valueFor('k', j, 2) })
    model.set(keyFor('k', j), valueFor('k', j, 2))
  }
  for (let i = 0; i < more.length; i += 200) await db.batch(more.slice(i, i + 200))
  for (let j = 3; j < N; j += 500) {
    await db.del(keyFor('k', j))
    model.delete(keyFor('k', j))
  }
  for (let j = 10; j < N; j += 1000) {
    // Re-create a key that was deleted in an older table.
    await db.put(keyFor('k', j), valueFor('k', j, 3))
    model.set(keyFor('k', j), valueFor('k', j, 3))
  }
  await db.close()

  // Reopen 3.
  db = await openDb(t, BrowserDB, location)
  await verify(db, model, allKeys, 'reopen 3')
  await db.close()
})

test('a delete hides an older value that already reached a table, across reopen', { timeout: 30000 }, async (t) => {
  const location = tmpDir(t)
  let db = await openDb(t, BrowserDB, location, SMALL_BUFFER)
  await db.put('victim', 'old value')
  await db.put('survivor', 'stays')
  const filler = 'f'.repeat(1000)
  // ~300 KB more: the memtable holding 'victim' is flushed.
  for (let i = 0; i < 300; i += 30) {
    await Promise.all(Array.from({ length: 30 }, (_, j) => db.put(keyFor('fill', i + j), filler)))
  }
  await db.del('victim')
  for (let i = 300; i < 600; i += 30) {
    await Promise.all(Array.from({ length: 30 }, (_, j) => db.put(keyFor('fill', i + j), filler)))
  }
  // The tombstone may be in a memtable or a newer table; every read path must honour it.
  assert.equal(await db.get('victim'), undefined)
  assert.equal(db.getSync('victim'), undefined)
  assert.equal(await db.has('victim'), false)
  assert.deepEqual(await db.getMany(['victim', 'survivor']), [undefined, 'stays'])
  await db.del('survivor')
  // Tombstone in the memtable, value in a table.
  assert.equal(await db.get('survivor'), undefined)
  assert.equal(db.getSync('survivor'), undefined)
  assert.equal(await db.has('survivor'), false)
  assert.deepEqual(await db.getMany(['survivor']), [undefined])
  await db.put('survivor', 'stays')
  await db.close()
  db = await openDb(t, BrowserDB, location, SMALL_BUFFER)
  assert.equal(await db.get('victim'), undefined)
  assert.equal(db.getSync('victim'), undefined)
  assert.equal(await db.has('victim'), false)
  assert.equal(await db.get('survivor'), 'stays')
  assert.equal(await db.get(keyFor('fill', 599)), filler)
  await db.close()
})

test('binary keys that are prefixes of one another, across flushes and reopen', { timeout: 30000 }, async (t) => {
  const location = tmpDir(t)
  const opts = { ...SMALL_BUFFER, keyEncoding: 'buffer', valueEncoding: 'buffer' }
  let db = await openDb(t, BrowserDB, location, opts)
  const model = new Map()
  const absent = []
  const put = async (k, v) => {
    await db.put(k, v)
    model.set(k.toString('hex'), v)
  }
  const stems = [Buffer.from('a'), Buffer.from([0x00]), Buffer.from([0xff]), Buffer.from('user:42')]
  for (let round = 0; round < 3; round++) {
    for (const stem of stems) {
      for (const tail of [[], [0x00], [0x00, 0x00], [0x01], [0xff], [0xff, 0xff], [0x61, 0x61]]) {
        const k = Buffer.concat([stem, Buffer.from(tail), Buffer.from([round])])
        await put(k, crypto.randomBytes(50 + round * 100))
        absent.push(Buffer.concat([k, Buffer.from([0x80])]))
      }
    }
    // Push the round's keys out of the memtable into a table.
    for (let i = 0; i < 100; i++) await put(Buffer.from(`filler:${round}:${i}`), crypto.randomBytes(1000))
  }
  const check = async (label) => {
    for (const [hex, v] of model) {
      const got = await db.get(Buffer.from(hex, 'hex'))
      assert.ok(got && got.equals(v), `${label}: key ${hex}`)
      assert.ok(db.getSync(Buffer.from(hex, 'hex')).equals(v), `${label}: getSync key ${hex}`)
    }
    const missing = await db.getMany(absent)
    missing.forEach((v, i) => assert.equal(v, undefined, `${label}: absent key ${absent[i].toString('hex')} was found`))
  }
  await check('before close')
  await db.close()
  db = await openDb(t, BrowserDB, location, opts)
  await check('after reopen')
  await db.close()
})

test('edge entries survive flushes and reopen: empty values, max-size keys, many versions', { timeout: 30000 }, async (t) => {
  const location = tmpDir(t)
  let db = await openDb(t, BrowserDB, location, SMALL_BUFFER)
  const maxKey = 'M'.repeat(65536)
  const maxKey2 = 'M'.repeat(65535) + 'N'
  await db.put('empty', '')
  await db.put(Buffer.from('empty-bin'), Buffer.alloc(0), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.put('x', 'one-byte key')
  await db.put(maxKey, 'max key 1')
  await db.put(maxKey2, 'max key 2')
  await db.put(Buffer.from([0xff, 0xfe, 0x00]), Buffer.from([0xc3, 0x28, 0x00, 0xff]), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  // 1000 versions of one key, spread over several tables.
  for (let v = 0; v < 1000; v += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, j) => db.put(keyFor('fill', v + j), 'f'.repeat(300))))
    await db.put('versioned', `version ${v + 49}`)
  }
  const check = async (label) => {
    assert.equal(await db.get('empty'), '', label)
    assert.equal(db.getSync('empty'), '', label)
    assert.equal(await db.has('empty'), true, label)
    const emptyBin = await db.get(Buffer.from('empty-bin'), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    assert.ok(Buffer.isBuffer(emptyBin) && emptyBin.length === 0, `${label}: empty buffer value`)
    assert.equal(await db.get('x'), 'one-byte key', label)
    assert.equal(await db.get(maxKey), 'max key 1', label)
    assert.equal(await db.get(maxKey2), 'max key 2', label)
    assert.equal(await db.get('M'.repeat(65535)), undefined, label)
    assert.deepEqual(
      [...(await db.get(Buffer.from([0xff, 0xfe, 0x00]), { keyEncoding: 'buffer', valueEncoding: 'buffer' }))],
      [0xc3, 0x28, 0x00, 0xff],
      label,
    )
    assert.equal(await db.get('versioned'), 'version 999', label)
    assert.equal(db.getSync('versioned'), 'version 999', label)
  }
  await check('before close')
  await db.close()
  db = await openDb(t, BrowserDB, location, SMALL_BUFFER)
  await check('after reopen')
  await db.close()
})

test('large values larger than the write buffer survive reopen', { timeout: 30000 }, async (t) => {
  const location = tmpDir(t)
  const values = []
  let db = await openDb(t, BrowserDB, location, { ...SMALL_BUFFER, valueEncoding: 'buffer' })
  for (let i = 0; i < 40; i++) {
    const v = crypto.randomBytes(100 * 1024 + i * 1024)
    values.push(v)
    await db.put(keyFor('big', i), v)
  }
  await db.close()
  db = await openDb(t, BrowserDB, location, { valueEncoding: 'buffer' })
  for (let i = 0; i < 40; i++) {
    const got = await db.get(keyFor('big', i))
    assert.ok(got && got.equals(values[i]), `value ${i} differs after reopen`)
  }
  await db.close()
})

test('an empty database survives close and reopen', { timeout: 30000 }, async (t) => {
  const location = tmpDir(t)
  let db = await openDb(t, BrowserDB, location)
  await db.close()
  db = await openDb(t, BrowserDB, location, { createIfMissing: false })
  assert.equal(await db.get('anything'), undefined)
  await db.put('now', 'something')
  await db.close()
  db = await openDb(t, BrowserDB, location)
  assert.equal(await db.get('now'), 'something')
  await db.close()
})

test('writes of a process that exits without close() survive (twice in a row)', { timeout: 60000 }, async (t) => {
  const location = path.join(tmpDir(t), 'exit.bdb')
  const allKeys = Array.from({ length: 2600 }, (_, i) => keyFor('nc', i))

  const first = spawnFixture('write-then-exit.js', [location, '1'])
  killAfter(t, first.child)
  await first.waitForLine('done', 40000)
  const r1 = await first.exited
  assert.equal(r1.code, 0, `child 1 failed: ${first.stderr}`)

  // A second process replays the first one's log, writes more, and also exits without close.
  const second = spawnFixture('write-then-exit.js', [location, '2'])
  killAfter(t, second.child)
  await second.waitForLine('done', 40000)
  const r2 = await second.exited
  assert.equal(r2.code, 0, `child 2 failed: ${second.stderr}`)

  const db = await openDb(t, BrowserDB, location)
  await verify(db, exitModel(2), allKeys, 'after two exits without close')
  await db.close()
  // And once more after a clean close.
  const again = await openDb(t, BrowserDB, location)
  await verify(again, exitModel(2), allKeys, 'after clean reopen')
  await again.close()
})
