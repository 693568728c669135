'use strict'
// Maintenance: verify, repair, incremental backup and restore, NDJSON/BDB export and import,
// and the 'write' / 'flush' / 'compaction' events. Damage is done to closed databases (or
// backups), then the database is reopened and checked.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { BrowserDB } = require('..')
const { tmpDir, openDb, rejectsCode } = require('./helpers')
const { keyFor, valueFor } = require('./helpers/data')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const SMALL = { writeBufferSize: 64 * 1024 }

/** Puts keys `<prefix>:000000`.. with valueFor values, `per` per batch. */
async function fill (db, prefix, count, per = 100) {
  for (let i = 0; i < count; i += per) {
    const ops = []
    for (let j = i; j < Math.min(count, i + per); j++) ops.push({ type: 'put', key: keyFor(prefix, j), value: valueFor(prefix, j) })
    await db.batch(ops)
  }
}

/** Every entry of `db` as an array of [key, value]. */
function entriesOf (db) {
  return db.iterator().all()
}

/** The .sst files of `dir`, largest first. */
function tablesBySize (dir) {
  return fs.readdirSync(dir)
    .filter((name) => name.endsWith('.sst'))
    .map((name) => ({ name, size: fs.statSync(path.join(dir, name)).size }))
    .sort((a, b) => b.size - a.size)
}

function flipByte (file, offset) {
  const bytes = fs.readFileSync(file)
  assert.ok(offset < bytes.length, `${file} has only ${bytes.length} bytes`)
  bytes[offset] ^= 0xff
  fs.writeFileSync(file, bytes)
}

/**
 * A closed database with one large table of 'a' keys (compacted) and a smaller one of 'b'
 * keys; byte 100 of the large table (inside its first data block) is flipped.
 */
async function damagedDb (t) {
  const location = tmpDir(t)
  const db = await BrowserDB.open(location, SMALL)
  await fill(db, 'a', 2000)
  await db.compact()
  await fill(db, 'b', 300)
  await db.close()
  const tables = tablesBySize(location)
  assert.ok(tables.length >= 2, `expected two tables, got ${JSON.stringify(tables)}`)
  flipByte(path.join(location, tables[0].name), 100)
  return { location, damaged: tables[0].name }
}

/** Polls `check()` every 20 ms for up to `ms`; resolves to whether it became true. */
async function eventually (check, ms = 2000) {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

// ------------------------------------------------------------------------------------------
// verify

test('verify reports a sound database as ok and calls onProgress', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), SMALL)
  await fill(db, 'v', 1500)
  await db.compact()
  await fill(db, 'w', 50) // some entries stay in the WAL
  const calls = []
  const report = await db.verify({ onProgress: (p) => calls.push(p) })
  assert.equal(report.ok, true)
  assert.deepEqual(report.problems, [])
  assert.ok(report.tables >= 1)
  assert.equal(report.entries, 1500)
  assert.ok(report.bytes > 0)
  assert.ok(report.walRecords >= 1, `walRecords ${report.walRecords}`)
  assert.ok(calls.length >= 1, 'onProgress was never called')
  for (const p of calls) {
    assert.equal(typeof p.done, 'number')
    assert.equal(typeof p.total, 'number')
  }
  const last = calls[calls.length - 1]
  assert.equal(last.done, last.total)
  assert.ok(last.total > 0)
  assert.deepEqual(await db.verify(), report, 'a second run finds the same')
})

test('verify finds a flipped byte inside a data block: kind checksum, the file named', async (t) => {
  const { location, damaged } = await damagedDb(t)
  const db = await openDb(t, BrowserDB, location, { createIfMissing: false })
  const report = await db.verify()
  assert.equal(report.ok, false)
  const mine = report.problems.filter((p) => p.file === damaged)
  assert.ok(mine.length >= 1, `no problem names ${damaged}: ${JSON.stringify(report.problems)}`)
  assert.ok(mine.some((p) => p.kind === 'checksum'), JSON.stringify(mine))
  for (const p of report.problems) {
    assert.equal(typeof p.offset, 'number')
    assert.equal(typeof p.message, 'string')
    assert.ok(p.message.length > 0)
  }
  // Reads of the damaged block fail with BROWSERDB_CORRUPTION, never with wrong data.
  for (let i = 0; i < 2000; i += 7) {
    try {
      const value = await db.get(keyFor('a', i))
      assert.equal(value, valueFor('a', i))
    } catch (err) {
      assert.equal(err.code, 'BROWSERDB_CORRUPTION')
    }
  }
})

