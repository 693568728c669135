'use strict'
// Failures: bad input, bad options, not-supported-yet options, closed databases, locks,
// directories that are not databases. Asserts on err.code (and error class), never on text.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { BrowserDB } = require('..')
const { tmpDir, openDb, rejectsCode, throwsCode, checkError, snapshotDir, spawnFixture, killAfter } = require('./helpers')

const T = { timeout: 30000 }
const INVALID = 'BROWSERDB_INVALID_ARGUMENT'
const EITHER = [TypeError, RangeError]
const MiB = 1024 * 1024

// Values that are not strings and so are not valid utf8 keys or values.
const NOT_STRINGS = [
  ['number', 1],
  ['object', { a: 1 }],
  ['array', ['a']],
  ['Buffer', Buffer.from('a')],
  ['Uint8Array', new Uint8Array([97])],
  ['null', null],
  ['undefined', undefined],
  ['boolean', true],
  ['bigint', 1n],
  ['function', () => 'a'],
  ['symbol', Symbol('a')],
]

test('utf8: non-string keys are rejected with TypeError, not coerced', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  for (const [name, key] of NOT_STRINGS) {
    await t.test(`key ${name}`, async () => {
      await rejectsCode(() => db.put(key, 'v'), INVALID, TypeError)
      await rejectsCode(() => db.get(key), INVALID, TypeError)
      throwsCode(() => db.getSync(key), INVALID, TypeError)
      await rejectsCode(() => db.getMany([key]), INVALID, TypeError)
      await rejectsCode(() => db.getMany(['ok', key]), INVALID, TypeError)
      await rejectsCode(() => db.has(key), INVALID, TypeError)
      await rejectsCode(() => db.exists(key), INVALID, TypeError)
      await rejectsCode(() => db.del(key), INVALID, TypeError)
      await rejectsCode(() => db.delete(key), INVALID, TypeError)
      await rejectsCode(() => db.batch([{ type: 'put', key, value: 'v' }]), INVALID, TypeError)
      await rejectsCode(() => db.batch([{ type: 'del', key }]), INVALID, TypeError)
      throwsCode(() => db.batch().put(key, 'v'), INVALID, TypeError)
      throwsCode(() => db.batch().del(key), INVALID, TypeError)
    })
  }
  // Nothing was coerced and stored: '1', '[object Object]', 'a', 'null', 'undefined', 'true'.
  assert.deepEqual(
    await db.getMany(['1', '[object Object]', 'a', 'null', 'undefined', 'true', '97']),
    [undefined, undefined, undefined, undefined, undefined, undefined, undefined],
  )
  await db.close()
})

test('utf8: non-string values are rejected with TypeError, not coerced', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  for (const [name, value] of NOT_STRINGS) {
    await t.test(`value ${name}`, async () => {
      await rejectsCode(() => db.put('k', value), INVALID, TypeError)
      await rejectsCode(() => db.batch([{ type: 'put', key: 'k', value }]), INVALID, TypeError)
      throwsCode(() => db.batch().put('k', value), INVALID, TypeError)
    })
  }
  assert.equal(await db.get('k'), undefined)
  await db.close()
})

test('missing arguments are TypeErrors', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await rejectsCode(() => db.put(), INVALID, TypeError)
  await rejectsCode(() => db.put('k'), INVALID, TypeError)
  await rejectsCode(() => db.get(), INVALID, TypeError)
  throwsCode(() => db.getSync(), INVALID, TypeError)
  await rejectsCode(() => db.getMany(), INVALID, TypeError)
  await rejectsCode(() => db.has(), INVALID, TypeError)
  await rejectsCode(() => db.exists(), INVALID, TypeError)
  await rejectsCode(() => db.del(), INVALID, TypeError)
  await rejectsCode(() => db.delete(), INVALID, TypeError)
  throwsCode(() => db.batch().put(), INVALID, TypeError)
  throwsCode(() => db.batch().put('k'), INVALID, TypeError)
  throwsCode(() => db.batch().del(), INVALID, TypeError)
  assert.equal(await db.get('k'), undefined)
  await db.close()
})

