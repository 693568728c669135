'use strict'
// "Grows large" benchmark: browserdb vs lmdb vs classic-level at 1,000,000 keys.
// Each store runs all the workloads (large-worker.js) in its own child process with a fresh
// temp directory, one store after another.
//   node benchmark/large.js                      1,000,000 keys, 200,000 ops per read/mixed run
//   LARGE_KEYS=100000 LARGE_OPS=50000 node benchmark/large.js
//   LARGE_STORES=browserdb,lmdb ...              run only some stores
//   LARGE_READ_ROUNDS=3 (default)                 then this many read rounds per store over the
//                                                 directories the runs left, the stores taking
//                                                 turns (a fresh process each), so a slow spell
//                                                 of this shared machine falls on every store
//   LARGE_FILL_ROUNDS=3 (default)                 and this many fill rounds per store, each into
//                                                 a fresh directory, taking turns the same way
const { runWorker, fmt } = require('./child')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { machineInfo, machineLines } = require('./machine')

const KEYS = Number.parseInt(process.env.LARGE_KEYS || '1000000', 10)
const OPS = Number.parseInt(process.env.LARGE_OPS || '200000', 10)
const STORES = (process.env.LARGE_STORES || 'browserdb,lmdb,classic-level').split(',')
const READ_ROUNDS = Number.parseInt(process.env.LARGE_READ_ROUNDS || '3', 10)
const FILL_ROUNDS = Number.parseInt(process.env.LARGE_FILL_ROUNDS || '3', 10)
const PEERS = STORES.filter((s) => s !== 'browserdb')
const TIMEOUT_MS = 60 * 60 * 1000

if (!(KEYS > 0)) throw new Error(`LARGE_KEYS must be a positive integer, got ${process.env.LARGE_KEYS}`)
if (!(OPS > 0)) throw new Error(`LARGE_OPS must be a positive integer, got ${process.env.LARGE_OPS}`)
if (!(READ_ROUNDS >= 0)) throw new Error(`LARGE_READ_ROUNDS must be a non-negative integer, got ${process.env.LARGE_READ_ROUNDS}`)
if (!(FILL_ROUNDS >= 0)) throw new Error(`LARGE_FILL_ROUNDS must be a non-negative integer, got ${process.env.LARGE_FILL_ROUNDS}`)

const mb = (bytes) => (bytes / 1e6).toFixed(1)
const num = (x) => x.toLocaleString('en-US')

// Runs a node script; stderr (the worker's progress) goes straight to ours.
const child = (script, args, inheritStderr) => runWorker(script, args, { inheritStderr, timeoutMs: TIMEOUT_MS })

// browserdb: "L0 2, L1 9, L2 71" (non-empty levels); classic-level: the same from leveldb.stats.
function levelShape (levels) {
  if (!levels) return 'n/a'
  const parts = []
  levels.forEach((l, i) => { if (l && l.tables) parts.push(`L${i} ${l.tables}`) })
  return parts.length ? parts.join(', ') : 'none'
}

