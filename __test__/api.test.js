'use strict'
// The happy paths of the JS API: round trips, aliases, batches, encodings, ESM, dispose.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')
const { spawnSync } = require('node:child_process')
const { pathToFileURL } = require('node:url')

const { BrowserDB } = require('..')
const { ROOT, FIXTURES, tmpDir, openDb, rejectsCode } = require('./helpers')

const T = { timeout: 30000 }

test('open creates the directory (with parents) and exposes location and mode', T, async (t) => {
  const base = tmpDir(t)
  const location = path.join(base, 'a', 'b', 'profile.bdb')
  assert.equal(fs.existsSync(location), false)
  const db = await openDb(t, BrowserDB, location)
  assert.ok(fs.statSync(location).isDirectory(), 'location is a directory after open')
  assert.equal(typeof db.location, 'string')
  assert.equal(path.resolve(db.location), location)
  assert.equal(db.mode, 'persistent')
  assert.ok(db instanceof BrowserDB)
  await db.close()
})

test('an existing empty directory is opened as a new database', T, async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location)
  await db.put('k', 'v')
  assert.equal(await db.get('k'), 'v')
  await db.close()
})

test('put / get / overwrite / del round trips', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  assert.equal(await db.get('settings:theme'), undefined)
  assert.equal(await db.put('settings:theme', 'dark'), undefined)
  assert.equal(await db.get('settings:theme'), 'dark')
  await db.put('settings:theme', 'light')
  assert.equal(await db.get('settings:theme'), 'light')
  assert.equal(db.getSync('settings:theme'), 'light')
  assert.equal(await db.del('settings:theme'), undefined)
  assert.equal(await db.get('settings:theme'), undefined)
  assert.equal(db.getSync('settings:theme'), undefined)
  // Deleting an absent key is not an error.
  await db.del('never-written')
  // Put again after delete.
  await db.put('settings:theme', 'again')
  assert.equal(await db.get('settings:theme'), 'again')
  await db.close()
})

test('put with sync: true and del with sync: true', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('a', '1', { sync: true })
  await db.put('b', '2', { sync: false })
  assert.equal(await db.get('a'), '1')
  assert.equal(await db.get('b'), '2')
  await db.del('a', { sync: true })
  assert.equal(await db.get('a'), undefined)
  await db.close()
})

test('open with sync: true as the default for writes', T, async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location, { sync: true })
  await db.put('a', '1')
  await db.batch([{ type: 'put', key: 'b', value: '2' }])
  await db.del('a')
  await db.close()
  const again = await openDb(t, BrowserDB, location)
  assert.equal(await again.get('a'), undefined)
  assert.equal(await again.get('b'), '2')
  await again.close()
})

test('empty string value is allowed and reads back as an empty string', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('empty', '')
  assert.equal(await db.get('empty'), '')
  assert.equal(db.getSync('empty'), '')
  assert.equal(await db.has('empty'), true)
  assert.deepEqual(await db.getMany(['empty', 'missing']), ['', undefined])
  await db.close()
})

test('has / exists / delete aliases', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  assert.equal(typeof db.exists, 'function')
  assert.equal(typeof db.delete, 'function')
  assert.equal(await db.has('k'), false)
  assert.equal(await db.exists('k'), false)
  await db.put('k', 'v')
  assert.equal(await db.has('k'), true)
  assert.equal(await db.exists('k'), true)
  await db.delete('k')
  assert.equal(await db.has('k'), false)
  assert.equal(await db.exists('k'), false)
  await db.put('k2', 'v')
  await db.delete('k2', { sync: true })
  assert.equal(await db.get('k2'), undefined)
  await db.close()
})

test('getMany returns values in order with undefined for missing keys', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('a', '1')
  await db.put('c', '3')
  assert.deepEqual(await db.getMany(['a', 'b', 'c', 'a', 'zzz']), ['1', undefined, '3', '1', undefined])
  assert.deepEqual(await db.getMany([]), [])
  const big = []
  for (let i = 0; i < 500; i++) big.push(`k${i}`)
  await db.batch(big.filter((_, i) => i % 2 === 0).map((key) => ({ type: 'put', key, value: `v:${key}` })))
  const got = await db.getMany(big)
  assert.equal(got.length, 500)
  got.forEach((v, i) => assert.equal(v, i % 2 === 0 ? `v:k${i}` : undefined))
  await db.close()
})

