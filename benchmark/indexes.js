'use strict'
// Secondary indexes (issue 12): what an index costs writes, and what it buys reads.
//   node benchmark/indexes.js [--keys 100000]
// Each case runs in its own Node process (benchmark/indexes-worker.js) on a fresh database:
// the same history data (keys `history:000001234`, ~150-byte JSON values with `lastVisit`),
// written without an index, then with one and with two. Then "the 20 most recent of N history
// entries": through the index (`iterator({ reverse: true, limit: 20 })`) against the only
// way without one, a full scan keeping the top 20. Writes results/indexes.{json,md}.
const fs = require('node:fs')
const path = require('node:path')
const { runWorker, fmt } = require('./child')
const { machineInfo, machineLines } = require('./machine')

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const keys = arg('--keys', 100_000)

const cases = [
  ['no index', 0],
  ['1 index', 1],
  ['2 indexes', 2]
]
const writes = cases.map(([label, indexes]) => ({ label, ...runWorker('indexes-worker.js', ['writes', String(keys), String(indexes)]) }))
const reads = runWorker('indexes-worker.js', ['recent', String(keys), '1'])
for (const r of [...writes, reads]) if (r.error) throw new Error(r.error)

const base = writes[0]
const machine = machineInfo(['browserdb'])
const lines = [
  `# Secondary indexes: ${keys.toLocaleString('en-US')} history entries`,
  '',
  ...machineLines(machine, ['browserdb'], ['browserdb']),
  '',
  '| writes | batches of 1000 (puts/s) | vs no index | awaited puts (puts/s) | vs no index | p99 awaited put (µs) |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...writes.map((w) => `| ${w.label} | ${fmt(w.batchPerSec)} | ${(w.batchPerSec / base.batchPerSec).toFixed(2)}x | ${fmt(w.putPerSec)} | ${(w.putPerSec / base.putPerSec).toFixed(2)}x | ${fmt(w.putP99Us)} |`),
  '',
  `| 20 most recent of ${keys.toLocaleString('en-US')} | per query (ms) | queries/s | ratio |`,
  '| --- | ---: | ---: | ---: |',
  `| index: iterator({ reverse: true, limit: 20 }) | ${reads.indexMs.toFixed(3)} | ${fmt(1000 / reads.indexMs)} | ${(reads.scanMs / reads.indexMs).toFixed(0)}x faster |`,
  `| full scan keeping the top 20 | ${reads.scanMs.toFixed(1)} | ${fmt(1000 / reads.scanMs)} | 1x |`,
  '',
  `Building the index over the ${keys.toLocaleString('en-US')} existing entries took ${fmt(reads.buildMs)} ms (${fmt(keys / reads.buildMs * 1000)} keys/s).`
]
const out = path.join(__dirname, 'results')
fs.mkdirSync(out, { recursive: true })
fs.writeFileSync(path.join(out, 'indexes.md'), lines.join('\n') + '\n')
fs.writeFileSync(path.join(out, 'indexes.json'), JSON.stringify({ keys, machine, writes, reads }, null, 2) + '\n')
console.log(lines.join('\n'))
