'use strict'
// The Level adapter (issue 11): `browserdb/level` passes abstract-level's own test suite, run in
// a child process with tape (__test__/fixtures/level-suite.js; nothing in it is skipped); Level
// tools work on it (sublevels, level-read-stream); its key escape keeps ordering and reads the
// same through BrowserDB; BrowserDB's options and errors come through.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { once } = require('node:events')

const { BrowserDB } = require('..')
const { BrowserLevel } = require('../level.js')
const { FIXTURES, tmpDir, openDb } = require('./helpers')

const T = { timeout: 60000 }

/** Opens like BrowserDB.open, so the helpers close it after the test (before removing its directory). */
const Opener = {
  async open (location, options) {
    const db = new BrowserLevel(location, options)
    await db.open()
    return db
  }
}

/** A BrowserLevel in a fresh directory, closed after the test. */
function openLevel (t, options, location = path.join(tmpDir(t), 'db')) {
  return openDb(t, Opener, location, options)
}

test("abstract-level's own test suite passes (tape, every test, root and sublevel runs)", T, async () => {
  const child = spawn(process.execPath, [path.join(FIXTURES, 'level-suite.js')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s })
  const [code, signal] = await once(child, 'close') // after stdout is drained, unlike 'exit'
  // Name every failed assertion with the test it belongs to.
  const failures = []
  let current = ''
  for (const line of stdout.split('\n')) {
    if (line.startsWith('# ')) current = line.slice(2)
    else if (line.startsWith('not ok ')) failures.push(`${current}: ${line}`)
  }
  const total = /^# tests (\d+)$/m.exec(stdout)
  const passed = /^# pass +(\d+)$/m.exec(stdout)
  assert.deepEqual(failures, [], `abstract-level suite failures:\n${failures.join('\n')}\n${stderr}`)
  assert.equal(signal, null, `suite killed by ${signal}\n${stderr}`)
  assert.equal(code, 0, `suite exited ${code}\n${stdout.slice(-2000)}\n${stderr}`)
  assert.ok(total && Number(total[1]) > 4000, `the suite ran only ${total && total[1]} assertions`)
  assert.equal(passed && passed[1], total[1])
  assert.match(stdout, /^# ok$/m)
})

test('require and import of browserdb/level give the same class, an AbstractLevel', async () => {
  const { AbstractLevel } = require('abstract-level')
  assert.equal(require('browserdb/level').BrowserLevel, BrowserLevel)
  const esm = await import('browserdb/level')
  assert.equal(esm.BrowserLevel, BrowserLevel)
  assert.equal(esm.default, BrowserLevel)
  assert.ok(new BrowserLevel(path.join(require('node:os').tmpdir(), 'never-opened')) instanceof AbstractLevel)
})

test('manifest: what BrowserLevel supports', async (t) => {
  const db = await openLevel(t)
  const s = db.supports
  for (const name of ['implicitSnapshots', 'explicitSnapshots', 'has', 'getSync', 'seek', 'permanence', 'createIfMissing', 'errorIfExists', 'deferredOpen']) {
    assert.equal(s[name], true, name)
  }
  assert.equal(s.signals.iterators, true)
  for (const name of ['buffer', 'view', 'utf8', 'json']) assert.equal(s.encodings[name], true, name)
  const ultra = await openLevel(t, { mode: 'ultra' })
  assert.equal(ultra.supports.permanence, false, "mode 'ultra' keeps nothing across a reopen")
})

test('sublevels: nested, JSON-encoded, isolated key ranges, atomic batches across sublevels', async (t) => {
  const db = await openLevel(t)
  const users = db.sublevel('users', { valueEncoding: 'json' })
  const index = db.sublevel(['idx', 'email'])
  const nested = db.sublevel('a').sublevel('b')
  await db.batch([
    { type: 'put', sublevel: users, key: 'u1', value: { name: 'Ada', email: 'ada@example.com' } },
    { type: 'put', sublevel: users, key: 'u2', value: { name: 'Bob', email: 'bob@example.com' } },
    { type: 'put', sublevel: index, key: 'ada@example.com', value: 'u1' },
    { type: 'put', sublevel: index, key: 'bob@example.com', value: 'u2' }
  ])
  await nested.put('deep', 'x')
  await db.put('top', 'level')
  assert.deepEqual(await users.get('u1'), { name: 'Ada', email: 'ada@example.com' })
  assert.deepEqual(await index.keys().all(), ['ada@example.com', 'bob@example.com'])
  assert.deepEqual(await users.keys({ gt: 'u1' }).all(), ['u2'])
  assert.deepEqual(await nested.iterator().all(), [['deep', 'x']])
  // On disk they are prefixed keys of one browserdb database, in order.
  assert.deepEqual(await db.keys().all(), ['!a!!b!deep', '!idx!!email!ada@example.com', '!idx!!email!bob@example.com', '!users!u1', '!users!u2', 'top'])
  await users.clear()
  assert.deepEqual(await users.keys().all(), [])
  assert.equal(await db.get('top'), 'level')
  // A snapshot taken on a sublevel reads through its parent.
  const snapshot = index.snapshot()
  await index.del('ada@example.com')
  assert.equal(await index.get('ada@example.com', { snapshot }), 'u1')
  assert.equal(await index.get('ada@example.com'), undefined)
  await snapshot.close()
})

test('level-read-stream: entry, key and value streams with ranges, reverse and limit', async (t) => {
  const { EntryStream, KeyStream, ValueStream } = require('level-read-stream')
  const { pipeline } = require('node:stream/promises')
  const db = await openLevel(t, { valueEncoding: 'json' })
  const ops = []
  for (let i = 0; i < 2500; i++) ops.push({ type: 'put', key: `k${String(i).padStart(5, '0')}`, value: { i } })
  await db.batch(ops)
  const entries = []
  await pipeline(new EntryStream(db, { gte: 'k00100', lt: 'k02100' }), async function (source) {
    for await (const entry of source) entries.push(entry)
  })
  assert.equal(entries.length, 2000)
  assert.deepEqual(entries[0], { key: 'k00100', value: { i: 100 } })
  assert.deepEqual(entries[1999], { key: 'k02099', value: { i: 2099 } })
  const keys = await new KeyStream(db, { reverse: true, limit: 3 }).toArray()
  assert.deepEqual(keys, ['k02499', 'k02498', 'k02497'])
  const values = await new ValueStream(db.sublevel('none')).toArray()
  assert.deepEqual(values, [])
  const some = await new ValueStream(db, { lte: 'k00002' }).toArray()
  assert.deepEqual(some, [{ i: 0 }, { i: 1 }, { i: 2 }])
})

test('the empty key and NUL-led keys are escaped, ordered, and every other key is stored as is', async (t) => {
  const location = path.join(tmpDir(t), 'db')
  const db = new BrowserLevel(location)
  await db.open()
  const keys = ['', '\u0000', '\u0000\u0000', '\u0000\u0001', '\u0000b', '\u0001', 'a', 'é']
  await db.batch(keys.map((key, i) => ({ type: 'put', key, value: String(i) })))
  assert.deepEqual(await db.keys().all(), keys, 'Level order (bytewise) holds for escaped keys')
  assert.deepEqual(await db.keys({ reverse: true }).all(), [...keys].reverse())
  assert.deepEqual(await db.keys({ gt: '', lt: '\u0001' }).all(), keys.slice(1, 5))
  assert.deepEqual(await db.keys({ lte: '' }).all(), [''])
  assert.deepEqual(await db.getMany(keys), keys.map((_, i) => String(i)))
  const buf = await db.keys({ keyEncoding: 'buffer', lt: Buffer.from([0, 1]) }).all()
  assert.deepEqual(buf, [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 0])])
  const view = await db.keys({ keyEncoding: 'view', gte: new Uint8Array([0, 1]), lt: new Uint8Array([1]) }).all()
  assert.deepEqual(view.map((k) => Array.from(k)), [[0, 1], [0, 98]])
  const it = db.iterator()
  it.seek('\u0000\u0000')
  assert.deepEqual(await it.next(), ['\u0000\u0000', '2'])
  await it.close()
  await db.close()

  // Through BrowserDB: the escaped forms, and ordinary keys byte for byte.
  const raw = await BrowserDB.open(location, { keyEncoding: 'buffer' })
  const stored = (await raw.keys().all()).map((k) => Array.from(k))
  await raw.close()
  assert.deepEqual(stored, [[0], [0, 1], [0, 1, 0], [0, 1, 1], [0, 1, 98], [1], [97], [0xc3, 0xa9]])

  // And BrowserDB's writes read the same through BrowserLevel.
  const writer = await BrowserDB.open(location)
  await writer.put('written-by-browserdb', 'yes')
  await writer.close()
  const reader = await openLevel(t, undefined, location)
  assert.equal(await reader.get('written-by-browserdb'), 'yes')
})