test('many concurrent writes issued in one tick all land', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const writes = []
  for (let i = 0; i < 1000; i++) writes.push(db.put(`c:${i}`, `value ${i}`))
  const results = await Promise.all(writes)
  assert.ok(results.every((r) => r === undefined))
  const keys = Array.from({ length: 1000 }, (_, i) => `c:${i}`)
  const values = await db.getMany(keys)
  values.forEach((v, i) => assert.equal(v, `value ${i}`))
  // A later write to the same key in the same tick wins.
  const p = [db.put('same', '1'), db.put('same', '2'), db.put('same', '3')]
  await Promise.all(p)
  assert.equal(await db.get('same'), '3')
  await db.close()
})

test('batch (array form) applies puts and dels atomically, in order', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('old', 'x')
  await db.put('keep', 'y')
  assert.equal(
    await db.batch([
      { type: 'put', key: 'a', value: '1' },
      { type: 'put', key: 'b', value: '2' },
      { type: 'del', key: 'old' },
      { type: 'del', key: 'never' },
    ]),
    undefined,
  )
  assert.deepEqual(await db.getMany(['a', 'b', 'old', 'keep']), ['1', '2', undefined, 'y'])
  // Later operations on the same key win.
  await db.batch([
    { type: 'put', key: 'x', value: 'first' },
    { type: 'del', key: 'x' },
    { type: 'del', key: 'y' },
    { type: 'put', key: 'y', value: 'second' },
    { type: 'put', key: 'z', value: '1' },
    { type: 'put', key: 'z', value: '2' },
  ])
  assert.deepEqual(await db.getMany(['x', 'y', 'z']), [undefined, 'second', '2'])
  // An empty batch is fine.
  await db.batch([])
  await db.batch([], { sync: true })
  await db.batch([{ type: 'put', key: 's', value: 'synced' }], { sync: true })
  assert.equal(await db.get('s'), 'synced')
  await db.close()
})

test('chained batch: chainable put/del, length, clear, write', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('gone', 'soon')
  const b = db.batch()
  assert.equal(b.length, 0)
  assert.equal(b.put('a', '1'), b)
  assert.equal(b.del('gone'), b)
  b.put('b', '2').put('c', '3')
  assert.equal(b.length, 4)
  // Nothing is visible before write().
  assert.equal(await db.get('a'), undefined)
  assert.equal(await db.get('gone'), 'soon')
  b.clear()
  assert.equal(b.length, 0)
  b.put('d', '4').del('gone').put('e', '')
  assert.equal(b.length, 3)
  assert.equal(await b.write(), undefined)
  assert.deepEqual(await db.getMany(['a', 'b', 'c', 'd', 'e', 'gone']), [undefined, undefined, undefined, '4', '', undefined])

  const synced = db.batch().put('f', '6')
  await synced.write({ sync: true })
  assert.equal(await db.get('f'), '6')

  // An empty chained batch writes nothing and resolves.
  await db.batch().write()
  await db.close()
})

test('chained batch close() discards queued operations', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const b = db.batch().put('discarded', '1')
  assert.equal(await b.close(), undefined)
  assert.equal(await db.get('discarded'), undefined)
  await db.close()
})

test('chained batch respects per-db encodings', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'buffer', valueEncoding: 'json' })
  await db
    .batch()
    .put(Buffer.from([1, 2]), { n: 1 })
    .put(new Uint8Array([3]), [1, 'two'])
    .write()
  assert.deepEqual(await db.get(Buffer.from([1, 2])), { n: 1 })
  assert.deepEqual(await db.get(Buffer.from([3])), [1, 'two'])
  await db.close()
})

