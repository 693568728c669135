'use strict'
// The HeatMap cache: hot keys are served decoded (no block read), a scan does not flush the
// hot set, the byte budget holds and can change at run time, and the counters add up.
const { test } = require('node:test')
const assert = require('node:assert/strict')

const { BrowserDB } = require('..')
const { tmpDir, openDb } = require('./helpers')

const KEYS = 20000
const key = (i) => 'history:' + String(i).padStart(6, '0')
const value = (i) => JSON.stringify({ url: 'https://example.com/' + i, visits: i % 9 }).padEnd(150)

async function filled (t, options) {
  const db = await openDb(t, BrowserDB, tmpDir(t), { cacheSize: 2 * 1024 * 1024, ...options })
  for (let b = 0; b < KEYS; b += 1000) {
    const ops = []
    for (let i = b; i < b + 1000; i++) ops.push({ type: 'put', key: key(i), value: value(i) })
    await db.batch(ops)
  }
  await db.compact() // everything in tables: reads go through the cache
  return db
}

const hotKeys = Array.from({ length: 100 }, (_, i) => key(i * 97))

async function warm (db, rounds = 10) {
  for (let r = 0; r < rounds; r++) {
    for (const k of hotKeys) assert.equal(await db.get(k), value(Number(k.slice(8))))
  }
}

test('hot keys are served from decoded entries: no block is looked up', async (t) => {
  const db = await filled(t)
  await warm(db)
  const before = db.stats().cache
  await warm(db, 3)
  const after = db.stats().cache
  assert.equal(after.hot.hits - before.hot.hits, 3 * hotKeys.length)
  assert.equal(after.warm.hits + after.warm.misses, before.warm.hits + before.warm.misses, 'no WARM lookup for hot keys')
  const hottest = db.heatmap({ limit: 10 })
  assert.equal(hottest.length, 10)
  for (const { key: k, heat } of hottest) {
    assert.ok(hotKeys.includes(k), `${k} is not one of the hot keys`)
    assert.ok(Number.isInteger(heat) && heat >= 1 && heat <= 15)
  }
  for (let i = 1; i < hottest.length; i++) assert.ok(hottest[i - 1].heat >= hottest[i].heat, 'hottest first')
})

test('a full scan does not flush the hot set', async (t) => {
  const db = await filled(t)
  await warm(db)
  for await (const entry of db.iterator()) assert.ok(entry)
  for (let r = 0; r < 2; r++) {
    const all = await db.keys().all()
    assert.equal(all.length, KEYS)
  }
  const before = db.stats().cache.hot
  await warm(db, 1)
  const after = db.stats().cache.hot
  assert.ok(after.hits - before.hits >= hotKeys.length * 0.95, `only ${after.hits - before.hits} of ${hotKeys.length} hot keys survived the scans`)
})

test('the budget holds under random reads, and resizeCache shrinks at once', async (t) => {
  const db = await filled(t)
  let x = 12345
  for (let n = 0; n < 20000; n++) {
    x = (x * 1103515245 + 12345) % 2147483648
    await db.get(key(x % KEYS))
  }
  let cache = db.stats().cache
  assert.ok(cache.bytes <= cache.capacityBytes, `${cache.bytes} > ${cache.capacityBytes}`)
  assert.ok(cache.bytes > cache.capacityBytes / 4, 'the cache fills up')
  assert.ok(cache.sketchBytes < cache.capacityBytes / 100 + 4096, `sketch ${cache.sketchBytes} B is over 1% of the budget`)
  for (const tier of [cache.hot, cache.warm]) assert.ok(tier.bytes <= tier.capacityBytes, JSON.stringify(cache))
  db.resizeCache(256 * 1024)
  cache = db.stats().cache
  assert.ok(cache.bytes <= 256 * 1024 && cache.capacityBytes <= 256 * 1024, JSON.stringify(cache))
  for (const tier of [cache.hot, cache.warm]) assert.ok(tier.bytes <= tier.capacityBytes, JSON.stringify(cache))
  db.resizeCache(0)
  assert.equal(db.stats().cache.bytes, 0)
  assert.equal(await db.get(key(5)), value(5), 'reads still work with no cache')
  db.resizeCache(4 * 1024 * 1024)
  await warm(db)
  assert.ok(db.stats().cache.bytes > 0)
})

