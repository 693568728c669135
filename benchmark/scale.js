'use strict'
// Scale benchmark (issue 14): browserdb alone at 10,000,000 keys, every figure compared with the
// same phases at 100,000 keys, run by the same script. Not part of `npm test`.
//   npm run bench:scale                          (= node benchmark/scale.js: 10M keys)
//   node benchmark/scale.js --keys 1000000 --days 60 --hammer-seconds 10     a quicker run
// Options (all optional): --keys N (10000000), --baseline N (100000), --ops N random reads per
// read pass (200000), --seconds S cap of each timed read pass (60), --days D simulated churn
// days (365), --day-ms M real ms per simulated day (300), --visits V history visits per day
// (keys / 500, at least 100), --retention D days a visit lives (90, by TTL), --dbs N databases of
// the per-site phase (100), --hammer-seconds S (30), --tmp DIR (os.tmpdir()).
// The phases, per key count (baseline first), each in its own child process (this script with
// --worker <phase>), so that every RSS figure is of a process that did only that:
//   bare   a node process running this script with nothing loaded: the RSS baseline
//   load   N keys history:000000000.. (100-200 byte JSON values) in a random order, batches of
//          1000, one awaited at a time, + the mix's 5000 bookmarks and settings:theme; then waits
//          until compaction has settled; timeline of throughput, batch latency, RSS, disk,
//          write amplification and compaction debt
//   open   reopen in a fresh process (open + one get), 1 untimed + 5 timed
//   reads  random awaited gets, random getSyncs, range scans (1000 keys): ops/s, p50/p99, RSS
//   mix    run.js's browser mix (history 80/20, bookmarks 50/50, settings:theme reads)
//   churn  a year of history in a fresh database: visits added daily with a TTL, clears of the
//          last hour / day / week / all history, bookmark rewrites; disk vs live data
//   multi  100 databases in one process: threads, memory, one hammered database vs the rest
// Writes results/scale.json, scale.md, scale-throughput.svg, scale-latency.svg, scale-disk.svg and
// scale-multi.svg (a run with other --keys / --baseline / --days than the defaults writes
// results/tmp-scale.* instead, git-ignored). Data directories live under a temp directory that
// is deleted at the end.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { runWorker } = require('./child')
const { prng, key, shuffledIndexes, rangeStarts, mixExtraData, browserMix, MIX } = require('./data')
const { diskUsage: diskUsageOnce, percentiles, nextvScan } = require('./store-worker')
const { machineInfo, machineLines } = require('./machine')
const { lineChart, stackCharts } = require('./chart')
const { memoryBreakdown, mallocInfo } = require('./memprobe')

// ---------------------------------------------------------------------------------------------
// Settings

const DEFAULTS = {
  keys: 10000000, baseline: 100000, ops: 200000, seconds: 60, days: 365, dayMs: 300, visits: 0,
  retention: 90, dbs: 100, hammerSeconds: 30, tmp: os.tmpdir()
}
function parseArgs (argv) {
  const o = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i])
    if (!m) throw new Error(`unknown argument ${argv[i]}`)
    const name = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (!(name in DEFAULTS)) throw new Error(`unknown option --${m[1]}`)
    const v = argv[++i]
    o[name] = name === 'tmp' ? v : Number(v)
    if (name !== 'tmp' && !(o[name] >= 0)) throw new Error(`--${m[1]} needs a number, got ${v}`)
  }
  return o
}

// Every database runs with these budgets, passed explicitly (they are the defaults).
const CACHE = 16 * 2 ** 20
const WBS = 4 * 2 ** 20
// The per-site databases of the multi phase: small budgets, as a browser gives each site.
const SITE_CACHE = 1 * 2 ** 20
const SITE_WBS = 64 * 2 ** 10 // the minimum: so that the others' trickle of writes fills level 0 within the hammer
// Compaction constants of src/engine/compaction.rs and options.rs (not exposed by stats()).
const L0_TRIGGER = 4
const L1_TARGET = 16 * 2 ** 20
const LEVEL_MULT = 10
const BATCH = 1000
const MiB = 2 ** 20

// ---------------------------------------------------------------------------------------------
// Shared helpers

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '
// A deterministic 100-200 byte JSON value for (id, gen), made on the fly so that no process
// holds 10M values (data.js's makeData builds arrays; same shape of record).
function valueOf (id, gen = 0) {
  const rand = prng((Math.imul(id + 1, 0x9E3779B1) ^ Math.imul(gen + 7, 0x85EBCA6B)) >>> 0)
  const target = 100 + Math.floor(rand() * 101)
  let url = ''
  for (let i = 4 + Math.floor(rand() * 8); i > 0; i--) url += ALPHA[Math.floor(rand() * 62)]
  const head = `{"id":${id},"url":"https://example.com/${url}","visits":${Math.floor(rand() * 1000)},"ts":${1700000000000 + Math.floor(rand() * 1e10)},"title":"`
  let title = ''
  for (let i = target - head.length - 2; i > 0; i--) title += ALPHA[Math.floor(rand() * 63)]
  return head + title + '"}'
}

// store-worker's diskUsage, retried when a file it listed was deleted before its lstat (an
// open database's compactions delete tables at any time).
function diskUsage (dir) {
  for (let attempt = 0; ; attempt++) {
    try {
      return diskUsageOnce(dir)
    } catch (err) {
      if (err.code !== 'ENOENT' || attempt >= 20) throw err
    }
  }
}

const gc = () => { if (global.gc) { global.gc(); global.gc() } }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const now = () => performance.now()
const threads = () => fs.readdirSync('/proc/self/task').length
const rss = () => process.memoryUsage.rss()
function peakRss () {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}
async function settledRss () {
  gc()
  await sleep(200)
  gc()
  return rss()
}
const log = (msg) => process.stderr.write(`  ${msg}\n`)
const openDb = (dir, opts = {}) => {
  const { BrowserDB } = require(path.join(__dirname, '..'))
  return BrowserDB.open(dir, { cacheSize: CACHE, writeBufferSize: WBS, ...opts })
}

// Compaction debt, from stats().levels (the rules of pick_leveled in compaction.rs): all of
// level 0 once it holds L0_TRIGGER tables, plus the bytes by which each level 1..5 exceeds its
// target (16 MiB × 10^(level-1)). 0 means no compaction is due.
function debtOf (st) {
  const L = st.levels
  let bytes = L[0].tables >= L0_TRIGGER ? L[0].bytes : 0
  for (let l = 1; l < L.length - 1; l++) bytes += Math.max(0, L[l].bytes - L1_TARGET * LEVEL_MULT ** (l - 1))
  return { bytes, l0: L[0].tables, l0Over: Math.max(0, L[0].tables - L0_TRIGGER + 1) }
}

// The stats() figures the report keeps.
function pickStats (st) {
  const pick = ['compactions', 'flushes', 'userBytesWritten', 'flushBytesWritten', 'compactionBytesWritten',
    'writeAmplification', 'diskBytes', 'liveBytesEstimate', 'spaceAmplification', 'writeSlowdowns',
    'writeStops', 'tables', 'tableEntries', 'memtableBytes', 'immutableMemtables', 'memoryBytes']
  const out = Object.fromEntries(pick.map((k) => [k, st[k]]))
  out.levels = st.levels.map((l) => ({ tables: l.tables, bytes: l.bytes }))
  out.cacheHitRate = st.cache.hitRate
  out.cacheBytes = st.cache.bytes
  out.debt = debtOf(st)
  return out
}

// Waits until no memtable waits for a flush, no compaction is due and the counters have not
// moved for quietMs (at most maxMs). `sample` is called on every poll.
async function settle (db, { quietMs = 2000, maxMs = 300000, sample } = {}) {
  const t0 = now()
  let last = ''
  let quietSince = now()
  for (;;) {
    const st = db.stats()
    if (sample) sample(st)
    const state = `${st.flushes}/${st.compactions}/${st.immutableMemtables}/${st.tables}`
    if (state !== last) { last = state; quietSince = now() }
    const idle = st.immutableMemtables === 0 && debtOf(st).bytes === 0
    if (idle && now() - quietSince >= quietMs) return { seconds: (now() - t0) / 1000, timedOut: false }
    if (now() - t0 > maxMs) return { seconds: (now() - t0) / 1000, timedOut: true }
    await sleep(100)
  }
}

// Timeline of per-operation latencies (ms), cut into intervals: ops/s and p50/p99 per interval.
class Timeline {
  constructor (intervalMs) {
    this.intervalMs = intervalMs
    this.t0 = now()
    this.start = this.t0
    this.lat = []
    this.ops = 0
    this.points = []
  }

  add (ms, ops = 1) {
    this.lat.push(ms)
    this.ops += ops
    if (now() - this.start >= this.intervalMs) this.cut()
  }