test('utf8: non-ASCII keys and values round trip', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const pairs = [
    ['ключ', 'значение'],
    ['键', '值'],
    ['emoji:😀', '🚀✨'],
    ['nul\u0000inside', 'a\u0000b'],
    ['combining e\u0301', 'façade'],
  ]
  for (const [k, v] of pairs) await db.put(k, v)
  for (const [k, v] of pairs) assert.equal(await db.get(k), v)
  // Read back through the buffer encoding: the stored bytes are UTF-8.
  assert.deepEqual(await db.get('键', { valueEncoding: 'buffer' }), Buffer.from('值', 'utf8'))
  assert.equal(await db.get(Buffer.from('ключ', 'utf8'), { keyEncoding: 'buffer' }), 'значение')
  await db.close()
})

test("'buffer' encoding at open: Buffer / Uint8Array in, Buffer out", T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const key = Buffer.from([0x00, 0xff, 0x10, 0x00])
  const value = crypto.randomBytes(300)
  await db.put(key, value)
  const got = await db.get(key)
  assert.ok(Buffer.isBuffer(got), 'value is a Buffer')
  assert.deepEqual(got, value)
  // A Uint8Array key addresses the same bytes.
  const got2 = await db.get(new Uint8Array([0x00, 0xff, 0x10, 0x00]))
  assert.ok(Buffer.isBuffer(got2))
  assert.deepEqual(got2, value)
  // Uint8Array value in, Buffer out.
  await db.put(new Uint8Array([7]), new Uint8Array([1, 2, 3]))
  const got3 = await db.get(Buffer.from([7]))
  assert.ok(Buffer.isBuffer(got3))
  assert.deepEqual([...got3], [1, 2, 3])
  // A Uint8Array view on a larger buffer: only the viewed bytes count.
  const backing = new Uint8Array([9, 9, 1, 2, 9])
  await db.put(backing.subarray(2, 4), backing.subarray(0, 2))
  assert.deepEqual([...(await db.get(Buffer.from([1, 2])))], [9, 9])
  // Empty value.
  await db.put(Buffer.from('e'), Buffer.alloc(0))
  const empty = await db.get(Buffer.from('e'))
  assert.ok(Buffer.isBuffer(empty))
  assert.equal(empty.length, 0)
  // The returned buffer is a copy: mutating it does not change the stored value.
  got[0] ^= 0xff
  assert.deepEqual(await db.get(key), value)
  assert.ok(Buffer.isBuffer(db.getSync(key)))
  const many = await db.getMany([key, Buffer.from('missing')])
  assert.ok(Buffer.isBuffer(many[0]))
  assert.equal(many[1], undefined)
  assert.equal(await db.has(key), true)
  await db.del(key)
  assert.equal(await db.has(key), false)
  await db.close()
})

test("'view' encoding at open: Uint8Array in, Uint8Array out", T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'view', valueEncoding: 'view' })
  const key = new Uint8Array([1, 2, 3])
  const value = new Uint8Array([250, 0, 5])
  await db.put(key, value)
  const got = await db.get(new Uint8Array([1, 2, 3]))
  assert.ok(got instanceof Uint8Array, 'value is a Uint8Array')
  assert.deepEqual([...got], [250, 0, 5])
  const sync = db.getSync(key)
  assert.ok(sync instanceof Uint8Array)
  assert.deepEqual([...sync], [250, 0, 5])
  const [m] = await db.getMany([key])
  assert.ok(m instanceof Uint8Array)
  // A Buffer is a Uint8Array, so it is accepted too.
  await db.put(Buffer.from('k2'), Buffer.from('v2'))
  assert.deepEqual(Buffer.from(await db.get(new TextEncoder().encode('k2'))).toString(), 'v2')
  await db.close()
})