test('getMany with a non-array is a TypeError', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await rejectsCode(() => db.getMany('abc'), INVALID, TypeError)
  await rejectsCode(() => db.getMany({ 0: 'a', length: 1 }), INVALID, TypeError)
  await rejectsCode(() => db.getMany(42), INVALID, TypeError)
  await db.close()
})

test('empty keys are RangeErrors', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await rejectsCode(() => db.put('', 'v'), INVALID, RangeError)
  await rejectsCode(() => db.get(''), INVALID, RangeError)
  throwsCode(() => db.getSync(''), INVALID, RangeError)
  await rejectsCode(() => db.getMany(['a', '']), INVALID, RangeError)
  await rejectsCode(() => db.has(''), INVALID, RangeError)
  await rejectsCode(() => db.del(''), INVALID, RangeError)
  await rejectsCode(() => db.batch([{ type: 'put', key: '', value: 'v' }]), INVALID, RangeError)
  await rejectsCode(() => db.batch([{ type: 'del', key: '' }]), INVALID, RangeError)
  throwsCode(() => db.batch().put('', 'v'), INVALID, RangeError)
  throwsCode(() => db.batch().del(''), INVALID, RangeError)
  await rejectsCode(() => db.put(Buffer.alloc(0), 'v', { keyEncoding: 'buffer' }), INVALID, RangeError)
  await rejectsCode(() => db.put(new Uint8Array(0), 'v', { keyEncoding: 'view' }), INVALID, RangeError)
  await db.close()
})

test('keys over 65536 bytes (after encoding) are RangeErrors', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const tooLong = 'k'.repeat(65537)
  await rejectsCode(() => db.put(tooLong, 'v'), INVALID, RangeError)
  await rejectsCode(() => db.get(tooLong), INVALID, RangeError)
  throwsCode(() => db.getSync(tooLong), INVALID, RangeError)
  await rejectsCode(() => db.has(tooLong), INVALID, RangeError)
  await rejectsCode(() => db.del(tooLong), INVALID, RangeError)
  throwsCode(() => db.batch().put(tooLong, 'v'), INVALID, RangeError)
  await rejectsCode(() => db.put(Buffer.alloc(65537, 1), 'v', { keyEncoding: 'buffer' }), INVALID, RangeError)
  // 32769 × 'é' is 32769 UTF-16 units but 65538 UTF-8 bytes: over the limit.
  const multiByte = 'é'.repeat(32769)
  assert.ok(multiByte.length < 65536)
  await rejectsCode(() => db.put(multiByte, 'v'), INVALID, RangeError)
  // 32768 × 'é' is exactly 65536 bytes: allowed.
  await db.put('é'.repeat(32768), 'v')
  assert.equal(await db.get('é'.repeat(32768)), 'v')
  // json keys are measured after JSON.stringify: 65535 chars + 2 quotes = 65537 bytes.
  await rejectsCode(() => db.put('q'.repeat(65535), 'v', { keyEncoding: 'json' }), INVALID, RangeError)
  await db.close()
})

test('values over 64 MiB are RangeErrors', { timeout: 60000 }, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const tooBig = Buffer.alloc(64 * MiB + 1)
  await rejectsCode(() => db.put('big', tooBig, { valueEncoding: 'buffer' }), INVALID, RangeError)
  await rejectsCode(() => db.batch([{ type: 'put', key: 'big', value: tooBig.toString('latin1') }]), INVALID, RangeError)
  assert.equal(await db.get('big'), undefined)
  await db.close()
})