test('when WARM wins the budget, HOT keeps a hundredth: the hottest keys stay decoded and named', async (t) => {
  const db = await filled(t)
  const hottest = hotKeys.slice(0, 10)
  let x = 777
  // Uniform reads over 3.4 MB of blocks through a 2 MiB cache (WARM's evicted blocks come back
  // again and again), with every tenth read one of ten hot keys.
  for (let n = 0; n < 60000; n++) {
    x = (x * 1103515245 + 12345) % 2147483648
    const k = n % 10 === 0 ? hottest[(n / 10) % 10] : key(x % KEYS)
    assert.equal(await db.get(k), value(Number(k.slice(8))))
  }
  const { cache } = db.stats()
  assert.ok(cache.hot.capacityBytes < cache.capacityBytes / 10, `HOT gave WARM its share: ${JSON.stringify(cache)}`)
  assert.ok(cache.hot.capacityBytes >= cache.capacityBytes / 100 - 32, `but not below a hundredth: ${JSON.stringify(cache)}`)
  const named = db.heatmap({ limit: 20 }).map(({ key: k }) => k)
  assert.ok(hottest.every((k) => named.includes(k)), `heatmap() names the hot keys: ${named}`)
  const before = db.stats().cache
  for (const k of hottest) assert.equal(await db.get(k), value(Number(k.slice(8))))
  const after = db.stats().cache
  assert.equal(after.hot.hits - before.hot.hits, hottest.length, 'each hot key answered decoded')
})

test('the counters add up', async (t) => {
  const db = await filled(t)
  await warm(db)
  const { cache } = db.stats()
  assert.equal(cache.hits, cache.hot.hits + cache.warm.hits)
  assert.equal(cache.misses, cache.warm.misses)
  assert.equal(cache.bytes, cache.hot.bytes + cache.warm.bytes)
  // The tiers split the budget between them (HOT's part adapts; the two add up to the budget,
  // less what dividing it over 16 shards each rounds off).
  const parts = cache.hot.capacityBytes + cache.warm.capacityBytes
  assert.ok(parts <= cache.capacityBytes && parts > cache.capacityBytes - 32, JSON.stringify(cache))
  assert.ok(cache.hot.capacityBytes <= cache.capacityBytes / 10, JSON.stringify(cache))
  assert.ok(Math.abs(cache.hitRate - cache.hits / (cache.hits + cache.misses)) < 1e-9)
  // Each tier: hits + misses = its lookups; the cached entries account for its bytes.
  for (const tier of [cache.hot, cache.warm]) {
    assert.ok(tier.hits >= 0 && tier.misses >= 0 && tier.entries >= 0 && tier.bytes >= 0)
    if (tier.entries === 0) assert.equal(tier.bytes, 0)
  }
})

test('writes are never hidden by a stale hot entry', async (t) => {
  const db = await filled(t, { writeBufferSize: 65536 })
  await warm(db)
  // Overwrite every hot key, push the new versions through flushes, and read them back.
  for (const k of hotKeys) await db.put(k, 'new:' + k)
  for (let b = 0; b < 3000; b++) await db.put('filler:' + b, 'x'.repeat(100))
  await db.compact()
  for (const k of hotKeys) assert.equal(await db.get(k), 'new:' + k)
  for (const k of hotKeys) assert.equal(db.getSync(k), 'new:' + k)
  await db.del(hotKeys[0])
  await db.compact()
  assert.equal(await db.get(hotKeys[0]), undefined)
})

test('bad input', async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t))
  for (const bad of [-1, 1.5, NaN]) {
    assert.throws(() => db.resizeCache(bad), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT')
  }
  assert.throws(() => db.resizeCache('1'), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT' && e instanceof TypeError)
  assert.throws(() => db.resizeCache(), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT')
  assert.throws(() => db.heatmap({ limit: -1 }), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT' && e instanceof RangeError)
  assert.throws(() => db.heatmap({ top: 3 }), (e) => e.code === 'BROWSERDB_INVALID_ARGUMENT')
  assert.deepEqual(db.heatmap(), [])
  await db.close()
  assert.throws(() => db.resizeCache(1024), (e) => e.code === 'BROWSERDB_CLOSED')
  assert.throws(() => db.heatmap(), (e) => e.code === 'BROWSERDB_CLOSED')
})