  cut (extra = {}) {
    const t = now()
    if (this.lat.length) {
      const p = percentiles(this.lat)
      this.points.push({ t: (t - this.t0) / 1000, opsPerSec: this.ops / ((t - this.start) / 1000), p50: p.p50, p99: p.p99, rss: rss(), ...extra })
    }
    this.lat = []
    this.ops = 0
    this.start = t
  }
}

// ---------------------------------------------------------------------------------------------
// Worker phases (each runs in its own process: node --expose-gc scale.js --worker <phase> <json>)

// The reads phase's driver without a database: the same loops (keys made, expected values
// made, promises awaited, pages of a scan handed over) against a store that answers from
// valueOf. What its process holds over bare node is the driver's own cost (mostly V8's young
// generation, grown by the garbage of making each expected value), which the database's
// process pays too. It answers the value the driver just made for the same key (one entry
// remembered), so it allocates less than a database that returns a fresh string: the
// baseline errs low, against browserdb.
function driverOnlyStore (n) {
  const idOf = (k) => Number(k.slice(k.indexOf(':') + 1))
  let lastId = -1
  let lastValue = ''
  const answer = (id) => {
    if (id !== lastId) { lastId = id; lastValue = valueOf(id) }
    return lastValue
  }
  const iterator = ({ gte, limit }) => {
    let id = idOf(gte)
    let left = limit
    return {
      async nextv (size) {
        const page = []
        for (; page.length < size && left > 0 && id < n; left--, id++) page.push([key(id), valueOf(id)])
        return page
      },
      async close () {}
    }
  }
  return { get: async (k) => answer(idOf(k)), getSync: (k) => answer(idOf(k)), iterator, close: async () => {} }
}