// ------------------------------------------------------------------------------------------
// repair

test('repair moves a damaged table into lost/ and the database serves every intact key', async (t) => {
  const { location, damaged } = await damagedDb(t)
  const report = await BrowserDB.repair(location)
  assert.ok(report.lost.includes(`lost/${damaged}`), JSON.stringify(report.lost))
  assert.ok(fs.existsSync(path.join(location, 'lost', damaged)))
  assert.ok(report.problems.some((p) => p.file === damaged && p.kind === 'checksum'))
  assert.ok(report.tablesIntact >= 1)
  assert.equal(report.tablesSalvaged, 1)
  for (const name of ['tables', 'entries', 'walRecords']) assert.equal(typeof report[name], 'number', name)

  const db = await openDb(t, BrowserDB, location, { createIfMissing: false })
  const verified = await db.verify()
  assert.equal(verified.ok, true, JSON.stringify(verified.problems))
  for (let i = 0; i < 300; i++) assert.equal(await db.get(keyFor('b', i)), valueFor('b', i))
  let kept = 0
  for (const [key, value] of await entriesOf(db)) {
    if (!key.startsWith('a:')) continue
    assert.equal(value, valueFor('a', Number(key.slice(2))), key)
    kept++
  }
  assert.ok(kept > 0 && kept < 2000, `${kept} of 2000 'a' keys kept (one block lost, the rest salvaged)`)
  assert.equal(report.entries, kept + 300)
})

test('repair of a missing directory rejects with BROWSERDB_NOT_FOUND and creates nothing', async (t) => {
  const missing = path.join(tmpDir(t), 'absent')
  await rejectsCode(() => BrowserDB.repair(missing), 'BROWSERDB_NOT_FOUND')
  assert.equal(fs.existsSync(missing), false)
})

// ------------------------------------------------------------------------------------------
// backup and restore

test('a second backup copies only new tables; restore round-trips every entry', async (t) => {
  const root = tmpDir(t)
  const backupDir = path.join(root, 'backup')
  // Level 1's target is 4 write buffers: with 256 KiB buffers the compacted 'a' data (~350 KiB)
  // stays in level 1, so no background compaction rewrites it between the two backups.
  const db = await openDb(t, BrowserDB, path.join(root, 'db'), { writeBufferSize: 256 * 1024 })
  await fill(db, 'a', 2000)
  await db.compact()
  const progress = []
  const first = await db.backup(backupDir, { onProgress: (p) => progress.push(p) })
  assert.ok(first.tablesCopied >= 1)
  assert.equal(first.tablesReused, 0)
  assert.equal(first.bytesCopied, first.bytesTotal)
  assert.equal(first.tables, first.tablesCopied + first.tablesReused)
  assert.ok(progress.length >= 1)

  await fill(db, 'z', 100)
  await db.compact({ prefix: 'z' }) // flushes 'z' into its own table; the 'a' table stays
  await db.put('in-the-wal', 'yes')
  const second = await db.backup(backupDir)
  assert.ok(second.tablesReused >= 1, JSON.stringify(second))
  assert.ok(second.tablesCopied >= 1, JSON.stringify(second))
  assert.ok(second.bytesCopied < second.bytesTotal, JSON.stringify(second))
  const expected = await entriesOf(db)
  await db.close()

  const target = path.join(root, 'restored')
  const restoreProgress = []
  const restored = await BrowserDB.restore(backupDir, target, { onProgress: (p) => restoreProgress.push(p) })
  assert.ok(restored.tables >= 2)
  assert.ok(restoreProgress.length >= 1)
  const copy = await openDb(t, BrowserDB, target, { createIfMissing: false })
  assert.deepEqual(await entriesOf(copy), expected)
  assert.equal((await copy.verify()).ok, true)
})

test('restore refuses a damaged backup with BROWSERDB_CORRUPTION and creates nothing', async (t) => {
  const root = tmpDir(t)
  const backupDir = path.join(root, 'backup')
  const db = await openDb(t, BrowserDB, path.join(root, 'db'), SMALL)
  await fill(db, 'a', 1000)
  await db.compact()
  await db.backup(backupDir)
  await db.close()
  flipByte(path.join(backupDir, tablesBySize(backupDir)[0].name), 100)
  const target = path.join(root, 'restored')
  await rejectsCode(() => BrowserDB.restore(backupDir, target), 'BROWSERDB_CORRUPTION')
  assert.equal(fs.existsSync(target), false)
})