test('a batch over 64 MiB in total is a RangeError and writes nothing', { timeout: 60000 }, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { valueEncoding: 'buffer' })
  const part = Buffer.alloc(33 * MiB, 1)
  await rejectsCode(
    () =>
      db.batch([
        { type: 'put', key: 'small', value: Buffer.from('x') },
        { type: 'put', key: 'p1', value: part },
        { type: 'put', key: 'p2', value: part },
      ]),
    INVALID,
    RangeError,
  )
  assert.deepEqual(await db.getMany(['small', 'p1', 'p2']), [undefined, undefined, undefined])

  // The same through a chained batch: either put() throws or write() rejects.
  const b = db.batch()
  b.put('c0', Buffer.from('x'))
  b.put('c1', part)
  let err
  try {
    b.put('c2', part)
  } catch (e) {
    err = e
  }
  if (err) {
    checkError(err, INVALID, RangeError)
    await b.close()
  } else {
    await rejectsCode(() => b.write(), INVALID, RangeError)
  }
  assert.deepEqual(await db.getMany(['c0', 'c1', 'c2']), [undefined, undefined, undefined])
  await db.close()
})

test('wrong types under buffer / view / json encodings', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  for (const bad of [1, null, undefined, { a: 1 }, [1, 2]]) {
    await rejectsCode(() => db.put(bad, 'v', { keyEncoding: 'buffer' }), INVALID, TypeError)
    await rejectsCode(() => db.put('k', bad, { valueEncoding: 'buffer' }), INVALID, TypeError)
    await rejectsCode(() => db.put(bad, 'v', { keyEncoding: 'view' }), INVALID, TypeError)
    await rejectsCode(() => db.put('k', bad, { valueEncoding: 'view' }), INVALID, TypeError)
  }
  // A value JSON cannot encode: rejected, not thrown synchronously.
  const circular = { name: 'loop' }
  circular.self = circular
  await rejectsCode(() => db.put('k', circular, { valueEncoding: 'json' }), INVALID, TypeError)
  assert.equal(await db.get('k'), undefined)
  await db.close()
  const jsonDb = await openDb(t, BrowserDB, tmpDir(t), { valueEncoding: 'json' })
  await rejectsCode(() => jsonDb.put('k', circular), INVALID, TypeError)
  await rejectsCode(() => jsonDb.batch([{ type: 'put', key: 'k', value: circular }]), INVALID, TypeError)
  throwsCode(() => jsonDb.batch().put('k', circular), INVALID, TypeError)
  assert.equal(await jsonDb.get('k'), undefined)
  await jsonDb.close()
})

test('bad per-call options', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await rejectsCode(() => db.put('k', 'v', { sync: 'yes' }), INVALID, TypeError)
  await rejectsCode(() => db.put('k', 'v', { valueEncoding: 'hex' }), INVALID, EITHER)
  await rejectsCode(() => db.put('k', 'v', { keyEncoding: 'ascii' }), INVALID, EITHER)
  await rejectsCode(() => db.put('k', 'v', 42), INVALID, TypeError)
  await rejectsCode(() => db.get('k', { valueEncoding: 'nope' }), INVALID, EITHER)
  throwsCode(() => db.getSync('k', { valueEncoding: 'nope' }), INVALID, EITHER)
  await rejectsCode(() => db.getMany(['k'], { keyEncoding: 7 }), INVALID, EITHER)
  await rejectsCode(() => db.del('k', { sync: 1 }), INVALID, TypeError)
  await rejectsCode(() => db.batch([{ type: 'put', key: 'k', value: 'v' }], { sync: 'no' }), INVALID, TypeError)
  assert.equal(await db.get('k'), undefined, 'nothing was written by the rejected calls')
  await db.close()
})

