'use strict'
// Secondary indexes (issue 12): built over existing data, kept in step with every write,
// queried in value order at one snapshot, persisted, resumed after a kill mid-build, exact
// after a kill mid-write, checked by verify(), refused with coded errors on bad input.
const { test } = require('node:test')
const assert = require('node:assert/strict')

const { BrowserDB } = require('..')
const { tmpDir, openDb, rejectsCode, throwsCode, spawnFixture, killAfter } = require('./helpers')

const key = (n) => 'history:' + String(n).padStart(7, '0')
const visit = (n, at) => ({ url: `https://site${n}.example/`, lastVisit: at, meta: { folder: 'f' + (n % 5) } })

/** The index as it must be: recomputed from the data with a full scan. */
async function recompute (db, prefix, field) {
  const rows = []
  for await (const [k, v] of db.iterator({ prefix, valueEncoding: 'utf8' })) {
    let doc
    try { doc = JSON.parse(v) } catch { continue }
    let at = doc
    for (const part of field.split('.')) at = at !== null && typeof at === 'object' && !Array.isArray(at) ? at[part] : undefined
    const scalar = at === null || ['string', 'boolean'].includes(typeof at) || (typeof at === 'number' && Number.isFinite(at))
    if (scalar) rows.push([at, k])
  }
  const rank = (x) => x === null ? 0 : x === false ? 1 : x === true ? 2 : typeof x === 'number' ? 3 : 4
  const cmp = (a, b) => rank(a) - rank(b) || (typeof a === 'number' ? a - b : typeof a === 'string' ? Buffer.compare(Buffer.from(a), Buffer.from(b)) : 0)
  return rows.sort((a, b) => cmp(a[0], b[0]) || Buffer.compare(Buffer.from(a[1]), Buffer.from(b[1])))
}

async function indexRows (db, name) {
  return (await db.index(name).iterator({ valueEncoding: 'utf8' }).all()).map(([v, k]) => [v, k])
}

test('an index over existing data: the 20 most recent visits, ranges, counts, keys', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { valueEncoding: 'json' })
  const ops = []
  for (let n = 0; n < 5000; n++) ops.push({ type: 'put', key: key(n), value: visit(n, (n * 7) % 5000) })
  await db.batch(ops)
  await db.put('bookmarks:1', { lastVisit: 1e9 }) // outside the prefix
  const progress = []
  await db.createIndex('byVisit', { prefix: 'history:', field: 'lastVisit', onProgress: (p) => progress.push(p.keysIndexed) })
  assert.equal(progress.at(-1), 5000)
  assert.deepEqual(db.indexes(), [{ name: 'byVisit', prefix: 'history:', field: 'lastVisit', state: 'ready', keysIndexed: 5000 }])

  const recent = await db.index('byVisit').iterator({ reverse: true, limit: 20 }).all()
  assert.equal(recent.length, 20)
  assert.deepEqual(recent.map((r) => r[0]), Array.from({ length: 20 }, (_, i) => 4999 - i))
  for (const [at, k, value] of recent) {
    assert.equal(value.lastVisit, at)
    assert.deepEqual(await db.get(k), value)
  }
  const between = await db.index('byVisit').iterator({ gt: 100, lte: 110 }).all()
  assert.deepEqual(between.map((r) => r[0]), [101, 102, 103, 104, 105, 106, 107, 108, 109, 110])
  assert.equal(await db.index('byVisit').count({ gte: 1000, lt: 2000 }), 1000)
  assert.equal(await db.index('byVisit').count(), 5000)
  const keys = await db.index('byVisit').keys({ lt: 3 }).all()
  assert.deepEqual(keys, [key(0), key(2143), key(4286)]) // lastVisit 0, 1, 2
  assert.deepEqual(await indexRows(db, 'byVisit'), await recompute(db, 'history:', 'lastVisit'))
})

