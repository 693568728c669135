'use strict'
// Real crash tests: a child writes in a loop and reports each write only after its Promise
// resolved; the parent SIGKILLs it mid-run, reopens the database and checks that every
// acknowledged write is there with its exact value, and that every batch is whole or absent.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const { BrowserDB } = require('..')
const { tmpDir, openDb, spawnFixture, killAfter } = require('./helpers')
const { keyFor, valueFor, largeValueFor } = require('./helpers/data')

const BATCH = 10
const batchKey = (b, i) => `${keyFor('b', b)}:${i}`

/**
 * Run fixtures/crash-writer.js in `mode` until it has acknowledged `threshold` writes
 * (batches in batch modes), then SIGKILL it. Returns what it acknowledged.
 */
async function crashRun(t, location, mode, threshold) {
  const acked = new Set()
  const ackedDel = new Set()
  const delStarted = new Set()
  let count = 0
  let reached
  const reachedP = new Promise((resolve) => {
    reached = resolve
  })
  const run = spawnFixture('crash-writer.js', [location, mode, '8'], {
    onLine(line) {
      const [tag, num] = line.split(' ')
      const n = Number(num)
      if (tag === 'ack' || tag === 'ackb') {
        acked.add(n)
        if (++count >= threshold) reached()
      } else if (tag === 'ackdel') ackedDel.add(n)
      else if (tag === 'delstart') delStarted.add(n)
    },
  })
  killAfter(t, run.child)
  const timeout = setTimeout(() => reached('timeout'), 20000)
  const why = await Promise.race([reachedP, run.exited.then(() => 'exited')])
  clearTimeout(timeout)
  if (why) {
    run.child.kill('SIGKILL')
    await run.exited
    assert.fail(`crash-writer (${mode}) ${why} after ${count} acknowledgements; stderr:\n${run.stderr}`)
  }
  run.child.kill('SIGKILL')
  const { signal } = await run.exited
  assert.equal(signal, 'SIGKILL', `crash-writer ended on its own; stderr:\n${run.stderr}`)
  assert.ok(count >= threshold)
  return { acked, ackedDel, delStarted, maxAck: Math.max(...acked) }
}

/** Check single-put modes. Keys beyond the acknowledged ones may exist, but only with exact values. */
async function verifyPuts(db, { acked, ackedDel, delStarted, maxAck }, label, valueOf = valueFor) {
  const limit = maxAck + 2000
  let present = 0
  for (let start = 0; start < limit; start += 500) {
    const ns = []
    for (let n = start; n < Math.min(start + 500, limit); n++) ns.push(n)
    const values = await db.getMany(ns.map((n) => keyFor('s', n)))
    ns.forEach((n, i) => {
      const v = values[i]
      if (v !== undefined) {
        present++
        if (v !== valueOf('s', n)) assert.fail(`${label}: key ${keyFor('s', n)} has a wrong value (${v.length} bytes: ${JSON.stringify(v.slice(0, 40))}…)`)
      }
      if (ackedDel.has(n)) {
        assert.equal(v, undefined, `${label}: acknowledged delete of ${keyFor('s', n)} was lost`)
      } else if (acked.has(n) && !delStarted.has(n)) {
        assert.notEqual(v, undefined, `${label}: acknowledged put of ${keyFor('s', n)} was lost`)
      }
    })
  }
  return present
}

/** Check batch modes: acknowledged batches whole; any batch present at all is whole. */
async function verifyBatches(db, { acked, maxAck }, label) {
  let whole = 0
  for (let b = 0; b <= maxAck + 200; b++) {
    const keys = Array.from({ length: BATCH }, (_, i) => batchKey(b, i))
    const values = await db.getMany(keys)
    const have = values.filter((v) => v !== undefined).length
    assert.ok(have === 0 || have === BATCH, `${label}: batch ${b} is torn: ${have} of ${BATCH} keys present`)
    if (have === BATCH) {
      whole++
      values.forEach((v, i) => assert.equal(v, valueFor('b', b * BATCH + i), `${label}: batch ${b} key ${i} has a wrong value`))
    }
    if (acked.has(b)) assert.equal(have, BATCH, `${label}: acknowledged batch ${b} was lost`)
  }
  return whole
}

async function crashCase(t, mode, threshold) {
  const location = path.join(tmpDir(t), 'crash.bdb')
  const result = await crashRun(t, location, mode, threshold)
  const verifyFn = mode.startsWith('batch')
    ? verifyBatches
    : mode === 'put-large'
      ? (db, result, label) => verifyPuts(db, result, label, largeValueFor)
      : verifyPuts

  let db = await openDb(t, BrowserDB, location)
  const present = await verifyFn(db, result, `${mode} after crash`)
  t.diagnostic(`${mode}: ${result.acked.size} acknowledged, ${present} present after recovery`)
  // The recovered database takes new writes, and closes and reopens cleanly.
  await db.put('after-crash', 'ok')
  await db.close()
  db = await openDb(t, BrowserDB, location)
  assert.equal(await db.get('after-crash'), 'ok')
  await verifyFn(db, result, `${mode} after recovery and reopen`)
  await db.close()

  // Crash a second time on top of the recovered database: it must keep its promises again.
  const second = await crashRun(t, location, mode, Math.max(100, Math.floor(threshold / 4)))
  db = await openDb(t, BrowserDB, location)
  assert.equal(await db.get('after-crash'), 'ok')
  await verifyFn(db, second, `${mode} after second crash`)
  await db.close()
}

const T = { timeout: 45000 }

test('crash: single puts without sync (300 acks)', T, (t) => crashCase(t, 'put', 300))
test('crash: single puts without sync (2000 acks)', T, (t) => crashCase(t, 'put', 2000))
test('crash: single puts with sync: true (300 acks)', T, (t) => crashCase(t, 'put-sync', 300))
test('crash: single puts with sync: true (1000 acks)', T, (t) => crashCase(t, 'put-sync', 1000))
test('crash: batches of 10 without sync (50 batches)', T, (t) => crashCase(t, 'batch', 50))
test('crash: batches of 10 without sync (300 batches)', T, (t) => crashCase(t, 'batch', 300))
test('crash: batches of 10 with sync: true (50 batches)', T, (t) => crashCase(t, 'batch-sync', 50))
test('crash: batches of 10 with sync: true (200 batches)', T, (t) => crashCase(t, 'batch-sync', 200))
test('crash: large values, a flush every few writes (400 acks)', T, (t) => crashCase(t, 'put-large', 400))
test('crash: large values, a flush every few writes (1500 acks)', T, (t) => crashCase(t, 'put-large', 1500))
test('crash: puts and deletes without sync (1000 acks)', T, (t) => crashCase(t, 'mixed', 1000))