test('a batch with one invalid operation writes nothing', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('existing', 'keep me')
  const invalidOps = [
    ['null op', null, TypeError],
    ['string op', 'put', TypeError],
    ['unknown type', { type: 'merge', key: 'k', value: 'v' }, EITHER],
    ['missing type', { key: 'k', value: 'v' }, EITHER],
    ['put without value', { type: 'put', key: 'k' }, TypeError],
    ['put without key', { type: 'put', value: 'v' }, TypeError],
    ['del without key', { type: 'del' }, TypeError],
    ['number key', { type: 'put', key: 5, value: 'v' }, TypeError],
    ['object value', { type: 'put', key: 'k', value: { a: 1 } }, TypeError],
    ['empty key', { type: 'put', key: '', value: 'v' }, RangeError],
    ['key too long', { type: 'put', key: 'x'.repeat(65537), value: 'v' }, RangeError],
  ]
  for (const [name, bad, Class] of invalidOps) {
    await t.test(name, async () => {
      const ops = [
        { type: 'put', key: 'pre1', value: '1' },
        { type: 'del', key: 'existing' },
        { type: 'put', key: 'pre2', value: '2' },
        bad,
        { type: 'put', key: 'post1', value: '3' },
      ]
      await rejectsCode(() => db.batch(ops), INVALID, Class)
      await rejectsCode(() => db.batch(ops, { sync: true }), INVALID, Class)
      assert.deepEqual(await db.getMany(['pre1', 'pre2', 'post1', 'existing']), [undefined, undefined, undefined, 'keep me'])
    })
  }
  await rejectsCode(() => db.batch('not an array'), INVALID, TypeError)
  await rejectsCode(() => db.batch({ type: 'put', key: 'k', value: 'v' }), INVALID, TypeError)
  await rejectsCode(() => db.batch(42), INVALID, TypeError)
  assert.equal(await db.get('k'), undefined)
  await db.close()
})

test('chained batch: bad input throws synchronously and is not queued', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const b = db.batch()
  b.put('good1', '1')
  throwsCode(() => b.put(1, 'x'), INVALID, TypeError)
  throwsCode(() => b.put('k', 2), INVALID, TypeError)
  throwsCode(() => b.put('k'), INVALID, TypeError)
  throwsCode(() => b.del(null), INVALID, TypeError)
  throwsCode(() => b.put('', 'v'), INVALID, RangeError)
  throwsCode(() => b.del('z'.repeat(65537)), INVALID, RangeError)
  b.put('good2', '2')
  assert.equal(b.length, 2)
  await b.write()
  assert.deepEqual(await db.getMany(['good1', 'good2', 'k']), ['1', '2', undefined])
  await db.close()
})

test('chained batch: writing twice rejects', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const b = db.batch().put('a', '1')
  await b.write()
  const err = await rejectsCode(() => b.write(), INVALID)
  assert.ok(err)
  assert.equal(await db.get('a'), '1')
  // A closed (discarded) batch cannot be written either.
  const c = db.batch().put('never', 'x')
  await c.close()
  let threw = null
  try {
    const p = c.write()
    assert.ok(p && typeof p.then === 'function', 'write() returns a Promise')
    await p
  } catch (e) {
    threw = e
  }
  assert.ok(threw, 'write() after close() rejects')
  assert.equal(typeof threw.code, 'string')
  assert.equal(await db.get('never'), undefined)
  await db.close()
})

test('Promise-returning methods never throw synchronously', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const calls = {
    put: () => db.put(1, 'x'),
    get: () => db.get(1),
    getMany: () => db.getMany(1),
    has: () => db.has(1),
    exists: () => db.exists(1),
    del: () => db.del(1),
    delete: () => db.delete(1),
    batch: () => db.batch(1),
    batchOp: () => db.batch([{ type: 'x' }]),
    open: () => BrowserDB.open(1),
    openOptions: () => BrowserDB.open('/nonexistent/never', { writeBufferSize: 'huge' }),
  }
  for (const [name, fn] of Object.entries(calls)) {
    let p
    assert.doesNotThrow(() => {
      p = fn()
    }, `${name} threw synchronously`)
    assert.ok(p instanceof Promise || (p && typeof p.then === 'function'), `${name} returns a Promise`)
    await assert.rejects(p, (err) => checkError(err, INVALID, EITHER))
  }
  await db.close()
})

