'use strict'
// In-memory benchmark: browserdb in ultra mode (RAM only) vs memory-level vs a plain JS Map.
// Each (store, workload) runs alone in its own child process (ultra-worker.js).
//   node benchmark/ultra.js                       100000 keys
//   ULTRA_KEYS=10000 node benchmark/ultra.js      quick run
//   ULTRA_PASSES=3 ...                            timed passes per run (default: 1,000,000 ops / keys)
const { runWorker, fmt } = require('./child')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { machineInfo, machineLines } = require('./machine')

const KEYS = Number.parseInt(process.env.ULTRA_KEYS || '100000', 10)
if (!(KEYS > 0)) throw new Error(`ULTRA_KEYS must be a positive integer, got ${process.env.ULTRA_KEYS}`)
// A pass over 100000 keys takes ~10 ms for the Map: too short to time alone. Each run repeats its
// pass until it has done at least 1,000,000 operations (10 passes at the default 100000 keys).
const PASSES = Number.parseInt(process.env.ULTRA_PASSES || String(Math.max(1, Math.ceil(1e6 / KEYS))), 10)
if (!(PASSES > 0)) throw new Error(`ULTRA_PASSES must be a positive integer, got ${process.env.ULTRA_PASSES}`)

const STORES = ['browserdb', 'memory-level', 'map']
const PEERS = STORES.filter((s) => s !== 'browserdb')
const NAMES = { browserdb: 'browserdb (ultra)', 'memory-level': 'memory-level', map: 'Map' }
const PACKAGES = ['browserdb', 'memory-level'] // the Map is node's own
const WORKLOADS = [
  ['seqput', 'sequential put (awaited one at a time)'],
  ['batchput', 'batch put (1000 per batch; Map: a loop of set)'],
  ['get', 'random get (awaited one at a time)'],
  ['getsync', 'random sync get (browserdb getSync, memory-level getSync, Map get)'],
  ['iterate', 'full iteration, iterator().nextv(1000) (keys/s)']
]

const worker = (args) => runWorker('ultra-worker.js', args)
// Two decimals, or two significant digits below 0.1 (0.0052x, not 0.01x).
const num2 = (x) => x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)
const loadavg = () => os.loadavg().map((x) => Number(x.toFixed(2)))

function main () {
  const started = Date.now()
  const machine = machineInfo(PACKAGES)
  const loadBefore = loadavg()

  const stores = STORES.filter((store) => {
    const r = worker([store, 'probe'])
    if (r.error) console.error(`skipping ${store}: cannot load it:\n  ${r.error.split('\n').slice(0, 3).join('\n  ')}`)
    return !r.error
  })

  const results = {}
  const details = {}
  let failed = false
  for (const [workload, title] of WORKLOADS) {
    results[workload] = {}
    details[workload] = {}
    for (const store of stores) {
      console.error(`running ${NAMES[store]}: ${title}, ${KEYS} keys x ${PASSES} passes`)
      const r = worker([store, workload, String(KEYS), String(PASSES)])
      if (r.error) {
        failed = true
        console.error(`FAILED ${store}/${workload}:\n${r.error}`)
        results[workload][store] = 'FAILED'
      } else if (r.na) {
        results[workload][store] = `n/a (${r.na})`
        console.error(`  n/a (${r.na})`)
      } else {
        results[workload][store] = r.opsPerSec
        details[workload][store] = { seconds: r.seconds, passSeconds: r.passSeconds, verified: r.verified }
        const rates = r.passSeconds.map((t) => KEYS / t)
        console.error(`  ${fmt(r.opsPerSec)} ${r.unit}/s (${r.seconds.toFixed(3)} s; passes ${fmt(Math.min(...rates))}..${fmt(Math.max(...rates))}; ${r.verified} values checked)`)
      }
    }
  }
  const loadAfter = loadavg()
  const runSeconds = (Date.now() - started) / 1000

  const ratio = (row, peers) => {
    const have = peers.filter((p) => typeof row[p] === 'number').sort((a, b) => row[b] - row[a])
    return typeof row.browserdb === 'number' && have.length
      ? `${num2(row.browserdb / row[have[0]])}x${peers.length > 1 ? ` (vs ${NAMES[have[0]]})` : ''}`
      : 'n/a'
  }
  const lines = [
    '# browserdb ultra mode benchmark',
    '',
    ...machineLines(machine, PACKAGES, PACKAGES.filter((s) => stores.includes(s))),
    `- load average (1/5/15 min): ${loadBefore.join(' / ')} at the start, ${loadAfter.join(' / ')} at the end (${machine.cores} cores)`,
    `- data: ${KEYS} keys \`history:000000000\`..., 100-200 byte JSON string values; each store in RAM with its default settings, in its own process`,
    `- each run: ${PASSES} timed passes over the ${KEYS} keys (puts: each pass into a fresh, empty store); ops/s = operations / total time; for the iteration, entries (keys with their values) per second`,
    '',
    `| workload | ${STORES.map((s) => `${NAMES[s]} ops/s`).join(' | ')} | browserdb / best peer | browserdb / memory-level |`,
    `| --- | ${STORES.map(() => '---:').join(' | ')} | ---: | ---: |`
  ]
  for (const [workload, title] of WORKLOADS) {
    const row = results[workload]
    const cell = (s) => fmt(row[s] === undefined ? 'skipped' : row[s])
    lines.push(`| ${title} | ${STORES.map(cell).join(' | ')} | ${ratio(row, PEERS)} | ${ratio(row, ['memory-level'])} |`)
  }
  lines.push('', `Run time: ${runSeconds.toFixed(0)} s.`)
  console.log('\n' + lines.join('\n') + '\n')

  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'ultra.json'), JSON.stringify({
    date: new Date().toISOString(),
    keys: KEYS,
    passes: PASSES,
    machine,
    loadavg: { start: loadBefore, end: loadAfter },
    stores: STORES,
    loaded: stores,
    results,
    details,
    runSeconds
  }, null, 2) + '\n')

  if (failed) {
    console.error('benchmark FAILED: see the errors above')
    process.exitCode = 1
  }
}

main()