test('restore into a non-empty directory rejects with BROWSERDB_EXISTS', async (t) => {
  const root = tmpDir(t)
  const backupDir = path.join(root, 'backup')
  const db = await openDb(t, BrowserDB, path.join(root, 'db'))
  await db.put('k', 'v')
  await db.backup(backupDir)
  await db.close()
  await rejectsCode(() => BrowserDB.restore(backupDir, path.join(root, 'db')), 'BROWSERDB_EXISTS')
  const cluttered = path.join(root, 'cluttered')
  fs.mkdirSync(cluttered)
  fs.writeFileSync(path.join(cluttered, 'notes.txt'), 'mine')
  await rejectsCode(() => BrowserDB.restore(backupDir, cluttered), 'BROWSERDB_EXISTS')
  assert.deepEqual(fs.readdirSync(cluttered), ['notes.txt'])
  // An existing empty directory is fine.
  const empty = path.join(root, 'empty')
  fs.mkdirSync(empty)
  await BrowserDB.restore(backupDir, empty)
  const copy = await openDb(t, BrowserDB, empty, { createIfMissing: false })
  assert.equal(await copy.get('k'), 'v')
})

// ------------------------------------------------------------------------------------------
// export and import

/** Exports `db` in `format`, imports into a fresh database, and returns the copy. */
async function roundTrip (t, db, format, options) {
  const root = tmpDir(t)
  const file = path.join(root, `export.${format}`)
  const exported = await db.export(file, { format })
  assert.equal(exported.bytes, fs.statSync(file).size)
  const copy = await openDb(t, BrowserDB, path.join(root, 'copy'), options)
  const imported = await copy.import(file)
  assert.deepEqual(imported, exported)
  return { copy, file, exported }
}

test('export/import round-trip Buffer keys and values (also non-UTF-8) in both formats', async (t) => {
  const options = { keyEncoding: 'buffer', valueEncoding: 'buffer' }
  const db = await openDb(t, BrowserDB, tmpDir(t), options)
  const entries = []
  for (let i = 0; i < 300; i++) {
    const key = Buffer.from([i % 256, 0xff, 0x00, i >> 8, 0xc3])
    const value = Buffer.alloc(i % 40, i)
    entries.push([key, value])
  }
  entries.push([Buffer.from('plain text key'), Buffer.from('plain text value')])
  await db.batch(entries.map(([key, value]) => ({ type: 'put', key, value })))
  const expected = await entriesOf(db)
  assert.equal(expected.length, entries.length)
  for (const format of ['ndjson', 'bdb']) {
    const { copy, file, exported } = await roundTrip(t, db, format, options)
    assert.equal(exported.entries, entries.length)
    assert.deepEqual(await entriesOf(copy), expected, format)
    if (format === 'ndjson') {
      const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line))
      assert.equal(lines.length, entries.length)
      const binary = lines.find((line) => line.keyEncoding === 'base64')
      assert.ok(binary, 'a non-UTF-8 key is written as base64')
      assert.ok(expected.some(([key]) => key.equals(Buffer.from(binary.key, 'base64'))))
      assert.ok(lines.some((line) => line.key === 'plain text key' && line.value === 'plain text value' && !line.keyEncoding))
    }
  }
})

test('export/import round-trip UTF-8 with unicode, quotes, backslashes and newlines', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const tricky = {
    'ключ 😀': 'значение 🎉',
    'quote "x"': 'say "hi"\\n',
    'line\nbreak': 'two\nlines\r\n\ttabbed',
    '\u2028sep': '\u2029\u0000nul',
    'a{"key":"fake"}': '}\n{"key":"injected","value":"x"}'
  }
  for (const [k, v] of Object.entries(tricky)) await db.put(k, v)
  const expected = await entriesOf(db)
  for (const format of ['ndjson', 'bdb']) {
    const { copy, file } = await roundTrip(t, db, format)
    assert.deepEqual(await entriesOf(copy), expected, format)
    if (format === 'ndjson') {
      const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n')
      assert.equal(lines.length, expected.length, 'one line per entry: newlines are escaped')
      for (const line of lines) assert.equal(typeof JSON.parse(line).key, 'string')
    }
  }
})