test('bad open options are rejected and create nothing', T, async (t) => {
  const base = tmpDir(t)
  const cases = [
    ['unknown option', { frobnicate: true }, EITHER],
    ['misspelled option', { cachesize: 1024 }, EITHER],
    ['writeBufferSize too small', { writeBufferSize: 64 * 1024 - 1 }, RangeError],
    ['writeBufferSize tiny', { writeBufferSize: 1000 }, RangeError],
    ['writeBufferSize zero', { writeBufferSize: 0 }, RangeError],
    ['writeBufferSize too big', { writeBufferSize: 1024 * MiB + 1 }, RangeError],
    ['writeBufferSize negative', { writeBufferSize: -1 }, RangeError],
    ['writeBufferSize NaN', { writeBufferSize: NaN }, EITHER],
    ['writeBufferSize string', { writeBufferSize: '4MB' }, TypeError],
    ['cacheSize negative', { cacheSize: -1 }, RangeError],
    ['cacheSize string', { cacheSize: 'lots' }, TypeError],
    ['compression unknown', { compression: 'brotli' }, EITHER],
    ['compression wrong type', { compression: true }, EITHER],
    ['keyEncoding unknown', { keyEncoding: 'hex' }, EITHER],
    ['valueEncoding unknown', { valueEncoding: 'base64' }, EITHER],
    ['valueEncoding wrong type', { valueEncoding: 5 }, EITHER],
    ['mode unknown', { mode: 'fast' }, EITHER],
    ['compactionStyle unknown', { compactionStyle: 'random' }, EITHER],
    ['createIfMissing wrong type', { createIfMissing: 'yes' }, TypeError],
    ['errorIfExists wrong type', { errorIfExists: 1 }, TypeError],
    ['sync wrong type', { sync: 'always' }, TypeError],
    ['options not an object', 42, TypeError],
  ]
  let i = 0
  for (const [name, options, Class] of cases) {
    await t.test(name, async () => {
      const location = path.join(base, `db${i++}`)
      await rejectsCode(() => BrowserDB.open(location, options), INVALID, Class)
      assert.equal(fs.existsSync(location), false, 'the rejected open created the directory')
    })
  }
})

test('options that do not apply are rejected', T, async (t) => {
  const base = tmpDir(t)
  const cases = [
    ['maxMemory without ultra', { maxMemory: 64 * MiB }],
  ]
  let i = 0
  for (const [name, options] of cases) {
    await t.test(name, async () => {
      const location = path.join(base, `db${i++}`)
      await rejectsCode(() => BrowserDB.open(location, options), INVALID, EITHER)
      assert.equal(fs.existsSync(location), false)
    })
  }
  // The supported values of the same options are accepted.
  const location = path.join(base, 'ok')
  const db = await openDb(t, BrowserDB, location, {
    compression: 'none',
    mode: 'persistent',
    compactionStyle: 'leveled',
    writeBufferSize: 64 * 1024,
    cacheSize: 1024 * 1024,
    createIfMissing: true,
    errorIfExists: false,
    keyEncoding: 'utf8',
    valueEncoding: 'utf8',
    sync: false,
  })
  assert.equal(db.mode, 'persistent')
  await db.close()
  const db2 = await openDb(t, BrowserDB, path.join(base, 'ok2'), { compression: 'lz4', writeBufferSize: 1024 * MiB })
  await db2.close()
  for (const compression of ['zstd', 'zlib']) {
    const db3 = await openDb(t, BrowserDB, path.join(base, compression), { compression, compactionStyle: 'tiered' })
    await db3.put('k', 'v')
    assert.equal(await db3.get('k'), 'v')
    await db3.close()
  }
})

test('bad locations are rejected', T, async () => {
  await rejectsCode(() => BrowserDB.open(123), INVALID, TypeError)
  await rejectsCode(() => BrowserDB.open(), INVALID, TypeError)
  await rejectsCode(() => BrowserDB.open(null), INVALID, TypeError)
  await rejectsCode(() => BrowserDB.open({ path: '/tmp/x' }), INVALID, TypeError)
  await rejectsCode(() => BrowserDB.open(''), INVALID, EITHER)
})