test('every put, overwrite, delete, batch and TTL keeps the index exact', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { valueEncoding: 'json' })
  await db.createIndex('byFolder', { prefix: 'history:', field: 'meta.folder' })
  await db.createIndex('byVisit', { prefix: 'history:', field: 'lastVisit' })
  for (let n = 0; n < 300; n++) await db.put(key(n), visit(n, n))
  for (let n = 0; n < 300; n += 3) await db.put(key(n), visit(n + 1, 1000 + n)) // overwrite: entry moves
  for (let n = 1; n < 300; n += 7) await db.del(key(n))
  await db.batch([
    { type: 'put', key: key(2), value: { lastVisit: 'yesterday', meta: { folder: null } } },
    { type: 'put', key: key(5), value: 'plain text', valueEncoding: 'utf8' },
    { type: 'put', key: key(8), value: { lastVisit: [1, 2] } },
    { type: 'put', key: key(11), value: visit(11, -5) },
    { type: 'del', key: key(11) },
    { type: 'put', key: key(11), value: visit(11, -6) }
  ])
  await db.put(key(14), visit(14, 5e6), { ttl: 60_000 })
  assert.deepEqual(await indexRows(db, 'byVisit'), await recompute(db, 'history:', 'lastVisit'))
  assert.deepEqual(await indexRows(db, 'byFolder'), await recompute(db, 'history:', 'meta.folder'))
  assert.deepEqual((await db.index('byVisit').iterator({ limit: 1 }).all())[0].slice(0, 2), [-6, key(11)])
  assert.deepEqual((await db.index('byVisit').iterator({ reverse: true, limit: 1 }).all())[0][0], 'yesterday')
  assert.equal(await db.index('byFolder').count({ gte: null, lte: null }), 1)
  const report = await db.verify()
  assert.equal(report.ok, true, JSON.stringify(report.problems))
})

test('an iterator reads one snapshot while writes go on', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { valueEncoding: 'json' })
  await db.createIndex('byVisit', { prefix: 'history:', field: 'lastVisit' })
  for (let n = 0; n < 500; n++) await db.put(key(n), visit(n, n))
  const it = db.index('byVisit').iterator()
  const first = await it.next()
  for (let n = 0; n < 500; n++) await db.put(key(n), visit(n, 10_000 + n))
  const rest = await it.all()
  assert.equal(rest.length + 1, 500)
  assert.ok([first, ...rest].every(([at, , value]) => at < 500 && value.lastVisit === at))
  const snapshot = db.snapshot()
  await db.del(key(0))
  assert.equal(await db.index('byVisit').count({ snapshot }), 500)
  assert.equal(await db.index('byVisit').count(), 499)
  await snapshot.close()
})

test('definitions survive reopen; drop removes every entry; setMode carries indexes', async (t) => {
  const location = tmpDir(t)
  let db = await BrowserDB.open(location, { valueEncoding: 'json' })
  for (let n = 0; n < 1000; n++) await db.put(key(n), visit(n, n))
  await db.createIndex('byVisit', { prefix: 'history:', field: 'lastVisit' })
  await db.createIndex('byVisit', { prefix: 'history:', field: 'lastVisit' }) // same definition: no-op
  await rejectsCode(() => db.createIndex('byVisit', { prefix: 'history:', field: 'other' }), 'BROWSERDB_INVALID_ARGUMENT')
  await db.close()
  db = await openDb(t, BrowserDB, location, { valueEncoding: 'json' })
  assert.deepEqual(db.indexes().map((i) => [i.name, i.state]), [['byVisit', 'ready']])
  await db.put(key(5000), visit(5000, -1))
  assert.deepEqual(await indexRows(db, 'byVisit'), await recompute(db, 'history:', 'lastVisit'))

  await db.setMode('ultra')
  assert.deepEqual(db.indexes().map((i) => i.name), ['byVisit'])
  await db.index('byVisit').ready()
  await db.put(key(5001), visit(5001, -2))
  assert.deepEqual(await indexRows(db, 'byVisit'), await recompute(db, 'history:', 'lastVisit'))
  await db.setMode('persistent')

  await db.dropIndex('byVisit')
  assert.deepEqual(db.indexes(), [])
  await rejectsCode(() => db.index('byVisit').count(), 'BROWSERDB_INVALID_ARGUMENT')
  // Recreated under the same name over another field: no entry of the old one may remain.
  await db.createIndex('byVisit', { prefix: 'history:', field: 'meta.folder' })
  assert.deepEqual(await indexRows(db, 'byVisit'), await recompute(db, 'history:', 'meta.folder'))
  assert.equal((await db.verify()).ok, true)
})

