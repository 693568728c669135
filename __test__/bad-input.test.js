'use strict'
// Bad input as one table (issue 9): wrong types, hostile objects, oversized keys, invalid
// options and calls in the wrong state, against every method. Each row names the error code
// (and class) it must produce, Promise-returning methods must reject rather than throw, and
// after the whole table the database is byte-for-byte what it was: a full iterator dump
// before and after (and after a reopen) are equal. errors.test.js covers many of these one
// by one; this file sweeps them together and checks the "nothing changed" half.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const { BrowserDB } = require('..')
const { tmpDir, openDb, checkError } = require('./helpers')

const INVALID = 'BROWSERDB_INVALID_ARGUMENT'
const KEY_MAX = 64 * 1024
const EITHER = [TypeError, RangeError]

/** Every entry as [key bytes hex, value bytes hex], through buffer encodings (exact bytes). */
async function dumpOf(db) {
  const entries = await db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' }).all()
  return entries.map(([k, v]) => [k.toString('hex'), v.toString('hex')])
}

/** An object whose every property read, key listing and conversion throws. */
function hostile() {
  return new Proxy({}, {
    get() { throw new Error('hostile get') },
    ownKeys() { throw new Error('hostile ownKeys') },
    has() { throw new Error('hostile has') },
    getPrototypeOf() { throw new Error('hostile getPrototypeOf') },
  })
}

/** A key-like object that records whether anything tried to coerce it. */
function coercible(log) {
  return {
    toString() { log.push('toString'); return 'coerced' },
    valueOf() { log.push('valueOf'); return 'coerced' },
    [Symbol.toPrimitive]() { log.push('toPrimitive'); return 'coerced' },
  }
}

/**
 * Rows: [name, call(db, ctx), expected]. expected is { code, Class?, sync? } (sync: the method
 * throws instead of rejecting) or { any: true, sync? } for hostile objects whose own exception
 * may surface as it is (still never a synchronous throw from a Promise method, never a write).
 */