const phases = {
  async bare () {
    const r = await settledRss()
    const mem = memoryBreakdown()
    return { rss: r, heapTotal: mem.heapTotal, v8Physical: mem.v8Physical, native: r - mem.v8Physical, threads: threads() }
  },

  // The addon loaded, no database open.
  async addon () {
    require(path.join(__dirname, '..'))
    return { rss: await settledRss(), threads: threads() }
  },

  async load ({ dir, n }) {
    const db = await openDb(dir)
    const order = shuffledIndexes(n, 0xF111)
    const userBytesExpected = { bytes: 0 }
    const timeline = []
    const t0 = now()
    let lastSample = -1e9
    let lastKeys = 0
    let lastT = t0
    const batchLat = []
    let intervalLat = []
    const sample = (phase, keysDone) => {
      const st = db.stats()
      const t = now()
      const d = debtOf(st)
      timeline.push({
        t: (t - t0) / 1000,
        phase,
        keys: keysDone,
        keysPerSec: (keysDone - lastKeys) / ((t - lastT) / 1000),
        batchP50: intervalLat.length ? percentiles(intervalLat).p50 / 1000 : null,
        batchP99: intervalLat.length ? percentiles(intervalLat).p99 / 1000 : null,
        rss: rss(),
        disk: diskUsage(dir).bytes,
        statsDiskBytes: st.diskBytes,
        writeAmplification: st.writeAmplification,
        debtBytes: d.bytes,
        l0: d.l0,
        tables: st.tables,
        compactions: st.compactions,
        immutableMemtables: st.immutableMemtables,
        writeSlowdowns: st.writeSlowdowns,
        writeStops: st.writeStops
      })
      lastKeys = keysDone
      lastT = t
      intervalLat = []
      lastSample = t
    }
    const interval = n >= 1e6 ? 1000 : 100
    const make = (from, to) => {
      const ops = new Array(to - from)
      for (let j = from; j < to; j++) {
        const i = order[j]
        const value = valueOf(i)
        userBytesExpected.bytes += 17 + value.length
        ops[j - from] = { type: 'put', key: key(i), value }
      }
      return ops
    }
    // One batch in flight at a time; the next one is built while it runs.
    let next = make(0, Math.min(BATCH, n))
    for (let from = 0; from < n; from += BATCH) {
      const t = now()
      const p = db.batch(next)
      const to = Math.min(from + 2 * BATCH, n)
      next = from + BATCH < n ? make(from + BATCH, to) : null
      await p
      const ms = now() - t
      batchLat.push(ms)
      intervalLat.push(ms)
      if (now() - lastSample >= interval) sample('load', Math.min(from + BATCH, n))
      if ((from / BATCH) % 1000 === 999) log(`load: ${from + BATCH} keys, ${((now() - t0) / 1000).toFixed(0)} s`)
    }
    const loadSeconds = (now() - t0) / 1000
    sample('load', n)
    const statsAtLastBatch = pickStats(db.stats())
    const extra = mixExtraData()
    await db.batch(extra.keys.map((k, i) => ({ type: 'put', key: k, value: extra.values[i] })))
    // Settling: background flushes and compactions the load left.
    const s = await settle(db, { maxMs: 600000, sample: () => { if (now() - lastSample >= interval) sample('settle', n) } })
    sample('settle', n)
    const statsSettled = pickStats(db.stats())
    const rssEnd = await settledRss()
    await db.close()
    return {
      n,
      loadSeconds,
      keysPerSec: n / loadSeconds,
      batch: percentiles(batchLat),
      userBytes: userBytesExpected.bytes,
      settleSeconds: s.seconds,
      settleTimedOut: s.timedOut,
      statsAtLastBatch,
      statsSettled,
      rssEnd,
      peakRss: peakRss(),
      diskAfterClose: diskUsage(dir),
      timeline
    }
  },

  async open ({ dir, n }) {
    const i = Math.floor(n / 3)
    const t1 = now()
    const db = await openDb(dir)
    const t2 = now()
    const v = await db.get(key(i))
    const t3 = now()
    if (v !== valueOf(i)) throw new Error(`open: get(${key(i)}) returned ${JSON.stringify(v)}`)
    const st = db.stats()
    const out = { openMs: t3 - t1, openOnlyMs: t2 - t1, firstGetMs: t3 - t2, tables: st.tables, rss: rss(), threads: threads() }
    await db.close()
    return out
  },

  async reads ({ dir, n, ops, seconds, driverOnly = false }) {
    const db = driverOnly ? driverOnlyStore(n) : await openDb(dir)
    const rand = prng(0x6E7)
    const cap = seconds * 1000
    const pick = () => Math.floor(rand() * n)
    for (let j = 0; j < 1000; j++) await db.get(key(pick())) // warm-up
    const out = {}
    // Awaited random gets: each op times call -> resolution; the expected value is made
    // before the timer starts.
    for (const mode of ['get', 'getSync']) {
      gc()
      const tl = new Timeline(500)
      const lat = new Float64Array(ops)
      let done = 0
      const t0 = now()
      for (; done < ops && now() - t0 < cap; done++) {
        const i = pick()
        const k = key(i)
        const want = valueOf(i)
        const t = now()
        const v = mode === 'get' ? await db.get(k) : db.getSync(k)
        const ms = now() - t
        if (v !== want) throw new Error(`reads: ${mode}(${k}) returned ${JSON.stringify(v)}`)
        lat[done] = ms
        tl.add(ms)
      }
      const elapsed = (now() - t0) / 1000
      tl.cut()
      // Throughput counts only the timed calls (the value generation is outside them).
      let busy = 0
      for (let j = 0; j < done; j++) busy += lat[j]
      out[mode] = { ops: done, wallSeconds: elapsed, opsPerSec: done / (busy / 1000), lat: percentiles(lat.subarray(0, done)), timeline: tl.points }
      log(`reads: ${mode} ${done} ops, p99 ${out[mode].lat.p99.toFixed(1)} µs`)
    }
    // Range scans of 1000 consecutive keys from random starts.
    {
      const scans = Math.min(1000, Math.max(1, Math.floor(n / 100)))
      const starts = rangeStarts(n, scans, 1000, 0x5CA9)
      gc()
      const lat = []
      let keys = 0
      const t0 = now()
      for (let j = 0; j < scans && now() - t0 < cap; j++) {
        const t = now()
        const r = await nextvScan(db.iterator({ gte: key(starts[j]), limit: 1000 }))
        lat.push(now() - t)
        if (r.count !== Math.min(1000, n)) throw new Error(`scan from ${starts[j]}: ${r.count} entries`)
        keys += r.count
      }
      const elapsed = (now() - t0) / 1000
      out.scan = { scans: lat.length, keys, seconds: elapsed, keysPerSec: keys / elapsed, scansPerSec: lat.length / elapsed, lat: percentiles(lat) }
    }
    if (!driverOnly) {
      const st = db.stats()
      out.cacheHitRate = st.cache.hitRate
      out.tableMetadataBytes = st.tableMetadataBytes
      out.stats = pickStats(st)
    }
    out.rss = await settledRss()
    out.heapTotal = process.memoryUsage().heapTotal
    out.peakRss = peakRss()
    out.threads = threads()
    // Where the RSS is (smaps by kind; glibc's account with BROWSERDB_MALLOC_INFO=1).
    out.memory = memoryBreakdown()
    out.malloc = mallocInfo()
    await db.close()
    return out
  },

  async mix ({ dir, n }) {
    const db = await openDb(dir)
    // browserMix wants the history values as an array; at 10M keys they are made on demand.
    const over = new Map()
    let length = n
    const lazy = new Proxy({}, {
      get (_, prop) {
        if (prop === 'length') return length
        if (prop === 'push') return (v) => { over.set(length, v); return ++length }
        const i = Number(prop)
        if (Number.isInteger(i)) return over.has(i) ? over.get(i) : (i < n ? valueOf(i) : undefined)
        return undefined
      },
      set (_, prop, v) { over.set(Number(prop), v); return true }
    })
    const m = browserMix({ slice: () => lazy })
    for (let i = 0; i < 1000; i++) await db.get(key((i * 7919) % n))
    const total = m.key.length
    const lat = new Float64Array(total)
    gc()
    const t0 = now()
    for (let j = 0; j < total; j++) {
      const t = now()
      if (m.write[j] === 1) {
        await db.put(m.key[j], m.value[j])
        lat[j] = now() - t
      } else {
        const v = await db.get(m.key[j])
        lat[j] = now() - t
        if (v !== m.value[j]) throw new Error(`mix: get(${m.key[j]}) returned ${JSON.stringify(v)}, expected ${JSON.stringify(m.value[j])}`)
      }
    }
    const elapsed = (now() - t0) / 1000
    const reads = []
    const writes = []
    for (let j = 0; j < total; j++) (m.write[j] ? writes : reads).push(lat[j])
    const out = { ops: total, seconds: elapsed, opsPerSec: total / elapsed, lat: percentiles(lat), reads: percentiles(reads), writes: percentiles(writes), rss: await settledRss() }
    await db.close()
    return out
  },

  // A year of history, simulated fast. The engine's clock cannot be set from JS (Options.clock
  // is Rust-only), so simulated time runs at dayMs real ms per day: day d starts at real time
  // t0 + d × dayMs (the script waits for it, or runs late), and its visits are put with
  // ttl = t0 + (d + retention) × dayMs − now, so they expire when day d + retention starts.
  async churn ({ dir, days, dayMs, visits, retention }) {
    const db = await openDb(dir)
    const pad = (x, w) => String(x).padStart(w, '0')
    const vkey = (d, j) => `visit:${pad(d, 3)}:${pad(j, 6)}`
    const KEYLEN = vkey(0, 0).length
    // Live-data bookkeeping: visits of day d are live if d + retention > current day (not yet
    // expired), j < clearedFrom[d] (clears take a suffix of a day, or all of it).
    const prefix = [] // prefix[d][j] = bytes of visits 0..j-1 of day d
    const clearedFrom = new Int32Array(days).fill(visits)
    const BOOKMARKS = 5000
    const SETTINGS = 20
    const bookmarkBytes = new Uint32Array(BOOKMARKS)
    const settingBytes = new Uint32Array(SETTINGS)
    let gen = 1
    const t0 = Date.now()
    const perf0 = now()
    const expiryOf = (d) => t0 + (d + retention) * dayMs
    const liveBytes = () => {
      const at = Date.now()
      let b = 0
      let k = 0
      for (let d = 0; d < prefix.length; d++) {
        if (expiryOf(d) <= at) continue
        b += prefix[d][clearedFrom[d]]
        k += clearedFrom[d]
      }
      for (const x of bookmarkBytes) b += x
      for (const x of settingBytes) b += x
      return { bytes: b, visits: k }
    }
    // Initial bookmarks and settings.
    const bops = []
    for (let i = 0; i < BOOKMARKS; i++) {
      const k = `bookmark:${pad(i, 5)}`
      const v = valueOf(i, gen)
      bookmarkBytes[i] = k.length + v.length
      bops.push({ type: 'put', key: k, value: v })
    }
    for (let i = 0; i < SETTINGS; i++) {
      const k = `settings:${pad(i, 2)}`
      const v = valueOf(i, 0).slice(0, 40)
      settingBytes[i] = k.length + v.length
      bops.push({ type: 'put', key: k, value: v })
    }
    await db.batch(bops)

    const timeline = []
    const clears = []
    const writeLat = []
    const scanLat = []
    let lateDays = 0
    const sample = (day, phase) => {
      const st = db.stats()
      const live = liveBytes()
      const disk = diskUsage(dir).bytes
      const d = debtOf(st)
      timeline.push({
        day, phase, t: (now() - perf0) / 1000, live: live.bytes, liveVisits: live.visits, disk,
        statsDiskBytes: st.diskBytes, ratio: disk / live.bytes, debtBytes: d.bytes, l0: d.l0,
        settled: d.bytes === 0 && st.immutableMemtables === 0 && !(st.clearCompactionsPending > 0), tables: st.tables,
        tableEntries: st.tableEntries, writeAmplification: st.writeAmplification, rss: rss()
      })
    }
    const rand = prng(0xC4A2)
    const timedClear = async (day, what, range, keysLive) => {
      const t = now()
      await db.clear(range)
      const ms = now() - t
      clears.push({ day, what, ms, liveKeys: keysLive })
      log(`churn day ${day}: clear ${what} (${keysLive} live keys) ${ms.toFixed(1)} ms`)
    }
    for (let d = 0; d < days; d++) {
      const wait = t0 + d * dayMs - Date.now()
      if (wait > 0) await sleep(wait); else if (wait < -dayMs) lateDays++
      // The day's visits, in batches of 1000, each expiring when day d + retention starts.
      const pre = new Uint32Array(visits + 1)
      const ttl = Math.max(1, expiryOf(d) - Date.now())
      let batchOps = []
      const tDay = now()
      for (let j = 0; j < visits; j++) {
        const v = valueOf(d * 1e6 + j, 3)
        pre[j + 1] = pre[j] + KEYLEN + v.length
        batchOps.push({ type: 'put', key: vkey(d, j), value: v, ttl })
        if (batchOps.length === BATCH || j === visits - 1) {
          const t = now()
          await db.batch(batchOps)
          writeLat.push(now() - t)
          batchOps = []
        }
      }
      prefix.push(pre)
      const dayWriteMs = now() - tDay
      // Bookmarks: 250 rewritten a day, all 5000 every 30 days; settings rewritten daily.
      const ops = []
      const rewrite = d % 30 === 29
      for (let r = 0; r < (rewrite ? BOOKMARKS : 250); r++) {
        const i = rewrite ? r : Math.floor(rand() * BOOKMARKS)
        const k = `bookmark:${pad(i, 5)}`
        const v = valueOf(i, ++gen)
        bookmarkBytes[i] = k.length + v.length
        ops.push({ type: 'put', key: k, value: v })
      }
      for (let i = 0; i < SETTINGS; i++) {
        const k = `settings:${pad(i, 2)}`
        const v = valueOf(i, ++gen).slice(0, 40)
        settingBytes[i] = k.length + v.length
        ops.push({ type: 'put', key: k, value: v })
      }
      await db.batch(ops)
      // The history page: the 100 newest visits.
      {
        const t = now()
        const page = await db.iterator({ gte: 'visit:', lt: 'visit;', reverse: true, limit: 100 }).all()
        scanLat.push(now() - t)
        if (page.length !== Math.min(100, liveBytes().visits)) throw new Error(`churn day ${d}: history page has ${page.length} entries, ${liveBytes().visits} live`)
      }
      // Clears: the last hour weekly, the last day monthly, the last week at day 300, all
      // history at day 182.
      const hourFrom = Math.floor(visits * 23 / 24)
      if (d % 7 === 6 && clearedFrom[d] > hourFrom) {
        const live = clearedFrom[d] - hourFrom
        clearedFrom[d] = hourFrom
        await timedClear(d, 'last hour', { gte: vkey(d, hourFrom), lt: `visit:${pad(d, 3)};` }, live)
      }
      if (d % 30 === 14) {
        const live = clearedFrom[d]
        clearedFrom[d] = 0
        await timedClear(d, 'last day', { gte: `visit:${pad(d, 3)}:`, lt: `visit:${pad(d, 3)};` }, live)
      }
      if (d === Math.min(300, days - 1) && days > 7) {
        let live = 0
        for (let x = d - 6; x <= d; x++) { if (expiryOf(x) > Date.now()) live += clearedFrom[x]; clearedFrom[x] = 0 }
        await timedClear(d, 'last 7 days', { gte: `visit:${pad(d - 6, 3)}:`, lt: `visit:${pad(d, 3)};` }, live)
      }
      if (d === Math.floor(days / 2)) {
        const live = liveBytes().visits
        for (let x = 0; x <= d; x++) clearedFrom[x] = 0
        await timedClear(d, 'all history', { gte: 'visit:', lt: 'visit;' }, live)
      }
      sample(d, 'churn')
      timeline[timeline.length - 1].dayWriteMs = dayWriteMs
      if (d % 30 === 29) log(`churn: day ${d + 1}, live ${(timeline.at(-1).live / MiB).toFixed(1)} MiB, disk ${(timeline.at(-1).disk / MiB).toFixed(1)} MiB`)
    }
    const yearSeconds = (now() - perf0) / 1000
    // Let compaction settle, sampling.
    let lastS = now()
    const s = await settle(db, { maxMs: 300000, sample: () => { if (now() - lastS >= 1000) { lastS = now(); sample(days, 'settle') } } })
    sample(days, 'settled')
    const beforeCompact = timeline.at(-1)
    // What a full manual compaction reclaims (expired and cleared data dropped).
    const tc = now()
    await db.compact()
    const compactMs = now() - tc
    sample(days, 'after compact()')
    const st = pickStats(db.stats())
    await db.close()
    // Counts: every visit of the last `retention` days not cleared must read back.
    return {
      days, dayMs, visits, retention, yearSeconds, lateDays, settleSeconds: s.seconds, settleTimedOut: s.timedOut,
      clears, writeBatch: percentiles(writeLat), historyPage: percentiles(scanLat),
      beforeCompact, compactMs, afterCompact: timeline.at(-1), stats: st, timeline
    }
  },

  // 100 databases in one process (per-site storage).
  async multi ({ dir, dbs, perDb, hammerSeconds }) {
    const { BrowserDB } = require(path.join(__dirname, '..'))
    const samples = []
    const t0 = now()
    const snap = (phase, list) => {
      const mem = memoryBreakdown()
      const s = { t: (now() - t0) / 1000, phase, threads: threads(), rss: mem.rss, heapTotal: mem.heapTotal, heapUsed: mem.heapUsed, v8Physical: mem.v8Physical, native: mem.native, external: mem.external, smaps: mem.smaps }
      if (list) {
        const st = list.map((db) => db.stats())
        s.db0 = { l0: st[0].levels[0].tables, compactions: st[0].compactions, flushes: st[0].flushes, writeStops: st[0].writeStops, writeSlowdowns: st[0].writeSlowdowns }
        const others = st.slice(1)
        s.othersL0Max = Math.max(0, ...others.map((x) => x.levels[0].tables))
        s.othersL0Due = others.filter((x) => x.levels[0].tables >= L0_TRIGGER).length
        s.othersCompactions = others.reduce((a, x) => a + x.compactions, 0)
        s.othersFlushes = others.reduce((a, x) => a + x.flushes, 0)
        s.othersImmutable = others.reduce((a, x) => a + x.immutableMemtables, 0)
        s.memtableBytes = st.reduce((a, x) => a + x.memtableBytes, 0)
        s.cacheBytes = st.reduce((a, x) => a + x.cache.bytes, 0)
        s.perDb = st.map((x) => x.levels[0].tables)
      }
      samples.push(s)
      return s
    }
    const before = snap('before open')
    const probes = { beforeOpen: { ...memoryBreakdown(), malloc: mallocInfo() } }
    const list = []
    for (let i = 0; i < dbs; i++) list.push(await BrowserDB.open(path.join(dir, `site-${String(i).padStart(3, '0')}`), { cacheSize: SITE_CACHE, writeBufferSize: SITE_WBS }))
    const afterOpen = snap('after open', list)
    // Load: perDb keys into each database, round robin in batches of 1000.
    const tl = now()
    let lastSnap = now()
    for (let from = 0; from < perDb; from += BATCH) {
      for (let i = 0; i < dbs; i++) {
        const ops = []
        for (let j = from; j < Math.min(from + BATCH, perDb); j++) ops.push({ type: 'put', key: key(j), value: valueOf(i * 1e7 + j) })
        await list[i].batch(ops)
        if (now() - lastSnap >= 250) { lastSnap = now(); snap('load', list) }
      }
    }
    const loadSeconds = (now() - tl) / 1000
    snap('load', list)
    probes.afterLoad = { ...memoryBreakdown(), malloc: mallocInfo() }
    // Hammer: db #0 gets batches of 1000 (4 in flight) as fast as they go, for hammerSeconds;
    // meanwhile the others get batches of 100, one database after another, one at a time.
    const start = list.map((db) => db.stats())
    const due = new Float64Array(dbs).fill(-1) // since when each database has had L0 >= trigger
    const dueMax = new Float64Array(dbs)
    const th = now()
    const end = th + hammerSeconds * 1000
    let hammerKeys = 0
    let otherKeys = 0
    const otherLat = []
    const hammerLat = []
    // stats() must not run while a write is in flight on the same database: stats() holds the
    // state lock while it takes the WAL lock, a write that rotates the memtable holds the WAL
    // lock while it takes the state lock (src/engine/db.rs stats() vs rotate_wal()): a lock-order
    // inversion that deadlocks the process (the JS thread blocks in stats()). So the watcher
    // pauses the writers, waits for the writes in flight to resolve, samples, and resumes them.
    let paused = null
    let inflight = 0
    const gate = async () => { while (paused) await paused }
    const write = async (db, ops) => { await gate(); inflight++; try { await db.batch(ops) } finally { inflight-- } }
    const lane0 = async (lane) => {
      let c = 0
      while (now() < end) {
        const ops = []
        for (let j = 0; j < BATCH; j++) { const id = lane * 1e8 + c++; ops.push({ type: 'put', key: `hammer:${String(id).padStart(10, '0')}`, value: valueOf(id, 9) }) }
        await gate()
        const t = now()
        await write(list[0], ops)
        hammerLat.push(now() - t)
        hammerKeys += BATCH
      }
    }
    const laneOthers = async () => {
      let i = 1
      let c = 0
      while (now() < end) {
        const ops = []
        for (let j = 0; j < 100; j++) { const id = c++; ops.push({ type: 'put', key: `w:${String(id).padStart(9, '0')}`, value: valueOf(id, 11) }) }
        await gate()
        const t = now()
        await write(list[i], ops)
        otherLat.push(now() - t)
        otherKeys += 100
        i = i + 1 < dbs ? i + 1 : 1
      }
    }
    const watcher = async () => {
      while (now() < end) {
        await sleep(250)
        let resume
        paused = new Promise((resolve) => { resume = resolve })
        while (inflight > 0) await sleep(1)
        const s = snap('hammer', list)
        if (!probes.hammer && now() - th >= hammerSeconds * 500) probes.hammer = { ...memoryBreakdown(), malloc: mallocInfo() }
        const p = paused
        paused = null
        resume()
        await p
        const t = now()
        s.perDb.forEach((l0, i) => {
          if (l0 >= L0_TRIGGER) { if (due[i] < 0) due[i] = t; dueMax[i] = Math.max(dueMax[i], t - due[i]) } else due[i] = -1
        })
      }
    }
    await Promise.all([lane0(0), lane0(1), lane0(2), lane0(3), dbs > 1 ? laneOthers() : null, watcher()])
    const hammerElapsed = (now() - th) / 1000
    const atEnd = list.map((db) => db.stats())
    // Then wait until every database has settled (L0 below the trigger, nothing to flush).
    const ts = now()
    let settled = false
    while (now() - ts < 300000) {
      const st = list.map((db) => db.stats())
      if (st.every((x) => x.immutableMemtables === 0 && debtOf(x).bytes === 0)) { settled = true; break }
      await sleep(250)
      snap('settle', list)
    }
    const settleSeconds = (now() - ts) / 1000
    const afterSettle = snap('settled', list)
    const rssSettled = await settledRss()
    probes.settled = { ...memoryBreakdown(), malloc: mallocInfo() }
    if (process.env.BROWSERDB_EXIT_AT_SETTLED === '1') process.exit(0) // heaptrack: what is allocated now shows as leaked
    const final = list.map((db) => db.stats())
    for (const db of list) await db.close()
    await sleep(500)
    const afterClose = snap('after close')
    probes.afterClose = { ...memoryBreakdown(), malloc: mallocInfo() }
    const delta = (i, f) => atEnd[i][f] - start[i][f]
    const others = list.map((_, i) => i).slice(1)
    const othersCompactionsHammer = others.map((i) => delta(i, 'compactions')).sort((a, b) => a - b)
    const othersFlushesHammer = others.map((i) => delta(i, 'flushes')).sort((a, b) => a - b)
    const strip = (s) => { const { perDb, ...rest } = s; return rest }
    return {
      dbs, perDb, siteCache: SITE_CACHE, siteWbs: SITE_WBS, loadSeconds,
      threads: { before: before.threads, afterOpen: afterOpen.threads, max: Math.max(...samples.map((s) => s.threads)), afterClose: afterClose.threads },
      rss: { before: before.rss, afterOpen: afterOpen.rss, max: Math.max(...samples.map((s) => s.rss)), settled: rssSettled, peak: peakRss(), afterClose: afterClose.rss },
      // RSS outside the V8 heap (memprobe.js): the driver's JS data and garbage left out.
      native: { before: before.native, afterOpen: afterOpen.native, settled: probes.settled.native, peak: Math.max(...samples.map((s) => s.native)), afterClose: afterClose.native },
      v8Physical: { settled: probes.settled.v8Physical, atPeakRss: samples.reduce((a, s) => (s.rss > a.rss ? s : a)).v8Physical },
      hammer: {
        seconds: hammerElapsed,
        db0Keys: hammerKeys,
        db0KeysPerSec: hammerKeys / hammerElapsed,
        db0Batch: percentiles(hammerLat),
        db0Compactions: delta(0, 'compactions'),
        db0Flushes: delta(0, 'flushes'),
        db0WriteStops: delta(0, 'writeStops'),
        db0WriteSlowdowns: delta(0, 'writeSlowdowns'),
        otherKeys,
        otherKeysPerSec: otherKeys / hammerElapsed,
        otherBatch: otherLat.length ? percentiles(otherLat) : null,
        othersFlushes: { min: othersFlushesHammer[0], median: othersFlushesHammer[Math.floor(others.length / 2)], total: othersFlushesHammer.reduce((a, b) => a + b, 0) },
        othersCompactions: { min: othersCompactionsHammer[0], median: othersCompactionsHammer[Math.floor(others.length / 2)], total: othersCompactionsHammer.reduce((a, b) => a + b, 0) },
        othersWithFlushButNoCompaction: others.filter((i) => delta(i, 'flushes') >= L0_TRIGGER && delta(i, 'compactions') === 0).length,
        othersL0AtEnd: { max: Math.max(0, ...others.map((i) => atEnd[i].levels[0].tables)), due: others.filter((i) => atEnd[i].levels[0].tables >= L0_TRIGGER).length },
        othersLongestDueSeconds: Math.max(0, ...others.map((i) => dueMax[i])) / 1000,
        db0LongestDueSeconds: dueMax[0] / 1000,
        othersWriteStops: others.reduce((a, i) => a + delta(i, 'writeStops'), 0),
        othersWriteSlowdowns: others.reduce((a, i) => a + delta(i, 'writeSlowdowns'), 0)
      },
      settleSeconds,
      settled,
      probes,
      afterSettle: strip(afterSettle),
      db0Final: pickStats(final[0]),
      disk: diskUsage(dir),
      samples: samples.map(strip)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Driver

function runPhase (phase, args) {
  const t0 = Date.now()
  const r = runWorker('scale.js', ['--worker', phase, JSON.stringify(args)], { inheritStderr: true, timeoutMs: 2 * 60 * 60 * 1000 })
  if (r.error) throw new Error(`phase ${phase} (${JSON.stringify(args)}) failed:\n${r.error}`)
  r.wallSeconds = (Date.now() - t0) / 1000
  return r
}

function runSize (n, o, root) {
  const dir = fs.mkdtempSync(path.join(root, `k${n}-`))
  const r = { n }
  const say = (m) => console.error(`[${n} keys] ${m}`)
  try {
    say('bare')
    r.bare = runPhase('bare', {})
    r.addon = runPhase('addon', {})
    const db = path.join(dir, 'db')
    say('load')
    r.load = runPhase('load', { dir: db, n })
    say(`loaded in ${r.load.loadSeconds.toFixed(1)} s (+${r.load.settleSeconds.toFixed(1)} s settle); open`)
    const opens = []
    for (let i = 0; i <= 5; i++) opens.push(runPhase('open', { dir: db, n }))
    r.open = { first: opens[0], runs: opens.slice(1), p50: percentiles(opens.slice(1).map((x) => x.openMs)).p50 / 1000, max: Math.max(...opens.slice(1).map((x) => x.openMs)) }
    say(`open p50 ${r.open.p50.toFixed(1)} ms; reads`)
    r.reads = runPhase('reads', { dir: db, n, ops: Math.min(o.ops, n * 2), seconds: o.seconds })
    r.readsDriverOnly = runPhase('reads', { dir: db, n, ops: Math.min(o.ops, n * 2), seconds: o.seconds, driverOnly: true })
    say('mix')
    r.mix = runPhase('mix', { dir: db, n })
    r.disk = diskUsage(db)
    fs.rmSync(db, { recursive: true, force: true })
    const visits = o.visits || Math.max(100, Math.round(n / 500))
    say(`churn: ${o.days} days × ${visits} visits, ${o.dayMs} ms/day`)
    r.churn = runPhase('churn', { dir: path.join(dir, 'churn'), days: o.days, dayMs: o.dayMs, visits, retention: o.retention })
    fs.rmSync(path.join(dir, 'churn'), { recursive: true, force: true })
    say(`multi: ${o.dbs} databases`)
    r.multi = runPhase('multi', { dir: path.join(dir, 'multi'), dbs: o.dbs, perDb: Math.max(100, Math.round(n / 1000)), hammerSeconds: o.hammerSeconds })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return r
}

// ---------------------------------------------------------------------------------------------
// Report

const mb = (b) => (b / MiB).toFixed(1)
const us = (x) => x >= 100 ? x.toFixed(0) : x.toFixed(1)
const num = (x) => Math.round(x).toLocaleString('en-US')
const ratio = (a, b) => (b > 0 ? (a / b) : NaN)
const rx = (a, b) => { const v = ratio(a, b); return Number.isFinite(v) ? `${v.toFixed(2)}×` : 'n/a' }
const shape = (levels) => levels.map((l, i) => l.tables ? `L${i} ${l.tables}` : null).filter(Boolean).join(', ') || 'none'

function churnSummary (c) {
  const t = c.timeline.filter((p) => p.phase === 'churn' || p.phase === 'settle' || p.phase === 'settled')
  const maxOf = (list) => list.length ? list.reduce((m, p) => (p.ratio > m.ratio ? p : m), list[0]) : null
  const all = maxOf(t)
  const settled = maxOf(t.filter((p) => p.settled))
  const clearAll = c.clears.find((x) => x.what === 'all history')
  const afterClear = clearAll ? t.filter((p) => p.phase === 'churn' && p.day > clearAll.day + c.retention) : []
  return { all, settled, steady: maxOf(afterClear.length ? afterClear : t.filter((p) => p.day >= c.retention && (!clearAll || p.day < clearAll.day))) }
}

function report (o, results, machine, runSeconds) {
  const A = results.baseline
  const B = results.full
  const nA = num(A.n)
  const nB = num(B.n)
  const budget = CACHE + WBS + 20 * MiB
  const rows = []
  const row = (what, a, b, cmp, goal = '') => rows.push(`| ${what} | ${a} | ${b} | ${cmp} | ${goal} |`)
  const lat = (p) => `${us(p.p50)} / ${us(p.p99)}`
  row('load: keys/s (batches of 1000, random order)', num(A.load.keysPerSec), num(B.load.keysPerSec), rx(B.load.keysPerSec, A.load.keysPerSec))
  row('load: batch p50 / p99, ms', `${A.load.batch.p50 / 1000 < 10 ? (A.load.batch.p50 / 1000).toFixed(2) : (A.load.batch.p50 / 1000).toFixed(0)} / ${(A.load.batch.p99 / 1000).toFixed(2)}`, `${(B.load.batch.p50 / 1000).toFixed(2)} / ${(B.load.batch.p99 / 1000).toFixed(2)}`, rx(B.load.batch.p99, A.load.batch.p99))
  row('load: settle time after the last batch, s', A.load.settleSeconds.toFixed(1), B.load.settleSeconds.toFixed(1), '')
  row('load: write slowdowns / stops', `${A.load.statsSettled.writeSlowdowns} / ${A.load.statsSettled.writeStops}`, `${B.load.statsSettled.writeSlowdowns} / ${B.load.statsSettled.writeStops}`, '')
  row('load: max compaction debt, MB / max L0 tables', `${mb(Math.max(...A.load.timeline.map((p) => p.debtBytes)))} / ${Math.max(...A.load.timeline.map((p) => p.l0))}`, `${mb(Math.max(...B.load.timeline.map((p) => p.debtBytes)))} / ${Math.max(...B.load.timeline.map((p) => p.l0))}`, '')
  row('write amplification (settled load)', A.load.statsSettled.writeAmplification.toFixed(2), B.load.statsSettled.writeAmplification.toFixed(2), rx(B.load.statsSettled.writeAmplification, A.load.statsSettled.writeAmplification))
  row('disk after load + close, MB (keys+values MB)', `${mb(A.load.diskAfterClose.bytes)} (${mb(A.load.userBytes)})`, `${mb(B.load.diskAfterClose.bytes)} (${mb(B.load.userBytes)})`, `${(A.load.diskAfterClose.bytes / A.load.userBytes).toFixed(2)} vs ${(B.load.diskAfterClose.bytes / B.load.userBytes).toFixed(2)} of raw`)
  row('tables (levels), settled', `${A.load.statsSettled.tables} (${shape(A.load.statsSettled.levels)})`, `${B.load.statsSettled.tables} (${shape(B.load.statsSettled.levels)})`, '')
  row('open (fresh process, open + 1 get), ms p50 / max (first)', `${A.open.p50.toFixed(1)} / ${A.open.max.toFixed(1)} (${A.open.first.openMs.toFixed(1)})`, `${B.open.p50.toFixed(1)} / ${B.open.max.toFixed(1)} (${B.open.first.openMs.toFixed(1)})`, rx(B.open.p50, A.open.p50), `milliseconds: ${B.open.p50 < 1000 ? 'met' : 'MISSED'}`)
  row('random get (awaited): ops/s', num(A.reads.get.opsPerSec), num(B.reads.get.opsPerSec), rx(B.reads.get.opsPerSec, A.reads.get.opsPerSec))
  row('random get: p50 / p99, µs', lat(A.reads.get.lat), lat(B.reads.get.lat), `p99 ${rx(B.reads.get.lat.p99, A.reads.get.lat.p99)}`, `p99 ≤ 2×: ${B.reads.get.lat.p99 <= 2 * A.reads.get.lat.p99 ? 'met' : 'MISSED'}`)
  row('random getSync: ops/s', num(A.reads.getSync.opsPerSec), num(B.reads.getSync.opsPerSec), rx(B.reads.getSync.opsPerSec, A.reads.getSync.opsPerSec))
  row('random getSync: p50 / p99, µs', lat(A.reads.getSync.lat), lat(B.reads.getSync.lat), `p99 ${rx(B.reads.getSync.lat.p99, A.reads.getSync.lat.p99)}`, `p99 ≤ 2×: ${B.reads.getSync.lat.p99 <= 2 * A.reads.getSync.lat.p99 ? 'met' : 'MISSED'}`)
  row('cache hit rate after the reads', A.reads.cacheHitRate.toFixed(3), B.reads.cacheHitRate.toFixed(3), '')
  row('range scan (1000 keys): keys/s', num(A.reads.scan.keysPerSec), num(B.reads.scan.keysPerSec), rx(B.reads.scan.keysPerSec, A.reads.scan.keysPerSec))
  row('range scan: p50 / p99 per scan, µs', lat(A.reads.scan.lat), lat(B.reads.scan.lat), `p99 ${rx(B.reads.scan.lat.p99, A.reads.scan.lat.p99)}`)
  row('browser mix: ops/s', num(A.mix.opsPerSec), num(B.mix.opsPerSec), rx(B.mix.opsPerSec, A.mix.opsPerSec))
  row('browser mix: reads p50 / p99, µs', lat(A.mix.reads), lat(B.mix.reads), `p99 ${rx(B.mix.reads.p99, A.mix.reads.p99)}`, `p99 ≤ 2×: ${B.mix.reads.p99 <= 2 * A.mix.reads.p99 ? 'met' : 'MISSED'}`)
  row('browser mix: writes p50 / p99, µs', lat(A.mix.writes), lat(B.mix.writes), `p99 ${rx(B.mix.writes.p99, A.mix.writes.p99)}`)
  const over = (r, x) => x.rss - r.bare.rss
  row('RSS over bare node after reads (bare MB), MB', `${mb(over(A, A.reads))} (${mb(A.bare.rss)})`, `${mb(over(B, B.reads))} (${mb(B.bare.rss)})`, rx(over(B, B.reads), over(A, A.reads)), `≤ ${mb(budget)} MB: ${over(B, B.reads) <= budget ? 'met' : `MISSED by ${mb(over(B, B.reads) - budget)} MB`}`)
  row('RSS over bare node: addon loaded, no database / after open / peak in reads, MB', `${mb(over(A, A.addon))} / ${mb(A.open.runs[0].rss - A.bare.rss)} / ${mb(A.reads.peakRss - A.bare.rss)}`, `${mb(over(B, B.addon))} / ${mb(B.open.runs[0].rss - B.bare.rss)} / ${mb(B.reads.peakRss - B.bare.rss)}`, '')
  const meta = (r) => r.reads.tableMetadataBytes === undefined ? 'n/a' : (r.reads.tableMetadataBytes / MiB).toFixed(1)
  row('of which the tables\' filters and indexes (stats().tableMetadataBytes), MiB', meta(A), meta(B), '')
  // The same reads driven without a database (driverOnlyStore): what the database's process
  // holds beyond it is the database's own memory. Older results have no such phase: n/a.
  const overDriver = (r) => (r.readsDriverOnly ? r.reads.rss - r.readsDriverOnly.rss : NaN)
  const driverCell = (r) => (r.readsDriverOnly ? `${mb(overDriver(r))} (${mb(r.readsDriverOnly.rss - r.bare.rss)})` : 'n/a')
  row('RSS over the same reads driven without a database, after reads (the driver-only process over bare node), MB', driverCell(A), driverCell(B), rx(overDriver(B), overDriver(A)), B.readsDriverOnly ? `≤ ${mb(budget)} MB: ${overDriver(B) <= budget ? 'met' : `MISSED by ${mb(overDriver(B) - budget)} MB`}` : '')
  const native = (r) => (r.reads.rss - r.reads.heapTotal) - (r.bare.rss - r.bare.heapTotal)
  row('RSS outside the V8 heap (RSS − heapTotal) over bare node\'s, after reads, MB', mb(native(A)), mb(native(B)), rx(native(B), native(A)), `≤ ${mb(budget)} MB: ${native(B) <= budget ? 'met' : `MISSED by ${mb(native(B) - budget)} MB`}`)
  row('RSS over bare node after the mix, MB', mb(over(A, A.mix)), mb(over(B, B.mix)), '')
  const cA = churnSummary(A.churn)
  const cB = churnSummary(B.churn)
  const where = (p) => !p ? 'n/a' : `${p.ratio.toFixed(2)} (day ${p.day}${p.phase !== 'churn' ? ', ' + p.phase : ''}: ${mb(p.disk)} / ${mb(p.live)} MB)`
  row('churn: visits/day × days (written MB)', `${num(A.churn.visits)} × ${A.churn.days}`, `${num(B.churn.visits)} × ${B.churn.days}`, '')
  row('churn: disk/live max, any sample', where(cA.all), where(cB.all), '', `≤ 2×: ${cB.all && cB.all.ratio <= 2 ? 'met' : 'MISSED'}`)
  row('churn: disk/live max, settled samples (no compaction due)', where(cA.settled), where(cB.settled), '', `≤ 2×: ${cB.settled && cB.settled.ratio <= 2 ? 'met' : 'MISSED'}`)
  row('churn: disk/live max, steady state (before clear-all, after retention, or after refill)', where(cA.steady), where(cB.steady), '')
  row('churn: after the year, settled: disk / live MB → after compact()', `${mb(A.churn.beforeCompact.disk)} / ${mb(A.churn.beforeCompact.live)} → ${mb(A.churn.afterCompact.disk)}`, `${mb(B.churn.beforeCompact.disk)} / ${mb(B.churn.beforeCompact.live)} → ${mb(B.churn.afterCompact.disk)}`, '')
  row('churn: write amplification over the year', A.churn.stats.writeAmplification.toFixed(2), B.churn.stats.writeAmplification.toFixed(2), '')
  row('churn: visit batch p50 / p99, ms; history page (100 newest) p50 / p99, µs', `${(A.churn.writeBatch.p50 / 1000).toFixed(2)} / ${(A.churn.writeBatch.p99 / 1000).toFixed(2)}; ${lat(A.churn.historyPage)}`, `${(B.churn.writeBatch.p50 / 1000).toFixed(2)} / ${(B.churn.writeBatch.p99 / 1000).toFixed(2)}; ${lat(B.churn.historyPage)}`, '')
  row('churn: days that started > 1 day late (writes slower than the clock)', A.churn.lateDays, B.churn.lateDays, '')
  const clearRows = (c) => {
    const by = {}
    for (const x of c.clears) (by[x.what] ||= []).push(x)
    return by
  }
  const clA = clearRows(A.churn)
  const clB = clearRows(B.churn)
  for (const what of Object.keys(clB)) {
    const f = (list) => list ? list.map((x) => `${x.ms.toFixed(0)} ms / ${num(x.liveKeys)}`).slice(0, 3).join(', ') + (list.length > 3 ? `, … (max ${Math.max(...list.map((x) => x.ms)).toFixed(0)} ms)` : '') : 'n/a'
    row(`clear(${what}): ms / live keys in range`, f(clA[what]), f(clB[what]), '')
  }
  const m = (r) => r.multi
  const siteBudget = (r) => m(r).dbs * (SITE_CACHE + SITE_WBS) + r.bare.rss
  // The same budget over bare node's RSS outside its V8 heap, for the native figures (older
  // results have no native figures: n/a).
  const siteBudgetNative = (r) => m(r).dbs * (SITE_CACHE + SITE_WBS) + r.bare.native
  const nat = (r, k) => (m(r).native ? mb(m(r).native[k]) : 'n/a')
  const natGoal = (k) => {
    if (!m(B).native) return ''
    const over = m(B).native[k] - siteBudgetNative(B)
    return over <= 0 ? 'met' : `MISSED by ${mb(over)} MB`
  }
  // Threads: a node process that has started libuv's pool (UV_THREADPOOL_SIZE, 4 by default)
  // plus the engine's shared 2-thread background pool, whatever the number of databases.
  const uvPool = Number(process.env.UV_THREADPOOL_SIZE) || 4
  row(`multi: threads before any open / after opening ${o.dbs} / max during load+hammer / after close`, `${m(A).threads.before} / ${m(A).threads.afterOpen} / ${m(A).threads.max} / ${m(A).threads.afterClose}`, `${m(B).threads.before} / ${m(B).threads.afterOpen} / ${m(B).threads.max} / ${m(B).threads.afterClose}`, '', `bounded (≤ before + ${uvPool} libuv + 2 engine): ${m(B).threads.max <= m(B).threads.before + uvPool + 2 ? 'met' : 'MISSED'}`)
  row(`multi: RSS after opening / settled after the hammer (gc'd) / peak, with the driver's JS heap (budget: ${o.dbs} × (${mb(SITE_CACHE)} MiB + ${SITE_WBS / 1024} KiB) + bare), MB`, `${mb(m(A).rss.afterOpen)} / ${mb(m(A).rss.settled)} / ${mb(m(A).rss.peak)} (${mb(siteBudget(A))})`, `${mb(m(B).rss.afterOpen)} / ${mb(m(B).rss.settled)} / ${mb(m(B).rss.peak)} (${mb(siteBudget(B))})`, '', `settled: ${m(B).rss.settled <= siteBudget(B) ? 'met' : `MISSED by ${mb(m(B).rss.settled - siteBudget(B))} MB`}; peak: ${m(B).rss.peak <= siteBudget(B) ? 'met' : `MISSED by ${mb(m(B).rss.peak - siteBudget(B))} MB`} (the peak is mostly the driver's JS heap: next rows)`)
  row(`multi: RSS outside the V8 heap (RSS − V8 heap resident: the engine, node, glibc arenas; not the driver's JS data) after opening / settled / peak of the 250 ms samples (budget: ${o.dbs} × (${mb(SITE_CACHE)} MiB + ${SITE_WBS / 1024} KiB) + bare's), MB`, `${nat(A, 'afterOpen')} / ${nat(A, 'settled')} / ${nat(A, 'peak')} (${m(A).native ? mb(siteBudgetNative(A)) : 'n/a'})`, `${nat(B, 'afterOpen')} / ${nat(B, 'settled')} / ${nat(B, 'peak')} (${m(B).native ? mb(siteBudgetNative(B)) : 'n/a'})`, '', m(B).native ? `settled: ${natGoal('settled')}; peak: ${natGoal('peak')}` : '')
  row('multi: V8 heap (the driver\'s JS) total / resident at the settled sample; resident at the RSS peak sample, MB', `${mb(m(A).afterSettle.heapTotal)} / ${m(A).v8Physical ? mb(m(A).v8Physical.settled) : 'n/a'}; ${m(A).v8Physical ? mb(m(A).v8Physical.atPeakRss) : 'n/a'}`, `${mb(m(B).afterSettle.heapTotal)} / ${m(B).v8Physical ? mb(m(B).v8Physical.settled) : 'n/a'}; ${m(B).v8Physical ? mb(m(B).v8Physical.atPeakRss) : 'n/a'}`, '')
  row('multi: keys per database loaded / load s', `${num(m(A).perDb)} / ${m(A).loadSeconds.toFixed(1)}`, `${num(m(B).perDb)} / ${m(B).loadSeconds.toFixed(1)}`, '')
  row('multi hammer: db #0 keys/s (batch p99 ms) / others keys/s (batch p99 ms)', `${num(m(A).hammer.db0KeysPerSec)} (${(m(A).hammer.db0Batch.p99 / 1000).toFixed(1)}) / ${num(m(A).hammer.otherKeysPerSec)} (${(m(A).hammer.otherBatch.p99 / 1000).toFixed(1)})`, `${num(m(B).hammer.db0KeysPerSec)} (${(m(B).hammer.db0Batch.p99 / 1000).toFixed(1)}) / ${num(m(B).hammer.otherKeysPerSec)} (${(m(B).hammer.otherBatch.p99 / 1000).toFixed(1)})`, '')
  row('multi hammer: db #0 flushes / compactions / stops / slowdowns', `${m(A).hammer.db0Flushes} / ${m(A).hammer.db0Compactions} / ${m(A).hammer.db0WriteStops} / ${m(A).hammer.db0WriteSlowdowns}`, `${m(B).hammer.db0Flushes} / ${m(B).hammer.db0Compactions} / ${m(B).hammer.db0WriteStops} / ${m(B).hammer.db0WriteSlowdowns}`, '')
  row('multi hammer: others\' flushes, compactions (min / median / total)', `${m(A).hammer.othersFlushes.min}/${m(A).hammer.othersFlushes.median}/${m(A).hammer.othersFlushes.total}, ${m(A).hammer.othersCompactions.min}/${m(A).hammer.othersCompactions.median}/${m(A).hammer.othersCompactions.total}`, `${m(B).hammer.othersFlushes.min}/${m(B).hammer.othersFlushes.median}/${m(B).hammer.othersFlushes.total}, ${m(B).hammer.othersCompactions.min}/${m(B).hammer.othersCompactions.median}/${m(B).hammer.othersCompactions.total}`, '')
  row('multi hammer: others with ≥ 4 flushes and no compaction / longest time an other db had a compaction due, s / due at the end', `${m(A).hammer.othersWithFlushButNoCompaction} / ${m(A).hammer.othersLongestDueSeconds.toFixed(1)} / ${m(A).hammer.othersL0AtEnd.due}`, `${m(B).hammer.othersWithFlushButNoCompaction} / ${m(B).hammer.othersLongestDueSeconds.toFixed(1)} / ${m(B).hammer.othersL0AtEnd.due}`, '', `not starved: ${m(B).hammer.othersWithFlushButNoCompaction === 0 ? 'met' : 'MISSED'}`)
  row('multi: settle after the hammer, s', `${m(A).settleSeconds.toFixed(1)}${m(A).settled ? '' : ' (not settled)'}`, `${m(B).settleSeconds.toFixed(1)}${m(B).settled ? '' : ' (not settled)'}`, '')

  const lines = [
    '# browserdb scale benchmark',
    '',
    ...machineLines(machine, ['browserdb'], ['browserdb']),
    `- load average at the start / end: ${machine.loadStart.map((x) => x.toFixed(2)).join(' ')} / ${machine.loadEnd.map((x) => x.toFixed(2)).join(' ')} (a shared 2-core VM: other work ran alongside, figures are noisy)`,
    `- run time: ${(runSeconds / 60).toFixed(1)} min; command: \`node benchmark/scale.js ${process.argv.slice(2).join(' ')}\``,
    `- data: history:000000000.. keys (17 B), 100-200 byte JSON values made on the fly (scale.js valueOf), loaded in a seeded random order, batches of 1000, one awaited at a time; cacheSize ${mb(CACHE)} MiB, writeBufferSize ${mb(WBS)} MiB (the defaults, passed explicitly)`,
    `- reads: ${num(o.ops)} random awaited gets and as many getSyncs (at most ${o.seconds} s each), 1000 range scans of 1000 keys, after a reopen in a fresh process; latencies time each call; ops/s = calls / time inside the calls. The same loops then run in another process against a stub that answers from the value generator (\`driverOnlyStore\`): its RSS over bare node is the driver's own (V8's young generation, grown by the garbage of making each expected value, and the JIT's pages), which the database's process holds too; the database's own memory is the difference between the two processes (the driver-only process loads no addon and starts no libuv pool, so the addon's code and the pool's threads count as the database's)`,
    '',
    `| figure | ${nA} keys | ${nB} keys | ${nB} vs ${nA} | goal (${nB} keys) |`,
    '| --- | ---: | ---: | ---: | --- |',
    ...rows,
    '',
    '## How to read it',
    '',
    `- Compaction debt (scale.js debtOf): all of level 0 once it holds ${L0_TRIGGER} tables, plus each level's bytes over its target (16 MiB × 10^(level−1)); 0 = no compaction due (the rules of pick_leveled in src/engine/compaction.rs). Write amplification: stats().writeAmplification, (flush + compaction bytes) / user bytes.`,
    `- Churn: the engine's clock cannot be injected from JS, so one simulated day is ${o.dayMs} ms of real time; a visit is put with a TTL that ends when day (its day + ${o.retention}) starts. Live data = key + value bytes of unexpired, uncleared visits + bookmarks + settings, tracked by the script; disk = the sum of file sizes in the directory (tables, WAL, MANIFEST), sampled after each simulated day. "Settled" samples are those where no compaction is due, no memtable waits for a flush and no compaction a clear() scheduled to reclaim its range is queued or running (stats().clearCompactionsPending). Clears: the last hour of the day every 7th day, the last day every 30th (day 14, 44, ...), the last 7 days at day 300, all history at day ${Math.floor(o.days / 2)}.`,
    `- Multi: ${o.dbs} databases (cacheSize ${mb(SITE_CACHE)} MiB, writeBufferSize ${SITE_WBS / 1024} KiB each) in one process; during the hammer db #0 gets batches of 1000 with 4 in flight, the others batches of 100 round robin, for ${o.hammerSeconds} s. A database "has a compaction due" while its level 0 holds ≥ ${L0_TRIGGER} tables. Memory (benchmark/memprobe.js, docs/design.md "Memory"): the driver builds every batch as JS objects, and at the hammer's RSS peak its V8 heap held about 100 MB of them and their garbage; the engine allocates nothing in the V8 heap (this phase reads nothing back), so the budget is judged on the RSS outside the V8 heap (RSS − V8's resident heap pages) against the same figure of bare node; the full RSS is shown too. BROWSERDB_MALLOC_INFO=1 adds glibc's own account (malloc_info via gdb) at four moments to scale.json.`,
    ''
  ]
  return lines.join('\n')
}

function charts (results, o) {
  const A = results.baseline
  const B = results.full
  const lab = (r) => `${num(r.n)} keys`
  const throughput = stackCharts([
    lineChart({ title: 'Load throughput (batches of 1000, random order)', xLabel: 'seconds since the first batch', yLabel: 'keys/s', series: [B, A].map((r) => ({ name: lab(r), points: r.load.timeline.filter((p) => p.phase === 'load').map((p) => [p.t, p.keysPerSec]) })) }),
    lineChart({ title: 'Random reads throughput (per 0.5 s)', xLabel: 'seconds', yLabel: 'ops/s', series: [B, A].flatMap((r) => [{ name: `get, ${lab(r)}`, points: r.reads.get.timeline.map((p) => [p.t, p.opsPerSec]) }, { name: `getSync, ${lab(r)}`, dash: true, points: r.reads.getSync.timeline.map((p) => [p.t, p.opsPerSec]) }]) }),
    lineChart({ title: 'Churn: time to write each simulated day\'s visits', xLabel: 'simulated day', yLabel: 'ms', series: [B, A].map((r) => ({ name: `${num(r.churn.visits)} visits/day (${lab(r)} run)`, points: r.churn.timeline.filter((p) => p.phase === 'churn').map((p) => [p.day, p.dayWriteMs]) })) })
  ])
  const latency = stackCharts([
    lineChart({ title: 'Load: batch latency p99 per interval', xLabel: 'seconds since the first batch', yLabel: 'ms', logY: true, series: [B, A].map((r) => ({ name: lab(r), points: r.load.timeline.filter((p) => p.phase === 'load').map((p) => [p.t, p.batchP99]) })) }),
    lineChart({ title: 'Random get latency per 0.5 s', xLabel: 'seconds', yLabel: 'µs', logY: true, series: [B, A].flatMap((r) => [{ name: `get p99, ${lab(r)}`, points: r.reads.get.timeline.map((p) => [p.t, p.p99]) }, { name: `get p50, ${lab(r)}`, dash: true, points: r.reads.get.timeline.map((p) => [p.t, p.p50]) }]) })
  ])
  const disk = stackCharts([
    lineChart({ title: `Load of ${lab(B)}: disk, compaction debt and RSS`, xLabel: 'seconds since the first batch', yLabel: 'MiB', series: [
      { name: 'disk (files)', points: B.load.timeline.map((p) => [p.t, p.disk / MiB]) },
      { name: 'compaction debt', points: B.load.timeline.map((p) => [p.t, p.debtBytes / MiB]) },
      { name: 'RSS', points: B.load.timeline.map((p) => [p.t, p.rss / MiB]) },
      { name: 'user bytes written', dash: true, points: B.load.timeline.map((p) => [p.t, p.keys * B.load.userBytes / B.n / MiB]) }
    ] }),
    lineChart({ title: `Load of ${lab(B)}: write amplification and level-0 tables`, xLabel: 'seconds since the first batch', yLabel: 'WA / tables', series: [
      { name: 'write amplification', points: B.load.timeline.map((p) => [p.t, p.writeAmplification]) },
      { name: 'L0 tables', points: B.load.timeline.map((p) => [p.t, p.l0]) }
    ] }),
    ...[B, A].map((r) => lineChart({ title: `Churn (${lab(r)} run, ${num(r.churn.visits)} visits/day): disk vs live data`, xLabel: 'simulated day', yLabel: 'MiB', series: [
      { name: 'disk (files)', points: r.churn.timeline.filter((p) => p.phase === 'churn').map((p) => [p.day, p.disk / MiB]) },
      { name: 'live data (key + value bytes)', points: r.churn.timeline.filter((p) => p.phase === 'churn').map((p) => [p.day, p.live / MiB]) },
      { name: 'compaction debt', dash: true, points: r.churn.timeline.filter((p) => p.phase === 'churn').map((p) => [p.day, p.debtBytes / MiB]) }
    ] })),
    lineChart({ title: 'Churn: disk / live data', xLabel: 'simulated day', yLabel: 'ratio', logY: true, series: [B, A].map((r) => ({ name: lab(r) + ' run', points: r.churn.timeline.filter((p) => p.phase === 'churn').map((p) => [p.day, p.ratio]) })) })
  ])
  const multi = stackCharts([
    lineChart({ title: `${o.dbs} databases in one process (${lab(B)} run): threads and RSS`, xLabel: 'seconds', yLabel: 'threads / MiB', series: [
      { name: 'threads', points: B.multi.samples.map((p) => [p.t, p.threads]) },
      { name: 'RSS, MiB', points: B.multi.samples.map((p) => [p.t, p.rss / MiB]) }
    ] }),
    lineChart({ title: 'Hammer: level-0 tables of db #0 and of the others (max), compactions of the others (sum)', xLabel: 'seconds', yLabel: 'count', series: [
      { name: 'db #0 L0 tables', points: B.multi.samples.filter((p) => p.db0).map((p) => [p.t, p.db0.l0]) },
      { name: 'others: max L0 tables', points: B.multi.samples.filter((p) => p.db0).map((p) => [p.t, p.othersL0Max]) },
      { name: 'others: dbs with a compaction due', points: B.multi.samples.filter((p) => p.db0).map((p) => [p.t, p.othersL0Due]) },
      { name: 'others: compactions / 10', dash: true, points: B.multi.samples.filter((p) => p.db0).map((p) => [p.t, p.othersCompactions / 10]) }
    ] })
  ])
  return { throughput, latency, disk, multi }
}

async function main () {
  if (process.argv[2] === '--worker') return phases[process.argv[3]](JSON.parse(process.argv[4]))
  const o = parseArgs(process.argv.slice(2))
  const started = Date.now()
  const machine = { ...machineInfo(['browserdb']), loadStart: os.loadavg() }
  const root = fs.mkdtempSync(path.join(o.tmp, 'browserdb-scale-'))
  const results = {}
  try {
    results.baseline = runSize(o.baseline, o, root)
    results.full = runSize(o.keys, o, root)
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
  machine.loadEnd = os.loadavg()
  const runSeconds = (Date.now() - started) / 1000
  const official = o.keys === DEFAULTS.keys && o.baseline === DEFAULTS.baseline && o.days === DEFAULTS.days && o.dbs === DEFAULTS.dbs
  const out = path.join(__dirname, 'results')
  const prefix = official ? 'scale' : 'tmp-scale'
  fs.mkdirSync(out, { recursive: true })
  const md = report(o, results, machine, runSeconds)
  const svgs = charts(results, o)
  for (const [name, svg] of Object.entries(svgs)) fs.writeFileSync(path.join(out, `${prefix}-${name}.svg`), svg)
  fs.writeFileSync(path.join(out, `${prefix}.md`), md + `\nCharts: ${Object.keys(svgs).map((n) => `[${prefix}-${n}.svg](${prefix}-${n}.svg)`).join(', ')}; every figure: [${prefix}.json](${prefix}.json).\n`)
  fs.writeFileSync(path.join(out, `${prefix}.json`), JSON.stringify({ date: new Date().toISOString(), options: o, runSeconds, machine, commit: gitCommit(), results }) + '\n')
  console.log(md)
  return null
}

function gitCommit () {
  try {
    const { execFileSync } = require('node:child_process')
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: __dirname, encoding: 'utf8' }).trim() + (execFileSync('git', ['status', '--porcelain', '--', '../src'], { cwd: __dirname, encoding: 'utf8' }).trim() ? ' (src modified)' : '')
  } catch { return '?' }
}

main().then(
  (r) => { if (r) process.stdout.write(JSON.stringify(r) + '\n', () => process.exit(0)) },
  (err) => { process.stderr.write(err.stack + '\n', () => process.exit(1)) }
)
