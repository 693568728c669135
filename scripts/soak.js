#!/usr/bin/env node
'use strict'
// Crash soak (issue 9): `npm run soak -- [cycles=50] [--seed N] [--dir D] [--keep]`.
//
// Each cycle runs scripts/soak-child.js on the same database, SIGKILLs it at a random moment
// (sometimes while it opens and recovers, mostly while its workers write), reopens the database
// here and checks it against the child's expected-state log (see soak-child.js):
//   - every acknowledged write is there: each key holds the value of its last acknowledged
//     operation (absent after a delete), or the value of the one operation on it that was in
//     flight when the process died;
//   - an in-flight batch is all or nothing: all its keys hold its values, or none does;
//   - no key holds a value that was never written, and no other key exists;
//   - the database opens after every kill, `verify()` finds nothing wrong, and it closes.
// A SIGKILL is a process crash: the OS keeps every byte a write() handed it, so every
// acknowledged write must survive, with or without `sync` (power loss is covered by
// tests/power_loss.rs, which drops unsynced bytes). The state found is the next cycle's start.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { BrowserDB } = require('..')
const { rng, valueOf } = require('./soak-child')

const CHILD = path.join(__dirname, 'soak-child.js')

/** Reads a cycle's log: per worker, its operations in order, each { n, op, acked }. */
function readLog(file) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
  const lines = text.split('\n')
  lines.pop() // '' after the last newline, or an unfinished line (its write never returned)
  const workers = new Map()
  for (const line of lines) {
    const [tag, w, n] = line.split(' ', 3)
    const list = workers.get(w) || workers.set(w, []).get(w)
    if (tag === 'B') {
      const op = JSON.parse(line.slice(line.indexOf(' ', line.indexOf(' ', 2) + 1) + 1))
      if (list.length > 0 && !list[list.length - 1].acked) throw new Error(`worker ${w} began op ${n} before op ${list[list.length - 1].n} was acknowledged`)
      list.push({ n: Number(n), op, acked: false })
    } else if (tag === 'A') {
      const last = list[list.length - 1]
      if (!last || last.n !== Number(n)) throw new Error(`log: acknowledgement of ${w}/${n} without its operation`)
      last.acked = true
    } else {
      throw new Error(`log: unexpected line ${JSON.stringify(line)}`)
    }
  }
  return workers
}

/** The writes `entry` makes: [[key, value | undefined]]. */
function writesOf(cycle, w, entry) {
  return entry.op.ops.map(([key, length]) => [key, length === null ? undefined : valueOf(cycle, Number(w), entry.n, key, length)])
}

/** Checks `found` (Map of the reopened database) against `before` and a cycle's log. */
function check(cycle, before, workers, found) {
  const expected = new Map(before)
  const inFlight = []
  let acked = 0
  for (const [w, entries] of workers) {
    for (const entry of entries) {
      const writes = writesOf(cycle, w, entry)
      if (!entry.acked) {
        inFlight.push({ w, entry, writes })
        continue
      }
      acked++
      for (const [key, value] of writes) {
        if (value === undefined) expected.delete(key)
        else expected.set(key, value)
      }
    }
  }
  const alternative = new Map() // key → the in-flight value (undefined: an in-flight delete)
  for (const f of inFlight) for (const [key, value] of f.writes) alternative.set(key, value)
  const problems = []
  const keys = new Set([...expected.keys(), ...found.keys(), ...alternative.keys()])
  for (const key of keys) {
    const got = found.get(key)
    if (got === expected.get(key)) continue
    if (alternative.has(key) && got === alternative.get(key)) continue
    if (got === undefined) problems.push(`acknowledged value of ${key} lost`)
    else if (!expected.has(key) && !alternative.has(key)) problems.push(`${key} exists but was never written (or was deleted)`)
    else problems.push(`${key} holds a value that is neither acknowledged nor in flight: ${JSON.stringify(got.slice(0, 40))}`)
  }
  for (const { w, entry, writes } of inFlight) {
    if (writes.length < 2) continue
    const applied = writes.filter(([key, value]) => found.get(key) === value && expected.get(key) !== value).length
    const notApplied = writes.filter(([key, value]) => found.get(key) === expected.get(key) && expected.get(key) !== value).length
    const either = writes.length - applied - notApplied
    if (applied > 0 && notApplied > 0) problems.push(`in-flight batch ${w}/${entry.n} is torn: ${applied} applied, ${notApplied} not, ${either} either`)
  }
  return { problems, acked, inFlight: inFlight.length }
}