test('export/import carry ttl expiries: expired entries stay expired', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const before = Date.now()
  // 3 s: the two round trips below (exports, opens and imports, each with its fsyncs) must see
  // it alive on a slow, loaded disk; it is checked gone once that time has passed.
  const SHORT_TTL = 3000
  await db.put('short', 's', { ttl: SHORT_TTL })
  await db.put('long', 'l', { ttl: 60 * 60 * 1000 })
  await db.put('forever', 'f')
  for (const format of ['ndjson', 'bdb']) {
    const { copy, file } = await roundTrip(t, db, format)
    if (format === 'ndjson') {
      const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line))
      const byKey = Object.fromEntries(lines.map((line) => [line.key, line]))
      assert.equal(byKey.forever.expires, undefined)
      assert.ok(byKey.long.expires >= before + 60 * 60 * 1000 && byKey.long.expires <= Date.now() + 60 * 60 * 1000)
      assert.ok(byKey.short.expires >= before + SHORT_TTL)
    }
    assert.deepEqual(await copy.keys().all(), ['forever', 'long', 'short'], format)
  }
  const { copy } = await roundTrip(t, db, 'ndjson')
  const bdb = await roundTrip(t, db, 'bdb')
  await sleep(Math.max(0, before + SHORT_TTL + 100 - Date.now()))
  assert.deepEqual(await copy.keys().all(), ['forever', 'long'])
  assert.deepEqual(await bdb.copy.keys().all(), ['forever', 'long'])
  assert.equal(await copy.get('long'), 'l')
})

test('import of a file with a bad line in the middle rejects with BROWSERDB_CORRUPTION and writes nothing', async (t) => {
  const root = tmpDir(t)
  const db = await openDb(t, BrowserDB, path.join(root, 'db'))
  await db.put('existing', 'old')
  await db.put('k:0001', 'before')
  const lines = []
  for (let i = 0; i < 100; i++) lines.push(JSON.stringify({ key: `k:${String(i).padStart(4, '0')}`, value: `v${i}` }))
  const bad = [...lines]
  bad.splice(50, 0, '{"key":"broken", "value":')
  fs.writeFileSync(path.join(root, 'bad.ndjson'), bad.join('\n') + '\n')
  const snapshotBefore = await entriesOf(db)
  await rejectsCode(() => db.import(path.join(root, 'bad.ndjson')), 'BROWSERDB_CORRUPTION')
  await rejectsCode(() => db.import(path.join(root, 'bad.ndjson'), { format: 'ndjson' }), 'BROWSERDB_CORRUPTION')
  const notBase64 = [...lines]
  notBase64.splice(70, 0, JSON.stringify({ key: 'x', value: '!!!', valueEncoding: 'base64' }))
  fs.writeFileSync(path.join(root, 'bad64.ndjson'), notBase64.join('\n') + '\n')
  await rejectsCode(() => db.import(path.join(root, 'bad64.ndjson')), 'BROWSERDB_CORRUPTION')
  assert.deepEqual(await entriesOf(db), snapshotBefore)

  // The good file imports; the last line for a key wins over what was there.
  fs.writeFileSync(path.join(root, 'good.ndjson'), lines.join('\n') + '\n')
  assert.equal((await db.import(path.join(root, 'good.ndjson'))).entries, 100)
  assert.equal(await db.get('k:0001'), 'v1')
  assert.equal(await db.get('existing'), 'old')
})

test('import of a damaged bdb file rejects with BROWSERDB_CORRUPTION and writes nothing', async (t) => {
  const root = tmpDir(t)
  const db = await openDb(t, BrowserDB, path.join(root, 'db'))
  await fill(db, 'e', 500)
  const file = path.join(root, 'dump.bdb')
  await db.export(file, { format: 'bdb' })
  flipByte(file, 100)
  const copy = await openDb(t, BrowserDB, path.join(root, 'copy'))
  await copy.put('mine', '1')
  await rejectsCode(() => copy.import(file), 'BROWSERDB_CORRUPTION')
  await rejectsCode(() => copy.import(file, { format: 'bdb' }), 'BROWSERDB_CORRUPTION')
  assert.deepEqual(await entriesOf(copy), [['mine', '1']])
})