test("'json' encoding at open: JSON values round trip", T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { valueEncoding: 'json' })
  const values = {
    object: { url: 'https://example.com', title: 'Example', visits: 3, tags: ['a', 'b'], nested: { ok: true, none: null } },
    array: [1, 'two', { three: 3 }, [4]],
    number: 42.5,
    zero: 0,
    string: 'plain string',
    emptyString: '',
    bool: false,
    nul: null,
  }
  for (const [k, v] of Object.entries(values)) await db.put(k, v)
  for (const [k, v] of Object.entries(values)) {
    assert.deepEqual(await db.get(k), v, `json value ${k}`)
    assert.deepEqual(db.getSync(k), v, `json value ${k} (getSync)`)
  }
  assert.deepEqual(await db.getMany(['object', 'missing', 'nul']), [values.object, undefined, null])
  // Stored as JSON text.
  assert.equal(await db.get('number', { valueEncoding: 'utf8' }), '42.5')
  assert.equal(await db.get('string', { valueEncoding: 'utf8' }), '"plain string"')
  // A batch with json values.
  await db.batch([{ type: 'put', key: 'b1', value: { x: [1, 2] } }])
  assert.deepEqual(await db.get('b1'), { x: [1, 2] })
  await db.close()
})

test("'json' key encoding", T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { keyEncoding: 'json' })
  await db.put({ site: 'example.com', n: 1 }, 'v1')
  await db.put(['a', 1], 'v2')
  await db.put(7, 'v3')
  assert.equal(await db.get({ site: 'example.com', n: 1 }), 'v1')
  assert.equal(await db.get(['a', 1]), 'v2')
  assert.equal(await db.get(7), 'v3')
  assert.equal(await db.get('7'), undefined, 'the string "7" is a different JSON key')
  assert.equal(await db.get('[\"a\",1]', { keyEncoding: 'utf8' }), 'v2')
  await db.close()
})

