'use strict'
// Load (issue 9): thousands of concurrent promises of mixed operations end in exactly the state
// a Map predicts; the addon works from worker_threads, each worker with its own database, a
// second opener of a held directory (another worker or the main thread) gets BROWSERDB_LOCKED,
// and a worker terminated without close() releases its lock and keeps its acknowledged writes;
// memory stays flat over many rounds of abandoned iterators, snapshots and cancelled reads.
// Margins are generous and nothing depends on timing.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { Worker } = require('node:worker_threads')

const { BrowserDB } = require('..')
const { ROOT, FIXTURES, tmpDir, openDb, rejectsCode } = require('./helpers')

const T = { timeout: 60000 }
const MiB = 1024 * 1024

test('10 000 concurrent promises of mixed operations end in the state a Map predicts', T, async (t) => {
  const db = await openDb(t, BrowserDB, path.join(tmpDir(t), 'db'), { writeBufferSize: 64 * 1024 })
  // Stable keys that only reads touch, and keys that deletes remove.
  const stable = new Map()
  await db.batch(Array.from({ length: 500 }, (_, i) => {
    const key = `stable:${String(i).padStart(4, '0')}`
    stable.set(key, `s${i}-${'z'.repeat(i % 100)}`)
    return { type: 'put', key, value: stable.get(key) }
  }))
  await db.batch(Array.from({ length: 1000 }, (_, i) => ({ type: 'put', key: `doomed:${i}`, value: 'd' })))
  const model = new Map(stable)
  for (let i = 0; i < 1000; i++) model.set(`doomed:${i}`, 'd')
  const all = []
  const checks = []
  let next = 0
  // Each written key is written once, so the outcome does not depend on commit order.
  for (let burst = 0; burst < 40; burst++) {
    for (let j = 0; j < 250; j++) {
      const i = next++
      switch (i % 10) {
        case 0: case 1: case 2: {
          const key = `put:${i}`
          const value = `p${i}-${'x'.repeat(i % 300)}`
          model.set(key, value)
          all.push(db.put(key, value, i % 97 === 0 ? { sync: true } : undefined))
          // A read racing its write sees nothing or the written value, never anything else.
          checks.push(db.get(key).then((got) => assert.ok(got === undefined || got === value, `racing read of ${key}: ${got}`)))
          break
        }
        case 3: {
          // Deletes are idempotent, so repeating one is order-independent too.
          model.delete(`doomed:${(i * 7) % 1000}`)
          all.push(db.del(`doomed:${(i * 7) % 1000}`))
          break
        }
        case 4: case 5: {
          const ops = Array.from({ length: 4 }, (_, k) => ({ type: 'put', key: `batch:${i}:${k}`, value: `b${i}.${k}` }))
          for (const op of ops) model.set(op.key, op.value)
          if (i % 4 === 0) {
            const chained = db.batch()
            for (const op of ops) chained.put(op.key, op.value)
            all.push(chained.write())
          } else {
            all.push(db.batch(ops))
          }
          break
        }
        case 6: {
          const key = `stable:${String(i % 500).padStart(4, '0')}`
          checks.push(db.get(key).then((got) => assert.equal(got, stable.get(key))))
          break
        }
        case 7: {
          const keys = Array.from({ length: 8 }, (_, k) => `stable:${String((i + k * 31) % 500).padStart(4, '0')}`)
          checks.push(db.getMany(keys).then((got) => assert.deepEqual(got, keys.map((k) => stable.get(k)))))
          break
        }
        case 8: {
          // A range over keys no concurrent write touches reads exactly them, at one snapshot.
          const lo = i % 450
          checks.push(db.iterator({ gte: `stable:${String(lo).padStart(4, '0')}`, limit: 20 }).all().then((got) => {
            assert.deepEqual(got.map(([k]) => k), Array.from({ length: 20 }, (_, k) => `stable:${String(lo + k).padStart(4, '0')}`))
          }))
          break
        }
        default: {
          checks.push(db.has(`stable:${String(i % 500).padStart(4, '0')}`).then((has) => assert.equal(has, true)))
        }
      }
    }
    // Let some of it run before the next burst, without waiting for it.
    if (burst % 4 === 3) await new Promise((resolve) => setImmediate(resolve))
  }
  assert.equal(next, 10000)
  await Promise.all(all)
  await Promise.all(checks)
  const found = new Map(await db.iterator().all())
  assert.equal(found.size, model.size, 'deleted keys gone, every written key there')
  for (const [k, v] of model) assert.equal(found.get(k), v, k)
  assert.equal(db.stats().liveIterators, 0)
})