function rows() {
  const tooLong = 'k'.repeat(KEY_MAX + 1)
  const bad = (Class) => ({ code: INVALID, Class })
  const badSync = (Class) => ({ code: INVALID, Class, sync: true })
  const r = []
  const add = (name, call, expected) => r.push([name, call, expected])

  // Wrong key and value types under each encoding.
  for (const [label, key] of [['number', 7], ['String object', new String('k')], ['Date', new Date(0)], ['ArrayBuffer', new ArrayBuffer(2)], ['DataView', new DataView(new ArrayBuffer(2))], ['Uint16Array', new Uint16Array(2)], ['array of bytes', [1, 2]], ['Symbol', Symbol('k')], ['BigInt', 10n]]) {
    add(`put key ${label} (utf8)`, (db) => db.put(key, 'v'), bad(TypeError))
    add(`put key ${label} (buffer)`, (db) => db.put(key, 'v', { keyEncoding: 'buffer' }), bad(TypeError))
    add(`put value ${label} (view)`, (db) => db.put('k', key, { valueEncoding: 'view' }), bad(TypeError))
    add(`get key ${label}`, (db) => db.get(key), bad(TypeError))
    add(`getSync key ${label}`, (db) => db.getSync(key), badSync(TypeError))
    add(`del key ${label}`, (db) => db.del(key), bad(TypeError))
    add(`iterator gte ${label}`, (db) => db.iterator({ gte: key }), badSync(TypeError))
    add(`clear lt ${label}`, (db) => db.clear({ lt: key }), bad(TypeError))
  }
  for (const [label, value] of [['BigInt', 1n], ['Symbol', Symbol('v')], ['function', () => 1], ['undefined', undefined]]) {
    add(`put json value ${label}`, (db) => db.put('k', value, { valueEncoding: 'json' }), bad(TypeError))
    add(`batch json value ${label}`, (db) => db.batch([{ type: 'put', key: 'k', value, valueEncoding: 'json' }]), bad(TypeError))
  }
  add('put json value with a throwing toJSON', (db) => db.put('k', { toJSON() { throw new Error('no') } }, { valueEncoding: 'json' }), bad(TypeError))

  // Oversized and empty keys, everywhere a key goes.
  add('put key over 64 KiB', (db) => db.put(tooLong, 'v'), bad(RangeError))
  add('getMany with one key over 64 KiB', (db) => db.getMany(['a', tooLong]), bad(RangeError))
  add('batch with a key over 64 KiB last', (db) => db.batch([{ type: 'put', key: 'a', value: '1' }, { type: 'del', key: tooLong }]), bad(RangeError))
  add('iterator lt over 64 KiB', (db) => db.iterator({ lt: tooLong }), badSync(RangeError))
  add('keys prefix over 64 KiB', (db) => db.keys({ prefix: tooLong }), badSync(RangeError))
  add('clear gte over 64 KiB', (db) => db.clear({ gte: tooLong }), bad(RangeError))
  add('compact lte over 64 KiB', (db) => db.compact({ lte: tooLong }), bad(RangeError))
  add('put empty Buffer key', (db) => db.put(Buffer.alloc(0), 'v', { keyEncoding: 'buffer' }), bad(RangeError))

  // Invalid per-call options.
  add('put with an unknown option', (db) => db.put('k', 'v', { snyc: true }), bad(RangeError))
  add('put with sync: 1', (db) => db.put('k', 'v', { sync: 1 }), bad(TypeError))
  add('put with ttl: 0', (db) => db.put('k', 'v', { ttl: 0 }), bad(RangeError))
  add('put with ttl: NaN', (db) => db.put('k', 'v', { ttl: NaN }), bad(RangeError))
  add('put with ttl: Infinity', (db) => db.put('k', 'v', { ttl: Infinity }), bad(RangeError))
  add('put with ttl: "1000"', (db) => db.put('k', 'v', { ttl: '1000' }), bad(TypeError))
  add('put with ttl: 2^53', (db) => db.put('k', 'v', { ttl: 2 ** 53 }), bad(RangeError))
  add('put with options as an array', (db) => db.put('k', 'v', []), bad(TypeError))
  add('get with an unknown encoding', (db) => db.get('k', { valueEncoding: 'latin1' }), bad(RangeError))
  add('getMany with a Set', (db) => db.getMany(new Set(['a'])), bad(TypeError))
  add('batch op with an unknown field', (db) => db.batch([{ type: 'put', key: 'k', value: 'v', sync: true }]), bad(EITHER))
  add('batch op type PUT', (db) => db.batch([{ type: 'PUT', key: 'k', value: 'v' }]), bad(EITHER))
  add('batch of 10 000 ops, the last invalid', (db) => db.batch([...Array.from({ length: 9999 }, (_, i) => ({ type: 'put', key: `bulk${i}`, value: 'x' })), { type: 'put', key: 'last' }]), bad(TypeError))
  add('iterator limit -2', (db) => db.iterator({ limit: -2 }), badSync(RangeError))
  add('iterator limit 1.5', (db) => db.iterator({ limit: 1.5 }), badSync(TypeError))
  add('iterator limit "10"', (db) => db.iterator({ limit: '10' }), badSync(TypeError))
  add('iterator reverse "yes"', (db) => db.iterator({ reverse: 'yes' }), badSync(TypeError))
  add('iterator with an unknown option', (db) => db.iterator({ start: 'a' }), badSync(RangeError))
  add('values keys: 1', (db) => db.values({ keys: 1 }), badSync(TypeError))
  add('clear limit -5', (db) => db.clear({ limit: -5 }), bad(RangeError))
  add('clear with a snapshot', (db) => db.clear({ snapshot: db.snapshot() }), bad(RangeError))
  add('compact reverse', (db) => db.compact({ reverse: true }), bad(RangeError))
  add('nextv(-1)', (db) => db.iterator().nextv(-1), bad(TypeError))
  add('nextv("3")', (db) => db.iterator().nextv('3'), bad(TypeError))
  add('seek to a number', (db) => db.iterator().seek(3), badSync(TypeError))
  add('setMode "memory"', (db) => db.setMode('memory'), bad(RangeError))
  add('setMode ultra with a location', (db) => db.setMode('ultra', { location: '/tmp/x' }), bad(RangeError))
  add('setMode with an unknown option', (db) => db.setMode('ultra', { force: true }), bad(RangeError))
  add('setMode ultra maxMemory 1 KiB', (db) => db.setMode('ultra', { maxMemory: 1024 }), bad(RangeError))
  add('resizeCache(-1)', (db) => db.resizeCache(-1), badSync(RangeError))
  add('resizeCache(1.5)', (db) => db.resizeCache(1.5), badSync(TypeError))
  add('heatmap limit 1e6', (db) => db.heatmap({ limit: 1e6 }), badSync(RangeError))
  add('verify with an unknown option', (db) => db.verify({ deep: true }), bad(RangeError))
  add('backup to ""', (db) => db.backup(''), bad(TypeError))
  add('export format csv', (db, ctx) => db.export(path.join(ctx.dir, 'out.csv'), { format: 'csv' }), bad(RangeError))
  add('import format xml', (db, ctx) => db.import(path.join(ctx.dir, 'in.xml'), { format: 'xml' }), bad(RangeError))
  add('import of a missing file', (db, ctx) => db.import(path.join(ctx.dir, 'missing.ndjson')), { code: 'BROWSERDB_IO' })

  // Calls in the wrong state.
  add('write a chained batch twice', async (db) => {
    const b = db.batch().put('twice', 'x')
    await b.write()
    await db.del('twice')
    return b.write()
  }, bad())
  add('put on a chained batch after write', async (db) => {
    const b = db.batch().put('late', 'x')
    await b.write()
    await db.del('late')
    return b.put('again', 'y')
  }, { code: INVALID, sync: true, afterAwait: true })
  add('read at a closed snapshot', async (db) => {
    const s = db.snapshot()
    await s.close()
    return db.get('k', { snapshot: s })
  }, bad(RangeError))
  add('iterate at a closed snapshot', (db) => {
    const s = db.snapshot()
    s.close()
    return db.iterator({ snapshot: s })
  }, badSync(RangeError))
  add('next() on a closed iterator', async (db) => {
    const it = db.iterator()
    await it.close()
    return it.next()
  }, { code: 'BROWSERDB_CLOSED' })
  add('seek on a closed iterator', (db) => {
    const it = db.iterator()
    it.close()
    return it.seek('a')
  }, { code: 'BROWSERDB_CLOSED', sync: true })

  // Hostile objects: their own exceptions may surface, but never as a synchronous throw from
  // a Promise method, and never after anything was written.
  add('put with hostile options', (db) => db.put('k', 'v', hostile()), { any: true })
  add('batch with a hostile op', (db) => db.batch([{ type: 'put', key: 'a', value: '1' }, hostile()]), { any: true })
  add('batch with hostile options', (db) => db.batch([{ type: 'put', key: 'a', value: '1' }], hostile()), { any: true })
  add('get with hostile options', (db) => db.get('k', hostile()), { any: true })
  add('clear with hostile options', (db) => db.clear(hostile()), { any: true })
  add('iterator with hostile options', (db) => db.iterator(hostile()), { any: true, sync: true })
  add('batch with a hostile array', (db) => db.batch(new Proxy([{ type: 'put', key: 'a', value: '1' }], { get(target, p) { if (p === 'length' || typeof p === 'symbol') return Reflect.get(target, p); throw new Error('hostile element') } })), { any: true })
  return r
}

