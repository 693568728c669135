'use strict'
// Side-by-side benchmark: browserdb vs lmdb, classic-level, better-sqlite3 and rocksdb.
// Each (store, workload) runs alone in its own child process with a fresh temp directory.
//   npm run bench                               from the repo root: installs the peers, then runs
//   BENCH_KEYS=10000 node benchmark/run.js      quick run (default 100000 keys)
//   BENCH_STORES=browserdb,lmdb ...             run only some stores
//   BENCH_WORKLOADS=get,getsync ...             run only some workloads
// A full run (all stores and workloads, 100000 keys) writes results/latest.md, latest.json and
// ratios.svg; any other run writes results/tmp-latest.* and tmp-ratios.svg (git-ignored).
const { runWorker, fmt } = require('./child')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { prefixBlock, MIX } = require('./data')
const { machineInfo, machineLines } = require('./machine')
const { ratioChart } = require('./chart')

const DEFAULT_KEYS = 100000
const ALL_STORES = ['browserdb', 'lmdb', 'classic-level', 'better-sqlite3', 'rocksdb']
const KEYS = Number.parseInt(process.env.BENCH_KEYS || String(DEFAULT_KEYS), 10)
const STORES = (process.env.BENCH_STORES || ALL_STORES.join(',')).split(',')
const PEERS = STORES.filter((s) => s !== 'browserdb')
const MB = 1024 * 1024

if (!(KEYS > 0)) throw new Error(`BENCH_KEYS must be a positive integer, got ${process.env.BENCH_KEYS}`)

const k = (n) => n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n)
const mixOps = MIX.history + MIX.bookmarks + MIX.theme

// The rows, in the issue's order. `worker`: the workload run for the row (the disk row reads
// the open workload's result); `lower`: smaller is better (the ratio is then best peer /
// browserdb, so that >= 1 still means browserdb leads); `latency`: what p50/p99 time.
const ROWS = [
  { id: 'seqput', n: '1', title: `sequential put, one awaited at a time (${k(KEYS)})`, short: 'sequential put, awaited', latency: 'put' },
  { id: 'batchput', n: '2', title: `batch put, 1000 per batch (${k(KEYS)}; ops/s = keys/s)`, short: 'batch put (1000 / batch)', latency: 'batch' },
  { id: 'get', n: '3', title: `random get, one awaited at a time (${k(KEYS)})`, short: 'random get, awaited', latency: 'get' },
  { id: 'get64', n: '4', title: `random get, 64 in flight (${k(KEYS)})`, short: 'random get, 64 in flight', latency: 'get, call to resolution' },
  { id: 'getsync', n: '5', title: `random getSync (${k(KEYS)})`, short: 'random getSync', latency: 'getSync' },
  { id: 'mix', n: '6', title: `browser mix, ${k(mixOps)} ops awaited: history 80/20 (${k(MIX.history)}), bookmarks 50/50 (${k(MIX.bookmarks)}), settings:theme reads (${k(MIX.theme)})`, short: 'browser mix (17k ops)', latency: 'operation' },
  { id: 'rangescan', n: '7', title: `range scans, 1000 × ${Math.min(1000, KEYS)} keys from random starts (keys/s)`, short: 'range scans (keys/s)', latency: 'scan of 1000 keys' },
  { id: 'prefixscan', n: '7', title: prefixTitle(), short: 'prefix scan (keys/s)', latency: 'whole prefix scan' },
  { id: 'fullscan', n: '7', title: `full scan, all ${k(KEYS)} keys (keys/s)`, short: 'full scan (keys/s)', latency: 'pass over all keys' },
  { id: 'syncput', n: '8', title: '2k `sync: true` writes, one awaited at a time', short: 'sync writes, awaited', latency: 'durable put' },
  { id: 'syncput64', n: '8', title: '2k `sync: true` writes, 64 in flight (group commit where the store has it)', short: 'sync writes, 64 in flight', latency: 'durable put' },
  { id: 'open', n: '9', title: `open a ${k(KEYS)}-key database in a fresh process (opens/s; open + first get)`, short: 'open + first get (fresh process)', latency: 'open + get' },
  { id: 'rss', n: '9', title: 'RSS after the read workloads, above a bare node (MB; lower is better)', short: 'RSS after reads (lower is better)', lower: true },
  { id: 'disk', n: '9', worker: 'open', title: `disk size, ${k(KEYS)} keys loaded and closed (MB; lower is better)`, short: 'disk size (lower is better)', lower: true }
]
// The workloads to run (BENCH_WORKLOADS names rows: `disk` runs the open workload).
const WORKLOADS = [...new Set((process.env.BENCH_WORKLOADS || ROWS.map((r) => r.id).join(',')).split(',')
  .map((id) => (ROWS.find((r) => r.id === id) || { worker: id }).worker || id))]
