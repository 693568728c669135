'use strict'
// Ultra mode: RAM only. No file or directory is created or written and no lock is taken;
// the whole API works the same; maxMemory bounds it and a write past it fails with
// BROWSERDB_FULL and changes nothing.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { BrowserDB } = require('..')
const { tmpDir } = require('./helpers')

test('ultra mode touches no file and takes no lock', async (t) => {
  const location = path.join(tmpDir(t), 'never-created')
  const db = await BrowserDB.open(location, { mode: 'ultra' })
  const second = await BrowserDB.open(location, { mode: 'ultra' }) // no lock: an independent database
  assert.equal(db.mode, 'ultra')
  for (let b = 0; b < 20; b++) {
    const ops = []
    for (let i = 0; i < 1000; i++) ops.push({ type: 'put', key: `k${b}:${i}`, value: 'v'.repeat(120) })
    await db.batch(ops, { sync: true })
  }
  await db.compact()
  await second.put('other', 'db')
  assert.equal(fs.existsSync(location), false, 'a directory was created')
  assert.equal(await db.get('other'), undefined)
  await db.close()
  await second.close()
  assert.equal(fs.existsSync(location), false)
})

test('the whole API works in ultra mode', async (t) => {
  const db = await BrowserDB.open(path.join(tmpDir(t), 'u'), { mode: 'ultra', valueEncoding: 'json' })
  await db.put('a', { n: 1 })
  await db.batch([{ type: 'put', key: 'b', value: [2] }, { type: 'put', key: 'c', value: 'three' }])
  await db.batch().put('d', null).del('c').write()
  assert.deepEqual(await db.get('a'), { n: 1 })
  assert.deepEqual(db.getSync('b'), [2])
  assert.deepEqual(await db.getMany(['a', 'c', 'd']), [{ n: 1 }, undefined, null])
  assert.equal(await db.has('c'), false)
  const snapshot = db.snapshot()
  await db.put('a', { n: 2 })
  assert.deepEqual(await db.get('a', { snapshot }), { n: 1 })
  assert.deepEqual(await db.iterator({ snapshot }).all(), [['a', { n: 1 }], ['b', [2]], ['d', null]])
  await snapshot.close()
  assert.deepEqual(await db.keys({ reverse: true, limit: 2 }).all(), ['d', 'b'])
  await db.put('tmp', 1, { ttl: 100 })
  await new Promise((resolve) => setTimeout(resolve, 150))
  assert.equal(await db.get('tmp'), undefined)
  await db.clear({ gte: 'b' })
  assert.deepEqual(await db.keys().all(), ['a'])
  assert.equal(typeof db.stats().memoryBytes, 'number')
  await db.close()
  await assert.rejects(db.get('a'), (e) => e.code === 'BROWSERDB_CLOSED')
})

test('maxMemory: a write past it fails with BROWSERDB_FULL and changes nothing', async (t) => {
  const db = await BrowserDB.open(path.join(tmpDir(t), 'u'), { mode: 'ultra', maxMemory: 256 * 1024 })
  let n = 0
  let error
  for (;;) {
    try {
      await db.batch([{ type: 'put', key: `k${n}:a`, value: 'x'.repeat(200) }, { type: 'put', key: `k${n}:b`, value: 'y'.repeat(200) }])
      n++
    } catch (err) {
      error = err
      break
    }
    assert.ok(n < 10000, 'maxMemory never refused a write')
  }
  assert.equal(error.code, 'BROWSERDB_FULL')
  assert.ok(db.stats().memoryBytes <= 256 * 1024)
  assert.equal(await db.get(`k${n}:a`), undefined, 'the refused batch left nothing')
  assert.equal(await db.get(`k${n - 1}:b`), 'y'.repeat(200))
  await db.close()
})

test('bad ultra options', async (t) => {
  const base = tmpDir(t)
  for (const [options, Class] of [
    [{ mode: 'ultra', maxMemory: -1 }, RangeError],
    [{ mode: 'ultra', maxMemory: 1.5 }, TypeError],
    [{ mode: 'ultra', maxMemory: '1MB' }, TypeError],
    [{ maxMemory: 1 << 20 }, RangeError],
    [{ mode: 'RAM' }, RangeError],
  ]) {
    await assert.rejects(BrowserDB.open(path.join(base, 'x'), options), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT' && e instanceof Class, JSON.stringify(options))
  }
  assert.equal(fs.existsSync(path.join(base, 'x')), false)
})