test('a table of bad calls: each fails with its code and the database is unchanged', { timeout: 30000 }, async (t) => {
  const dir = tmpDir(t)
  const location = path.join(dir, 'db')
  let db = await openDb(t, BrowserDB, location, { writeBufferSize: 64 * 1024 })
  // Data in tables and in the memtable, with binary keys and values.
  for (let start = 0; start < 2000; start += 250) {
    await db.batch(Array.from({ length: 250 }, (_, i) => ({ type: 'put', key: `key${String(start + i).padStart(5, '0')}`, value: 'v'.repeat((start + i) % 300) })))
  }
  await db.put(Buffer.from([0, 255, 1]), Buffer.from([9, 0, 9]), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.put('k', 'the value of k')
  const before = await dumpOf(db)
  assert.ok(before.length > 2000)

  const ctx = { dir }
  for (const [name, call, expected] of rows()) {
    let result
    let thrown
    try {
      result = call(db, ctx)
    } catch (err) {
      thrown = err
    }
    if (result && typeof result.then === 'function' && expected.afterAwait) {
      // The wrong state is reached asynchronously; the final step then throws synchronously.
      try {
        result = await result
      } catch (err) {
        thrown = err
      }
    } else if (expected.sync) {
      assert.ok(thrown, `${name}: expected a synchronous throw, got ${result}`)
    } else {
      assert.equal(thrown, undefined, `${name}: a Promise method threw synchronously: ${thrown && thrown.message}`)
      assert.ok(result && typeof result.then === 'function', `${name}: expected a Promise`)
      try {
        await result
        assert.fail(`${name}: expected a rejection, but it resolved`)
      } catch (err) {
        thrown = err
      }
    }
    assert.ok(thrown instanceof Error, `${name}: expected an Error, got ${thrown}`)
    if (!expected.any) checkError(thrown, expected.code, expected.Class)
  }

  // Coercion never happens: objects with toString are refused without being converted.
  const coerced = []
  for (const call of [(k) => db.put(k, 'v'), (k) => db.get(k), (k) => db.del(k), (k) => db.put('k', k), (k) => db.batch([{ type: 'put', key: k, value: 'v' }])]) {
    await assert.rejects(call(coercible(coerced)), (err) => checkError(err, INVALID, TypeError))
  }
  assert.throws(() => db.iterator({ gt: coercible(coerced) }), (err) => checkError(err, INVALID, TypeError))
  assert.deepEqual(coerced, [], 'a key or value object was coerced')

  assert.deepEqual(await dumpOf(db), before, 'a rejected call changed the database')
  await db.close()
  db = await openDb(t, BrowserDB, location)
  assert.deepEqual(await dumpOf(db), before, 'a rejected call changed what is on disk')
  await db.close()
})

test('calls after close: every one fails with BROWSERDB_CLOSED and the files are unchanged', { timeout: 30000 }, async (t) => {
  const location = path.join(tmpDir(t), 'db')
  const db = await openDb(t, BrowserDB, location)
  await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put', key: `k${i}`, value: `v${i}` })))
  const before = await dumpOf(db)
  const it = db.iterator()
  const snapshot = db.snapshot()
  await db.close()
  const CLOSED = 'BROWSERDB_CLOSED'
  const rejecting = {
    put: () => db.put('k', 'v'),
    del: () => db.del('k0'),
    batch: () => db.batch([{ type: 'del', key: 'k1' }]),
    get: () => db.get('k0'),
    getMany: () => db.getMany(['k0']),
    has: () => db.has('k0'),
    clear: () => db.clear(),
    compact: () => db.compact(),
    setMode: () => db.setMode('ultra'),
    verify: () => db.verify(),
    backup: () => db.backup(path.join(location, '..', 'backup')),
    export: () => db.export(path.join(location, '..', 'out.ndjson')),
    import: () => db.import(path.join(location, '..', 'in.ndjson')),
    'iterator next': () => it.next(),
    'get at snapshot': () => db.get('k0', { snapshot }),
  }
  for (const [name, call] of Object.entries(rejecting)) {
    let p
    assert.doesNotThrow(() => { p = call() }, `${name} threw synchronously`)
    await assert.rejects(p, (err) => checkError(err, CLOSED), name)
  }
  const throwing = {
    getSync: () => db.getSync('k0'),
    iterator: () => db.iterator(),
    snapshot: () => db.snapshot(),
    stats: () => db.stats(),
    resizeCache: () => db.resizeCache(1024),
    heatmap: () => db.heatmap(),
  }
  for (const [name, call] of Object.entries(throwing)) {
    assert.throws(call, (err) => checkError(err, CLOSED), name)
  }
  const again = await openDb(t, BrowserDB, location)
  assert.deepEqual(await dumpOf(again), before)
  await again.close()
})

test('batch size: ASCII values whose UTF-16 bound passes 64 MiB but whose bytes fit are written; batches past it are refused whole', async (t) => {
  const db = await openDb(t, BrowserDB, path.join(tmpDir(t), 'db'))
  const MiB = 1024 * 1024
  const ascii = (c) => c.repeat(24 * MiB) // 24 MiB of UTF-8; its bound (3 bytes a unit) is 72 MiB
  const euro = '\u20ac'.repeat(12 * MiB) // 36 MiB of UTF-8
  await db.batch([{ type: 'put', key: 'a', value: ascii('a') }, { type: 'put', key: 'b', value: ascii('b') }])
  assert.equal((await db.get('a')).length, 24 * MiB)
  assert.equal(await db.get('b'), ascii('b'))
  await assert.rejects(db.batch([{ type: 'put', key: 'c', value: euro }, { type: 'put', key: 'd', value: euro }]),
    (err) => checkError(err, INVALID, RangeError) && /batch is \d+ bytes/.test(err.message))
  assert.equal(await db.get('c'), undefined, 'a refused batch writes nothing')
  // A chained batch counts exactly from the put that would pass the limit by its bound.
  const chained = db.batch().put('e', ascii('e')).put('f', ascii('f'))
  assert.throws(() => chained.put('g', euro.slice(0, 8 * MiB)), (err) => checkError(err, INVALID, RangeError))
  chained.del('h') // still under the limit after the refused put
  await chained.write()
  assert.equal(await db.get('e'), ascii('e'))
  assert.equal((await db.get('f')).length, 24 * MiB)
  assert.equal(await db.get('g'), undefined, 'the refused put left nothing in the batch')
  await db.close()
})