const FULL_RUN = KEYS === DEFAULT_KEYS && ALL_STORES.every((s) => STORES.includes(s)) && !process.env.BENCH_WORKLOADS

function prefixTitle () {
  const { prefix, from, to } = prefixBlock(KEYS)
  return `prefix scan \`${prefix}\`, all ${k(to - from)} keys with it (keys/s)`
}

const worker = (args) => runWorker('store-worker.js', args)

// Which browserdb ran: the commit, whether src/ differs from it, and when the addon was built.
function browserdbBuild () {
  const root = path.join(__dirname, '..')
  const git = (...args) => {
    const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' })
    return r.status === 0 ? r.stdout.trim() : null
  }
  let addonBuilt = null
  try { addonBuilt = fs.statSync(path.join(root, 'browserdb.node')).mtime.toISOString() } catch {}
  const changes = git('status', '--porcelain', '--', 'src', 'Cargo.toml', 'index.js')
  return { commit: git('rev-parse', '--short', 'HEAD'), srcChanged: changes === null ? null : changes.length > 0, addonBuilt }
}
const loadavg = () => os.loadavg().map((x) => Number(x.toFixed(2)))
const us = (x) => x >= 100 ? fmt(x) : x >= 10 ? x.toFixed(1) : x.toFixed(2)
const mb = (bytes) => (bytes / MB).toFixed(1)

// A row's value for one store: a number (higher is better unless row.lower), or a string
// (n/a, FAILED, skipped); the cell text; and the latency figures.
function value (row, r, bareRss) {
  if (r === undefined) return { v: 'skipped' }
  if (typeof r === 'string') return { v: r }
  if (r.na) return { v: 'n/a' }
  if (row.id === 'rss') return { v: (r.rss - bareRss) / MB, text: `${mb(r.rss - bareRss)} MB` }
  if (row.id === 'disk') return { v: r.disk.allocated / MB, text: `${mb(r.disk.allocated)} MB` }
  return { v: r.opsPerSec, text: `${fmt(r.opsPerSec)} (${us(r.lat.p50)} / ${us(r.lat.p99)})` }
}

// browserdb vs the best peer: { ratio, peer } (ratio >= 1: browserdb leads).
function ratioOf (row, vals) {
  const b = vals.browserdb
  const peers = PEERS.filter((p) => typeof vals[p] === 'number')
  if (typeof b !== 'number' || !peers.length) return null
  peers.sort((x, y) => row.lower ? vals[x] - vals[y] : vals[y] - vals[x])
  const best = peers[0]
  return { ratio: row.lower ? vals[best] / b : b / vals[best], peer: best }
}