async function readAll(location) {
  const db = await BrowserDB.open(location, { createIfMissing: false })
  try {
    const entries = await db.iterator().all()
    const report = await db.verify()
    if (!report.ok) throw new Error(`verify() after the crash: ${JSON.stringify(report.problems.slice(0, 3))}`)
    return new Map(entries)
  } finally {
    await db.close()
  }
}

/** Runs the child until it is ready or `earlyKillMs` passed, then kills it after `killMs`. */
function runChild(location, logFile, cycle, seed, plan) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, location, logFile, String(cycle), String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let ready = false
    let killed = false
    const kill = () => {
      if (!killed) {
        killed = true
        child.kill('SIGKILL')
      }
    }
    let timer = plan.early ? setTimeout(kill, plan.delayMs) : null
    const guard = setTimeout(kill, 20000) // a child that never gets ready
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk })
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      if (!ready && chunk.includes('ready')) {
        ready = true
        if (!plan.early) timer = setTimeout(kill, plan.delayMs)
      }
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(guard)
      if (signal === 'SIGKILL' && killed) resolve({ ready })
      else reject(new Error(`soak child ended on its own (code ${code}, signal ${signal}, ready ${ready}):\n${stderr}`))
    })
  })
}

/**
 * Runs `cycles` kill-and-check cycles in `dir` (created if missing). Returns totals; throws
 * on the first cycle whose database breaks a promise.
 */
async function soak({ cycles = 50, dir, seed = Date.now() % 1e9, maxDelayMs = 600, report = () => {} } = {}) {
  const location = path.join(dir, 'db')
  let before = new Map()
  const totals = { cycles: 0, acked: 0, inFlight: 0, earlyKills: 0, keys: 0 }
  const random = rng(seed)
  for (let cycle = 1; cycle <= cycles; cycle++) {
    // Mostly a kill while the workers write; sometimes one while the child starts, opens and
    // recovers (which then must not lose anything either).
    const plan = random() < 0.15 ? { early: true, delayMs: Math.floor(random() * 150) } : { early: false, delayMs: 20 + Math.floor(random() * maxDelayMs) }
    const logFile = path.join(dir, `log-${cycle}.txt`)
    const { ready } = await runChild(location, logFile, cycle, seed, plan)
    const workers = readLog(logFile)
    const found = fs.existsSync(path.join(location, 'MANIFEST')) ? await readAll(location) : new Map()
    const { problems, acked, inFlight } = check(cycle, before, workers, found)
    if (problems.length > 0) {
      throw new Error(`soak cycle ${cycle} (seed ${seed}, kill ${plan.early ? 'early' : 'after ready'} at ${plan.delayMs} ms): ${problems.length} problems:\n  ${problems.slice(0, 10).join('\n  ')}\n(database and logs kept in ${dir})`)
    }
    fs.rmSync(logFile, { force: true })
    totals.cycles++
    totals.acked += acked
    totals.inFlight += inFlight
    if (!ready) totals.earlyKills++
    totals.keys = found.size
    report(`cycle ${cycle}: killed ${ready ? `${plan.delayMs} ms after ready` : 'before ready'}, ${acked} acknowledged operations, ${inFlight} in flight, ${found.size} keys: ok`)
    before = found
  }
  return { seed, ...totals }
}

async function main() {
  const args = process.argv.slice(2)
  const option = (name) => {
    const at = args.indexOf(name)
    if (at === -1) return undefined
    const [, value] = args.splice(at, 2)
    return value
  }
  const seedArg = option('--seed')
  const dirArg = option('--dir')
  const keep = args.includes('--keep')
  const cycles = Number(args.find((a) => /^\d+$/.test(a)) || 50)
  const dir = dirArg ? path.resolve(dirArg) : fs.mkdtempSync(path.join(os.tmpdir(), 'browserdb-soak-'))
  fs.mkdirSync(dir, { recursive: true })
  const started = Date.now()
  try {
    const totals = await soak({ cycles, dir, seed: seedArg === undefined ? undefined : Number(seedArg), report: (line) => console.log(line) })
    console.log(`soak passed: ${totals.cycles} cycles (seed ${totals.seed}), ${totals.acked} acknowledged operations checked, ${totals.inFlight} in flight at a kill, ${totals.earlyKills} kills before open finished, ${((Date.now() - started) / 1000).toFixed(1)} s`)
    if (!keep && !dirArg) fs.rmSync(dir, { recursive: true, force: true })
  } catch (err) {
    console.error(err.message)
    process.exitCode = 1
  }
}

if (require.main === module) main()

module.exports = { soak, check, readLog }