test("BrowserDB's options and write options pass through; bad ones fail the open", async (t) => {
  const db = await openLevel(t, { writeBufferSize: 64 * 1024, cacheSize: 1 << 20, compression: 'zstd', compactionStyle: 'tiered' })
  assert.ok(db.browserdb instanceof BrowserDB)
  await db.put('k', 'v', { sync: true, ttl: 60000 })
  await db.del('gone', { sync: true })
  await db.batch([{ type: 'put', key: 'short', value: 'lived', ttl: 1 }], { sync: true })
  await db.batch().put('a', '1').write({ sync: true })
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(await db.get('short'), undefined, 'ttl expired')
  assert.equal(await db.get('k'), 'v')
  assert.ok(db.browserdb.stats())

  const bad = new BrowserLevel(path.join(tmpDir(t), 'bad'), { compression: 'brotli' })
  await assert.rejects(bad.open(), (err) => {
    assert.equal(err.code, 'LEVEL_DATABASE_NOT_OPEN')
    assert.equal(err.cause.code, 'BROWSERDB_INVALID_ARGUMENT')
    return true
  })
  assert.throws(() => new BrowserLevel(''), TypeError)
  assert.throws(() => new BrowserLevel(), TypeError)
})

test('errors: a held directory is LEVEL_LOCKED; createIfMissing and errorIfExists say why', async (t) => {
  const location = path.join(tmpDir(t), 'db')
  await openLevel(t, undefined, location)
  const second = new BrowserLevel(location)
  await assert.rejects(second.open(), (err) => {
    assert.equal(err.code, 'LEVEL_DATABASE_NOT_OPEN')
    assert.equal(err.cause.code, 'LEVEL_LOCKED')
    assert.equal(err.cause.cause.code, 'BROWSERDB_LOCKED')
    return true
  })
  assert.equal(second.status, 'closed')
  const missing = new BrowserLevel(path.join(tmpDir(t), 'missing'), { createIfMissing: false })
  await assert.rejects(missing.open(), (err) => err.cause.code === 'BROWSERDB_NOT_FOUND' && /does not exist/.test(err.cause.message))
  const exists = new BrowserLevel(location, { errorIfExists: true })
  await assert.rejects(exists.open(), (err) => err.cause.code === 'BROWSERDB_EXISTS')
})

test('close and reopen the same instance; data persists; iterators and snapshots close with it', async (t) => {
  const location = path.join(tmpDir(t), 'db')
  const db = new BrowserLevel(location)
  await db.put('a', '1') // deferred open
  const it = db.iterator()
  const snapshot = db.snapshot()
  await db.close()
  assert.equal(db.browserdb, null)
  await assert.rejects(it.next(), { code: 'LEVEL_ITERATOR_NOT_OPEN' })
  assert.throws(() => snapshot.ref(), { code: 'LEVEL_SNAPSHOT_NOT_OPEN' })
  await db.open()
  assert.equal(await db.get('a'), '1')
  await db.close()
})
