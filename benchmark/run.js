'use strict'
// Side-by-side benchmark: browserdb vs lmdb vs classic-level.
// Each (store, workload) runs alone in its own child process with a fresh temp directory.
//   BENCH_KEYS=10000 node benchmark/run.js      quick run (default 100000 keys)
//   BENCH_STORES=lmdb,classic-level ...         run only some stores
const { runWorker, fmt } = require('./child')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { prefixBlock } = require('./data')
const { machineInfo, machineLines } = require('./machine')

const KEYS = Number.parseInt(process.env.BENCH_KEYS || '100000', 10)
const STORES = (process.env.BENCH_STORES || 'browserdb,lmdb,classic-level').split(',')
const PEERS = STORES.filter((s) => s !== 'browserdb')
const WORKLOADS = [
  ['seqput', 'sequential put (awaited one at a time)'],
  ['batchput', 'batch put (1000 per batch)'],
  ['get', 'random get (awaited one at a time)'],
  ['getsync', 'random getSync'],
  ['fullscan', 'full scan (keys/s)'],
  ['rangescan', `range scans, 1000 x ${Math.min(1000, KEYS)} keys (keys/s)`],
  ['prefixscan', prefixTitle()]
]

if (!(KEYS > 0)) throw new Error(`BENCH_KEYS must be a positive integer, got ${process.env.BENCH_KEYS}`)

function prefixTitle () {
  const { prefix, from, to } = prefixBlock(KEYS)
  return `prefix scan \`${prefix}\`, ${to - from} keys (keys/s)`
}

const worker = (args) => runWorker('store-worker.js', args)

function main () {
  const machine = machineInfo(STORES)

  // Skip any store whose module cannot be loaded (e.g. browserdb before its addon is built).
  const stores = STORES.filter((store) => {
    const r = worker([store, 'probe'])
    if (r.error) console.error(`skipping ${store}: cannot load it:\n  ${r.error.split('\n').slice(0, 3).join('\n  ')}`)
    return !r.error
  })

  const results = {}
  let failed = false
  for (const [workload, title] of WORKLOADS) {
    results[workload] = {}
    for (const store of stores) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `browserdb-bench-${store}-${workload}-`))
      console.error(`running ${store}: ${title}, ${KEYS} keys`)
      try {
        const r = worker([store, workload, dir, String(KEYS)])
        if (r.error) {
          failed = true
          console.error(`FAILED ${store}/${workload}:\n${r.error}`)
          results[workload][store] = 'FAILED'
        } else {
          results[workload][store] = r.na ? 'n/a' : r.opsPerSec
          if (!r.na && r.unit === 'keys') {
            console.error(`  ${fmt(r.opsPerSec)} keys/s (${fmt(r.scanned)} keys in ${r.seconds.toFixed(2)} s, ${r.verified} entries verified)`)
          } else if (!r.na) {
            console.error(`  ${fmt(r.opsPerSec)} ops/s (${r.seconds.toFixed(2)} s, ${r.verified} reads verified)`)
          }
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  }

  const lines = [
    '# browserdb benchmark',
    '',
    ...machineLines(machine, STORES, stores),
    `- data: ${KEYS} keys \`history:000000000\`..., 100-200 byte JSON string values; each store with its default settings`,
    '- ops/s: operations per second; for the scans, entries (keys with their values) per second',
    '',
    `| workload | ${STORES.map((s) => `${s} ops/s`).join(' | ')} | browserdb / best peer |`,
    `| --- | ${STORES.map(() => '---:').join(' | ')} | ---: |`
  ]
  for (const [workload, title] of WORKLOADS) {
    const row = results[workload]
    const cell = (s) => fmt(row[s] === undefined ? 'skipped' : row[s])
    const peers = PEERS.filter((p) => typeof row[p] === 'number').sort((a, b) => row[b] - row[a])
    const ratio = typeof row.browserdb === 'number' && peers.length
      ? `${(row.browserdb / row[peers[0]]).toFixed(2)}x (vs ${peers[0]})`
      : 'n/a'
    lines.push(`| ${title} | ${STORES.map(cell).join(' | ')} | ${ratio} |`)
  }
  console.log('\n' + lines.join('\n') + '\n')

  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'latest.json'), JSON.stringify({
    date: new Date().toISOString(), keys: KEYS, machine, stores: STORES, loaded: stores, results
  }, null, 2) + '\n')

  if (failed) {
    console.error('benchmark FAILED: see the errors above')
    process.exitCode = 1
  }
}

main()