function main () {
  const started = Date.now()
  const loadStart = loadavg()
  const machine = machineInfo(STORES)
  machine.browserdb = browserdbBuild()

  // Skip any store whose module cannot be loaded (e.g. browserdb before its addon is built).
  machine.engines = {}
  const stores = STORES.filter((store) => {
    const r = worker([store, 'probe'])
    if (r.error) console.error(`skipping ${store}: cannot load it:\n  ${r.error.split('\n').slice(0, 3).join('\n  ')}`)
    else if (r.engine) machine.engines[store] = r.engine
    return !r.error
  })

  const bare = WORKLOADS.includes('rss') ? worker(['bare', 'rss']) : null
  if (bare && bare.error) throw new Error(`bare rss: ${bare.error}`)

  const results = {}
  let failed = false
  for (const workload of WORKLOADS) {
    results[workload] = {}
    const row = ROWS.find((r) => r.id === workload)
    if (!row) throw new Error(`unknown workload ${workload} (BENCH_WORKLOADS)`)
    for (const store of stores) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `browserdb-bench-${store}-${workload}-`))
      console.error(`running ${store}: ${row.title}`)
      const t0 = Date.now()
      try {
        const r = worker([store, workload, dir, String(KEYS)])
        if (r.error) {
          failed = true
          console.error(`FAILED ${store}/${workload}:\n${r.error}`)
          results[workload][store] = 'FAILED'
        } else {
          r.wallSeconds = (Date.now() - t0) / 1000
          results[workload][store] = r
          if (r.na) console.error(`  n/a: ${r.na}`)
          else if (workload === 'rss') console.error(`  RSS ${mb(r.rss)} MB (${mb(r.rss - bare.rss)} MB above a bare node)`)
          else console.error(`  ${fmt(r.opsPerSec)} ${r.unit === 'keys' ? 'keys' : 'ops'}/s, p50 ${us(r.lat.p50)} µs, p99 ${us(r.lat.p99)} µs${r.disk ? `; disk ${mb(r.disk.allocated)} MB` : ''}`)
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  }

  // The floor: the cost of one bare N-API call, and each store's sync get of a key in memory.
  const floor = {}
  for (const which of ['napi', ...stores.filter((s) => ['browserdb', 'lmdb', 'classic-level', 'better-sqlite3'].includes(s))]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `browserdb-bench-floor-${which}-`))
    try {
      const r = runWorker('floor-worker.js', [which, dir])
      if (r.error) console.error(`floor ${which}: ${r.error.split('\n').slice(0, 3).join('\n  ')}`)
      else floor[which] = r
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }

  const runSeconds = (Date.now() - started) / 1000
  const loadEnd = loadavg()
  const rows = ROWS.filter((row) => WORKLOADS.includes(row.worker || row.id))
  const table = rows.map((row) => {
    const per = results[row.worker || row.id]
    const cells = {}
    const vals = {}
    for (const s of STORES) {
      const x = value(row, per[s], bare && bare.rss)
      cells[s] = x.text || x.v
      vals[s] = x.v
    }
    return { row, cells, vals, ratio: ratioOf(row, vals) }
  })

  const lines = [
    '# browserdb benchmark',
    '',
    ...machineLines(machine, STORES, stores),
    `- browserdb: commit ${machine.browserdb.commit}${machine.browserdb.srcChanged ? ' with uncommitted changes to src/' : ''}, addon built ${machine.browserdb.addonBuilt}`,
    `- data: ${fmt(KEYS)} keys \`history:000000000\`…, 100–200 byte JSON string values, the same for every store; each store in its own process with its default settings (better-sqlite3: WAL, synchronous=NORMAL; FULL for the sync writes)`,
    `- run: ${new Date(started).toISOString()}, ${(runSeconds / 60).toFixed(1)} min; load average ${loadStart.join(' ')} at the start, ${loadEnd.join(' ')} at the end (2 cores, shared)`,
    '',
    'Each cell: ops/s (p50 / p99 latency in µs). Scans: keys/s, latency per scan. The last column is browserdb / the best peer (for RSS and disk size, best peer / browserdb): ≥ 1.00 means browserdb leads.',
    '',
    `| # | workload | ${STORES.join(' | ')} | browserdb vs best peer |`,
    `| --- | --- | ${STORES.map(() => '---:').join(' | ')} | ---: |`
  ]
  for (const { row, cells, ratio } of table) {
    const rt = ratio ? `**${ratio.ratio.toFixed(2)}×** (${ratio.peer})` : 'n/a'
    lines.push(`| ${row.n} | ${row.title} | ${STORES.map((s) => fmt(cells[s])).join(' | ')} | ${rt} |`)
  }

  // Notes: where browserdb trails, the context figures, and what each row measures.
  const behind = table.filter((t) => t.ratio && t.ratio.ratio < 1)
  lines.push('')
  if (behind.length) {
    lines.push('Where browserdb trails the best peer:', '')
    for (const t of behind) {
      const pct = ((1 - t.ratio.ratio) * 100).toFixed(0)
      lines.push(`- ${t.row.short}: ${t.ratio.ratio.toFixed(2)}× ${t.ratio.peer} (${pct}% behind)`)
    }
    lines.push('')
  }
  if (bare) {
    const rss = results.rss || {}
    lines.push(`RSS: a bare node (\`node --expose-gc\` running this harness's worker with no store) is ${mb(bare.rss)} MB; after the reads, ${STORES.filter((s) => rss[s] && rss[s].rss).map((s) => `${s} ${mb(rss[s].rss)} MB`).join(', ')}.`)
  }
  const open = results.open || {}
  if (Object.keys(open).length) {
    lines.push(`Open: 20 fresh processes, each timing its open + first get (the files in the page cache; ops/s = 1 / mean time); of it the get (median): ${STORES.filter((s) => open[s] && open[s].firstGetMs !== undefined).map((s) => `${s} ${(open[s].firstGetMs * 1000).toFixed(0)} µs`).join(', ')}. Disk: allocated bytes of the store's directory (apparent sizes: ${STORES.filter((s) => open[s] && open[s].disk).map((s) => `${s} ${mb(open[s].disk.bytes)} MB`).join(', ')}).`)
  }
  if (floor.napi) {
    const ns = (w) => `${floor[w].nsBest.toFixed(0)} ns`
    lines.push('', `Context, one sync get of a key held in memory (best of 7 rounds of 200k calls; 10k keys, 155-byte values):`, '')
    lines.push(`- a bare N-API call taking the key and returning a 155-byte string (benchmark/napi-floor: no lookup at all): ${ns('napi')}`)
    if (floor.browserdb) lines.push(`- browserdb \`getSync\`, key in the memtable (argument checks, UTF-8 key copy, memtable lookup, the value string): ${ns('browserdb')}`)
    for (const s of ['lmdb', 'classic-level', 'better-sqlite3']) {
      if (floor[s]) lines.push(`- ${s} sync get${s === 'classic-level' ? ' (key in its memtable)' : ' (pages in the page cache)'}: ${ns(s)}`)
    }
  }
  lines.push('', 'Latency of each row: ' + rows.filter((r) => r.latency).map((r) => `${r.short}: per ${r.latency}`).join('; ') + '.')
  const report = lines.join('\n') + '\n'
  console.log('\n' + report)

  const chart = ratioChart({
    title: 'browserdb vs the best of lmdb, classic-level, better-sqlite3 and rocksdb',
    subtitle: `${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${fmt(KEYS)} keys — ${new Date(started).toISOString().slice(0, 10)}`,
    rows: table.map((t) => ({
      label: `${t.row.n}. ${t.row.short}`,
      ratio: t.ratio ? t.ratio.ratio : null,
      peer: t.ratio ? t.ratio.peer : null,
      note: t.vals.browserdb === 'n/a' ? 'n/a' : (typeof t.vals.browserdb === 'number' ? 'no peer' : String(t.vals.browserdb))
    }))
  })

  const dir = path.join(__dirname, 'results')
  fs.mkdirSync(dir, { recursive: true })
  const prefix = FULL_RUN ? '' : 'tmp-'
  fs.writeFileSync(path.join(dir, `${prefix}latest.md`), report)
  fs.writeFileSync(path.join(dir, `${prefix}ratios.svg`), chart)
  fs.writeFileSync(path.join(dir, `${prefix}latest.json`), JSON.stringify({
    date: new Date(started).toISOString(),
    keys: KEYS,
    machine,
    loadavg: { start: loadStart, end: loadEnd },
    runSeconds,
    stores: STORES,
    loaded: stores,
    bareRss: bare ? bare.rss : undefined,
    ratios: Object.fromEntries(table.map((t) => [t.row.id, t.ratio])),
    floor,
    results
  }, null, 2) + '\n')
  console.error(`wrote results/${prefix}latest.md, ${prefix}latest.json, ${prefix}ratios.svg${FULL_RUN ? '' : ' (not a full run: BENCH_KEYS / BENCH_STORES / BENCH_WORKLOADS set)'}; run time ${(runSeconds / 60).toFixed(1)} min`)

  if (failed) {
    console.error('benchmark FAILED: see the errors above')
    process.exitCode = 1
  }
}

main()
