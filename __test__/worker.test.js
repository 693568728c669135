'use strict'
// One N-API build for every JS environment (issue 11): the addon loads in worker_threads
// (CommonJS and ESM, several at once, generation after generation, a worker terminated in the
// middle of an iteration), and serves code running in another vm context. Electron's main,
// renderer (with nodeIntegration) and utility processes are Node environments of this kind.
//
// vm: a native addon cannot be loaded from inside a bare vm context (it has no `require` and
// no module loader: `require` is the only way to load a .node file). What is meaningful, and
// tested here: code in a new context given the host's `require` uses browserdb fully; the
// addon re-loaded into a fresh module cache (what a context with its own loader does) works
// beside the first copy and shares its in-process lock registry; values made in another context
// cross into browserdb.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const vm = require('node:vm')
const { Worker } = require('node:worker_threads')
const { createRequire } = require('node:module')

const { BrowserDB } = require('..')
const { ROOT, FIXTURES, tmpDir, openDb } = require('./helpers')

const T = { timeout: 30000 }

/** Runs a worker to its first message (an `error` message fails the test) and its exit. */
function runWorker (file, workerData) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(file, { workerData })
    let reply = null
    worker.once('message', (m) => { reply = m })
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (reply === null) reject(new Error(`worker exited ${code} without a reply`))
      else if (reply.error) reject(new Error(`worker failed: ${reply.error}`))
      else resolve({ reply, code })
    })
  })
}

test('the addon loads in several worker_threads at once (CommonJS and ESM), generation after generation', T, async (t) => {
  const root = tmpDir(t)
  // The main thread keeps using the addon while the workers come and go.
  const main = await openDb(t, BrowserDB, path.join(root, 'main'))
  for (let generation = 0; generation < 3; generation++) {
    const runs = [0, 1, 2].map((i) => runWorker(path.join(FIXTURES, 'worker-addon.js'), { dir: path.join(root, `g${generation}w${i}`), n: 500 }))
    runs.push(runWorker(path.join(FIXTURES, 'worker-addon.mjs'), { dir: path.join(root, `g${generation}esm`) }))
    await main.put(`generation:${generation}`, 'started')
    const results = await Promise.all(runs)
    for (const { reply, code } of results.slice(0, 3)) {
      assert.equal(code, 0)
      assert.equal(reply.count, 500)
      assert.equal(typeof reply.value.threadId, 'number')
    }
    assert.deepEqual(results[3].reply, { value: { esm: true }, fromLevel: 'v' })
  }
  assert.deepEqual(await main.keys().all(), ['generation:0', 'generation:1', 'generation:2'])
})

test('a worker terminated mid-iteration without close() leaves the process sound and the directory reopenable', T, async (t) => {
  const dir = tmpDir(t)
  const worker = new Worker(path.join(FIXTURES, 'worker-addon.js'), { workerData: { dir, n: 2000, hold: true } })
  const [message] = await require('node:events').once(worker, 'message')
  assert.deepEqual(message, { holding: true })
  await worker.terminate()
  // The worker's environment is gone: its handles were released with it (no lock left behind).
  const db = await openDb(t, BrowserDB, path.join(dir, 'bdb'))
  assert.equal((await db.keys().all()).length, 2000)
})

test('vm: code in a new context given require() uses browserdb and browserdb/level', T, async (t) => {
  const dir = tmpDir(t)
  const sandbox = { require: createRequire(path.join(ROOT, 'index.js')), dir, path }
  const result = await vm.runInNewContext(`(async () => {
    const { BrowserDB } = require('browserdb')
    const { BrowserLevel } = require('browserdb/level')
    const db = await BrowserDB.open(path.join(dir, 'bdb'), { valueEncoding: 'json' })
    await db.put('k', { made: 'in the context', list: [1, 2] })
    const value = await db.get('k')
    await db.close()
    const level = new BrowserLevel(path.join(dir, 'level'))
    await level.put('a', '1')
    const keys = await level.keys().all()
    await level.close()
    return { value, keys }
  })()`, sandbox)
  // The values came from the host realm's JSON.parse, so they compare equal here.
  assert.deepEqual(JSON.parse(JSON.stringify(result)), { value: { made: 'in the context', list: [1, 2] }, keys: ['a'] })
})

test('vm: objects and strings made in another context are stored (json and utf8 encodings)', async (t) => {
  const db = await openDb(t, BrowserDB, path.join(tmpDir(t), 'db'), { valueEncoding: 'json' })
  const made = vm.runInNewContext('({ key: "from-context", value: { nested: [1, "two", null] } })')
  assert.notEqual(Object.getPrototypeOf(made), Object.prototype, 'a foreign-realm object')
  await db.put(made.key, made.value)
  assert.deepEqual(await db.get('from-context'), { nested: [1, 'two', null] })
})

test('vm: a Uint8Array made in another context is a key and value under buffer encodings', async (t) => {
  const db = await openDb(t, BrowserDB, path.join(tmpDir(t), 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const foreign = vm.runInNewContext('new Uint8Array([1, 2, 3])')
  await db.put(foreign, foreign)
  assert.deepEqual(await db.get(Buffer.from([1, 2, 3])), Buffer.from([1, 2, 3]))
})

/** Requires `file` through a fresh module cache for it and `alsoFresh`, then restores the cache. */
function requireFresh (file, alsoFresh = []) {
  const names = [file, ...alsoFresh].map((f) => require.resolve(f))
  const saved = names.map((n) => require.cache[n])
  for (const n of names) delete require.cache[n]
  try {
    return require(file)
  } finally {
    names.forEach((n, i) => { if (saved[i] === undefined) delete require.cache[n]; else require.cache[n] = saved[i] })
  }
}

test('loader.js evaluated again in a fresh module cache reuses the addon this thread loaded', () => {
  const loader = path.join(ROOT, 'loader.js')
  const first = require(loader).loadNative()
  const again = requireFresh(loader).loadNative()
  assert.equal(again.native, first.native, 'one initialisation per thread')
  assert.ok(['source', 'prebuilt', 'env'].includes(first.source))
})

const usesLoader = require('node:fs').readFileSync(path.join(ROOT, 'index.js'), 'utf8').includes("require('./loader.js')")

test('index.js evaluated twice in one thread (module isolation, hot reload): both copies work and share the lock registry', {
  skip: !usesLoader && 'index.js does not load the addon through loader.js yet (a second evaluation would initialise the addon again)'
}, async (t) => {
  const second = requireFresh(path.join(ROOT, 'index.js'), [path.join(ROOT, 'loader.js')])
  assert.notEqual(second.BrowserDB, BrowserDB, 'a second copy of the JS layer')
  const dir = path.join(tmpDir(t), 'db')
  const db = await openDb(t, BrowserDB, dir)
  await db.put('k', 'v')
  await assert.rejects(second.BrowserDB.open(dir), { code: 'BROWSERDB_LOCKED' })
  const other = await openDb(t, second.BrowserDB, path.join(tmpDir(t), 'other'))
  await other.put('k', 'w')
  assert.equal(await other.get('k'), 'w')
  assert.equal(await db.get('k'), 'v')
})