test('bad index calls are refused with codes', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { valueEncoding: 'json' })
  await rejectsCode(() => db.createIndex('', { field: 'a' }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  await rejectsCode(() => db.createIndex(7, { field: 'a' }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  await rejectsCode(() => db.createIndex('x', {}), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  await rejectsCode(() => db.createIndex('x', { field: 'a..b' }), 'BROWSERDB_INVALID_ARGUMENT')
  await rejectsCode(() => db.createIndex('x', { field: 'a', unknown: 1 }), 'BROWSERDB_INVALID_ARGUMENT')
  await rejectsCode(() => db.createIndex('x', { field: 'a', onProgress: 3 }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  await rejectsCode(() => db.dropIndex('missing'), 'BROWSERDB_INVALID_ARGUMENT')
  await rejectsCode(() => db.index('missing').count(), 'BROWSERDB_INVALID_ARGUMENT')
  await rejectsCode(() => db.index('missing').iterator().next(), 'BROWSERDB_INVALID_ARGUMENT')
  await db.createIndex('i', { prefix: 'history:', field: 'lastVisit' })
  throwsCode(() => db.index('i').iterator({ gt: { a: 1 } }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => db.index('i').iterator({ lt: NaN }), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  throwsCode(() => db.index('i').iterator({ prefix: 'x' }), 'BROWSERDB_INVALID_ARGUMENT')
  throwsCode(() => db.index('i').iterator().seek(1), 'BROWSERDB_INVALID_ARGUMENT', TypeError)
  assert.deepEqual(db.indexes().map((i) => i.name), ['i'])
  await db.close()
  throwsCode(() => db.indexes(), 'BROWSERDB_CLOSED')
  await rejectsCode(() => db.createIndex('j', { field: 'a' }), 'BROWSERDB_CLOSED')
})

test('a writer killed mid-run leaves an index equal to a rebuild from its data', async (t) => {
  const location = tmpDir(t)
  let acked = 0
  let reached
  const reachedP = new Promise((resolve) => { reached = resolve })
  const run = spawnFixture('index-writer.js', [location, 'writes'], {
    onLine (line) { if (line.startsWith('ack ') && ++acked === 1500) reached() }
  })
  killAfter(t, run.child)
  const why = await Promise.race([reachedP, run.exited.then(() => 'exited')])
  assert.equal(why, undefined, `index-writer stopped early: ${run.stderr}`)
  run.child.kill('SIGKILL')
  await run.exited
  const db = await openDb(t, BrowserDB, location, { valueEncoding: 'json' })
  assert.deepEqual(await indexRows(db, 'byVisit'), await recompute(db, 'history:', 'lastVisit'))
  const report = await db.verify()
  assert.equal(report.ok, true, JSON.stringify(report.problems))
})

test('a build killed midway resumes at the next open and ends exact', async (t) => {
  const location = tmpDir(t)
  let reached
  const reachedP = new Promise((resolve) => { reached = resolve })
  const run = spawnFixture('index-writer.js', [location, 'build', '60000'], {
    onLine (line) { if (line.startsWith('progress ') && Number(line.slice(9)) > 0) reached('progress') }
  })
  killAfter(t, run.child)
  const why = await Promise.race([reachedP, run.exited.then(() => 'exited')])
  assert.equal(why, 'progress', `index-writer stopped early: ${run.stderr}`)
  run.child.kill('SIGKILL')
  await run.exited
  const db = await openDb(t, BrowserDB, location, { valueEncoding: 'json' })
  assert.deepEqual(db.indexes().map((i) => i.name), ['byVisit'])
  await db.index('byVisit').ready()
  assert.deepEqual(await indexRows(db, 'byVisit'), await recompute(db, 'history:', 'lastVisit'))
  assert.equal(await db.index('byVisit').count(), 60000)
})