function main () {
  const started = Date.now()
  const machine = machineInfo(STORES)
  const stores = STORES.filter((store) => {
    const r = child('store-worker.js', [store, 'probe'])
    if (r.error) console.error(`skipping ${store}: cannot load it:\n  ${r.error.split('\n').slice(0, 3).join('\n  ')}`)
    return !r.error
  })

  const results = {}
  const ok = (s) => results[s] && !results[s].error
  let failed = false
  const dirs = {}
  try {
    for (const store of stores) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `browserdb-large-${store}-`))
      dirs[store] = dir
      console.error(`running ${store}: ${num(KEYS)} keys, ${num(OPS)} ops per read/mixed run`)
      const t0 = Date.now()
      const r = child('large-worker.js', [store, dir, String(KEYS), String(OPS)], true)
      if (r.error) {
        failed = true
        console.error(`FAILED ${store}:\n${r.error}`)
        results[store] = { error: r.error }
      } else {
        r.wallSeconds = (Date.now() - t0) / 1000
        r.readRounds = []
        r.fillRounds = []
        console.error(`  ${store} done in ${r.wallSeconds.toFixed(0)} s`)
        results[store] = r
      }
    }
    // Rounds of one kind, the stores taking turns (the order rotates each round); each
    // result goes into results[store][key]. A failed round marks its store failed.
    const readers = stores.filter(ok)
    const takeTurns = (rounds, what, key, run) => {
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < readers.length; k++) {
          const store = readers[(round + k) % readers.length]
          if (!ok(store)) continue
          console.error(`${what} round ${round + 1}/${rounds}: ${store}`)
          const r = run(store)
          if (r.error) {
            failed = true
            console.error(`FAILED ${store} ${what} round:\n${r.error}`)
            results[store] = { error: r.error }
          } else {
            results[store][key].push(r)
          }
        }
      }
    }
    const worker = (store, dir, mode) => child('large-worker.js', [store, dir, String(KEYS), String(OPS), mode], true)
    takeTurns(READ_ROUNDS, 'read', 'readRounds', (store) => worker(store, dirs[store], 'reads'))
    // Fill rounds, each into a fresh directory removed after it.
    takeTurns(FILL_ROUNDS, 'fill', 'fillRounds', (store) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `browserdb-large-fill-${store}-`))
      try {
        return worker(store, dir, 'fill')
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  } finally {
    for (const dir of Object.values(dirs)) fs.rmSync(dir, { recursive: true, force: true })
  }
  const runSeconds = (Date.now() - started) / 1000

  const median = (xs) => {
    const sorted = xs.slice().sort((a, b) => a - b)
    const mid = sorted.length >> 1
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }
  // A read workload's median over the read rounds (n/a without rounds or without that read).
  const roundsOf = (w, rounds = 'readRounds') => (r) => {
    const xs = (r[rounds] || []).map((x) => x[w] && x[w].opsPerSec).filter((x) => typeof x === 'number')
    return xs.length ? { opsPerSec: median(xs) } : { na: 'no rounds' }
  }
  const workloads = [
    ['fill', `fill random, ${num(KEYS)} keys, 1000 per batch (awaited)`],
    ['get', `random get, ${num(OPS)} awaited one at a time`],
    ['getsync', `random sync get, ${num(OPS)}`],
    ['mixed', `mixed, ${num(OPS)} ops: 80% get / 20% overwrite, each awaited`]
  ]
  if (FILL_ROUNDS > 0) {
    workloads.push(['fill', `fill random, ${num(KEYS)} keys: median of ${FILL_ROUNDS} fill rounds, stores taking turns`, roundsOf('fill', 'fillRounds')])
  }
  if (READ_ROUNDS > 0) {
    workloads.push(
      ['get', `random get, ${num(OPS)} awaited: median of ${READ_ROUNDS} read rounds, stores taking turns`, roundsOf('get')],
      ['getsync', `random sync get, ${num(OPS)}: median of ${READ_ROUNDS} read rounds, stores taking turns`, roundsOf('getsync')]
    )
  }
  const opsOf = (s, w, from) => {
    if (!results[s]) return 'skipped'
    if (!ok(s)) return 'FAILED'
    const x = from ? from(results[s]) : results[s][w]
    return x.na ? 'n/a' : x.opsPerSec
  }
  const totalMB = ok('browserdb') ? mb(results.browserdb.userBytes) : mb(Object.values(results).find((r) => r.userBytes)?.userBytes || 0)
  const lines = [
    '# browserdb benchmark: grows large',
    '',
    ...machineLines(machine, STORES, stores),
    `- data: ${num(KEYS)} keys \`history:000000000\`... (${totalMB} MB of keys + values), 100-200 byte JSON string values, filled in a random order; each store with its default settings`,
    `- reads and mixed: uniform random keys (seeded, the same for every store), after a close and reopen; every read checked against the latest value`,
    `- read rounds: after all full runs, ${READ_ROUNDS} rounds of the same gets and sync gets over the databases the mixed runs left, each store in a fresh process, the stores taking turns in a rotating order; the median rows are the fairer comparison on a shared machine`,
    `- fill rounds: then ${FILL_ROUNDS} rounds of the fill alone, each into a fresh directory, in the same rotating turns`,
    `- run time: ${(runSeconds / 60).toFixed(1)} min (${STORES.map((s) => results[s]?.wallSeconds ? `${s} ${results[s].wallSeconds.toFixed(0)} s` : null).filter(Boolean).join(', ')})`,
    '',
    `| workload | ${STORES.map((s) => `${s} ops/s`).join(' | ')} | browserdb / best peer |`,
    `| --- | ${STORES.map(() => '---:').join(' | ')} | ---: |`
  ]
  for (const [w, title, from] of workloads) {
    const row = Object.fromEntries(STORES.map((s) => [s, opsOf(s, w, from)]))
    const peers = PEERS.filter((p) => typeof row[p] === 'number').sort((a, b) => row[b] - row[a])
    const ratio = typeof row.browserdb === 'number' && peers.length
      ? `${(row.browserdb / row[peers[0]]).toFixed(2)}x (vs ${peers[0]})`
      : 'n/a'
    lines.push(`| ${title} | ${STORES.map((s) => fmt(row[s])).join(' | ')} | ${ratio} |`)
  }

  // Disk and amplification table.
  const cell = (s, f) => {
    if (!results[s]) return 'skipped'
    if (!ok(s)) return 'FAILED'
    const v = f(results[s])
    return v === undefined || v === null ? 'n/a' : v
  }
  const bdb = (f) => (r) => r.store === 'browserdb' ? f(r) : undefined
  const cl = (f) => (r) => r.store === 'classic-level' ? f(r) : undefined
  // browserdb's whole-run write amplification: flush + compaction bytes over user bytes, both opens.
  const wholeRunWA = (r) => {
    const a = r.statsAfterFill
    const b = r.statsEnd
    const user = a.userBytesWritten + b.userBytesWritten
    return ((a.flushBytesWritten + a.compactionBytesWritten + b.flushBytesWritten + b.compactionBytesWritten) / user).toFixed(2)
  }
  const diskRows = [
    ['disk size after close, MB (sum of file sizes)', (r) => mb(r.disk.bytes)],
    ['disk allocated after close, MB (file blocks)', (r) => mb(r.disk.allocated)],
    ['disk size / keys + values bytes', (r) => (r.disk.bytes / r.userBytes).toFixed(2)],
    ['disk size after reopen + full compaction + close, MB', (r) => r.diskCompacted ? mb(r.diskCompacted.bytes) : undefined],
    ['write amplification, fill: at its last batch / settled', bdb((r) => `${r.statsFillEnd.writeAmplification.toFixed(2)} / ${r.statsAfterFill.writeAmplification.toFixed(2)}`)],
    ['write amplification, after reopen (`stats()` before final close)', bdb((r) => r.statsEnd.writeAmplification.toFixed(2))],
    ['write amplification, whole run (fill + after reopen)', bdb(wholeRunWA)],
    ['compactions: fill at its last batch / settled / after reopen', bdb((r) => `${r.statsFillEnd.compactions} / ${r.statsAfterFill.compactions} / ${r.statsEnd.compactions}`)],
    ['background work after the fill\'s last batch, s', (r) => r.store === 'lmdb' ? undefined : r.settleSeconds.toFixed(1)],
    ['write slowdowns / stops during fill', bdb((r) => `${r.statsAfterFill.writeSlowdowns} / ${r.statsAfterFill.writeStops}`)],
    ['tables per level, fill settled', (r) => r.store === 'lmdb' ? undefined : levelShape(r.statsAfterFill.levels)],
    ['tables per level, before final close', (r) => r.store === 'lmdb' ? undefined : levelShape(r.statsEnd.levels)],
    ['`stats().diskBytes`, MB, before final close', bdb((r) => mb(r.statsEnd.diskBytes))],
    ['`stats().spaceAmplification`, before final close', bdb((r) => r.statsEnd.spaceAmplification.toFixed(2))]
  ]
  lines.push('', `| after the runs | ${STORES.join(' | ')} |`, `| --- | ${STORES.map(() => '---:').join(' | ')} |`)
  for (const [title, f] of diskRows) lines.push(`| ${title} | ${STORES.map((s) => cell(s, f)).join(' | ')} |`)

  // Notes from what the peers report about themselves.
  const notes = []
  if (ok('classic-level')) {
    const r = results['classic-level']
    notes.push(`- classic-level: LevelDB's \`leveldb.stats\` (whole MB, since open) says the fill's ${fmt(r.statsAfterFill.flushAndCompactionWriteMB)} MB of flush + compaction writes were ${(r.statsAfterFill.flushAndCompactionWriteMB * 2 ** 20 / r.userBytes).toFixed(2)}x its ${mb(r.userBytes)} MB of keys + values (the memtable it left is written at the reopen, not counted there); after the reopen it wrote ${fmt(r.statsEnd.flushAndCompactionWriteMB)} MB (the recovered log, the overwrites and compactions). A different counter from browserdb's, in whole MB, so the table says n/a. \`approximateSize('history:', 'history;')\`: ${mb(r.approximateSizeAfterFill)} MB after fill, ${mb(r.approximateSizeEnd)} MB before the final close.`)
  }
  if (ok('lmdb')) {
    const st = results.lmdb.statsEnd
    notes.push(`- lmdb: no write amplification counter (a B+tree that copies pages on write). \`getStats()\` before the final close: ${fmt(st.entryCount)} entries, tree depth ${st.treeDepth}, ${fmt(st.treeLeafPageCount)} leaf + ${fmt(st.treeBranchPageCount)} branch pages of ${st.pageSize} bytes, ${fmt(st.overflowPages)} overflow pages; last page in use ${fmt(st.lastPageNumber)} (${mb(st.usedBytes)} MB into the file; pages freed by copy-on-write are reused, not given back).`)
  }
  if (ok('browserdb')) {
    const a = results.browserdb.statsFillEnd
    notes.push(`- browserdb: write amplification = (flush + compaction bytes) / user bytes (\`stats()\`, counted since open). The fill's is read when its last batch resolved and again once the background flushes and compactions it left had run out (\"settled\": counters unchanged for 2 s, untimed), both before its close; the flush at close is in neither. When the last batch resolved, ${mb(a.memtableBytes)} MB were in the memtable and ${a.immutableMemtables} frozen memtable(s) waited to be flushed.`)
  }
  if (notes.length) lines.push('', ...notes)
  console.log('\n' + lines.join('\n') + '\n')

  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'large.json'), JSON.stringify({
    date: new Date().toISOString(), keys: KEYS, ops: OPS, runSeconds, machine, stores: STORES, loaded: stores, results
  }, null, 2) + '\n')

  if (failed) {
    console.error('benchmark FAILED: see the errors above')
    process.exitCode = 1
  }
}

main()