test('export reports progress in entries and replaces the file atomically', async (t) => {
  const root = tmpDir(t)
  const db = await openDb(t, BrowserDB, path.join(root, 'db'))
  await fill(db, 'p', 200)
  const file = path.join(root, 'out.ndjson')
  fs.writeFileSync(file, 'old contents')
  const calls = []
  const report = await db.export(file, { onProgress: (p) => calls.push(p) })
  assert.equal(report.entries, 200)
  assert.ok(calls.length >= 1)
  assert.equal(calls[calls.length - 1].done, 200)
  assert.equal(fs.readFileSync(file, 'utf8').trimEnd().split('\n').length, 200)
  assert.deepEqual(fs.readdirSync(root).sort(), ['db', 'out.ndjson'])
})

// ------------------------------------------------------------------------------------------
// events

test("'write' listeners see the ops of put, del, batch and a chained batch after they resolve", async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const seen = []
  db.on('write', (ops) => seen.push(ops))
  const put = db.put('a', '1')
  assert.equal(seen.length, 0, 'no event before the write resolves')
  await put
  await db.del('b')
  await db.batch([{ type: 'put', key: 'c', value: '3' }, { type: 'del', key: 'a' }])
  await db.batch().put('d', '4').del('c').write()
  assert.deepEqual(seen, [
    [{ type: 'put', key: 'a', value: '1' }],
    [{ type: 'del', key: 'b' }],
    [{ type: 'put', key: 'c', value: '3' }, { type: 'del', key: 'a' }],
    [{ type: 'put', key: 'd', value: '4' }, { type: 'del', key: 'c' }]
  ])
  // A failed write emits nothing.
  await rejectsCode(() => db.put('', 'x'), 'BROWSERDB_INVALID_ARGUMENT')
  assert.equal(seen.length, 4)
})

test("'flush' and 'compaction' listeners fire after compact()", async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), SMALL)
  const flushes = []
  const compactions = []
  db.on('flush', (info) => flushes.push(info))
  db.on('compaction', (info) => compactions.push(info))
  await fill(db, 'f', 1500)
  await db.compact()
  assert.ok(await eventually(() => flushes.length >= 1 && compactions.length >= 1),
    `flushes ${flushes.length}, compactions ${compactions.length}`)
  for (const f of flushes) {
    for (const name of ['table', 'bytes', 'entries']) assert.equal(typeof f[name], 'number', name)
    assert.ok(f.bytes > 0 && f.entries > 0)
  }
  const c = compactions[compactions.length - 1]
  for (const name of ['inputTables', 'inputBytes', 'outputTables', 'outputBytes', 'outputLevel']) {
    assert.equal(typeof c[name], 'number', name)
  }
  assert.ok(c.inputTables >= 1 && c.outputTables >= 1)
})

test("the engine keeps flush events only while a 'flush' or 'compaction' listener is attached", async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), SMALL)
  // compact() of a range holding no key only flushes the memtables.
  const flush = () => db.compact({ gte: '~', lte: '~' })
  await fill(db, 'n', 1500)
  await flush()
  assert.ok(db.stats().flushes >= 2)
  assert.deepEqual(JSON.parse(db._native.drainEvents()), [], 'no listener: nothing kept')
  // A listener sees the flushes after it was attached, not those before.
  const flushes = []
  const listener = (info) => flushes.push(info)
  db.on('flush', listener)
  await db.put('one', 'more')
  await flush()
  assert.ok(await eventually(() => flushes.length === 1), `flushes ${flushes.length}`)
  assert.equal(flushes[0].entries, 1)
  // Removed: recording stops at the next poll and what was not delivered is dropped.
  db.off('flush', listener)
  await sleep(250)
  await db.put('and', 'another')
  await flush()
  assert.deepEqual(JSON.parse(db._native.drainEvents()), [])
  assert.equal(flushes.length, 1)
})

test('a throwing write listener does not reject the write; it becomes a process warning', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  const warned = new Promise((resolve) => process.once('warning', resolve))
  const later = []
  db.on('write', () => { throw new Error('listener bug') })
  db.on('write', (ops) => later.push(ops))
  await db.put('k', 'v')
  assert.equal(await db.get('k'), 'v')
  assert.equal(later.length, 1, 'the next listener still runs')
  const warning = await warned
  assert.match(String(warning.message), /listener bug/)
})

// ------------------------------------------------------------------------------------------
// arguments and closed databases

