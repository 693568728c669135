'use strict'
// The cost of one synchronous get, from the floor up, in its own process:
//   node --expose-gc floor-worker.js <napi | browserdb | lmdb | better-sqlite3 | classic-level> <dir>
// - napi: napi-floor's get(key), a bare N-API call that reads the key string and returns a
//   new 155-byte string (no lookup at all): the least any addon's sync get can cost.
// - a store: its sync get of KEYS keys with 155-byte values, all in memory: browserdb and
//   classic-level hold them in their memtable (KEYS x ~180 bytes is well under either's write
//   buffer), lmdb and SQLite in the page cache (they are written and read back untimed first).
// Each times ROUNDS rounds of CALLS gets of keys in a seeded random order (the same for all) and
// reports the best round's ns per call (the least disturbed by the other process sharing the
// machine) and the median. Prints one JSON line.
const { performance } = require('node:perf_hooks')
const { key, shuffledIndexes } = require('./data')
const { stores } = require('./store-worker')

const KEYS = 10000
const CALLS = 200000
const ROUNDS = 7

// Exactly 155 bytes of JSON, like the floor's constant.
function value155 (i) {
  const base = JSON.stringify({ id: i, url: 'https://example.com/' + i, title: '' })
  return JSON.stringify({ id: i, url: 'https://example.com/' + i, title: 'x'.repeat(155 - base.length) })
}

async function main () {
  const [which, dir] = process.argv.slice(2)
  const keys = Array.from({ length: KEYS }, (_, i) => key(i))
  const values = keys.map((_, i) => value155(i))
  const order = shuffledIndexes(KEYS, 0xF100)
  let get
  let close = () => {}
  if (which === 'napi') {
    const floor = require('napi-floor')
    get = (k) => floor.get(k)
  } else {
    const s = stores[which]()
    const db = await s.open(dir)
    for (let i = 0; i < KEYS; i += 1000) await s.batch(db, keys, values, i, Math.min(i + 1000, KEYS))
    get = (k) => s.getSync(db, k)
    close = () => s.close(db)
    for (let i = 0; i < KEYS; i++) {
      if (get(keys[i]) !== values[i]) throw new Error(`${which}: getSync(${keys[i]}) returned the wrong value`)
    }
  }
  const ns = []
  let bytes = 0
  for (let r = 0; r <= ROUNDS; r++) {
    if (global.gc) global.gc()
    const t0 = performance.now()
    for (let j = 0; j < CALLS; j++) bytes += get(keys[order[j % KEYS]]).length
    const t = performance.now() - t0
    if (r > 0) ns.push(t * 1e6 / CALLS) // round 0 warms up
  }
  if (bytes !== (ROUNDS + 1) * CALLS * 155) throw new Error(`${which}: read ${bytes} bytes, expected ${(ROUNDS + 1) * CALLS * 155}`)
  await close()
  ns.sort((a, b) => a - b)
  return { which, nsBest: ns[0], nsMedian: ns[ns.length >> 1], rounds: ns }
}

main().then(
  (r) => process.stdout.write(JSON.stringify(r) + '\n', () => process.exit(0)),
  (err) => process.stderr.write(err.stack + '\n', () => process.exit(1))
)