test('per-call keyEncoding / valueEncoding override the open defaults', T, async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location)
  // Bytes written as buffer read back as utf8 text.
  await db.put('bin', Buffer.from('héllo', 'utf8'), { valueEncoding: 'buffer' })
  assert.equal(await db.get('bin'), 'héllo')
  const asBuf = await db.get('bin', { valueEncoding: 'buffer' })
  assert.ok(Buffer.isBuffer(asBuf))
  assert.deepEqual(asBuf, Buffer.from('héllo', 'utf8'))
  const asView = await db.get('bin', { valueEncoding: 'view' })
  assert.ok(asView instanceof Uint8Array)
  assert.deepEqual(Buffer.from(asView), Buffer.from('héllo', 'utf8'))
  assert.ok(Buffer.isBuffer(db.getSync('bin', { valueEncoding: 'buffer' })))
  // Bytes that are not UTF-8 read as text with U+FFFD (E9 80 is one cut-short character), never
  // as Latin-1 ('\xe9' would be é); plain ASCII reads back as itself (strings from ASCII bytes
  // take a faster path).
  await db.put('latin', Buffer.from([0x68, 0xe9, 0x80, 0x7f]), { valueEncoding: 'buffer' })
  assert.equal(await db.get('latin'), 'h\ufffd\x7f')
  assert.equal(db.getSync('latin'), 'h\ufffd\x7f')
  await db.put('ascii', Buffer.from([0x00, 0x41, 0x7f]), { valueEncoding: 'buffer' })
  assert.equal(db.getSync('ascii'), '\x00A\x7f')

  // Key written as buffer is the same key as its utf8 text.
  await db.put(Buffer.from('kk'), 'vv', { keyEncoding: 'buffer' })
  assert.equal(await db.get('kk'), 'vv')
  assert.equal(await db.get(new Uint8Array([0x6b, 0x6b]), { keyEncoding: 'view' }), 'vv')

  // json per call.
  await db.put('j', { x: 1, y: [true] }, { valueEncoding: 'json' })
  assert.equal(await db.get('j'), '{"x":1,"y":[true]}')
  assert.deepEqual(await db.get('j', { valueEncoding: 'json' }), { x: 1, y: [true] })
  await db.put({ k: 1 }, 'json-key', { keyEncoding: 'json' })
  assert.equal(await db.get('{"k":1}'), 'json-key')

  // Both overrides at once, and on getMany.
  await db.put(Buffer.from([1]), Buffer.from([2]), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const many = await db.getMany([Buffer.from([1]), Buffer.from([3])], { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  assert.ok(Buffer.isBuffer(many[0]))
  assert.deepEqual([...many[0]], [2])
  assert.equal(many[1], undefined)
  // has / del with a per-call keyEncoding.
  assert.equal(await db.has(Buffer.from('kk'), { keyEncoding: 'buffer' }), true)
  await db.del(Buffer.from('kk'), { keyEncoding: 'buffer' })
  assert.equal(await db.has('kk'), false)

  // Batch-level encodings, and per-operation encodings in a chained batch.
  await db.batch(
    [
      { type: 'put', key: Buffer.from('bk1'), value: Buffer.from([0xc3, 0xa9]) },
      { type: 'del', key: Buffer.from('bin') },
    ],
    { keyEncoding: 'buffer', valueEncoding: 'buffer' },
  )
  assert.equal(await db.get('bk1'), 'é')
  assert.equal(await db.get('bin'), undefined)
  await db
    .batch()
    .put(Buffer.from('ck1'), { c: 1 }, { keyEncoding: 'buffer', valueEncoding: 'json' })
    .put('ck2', 'plain')
    .write()
  assert.deepEqual(await db.getMany(['ck1', 'ck2']), ['{"c":1}', 'plain'])

  await db.close()

  // Per-call utf8 on a db opened with buffer / json defaults.
  const binDb = await openDb(t, BrowserDB, location, { keyEncoding: 'buffer', valueEncoding: 'json' })
  assert.deepEqual(await binDb.get(Buffer.from('j')), { x: 1, y: [true] })
  assert.equal(await binDb.get('j', { keyEncoding: 'utf8', valueEncoding: 'utf8' }), '{"x":1,"y":[true]}')
  await binDb.put('plain', 'text', { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  assert.equal(await binDb.get(Buffer.from('plain'), { valueEncoding: 'utf8' }), 'text')
  await binDb.close()
})

test('a 1 MiB value round trips (string and buffer)', T, async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location, { writeBufferSize: 64 * 1024 })
  const bytes = crypto.randomBytes(1024 * 1024)
  await db.put('big-bin', bytes, { valueEncoding: 'buffer' })
  const text = 'x'.repeat(512 * 1024) + 'é'.repeat(256 * 1024) // 1 MiB of UTF-8
  assert.equal(Buffer.byteLength(text), 1024 * 1024)
  await db.put('big-text', text)
  assert.deepEqual(await db.get('big-bin', { valueEncoding: 'buffer' }), bytes)
  assert.equal(await db.get('big-text'), text)
  await db.close()
  const again = await openDb(t, BrowserDB, location)
  assert.deepEqual(await again.get('big-bin', { valueEncoding: 'buffer' }), bytes)
  assert.equal(again.getSync('big-text'), text)
  await again.close()
})

test('key size limits: 1 byte and 65536 bytes are accepted', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.put('k', 'one byte key')
  assert.equal(await db.get('k'), 'one byte key')
  const maxKey = 'k'.repeat(65536)
  await db.put(maxKey, 'max key')
  assert.equal(await db.get(maxKey), 'max key')
  assert.equal(await db.get('k'.repeat(65535)), undefined)
  const maxBinKey = Buffer.alloc(65536, 0xab)
  await db.put(maxBinKey, 'max bin key', { keyEncoding: 'buffer' })
  assert.equal(await db.get(maxBinKey, { keyEncoding: 'buffer' }), 'max bin key')
  await db.close()
})

test('a 64 MiB value (the maximum) is accepted', { timeout: 60000 }, async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location)
  const value = Buffer.alloc(64 * 1024 * 1024, 0x5a)
  value[0] = 1
  value[value.length - 1] = 2
  await db.put('max', value, { valueEncoding: 'buffer' })
  const got = await db.get('max', { valueEncoding: 'buffer' })
  assert.equal(got.length, value.length)
  assert.ok(got.equals(value))
  await db.close()
})