/** A worker running fixtures/load-worker.js, with a request/reply helper. */
function startWorker(t) {
  const worker = new Worker(path.join(FIXTURES, 'load-worker.js'))
  let nextId = 0
  const waiting = new Map()
  worker.on('message', (reply) => {
    const w = waiting.get(reply.id)
    waiting.delete(reply.id)
    if (w) w(reply)
  })
  const failures = []
  worker.on('error', (err) => failures.push(err))
  t.after(() => worker.terminate())
  const ask = (message) => new Promise((resolve) => {
    const id = nextId++
    waiting.set(id, resolve)
    worker.postMessage({ ...message, id })
  })
  return { worker, ask, failures }
}

test('worker_threads: each worker its own database; a second opener gets BROWSERDB_LOCKED', T, async (t) => {
  const base = tmpDir(t)
  const dirs = [0, 1, 2, 3].map((i) => path.join(base, `db${i}`))
  const workers = dirs.map(() => startWorker(t))
  assert.deepEqual((await Promise.all(workers.map((w, i) => w.ask({ cmd: 'open', dir: dirs[i] })))).map((r) => r.ok), ['opened', 'opened', 'opened', 'opened'])
  // All four work at once, each checking its own final state.
  const worked = await Promise.all(workers.map((w) => w.ask({ cmd: 'work', n: 4000 })))
  for (const reply of worked) assert.equal(reply.ok, 'worked', `${reply.error}: ${reply.message}`)

  // A second opener of a held directory: another worker, then the main thread.
  const second = await workers[0].ask({ cmd: 'open', dir: dirs[1] })
  assert.equal(second.error, 'BROWSERDB_LOCKED', JSON.stringify(second))
  await rejectsCode(() => BrowserDB.open(dirs[2]), 'BROWSERDB_LOCKED')
  // The holders were not disturbed by the attempts.
  assert.equal((await workers[1].ask({ cmd: 'work', n: 400 })).ok, 'worked')

  // Once closed, the directory opens elsewhere with the worker's data.
  assert.equal((await workers[1].ask({ cmd: 'close' })).ok, 'closed')
  const reopened = await openDb(t, BrowserDB, dirs[1])
  assert.equal((await reopened.keys().all()).length, worked[1].keys, 'the main thread sees what worker 1 wrote')
  await reopened.close()

  // A worker terminated without close(): its lock is released, its acknowledged writes stay.
  // The release waits for the flush or compaction its database was running, if any (queued
  // ones are dropped): retry while the directory is still locked, for at most 10 s.
  await workers[3].worker.terminate()
  let orphan
  for (const deadline = Date.now() + 10000; ;) {
    try {
      orphan = await openDb(t, BrowserDB, dirs[3])
      break
    } catch (err) {
      if (err.code !== 'BROWSERDB_LOCKED' || Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  assert.equal((await orphan.keys().all()).length, worked[3].keys)
  await orphan.close()

  for (const w of [workers[0], workers[2]]) assert.equal((await w.ask({ cmd: 'close' })).ok, 'closed')
  for (const w of workers) assert.deepEqual(w.failures, [])
})

/** Runs `node --expose-gc <fixture> ...args`; resolves to { code, signal, stdout, stderr }. */
function runWithGc(fixture, args, timeoutMs = 50000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', path.join(FIXTURES, fixture), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${fixture} timed out; stderr:\n${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

test('memory stays flat over rounds of abandoned iterators, snapshots and cancelled reads', T, async (t) => {
  const rounds = 25
  const { code, signal, stdout, stderr } = await runWithGc('memory-loop.js', [path.join(tmpDir(t), 'db'), String(rounds)])
  assert.equal(code, 0, `memory-loop failed (code ${code}, signal ${signal}):\n${stderr}`)
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line))
  assert.equal(lines.length, rounds)
  for (const l of lines) {
    // After a collection nothing abandoned stays registered (the running frame may pin a few).
    assert.ok(l.liveIterators <= 3, `round ${l.round}: ${l.liveIterators} live iterators after gc`)
    assert.ok(l.liveSnapshots <= 3, `round ${l.round}: ${l.liveSnapshots} live snapshots after gc`)
    // Engine memory (memtables) stays within a small multiple of writeBufferSize (64 KiB).
    assert.ok(l.memoryBytes < 8 * MiB, `round ${l.round}: engine memory ${l.memoryBytes}`)
  }
  // Resident memory after warm-up (rounds 5-9) versus the last rounds: no steady growth.
  const warm = median(lines.slice(5, 10).map((l) => l.rss))
  const late = median(lines.slice(-5).map((l) => l.rss))
  t.diagnostic(`rss after warm-up ${(warm / MiB).toFixed(1)} MiB, after ${rounds} rounds ${(late / MiB).toFixed(1)} MiB`)
  assert.ok(late - warm < 48 * MiB, `rss grew from ${(warm / MiB).toFixed(1)} to ${(late / MiB).toFixed(1)} MiB`)
  const heapWarm = median(lines.slice(5, 10).map((l) => l.heapUsed))
  const heapLate = median(lines.slice(-5).map((l) => l.heapUsed))
  assert.ok(heapLate - heapWarm < 16 * MiB, `JS heap grew from ${heapWarm} to ${heapLate}`)
})