test('every call after close() rejects with BROWSERDB_CLOSED', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('k', 'v')
  const pending = db.batch().put('p', '1')
  await db.close()
  await rejectsCode(() => db.put('k', 'v'), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.get('k'), 'BROWSERDB_CLOSED')
  throwsCode(() => db.getSync('k'), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.getMany(['k']), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.has('k'), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.exists('k'), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.del('k'), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.delete('k'), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.batch([{ type: 'put', key: 'a', value: 'b' }]), 'BROWSERDB_CLOSED')
  await rejectsCode(() => pending.write(), 'BROWSERDB_CLOSED')
  // A chained batch started after close: batch() throws CLOSED, or its write() rejects CLOSED.
  let chained
  try {
    chained = db.batch()
  } catch (err) {
    checkError(err, 'BROWSERDB_CLOSED')
  }
  if (chained) {
    let putErr
    try {
      chained.put('a', 'b')
    } catch (err) {
      putErr = err
      checkError(err, 'BROWSERDB_CLOSED')
    }
    if (!putErr) await rejectsCode(() => chained.write(), 'BROWSERDB_CLOSED')
  }
  // Closing again is fine.
  await db.close()
  await db[Symbol.asyncDispose]()
})

test('close() waits for in-flight calls; calls after it get CLOSED', T, async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location)
  await db.put('pre', 'existing')
  const order = []
  const writes = []
  for (let i = 0; i < 200; i++) writes.push(db.put(`w${i}`, `v${i}`).then(() => order.push(`put${i}`)))
  writes.push(db.batch([{ type: 'put', key: 'batched', value: 'yes' }]).then(() => order.push('batch')))
  const read = db.get('pre').then((v) => {
    order.push('get')
    return v
  })
  const closing = db.close().then(() => order.push('close'))
  const late = db.put('late', 'x')
  const lateGet = db.get('pre')
  await rejectsCode(() => late, 'BROWSERDB_CLOSED')
  await rejectsCode(() => lateGet, 'BROWSERDB_CLOSED')
  const settled = await Promise.allSettled(writes)
  assert.deepEqual(
    settled.filter((s) => s.status === 'rejected').map((s) => s.reason && s.reason.code),
    [],
    'writes issued before close() must succeed',
  )
  assert.equal(await read, 'existing')
  await closing
  assert.equal(order[order.length - 1], 'close', 'close() resolved before in-flight calls settled')
  assert.equal(order.length, 203)

  const again = await openDb(t, BrowserDB, location)
  const keys = Array.from({ length: 200 }, (_, i) => `w${i}`)
  assert.deepEqual(await again.getMany(keys), keys.map((_, i) => `v${i}`))
  assert.equal(await again.get('batched'), 'yes')
  assert.equal(await again.get('late'), undefined)
  await again.close()
})

test('double close: both calls resolve (the same Promise)', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('a', 'b')
  const p1 = db.close()
  const p2 = db.close()
  assert.ok(p1 && typeof p1.then === 'function')
  assert.ok(p2 && typeof p2.then === 'function')
  await Promise.all([p1, p2])
  if (p1 !== p2) t.diagnostic('note: second close() returned a different Promise object')
  await db.close()
})

test('LOCKED: a second open in the same process', T, async (t) => {
  const base = tmpDir(t)
  const location = path.join(base, 'locked.bdb')
  const db = await openDb(t, BrowserDB, location)
  await db.put('k', 'v')
  await rejectsCode(() => BrowserDB.open(location), 'BROWSERDB_LOCKED')
  // Other spellings of the same directory.
  await rejectsCode(() => BrowserDB.open(location + path.sep), 'BROWSERDB_LOCKED')
  await rejectsCode(() => BrowserDB.open(path.join(base, '.', 'x', '..', 'locked.bdb') + path.sep + '.'), 'BROWSERDB_LOCKED')
  await rejectsCode(() => BrowserDB.open(path.relative(process.cwd(), location)), 'BROWSERDB_LOCKED')
  const link = path.join(base, 'link.bdb')
  fs.symlinkSync(location, link)
  await rejectsCode(() => BrowserDB.open(link), 'BROWSERDB_LOCKED')
  // The failed opens did not disturb the owner.
  await db.put('k2', 'v2')
  assert.deepEqual(await db.getMany(['k', 'k2']), ['v', 'v2'])
  await db.close()
  // After close it opens again.
  const again = await openDb(t, BrowserDB, location)
  assert.deepEqual(await again.getMany(['k', 'k2']), ['v', 'v2'])
  await again.close()
})

