'use strict'
// Iterators and snapshots the caller forgets: the garbage collector releases them (checked in
// a child process run with --expose-gc), and db.close() neither hangs on them nor leaves
// them usable.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')

const { BrowserDB } = require('..')
const { ROOT, FIXTURES, tmpDir, openDb, rejectsCode, throwsCode } = require('./helpers')

const T = { timeout: 30000 }

/** Runs `node --expose-gc <fixture> ...args`; resolves to { code, signal, stdout, stderr }. */
function runWithGc(fixture, args, timeoutMs = 25000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', path.join(FIXTURES, fixture), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${fixture} timed out; stdout:\n${stdout}\nstderr:\n${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

test('100k iterators and 1000 snapshots left open are released by the garbage collector', T, async (t) => {
  const location = path.join(tmpDir(t), 'db')
  const { code, signal, stdout, stderr } = await runWithGc('leak-iterators.js', [location, '100000', '1000'])
  assert.equal(code, 0, `child failed (code ${code}, signal ${signal}):\n${stderr}`)
  const stages = Object.fromEntries(stdout.trim().split('\n').map((line) => {
    const parsed = JSON.parse(line)
    return [parsed.stage, parsed]
  }))
  assert.deepEqual(Object.keys(stages), ['start', 'created', 'collected', 'closed'])
  assert.equal(stages.start.liveIterators, 0)
  assert.equal(stages.start.liveSnapshots, 0)
  assert.equal(stages.created.liveIterators, 100000)
  // Every iterator reads at a snapshot of its own, so those count too.
  assert.ok(stages.created.liveSnapshots >= 1000, `liveSnapshots ${stages.created.liveSnapshots}`)
  assert.ok(stages.collected.liveIterators <= 3, `after gc, ${stages.collected.liveIterators} iterators are still live`)
  assert.ok(stages.collected.liveSnapshots <= 3, `after gc, ${stages.collected.liveSnapshots} snapshots are still live`)
})

test('db.close() resolves with iterators and snapshots open; they are unusable afterwards', T, async (t) => {
  const location = tmpDir(t)
  const db = await openDb(t, BrowserDB, location, { writeBufferSize: 65536 })
  for (let start = 0; start < 3000; start += 300) {
    await db.batch(Array.from({ length: 300 }, (_, j) => ({ type: 'put', key: 'k' + String(start + j).padStart(5, '0'), value: 'v'.repeat(100) })))
  }
  const fresh = db.iterator() // never read
  const started = db.keys({ reverse: true }) // read a page, entries still buffered
  assert.equal(await started.next(), 'k02999')
  const paged = db.values({ gte: 'k01000' })
  await paged.nextv(5)
  const inFlight = db.keys({ gte: 'k02000' })
  const pending = inFlight.nextv(10) // issued before close: it settles (with data or CLOSED)
  const snapshot = db.snapshot()
  assert.equal(db.stats().liveIterators, 4)

  await db.close()
  const settled = await pending.then((v) => v, (err) => err)
  if (settled instanceof Error) assert.equal(settled.code, 'BROWSERDB_CLOSED')
  else assert.deepEqual(settled, Array.from({ length: 10 }, (_, i) => 'k' + String(2000 + i).padStart(5, '0')))

  for (const it of [fresh, started, paged, inFlight]) {
    await rejectsCode(() => it.next(), 'BROWSERDB_CLOSED', Error)
    await rejectsCode(() => it.nextv(3), 'BROWSERDB_CLOSED', Error)
    await rejectsCode(() => it.all(), 'BROWSERDB_CLOSED', Error)
    await assert.rejects(async () => {
      for await (const e of it) assert.fail(`yielded ${e} after db.close()`)
    }, (err) => err.code === 'BROWSERDB_CLOSED')
    // Closing them afterwards is allowed and idempotent.
    assert.equal(await it.close(), undefined)
    assert.equal(await it.close(), undefined)
  }
  await rejectsCode(() => db.get('k00001', { snapshot }), 'BROWSERDB_CLOSED', Error)
  assert.equal(await snapshot.close(), undefined)
  throwsCode(() => db.iterator(), 'BROWSERDB_CLOSED', Error)

  // The data is intact after a reopen.
  const again = await openDb(t, BrowserDB, location)
  assert.equal((await again.keys().all()).length, 3000)
  assert.equal(again.stats().liveIterators, 0)
})

test('an iterator left open (never closed by the caller) does not keep db.close() waiting, with reads pending', T, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put', key: 'k' + i, value: 'v' })))
  const its = []
  for (let i = 0; i < 50; i++) its.push(db.iterator({ limit: 10 }))
  await Promise.all(its.slice(0, 25).map((it) => it.next()))
  const closing = db.close()
  const timeout = new Promise((resolve, reject) => setTimeout(() => reject(new Error('db.close() hung with open iterators')), 5000).unref())
  await Promise.race([closing, timeout])
  for (const it of its) await rejectsCode(() => it.next(), 'BROWSERDB_CLOSED', Error)
})
