'use strict'
// A real full disk (ENOSPC) end to end: a database on a 1 MiB tmpfs is written until the disk
// is full. The failing write rejects with a code and a message that says why, the database
// refuses further writes (poisoned) but serves reads and closes; after the tmpfs is enlarged
// a reopen finds every acknowledged write. Needs root (mount); skipped elsewhere. The engine
// side is tested on every platform by tests/no_space.rs (MemStorage with a byte budget).
const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { BrowserDB } = require('..')
const { openDb, checkError } = require('./helpers')

/** Mounts a tmpfs of `size` at a fresh directory; returns { dir } or { skip: reason }. */
function mountTmpfs(t, size) {
  if (process.platform !== 'linux' || typeof process.getuid !== 'function' || process.getuid() !== 0) return { skip: 'needs root on Linux' }
  if (process.env.BROWSERDB_TEST_MOUNT === '0') return { skip: 'BROWSERDB_TEST_MOUNT=0' }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bdb-nospace-'))
  const dir = path.join(root, 'mnt')
  fs.mkdirSync(dir)
  // Registered before any database of the test, so it runs first: unmount, then remove.
  t.after(() => {
    spawnSync('umount', ['-l', dir])
    fs.rmSync(root, { recursive: true, force: true })
  })
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' })
  if (mounted.status !== 0) return { skip: `cannot mount a tmpfs here: ${(mounted.stderr || String(mounted.error)).trim()}` }
  return { dir }
}

test('a full disk: a clear error, a poisoned database, and every acknowledged write after reopen', { timeout: 30000 }, async (t) => {
  const { dir: mnt, skip } = mountTmpfs(t, '1m')
  if (skip) {
    t.skip(skip)
    return
  }
  const location = path.join(mnt, 'db')
  const db = await openDb(t, BrowserDB, location, { writeBufferSize: 64 * 1024 })
  const acked = new Map()
  let failure
  let attempted
  for (let i = 0; i < 5000 && failure === undefined; i++) {
    const key = `k${String(i).padStart(5, '0')}`
    // Incompressible, so tables grow as fast as the log.
    const value = crypto.randomBytes(1000).toString('base64')
    attempted = [key, value]
    try {
      await db.put(key, value, { sync: i % 10 === 0 })
      acked.set(key, value)
    } catch (err) {
      failure = err
    }
  }
  assert.ok(failure, 'a 1 MiB disk never filled up')
  // A full disk is BROWSERDB_FULL (the user can free space), whether the write hit it or a
  // background flush did first (then the database is poisoned with that cause).
  checkError(failure, 'BROWSERDB_FULL')
  assert.match(failure.message, /No space left on device/)
  t.diagnostic(`failed after ${acked.size} writes: ${failure.message}`)
  // Poisoned: writes refuse with the cause, reads go on, close succeeds.
  await assert.rejects(db.put('after', 'x'), (err) => checkError(err, 'BROWSERDB_FULL') && /No space left/.test(err.message))
  const sample = [...acked.keys()].filter((_, i) => i % 25 === 0)
  assert.deepEqual(await db.getMany(sample), sample.map((k) => acked.get(k)))
  await db.close()

  // Room again: everything acknowledged is there, and the database takes writes.
  const grown = spawnSync('mount', ['-o', 'remount,size=16m', mnt], { encoding: 'utf8' })
  assert.equal(grown.status, 0, grown.stderr)
  const again = await openDb(t, BrowserDB, location)
  const found = new Map(await again.iterator().all())
  for (const [k, v] of acked) assert.equal(found.get(k), v, `acknowledged ${k} lost`)
  // The write that failed may be there (whole) or not; nothing else may.
  const extra = [...found.keys()].filter((k) => !acked.has(k))
  assert.ok(extra.length <= 1, `unacknowledged keys found: ${extra.slice(0, 5)}`)
  for (const k of extra) assert.deepEqual([k, found.get(k)], attempted)
  await again.put('after-reopen', 'ok', { sync: true })
  assert.equal((await again.verify()).ok, true)
  await again.close()
})