test('large writes issued in the same tick are each held to their own limits', { timeout: 60000 }, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { valueEncoding: 'buffer' })
  const big = Buffer.alloc(40 * 1024 * 1024, 7)
  // Together over 64 MiB, but each write is within the limits.
  const results = await Promise.allSettled([
    db.put('small', Buffer.from('1')),
    db.put('big1', big),
    db.put('big2', big),
    db.batch([{ type: 'put', key: 'big3', value: big }]),
  ])
  assert.deepEqual(
    results.map((r) => r.status + (r.reason ? ` ${r.reason.code}` : '')),
    ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
  )
  const got = await db.getMany(['small', 'big1', 'big2', 'big3'])
  assert.deepEqual(got.map((v) => v && v.length), [1, big.length, big.length, big.length])
  await db.close()
})

test('Symbol.asyncDispose closes the database', T, async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location)
  assert.equal(typeof db[Symbol.asyncDispose], 'function')
  await db.put('k', 'v')
  const r = db[Symbol.asyncDispose]()
  assert.ok(r && typeof r.then === 'function')
  await r
  await rejectsCode(() => db.get('k'), 'BROWSERDB_CLOSED')
  // It released the lock: the database can be opened again.
  const again = await openDb(t, BrowserDB, location)
  assert.equal(await again.get('k'), 'v')
  await again.close()
})

test('close, then reopen the same location', T, async (t) => {
  const location = tmpDir(t)
  for (let i = 0; i < 3; i++) {
    const db = await openDb(t, BrowserDB, location)
    if (i > 0) assert.equal(await db.get(`round${i - 1}`), String(i - 1))
    await db.put(`round${i}`, String(i))
    await db.close()
  }
})

test('ESM: import { BrowserDB } from index.mjs and from the package name', T, async (t) => {
  assert.ok(fs.existsSync(path.join(ROOT, 'index.mjs')), 'index.mjs exists')
  const location = path.join(tmpDir(t), 'esm.bdb')
  const url = pathToFileURL(path.join(ROOT, 'index.mjs')).href
  const script = `
    import { BrowserDB } from ${JSON.stringify(url)}
    const db = await BrowserDB.open(${JSON.stringify(location)})
    await db.put('esm', 'works')
    const v = await db.get('esm')
    await db.close()
    console.log(JSON.stringify({ v, type: typeof BrowserDB.open }))
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 20000 })
  assert.equal(r.status, 0, `child failed: ${r.stderr}`)
  assert.deepEqual(JSON.parse(r.stdout.trim()), { v: 'works', type: 'function' })

  // Through the package's "exports" map (self-reference by name), as users import it.
  const r2 = spawnSync(process.execPath, [path.join(FIXTURES, 'esm-import.mjs'), location], { cwd: ROOT, encoding: 'utf8', timeout: 20000 })
  assert.equal(r2.status, 0, `child failed: ${r2.stderr}`)
  assert.deepEqual(JSON.parse(r2.stdout.trim()), { v: 'works', sameClassAsCjs: true })
})

test('string keys and values of every UTF-8 width round-trip around the 256-byte inline conversion', async (t) => {
  // The addon encodes short strings on the stack and longer ones on the heap; a string cut at
  // a character boundary near the stack buffer's end must take the long path, never be truncated.
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const keys = []
  for (const ch of ['x', 'é', '€', '😀']) {
    const width = Buffer.byteLength(ch)
    for (let bytes = 244; bytes <= 268; bytes++) {
      if (bytes % width === 0) keys.push(ch.repeat(bytes / width))
    }
  }
  for (const k of keys) await db.put(k, 'v:' + k)
  for (const k of keys) {
    assert.equal(db.getSync(k), 'v:' + k, `getSync of a ${Buffer.byteLength(k)}-byte key`)
    assert.equal(await db.get(k), 'v:' + k)
  }
  const stored = await db.keys().all()
  assert.deepEqual(stored.slice().sort(), keys.slice().sort(), 'every key stored whole, none cut short')
})