test('LOCKED: two concurrent opens of one location, exactly one wins', T, async (t) => {
  const location = path.join(tmpDir(t), 'race.bdb')
  const results = await Promise.allSettled([BrowserDB.open(location), BrowserDB.open(location), BrowserDB.open(location)])
  const won = results.filter((r) => r.status === 'fulfilled')
  const lost = results.filter((r) => r.status === 'rejected')
  for (const r of won) await r.value.close()
  assert.equal(won.length, 1)
  for (const r of lost) checkError(r.reason, 'BROWSERDB_LOCKED')
})

test('LOCKED: another process holds the database', T, async (t) => {
  const location = path.join(tmpDir(t), 'shared.bdb')
  const holder = spawnFixture('hold-open.js', [location], { stdin: 'pipe' })
  killAfter(t, holder.child)
  await holder.waitForLine('ready')
  await rejectsCode(() => BrowserDB.open(location), 'BROWSERDB_LOCKED')
  // The holder closes cleanly: now it opens.
  holder.child.stdin.end()
  await holder.waitForLine('closed')
  await holder.exited
  const db = await openDb(t, BrowserDB, location)
  assert.equal(await db.get('holder'), String(holder.child.pid))
  await db.close()
})

test('LOCKED: a killed holder releases the lock', T, async (t) => {
  const location = path.join(tmpDir(t), 'killed.bdb')
  const holder = spawnFixture('hold-open.js', [location], { stdin: 'pipe' })
  killAfter(t, holder.child)
  await holder.waitForLine('ready')
  await rejectsCode(() => BrowserDB.open(location), 'BROWSERDB_LOCKED')
  holder.child.kill('SIGKILL')
  const { signal } = await holder.exited
  assert.equal(signal, 'SIGKILL')
  const db = await openDb(t, BrowserDB, location)
  assert.equal(await db.get('holder'), String(holder.child.pid))
  await db.close()
})

test('LOCKED: another process cannot open a database this process holds', T, async (t) => {
  const location = path.join(tmpDir(t), 'mine.bdb')
  const db = await openDb(t, BrowserDB, location)
  const other = spawnFixture('try-open.js', [location])
  killAfter(t, other.child)
  const line = await other.waitForLine((l) => l.startsWith('error') || l === 'opened')
  assert.equal(line, 'error BROWSERDB_LOCKED')
  await other.exited
  await db.close()
  const again = spawnFixture('try-open.js', [location])
  killAfter(t, again.child)
  assert.equal(await again.waitForLine((l) => l.startsWith('error') || l === 'opened'), 'opened')
  await again.exited
})

test('NOT_A_DATABASE: a non-empty foreign directory is refused and left untouched', T, async (t) => {
  const location = tmpDir(t)
  fs.writeFileSync(path.join(location, 'notes.txt'), 'my precious notes\n')
  fs.mkdirSync(path.join(location, 'sub'))
  fs.writeFileSync(path.join(location, 'sub', 'data.bin'), Buffer.from([0, 1, 2, 3]))
  const before = snapshotDir(location)
  await rejectsCode(() => BrowserDB.open(location), 'BROWSERDB_NOT_A_DATABASE')
  await rejectsCode(() => BrowserDB.open(location, { errorIfExists: true }), 'BROWSERDB_NOT_A_DATABASE')
  assert.deepEqual(snapshotDir(location), before)

  // Only a stray file.
  const only = tmpDir(t)
  fs.writeFileSync(path.join(only, 'notes.txt'), 'x')
  const before2 = snapshotDir(only)
  await rejectsCode(() => BrowserDB.open(only), 'BROWSERDB_NOT_A_DATABASE')
  assert.deepEqual(snapshotDir(only), before2)
})