test('bad arguments reject with BROWSERDB_INVALID_ARGUMENT', async (t) => {
  const root = tmpDir(t)
  const db = await openDb(t, BrowserDB, path.join(root, 'db'))
  const file = path.join(root, 'x.ndjson')
  const bad = 'BROWSERDB_INVALID_ARGUMENT'
  await rejectsCode(() => db.verify({ onProgress: 'yes' }), bad, TypeError)
  await rejectsCode(() => db.verify({ progress: () => {} }), bad, RangeError)
  await rejectsCode(() => db.verify('fast'), bad, TypeError)
  await rejectsCode(() => db.backup(42), bad, TypeError)
  await rejectsCode(() => db.backup(''), bad, TypeError)
  await rejectsCode(() => db.backup(path.join(root, 'b'), { onProgress: 1 }), bad, TypeError)
  await rejectsCode(() => db.backup(path.join(root, 'b'), { format: 'bdb' }), bad, RangeError)
  await rejectsCode(() => db.export(file, { format: 'csv' }), bad, RangeError)
  await rejectsCode(() => db.export(null), bad, TypeError)
  await rejectsCode(() => db.export(file, { compress: true }), bad, RangeError)
  await rejectsCode(() => db.import(file, { format: 'xml' }), bad, RangeError)
  await rejectsCode(() => db.import({}), bad, TypeError)
  await rejectsCode(() => db.import(file, { onProgress: {} }), bad, TypeError)
  await rejectsCode(() => BrowserDB.repair(42), bad, TypeError)
  await rejectsCode(() => BrowserDB.repair(undefined), bad, TypeError)
  await rejectsCode(() => BrowserDB.restore(1, path.join(root, 'r')), bad, TypeError)
  await rejectsCode(() => BrowserDB.restore(root, 2), bad, TypeError)
  await rejectsCode(() => BrowserDB.restore(root, path.join(root, 'r'), { onProgress: 'x' }), bad, TypeError)
  await rejectsCode(() => BrowserDB.restore(root, path.join(root, 'r'), { overwrite: true }), bad, RangeError)
  assert.equal(fs.existsSync(file), false)
  assert.equal(fs.existsSync(path.join(root, 'b')), false)
  assert.equal(fs.existsSync(path.join(root, 'r')), false)
})

test('maintenance calls after close() reject with BROWSERDB_CLOSED', async (t) => {
  const root = tmpDir(t)
  const db = await BrowserDB.open(path.join(root, 'db'))
  await db.put('k', 'v')
  await db.close()
  await rejectsCode(() => db.verify(), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.backup(path.join(root, 'b')), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.export(path.join(root, 'x.ndjson')), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.import(path.join(root, 'x.ndjson')), 'BROWSERDB_CLOSED')
  assert.deepEqual(fs.readdirSync(root), ['db'])
})

test('repair of an open database rejects with BROWSERDB_LOCKED', async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location)
  await db.put('k', 'v')
  await rejectsCode(() => BrowserDB.repair(location), 'BROWSERDB_LOCKED')
  assert.equal(await db.get('k'), 'v')
})

// ------------------------------------------------------------------------------------------
// Regressions

test('once() listeners fire once', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), SMALL)
  let writes = 0
  let flushes = 0
  db.once('write', () => writes++)
  db.once('flush', () => flushes++)
  await fill(db, 'o', 1500)
  await db.compact()
  await eventually(() => flushes >= 2, 500)
  assert.equal(writes, 1)
  assert.equal(flushes, 1)
  assert.equal(db.listenerCount('write') + db.listenerCount('flush'), 0)
})

test('import reports its final count to onProgress', async (t) => {
  const root = tmpDir(t)
  const db = await openDb(t, BrowserDB, path.join(root, 'db'))
  await fill(db, 'i', 50)
  await db.export(path.join(root, 'x.ndjson'))
  const copy = await openDb(t, BrowserDB, path.join(root, 'copy'))
  const calls = []
  await copy.import(path.join(root, 'x.ndjson'), { onProgress: (p) => calls.push(p) })
  assert.equal(calls[calls.length - 1].done, 50)
})

test("backup into another database's directory leaves that database intact", async (t) => {
  const root = tmpDir(t)
  const victim = await BrowserDB.open(path.join(root, 'victim'))
  await victim.put('precious', 'data')
  await victim.compact()
  await victim.close()
  const db = await openDb(t, BrowserDB, path.join(root, 'db'))
  await db.put('x', '1')
  await rejectsCode(() => db.backup(path.join(root, 'victim')), 'BROWSERDB_INVALID_ARGUMENT')
  const reopened = await openDb(t, BrowserDB, path.join(root, 'victim'), { createIfMissing: false })
  assert.equal(await reopened.get('precious'), 'data')
})
