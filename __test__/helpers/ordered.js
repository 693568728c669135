'use strict'
// Helpers for the ordered-read tests (iterators, snapshots, clear): a seeded PRNG, a
// bytewise oracle over encoded keys, and a builder for databases whose data lives both in
// flushed tables and in the memtable. Not a test file.
const assert = require('node:assert/strict')

/** mulberry32: a small deterministic PRNG; returns () => float in [0, 1). */
function prng(seed) {
  let a = seed >>> 0
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Helpers over a PRNG: int(n) in [0, n), pick(array), chance(p). */
function randomTools(seed) {
  const rnd = prng(seed)
  const int = (n) => Math.floor(rnd() * n)
  return {
    rnd,
    int,
    pick: (array) => array[int(array.length)],
    chance: (p) => rnd() < p,
  }
}

/** The bytes a key (or bound) becomes under `encoding`, as a Buffer. */
function encodedBytes(key, encoding) {
  switch (encoding) {
    case 'utf8':
      assert.equal(typeof key, 'string')
      return Buffer.from(key, 'utf8')
    case 'json':
      return Buffer.from(JSON.stringify(key), 'utf8')
    case 'buffer':
    case 'view':
      assert.ok(key instanceof Uint8Array)
      return Buffer.from(key.buffer, key.byteOffset, key.byteLength)
  }
  throw new Error(`unknown encoding ${encoding}`)
}

/** `keys` sorted bytewise by their encoded form (the order every iterator must produce). */
function sortBytewise(keys, encoding) {
  return keys
    .map((key) => ({ key, bytes: encodedBytes(key, encoding) }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map((e) => e.key)
}

/**
 * A sorted-array oracle: `entries` is an array of { bytes: Buffer, key, value } sorted by
 * `bytes`; `range` holds Buffer bounds (gt, gte, lt, lte, prefix), `reverse` and `limit`.
 * `gt` wins over `gte` and `lt` over `lte` when both are given (as in the engine); `prefix`
 * intersects with the bounds.
 */
function oracleRange(entries, range) {
  const lower = range.gt !== undefined ? { key: range.gt, open: true } : range.gte !== undefined ? { key: range.gte, open: false } : null
  const upper = range.lt !== undefined ? { key: range.lt, open: true } : range.lte !== undefined ? { key: range.lte, open: false } : null
  let out = entries.filter((e) => {
    if (lower) {
      const c = Buffer.compare(e.bytes, lower.key)
      if (c < 0 || (c === 0 && lower.open)) return false
    }
    if (upper) {
      const c = Buffer.compare(e.bytes, upper.key)
      if (c > 0 || (c === 0 && upper.open)) return false
    }
    if (range.prefix !== undefined) {
      if (e.bytes.length < range.prefix.length) return false
      if (Buffer.compare(e.bytes.subarray(0, range.prefix.length), range.prefix) !== 0) return false
    }
    return true
  })
  if (range.reverse) out = out.slice().reverse()
  const limit = range.limit
  if (limit !== undefined && limit !== -1 && limit !== Infinity) out = out.slice(0, limit)
  return out
}

/** A model Map (encoded-key hex → { bytes, key, value }) as a sorted entry array. */
function sortedModel(model) {
  return [...model.values()].sort((a, b) => Buffer.compare(a.bytes, b.bytes))
}

/** Resolves after the engine flushed every frozen memtable (polls `stats()`). */
async function waitForFlushes(db, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs
  while (db.stats().immutableMemtables > 0) {
    if (Date.now() > deadline) throw new Error('memtables were not flushed in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Drains an iterator with next() one entry at a time. */
async function drainNext(it) {
  const out = []
  for (;;) {
    const entry = await it.next()
    if (entry === undefined) break
    out.push(entry)
  }
  await it.close()
  return out
}

/** Drains an iterator with nextv(size) until it returns fewer than asked (then one more). */
async function drainNextv(it, size) {
  const out = []
  for (;;) {
    const page = await it.nextv(size)
    assert.ok(Array.isArray(page))
    assert.ok(page.length <= size, `nextv(${size}) returned ${page.length} entries`)
    if (page.length === 0) break
    out.push(...page)
  }
  await it.close()
  return out
}

/** Drains an iterator with for await. */
async function drainForAwait(it) {
  const out = []
  for await (const entry of it) out.push(entry)
  return out
}

module.exports = {
  prng,
  randomTools,
  encodedBytes,
  sortBytewise,
  oracleRange,
  sortedModel,
  waitForFlushes,
  drainNext,
  drainNextv,
  drainForAwait,
}