test('failed opens leave no stale lock behind', T, async (t) => {
  const base = tmpDir(t)
  // NOT_A_DATABASE, then the stray file is removed: the directory opens.
  const foreign = path.join(base, 'foreign')
  fs.mkdirSync(foreign)
  fs.writeFileSync(path.join(foreign, 'notes.txt'), 'x')
  await rejectsCode(() => BrowserDB.open(foreign), 'BROWSERDB_NOT_A_DATABASE')
  fs.rmSync(path.join(foreign, 'notes.txt'))
  const a = await openDb(t, BrowserDB, foreign)
  await a.close()
  // NOT_FOUND, then created.
  const missing = path.join(base, 'missing')
  await rejectsCode(() => BrowserDB.open(missing, { createIfMissing: false }), 'BROWSERDB_NOT_FOUND')
  const b = await openDb(t, BrowserDB, missing)
  await b.close()
  // EXISTS, then opened normally.
  await rejectsCode(() => BrowserDB.open(missing, { errorIfExists: true }), 'BROWSERDB_EXISTS')
  const c = await openDb(t, BrowserDB, missing)
  await c.put('k', 'v')
  await c.close()
  // LOCKED, then the owner closes: opens (covered above), and the loser's attempt left no trace.
  const d = await openDb(t, BrowserDB, missing)
  await rejectsCode(() => BrowserDB.open(missing), 'BROWSERDB_LOCKED')
  await d.close()
  const e = await openDb(t, BrowserDB, missing)
  assert.equal(await e.get('k'), 'v')
  await e.close()
})

test('a location that is a regular file is refused and left untouched', T, async (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'file.bdb')
  fs.writeFileSync(file, 'not a directory')
  const before = snapshotDir(dir)
  // Any stable browserdb code is acceptable, as long as it is refused.
  await assert.rejects(BrowserDB.open(file), (e) => {
    assert.match(String(e.code), /^BROWSERDB_(NOT_A_DATABASE|IO|INVALID_ARGUMENT)$/)
    return true
  })
  assert.deepEqual(snapshotDir(dir), before)
})

test('createIfMissing: false', T, async (t) => {
  const base = tmpDir(t)
  const missing = path.join(base, 'missing.bdb')
  await rejectsCode(() => BrowserDB.open(missing, { createIfMissing: false }), 'BROWSERDB_NOT_FOUND')
  assert.equal(fs.existsSync(missing), false)
  // An existing database opens.
  const location = path.join(base, 'exists.bdb')
  const db = await openDb(t, BrowserDB, location)
  await db.put('k', 'v')
  await db.close()
  const again = await openDb(t, BrowserDB, location, { createIfMissing: false })
  assert.equal(await again.get('k'), 'v')
  await again.close()
})

test('errorIfExists: true', T, async (t) => {
  const base = tmpDir(t)
  const location = path.join(base, 'db.bdb')
  const db = await openDb(t, BrowserDB, location, { errorIfExists: true })
  await db.put('k', 'v')
  await db.close()
  const withoutLock = (snap) => Object.fromEntries(Object.entries(snap).filter(([name]) => name !== 'LOCK'))
  const before = withoutLock(snapshotDir(location))
  await rejectsCode(() => BrowserDB.open(location, { errorIfExists: true }), 'BROWSERDB_EXISTS')
  assert.deepEqual(withoutLock(snapshotDir(location)), before, 'the rejected open changed the database files')
  const again = await openDb(t, BrowserDB, location)
  assert.equal(await again.get('k'), 'v')
  await again.close()
  // An empty directory holds no database yet.
  const empty = tmpDir(t)
  const fresh = await openDb(t, BrowserDB, empty, { errorIfExists: true })
  await fresh.close()
})

test('error objects are real Errors with a stable code', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const err = await db.put(1, 'x').catch((e) => e)
  assert.ok(err instanceof TypeError)
  assert.ok(err instanceof Error)
  assert.equal(err.code, INVALID)
  assert.equal(typeof err.stack, 'string')
  await db.close()
  const closed = await db.get('k').catch((e) => e)
  assert.ok(closed instanceof Error)
  assert.equal(closed.code, 'BROWSERDB_CLOSED')
})
