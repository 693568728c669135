'use strict'
// Real crash tests during flushes and compactions: a child (fixtures/compaction-writer.js)
// writes with a 64 KiB write buffer, so memtables flush and background compactions run all
// along, and calls db.compact() every ~200 acknowledged writes without waiting for it. The
// parent SIGKILLs it after enough acknowledgements and finished compactions (just as, or a
// few ms after, a compact() starts), reopens the database and checks that every acknowledged
// write is there with its exact value, every acknowledged delete is gone, nothing else
// appeared and every batch is whole. Three kills per style; each later run overwrites the
// earlier runs' keys with a new generation of values, so compactions drop older versions
// and tombstones of keys that live in several levels.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const { BrowserDB } = require('..')
const { tmpDir, openDb, spawnFixture, killAfter } = require('./helpers')
const { valueFor } = require('./helpers/data')

const RUN_TIMEOUT_MS = 10000
/** Per run: acknowledgements and finished compact() calls before the kill, and the delay (ms) after a `compacting` line. */
const ROUNDS = [
  { acks: 3000, compactions: 3, delayMs: 0 },
  { acks: 1500, compactions: 2, delayMs: 5 },
  { acks: 1500, compactions: 2, delayMs: 20 },
]

/**
 * Runs the writer (values of generation `gen`) until it acknowledged `acks` writes and
 * finished `compactions` compact() calls, then SIGKILLs it `delayMs` after the next
 * `compacting` line (a compact() just started), or after 1 s more if none comes.
 * Returns what the child acknowledged.
 */
async function crashRun (t, location, style, gen, { acks, compactions, delayMs }) {
  const last = new Map() // key → last acknowledged value, or null for an acknowledged delete
  const batches = new Set() // acknowledged batch numbers
  let count = 0
  let compacted = 0
  let killedDuringCompact = false
  let kill
  const killNow = new Promise((resolve) => { kill = resolve })
  let armed = false
  const run = spawnFixture('compaction-writer.js', [location, style, String(gen), '8'], {
    onLine (line) {
      const space = line.indexOf(' ')
      const tag = line.slice(0, space)
      const rest = line.slice(space + 1)
      if (tag === 'ack') {
        const [key, value] = rest.split(' ')
        last.set(key, value === 'DEL' ? null : value)
        count++
      } else if (tag === 'ackb') {
        batches.add(Number(rest))
        count++
      } else if (tag === 'compacted') {
        compacted++
      } else if (tag === 'compacting' && armed && !killedDuringCompact) {
        killedDuringCompact = true
        if (delayMs === 0) kill('compacting')
        else setTimeout(() => kill('compacting'), delayMs)
      }
      if (!armed && count >= acks && compacted >= compactions) {
        armed = true
        setTimeout(() => kill('timer'), 1000)
      }
    },
  })
  killAfter(t, run.child)
  const timeout = setTimeout(() => kill('timeout'), RUN_TIMEOUT_MS)
  const why = await Promise.race([killNow, run.exited.then(() => 'exited')])
  clearTimeout(timeout)
  run.child.kill('SIGKILL')
  const { signal } = await run.exited
  if (why === 'timeout' || why === 'exited') {
    assert.fail(`compaction-writer (${style}, gen ${gen}) ${why} after ${count} acknowledgements and ${compacted} finished compact() calls; ` +
      `stderr:\n${run.stderr}\nstdout tail:\n${run.lines.slice(-3).join('\n')}`)
  }
  assert.equal(signal, 'SIGKILL', `compaction-writer ended on its own; stderr:\n${run.stderr}`)
  return { last, batches, count, compacted, killedDuringCompact, why }
}

/**
 * What the runs so far acknowledged, per key: the generation of the last acknowledged put,
 * and of the last acknowledged delete (d: keys). A batch is tracked as one entry per group.
 */
class History {
  constructor () {
    this.gen = -1
    this.puts = new Map() // key → gen of its last acknowledged put
    this.dels = new Map() // d: key → gen of its last acknowledged delete
    this.groups = new Map() // batch group (b:<n> / c:<n>) → gen of its last acknowledged write
  }

  add (gen, run) {
    this.gen = gen
    for (const [key, value] of run.last) {
      if (value === null) this.dels.set(key, gen)
      else {
        assert.equal(value, expectedValue(key, gen), `the child acknowledged an unexpected value for ${key}`)
        this.puts.set(key, gen)
        this.dels.delete(key)
      }
    }
    for (const n of run.batches) this.groups.set(groupOf(n), gen)
  }
}

const pad = (n) => String(n).padStart(6, '0')
const groupOf = (n) => (n % 5 === 2 ? `b:${pad(n)}` : `c:${pad(n)}`)

/** The value generation `gen` of the writer puts under `key`, or undefined for a key it never writes. */
function expectedValue (key, gen) {
  let m = /^([pd]):(\d{6})$/.exec(key)
  if (m) {
    const n = Number(m[2])
    if (m[1] === 'p' && n % 5 <= 1) return valueFor('p', n, gen)
    if (m[1] === 'd' && n % 5 === 3) return valueFor('d', n, gen)
    return undefined
  }
  m = /^([bc]):(\d{6}):(\d)$/.exec(key)
  if (m) {
    const n = Number(m[2])
    const i = Number(m[3])
    if (m[1] === 'b' && n % 5 === 2) return valueFor('b', n * 10 + i, gen)
    if (m[1] === 'c' && n % 5 === 4 && i < 5) return valueFor('c', n * 10 + i, gen)
  }
  return undefined
}

/** The generation a stored value was written by (valueFor puts it in the value's head). */
function genOf (value) {
  return Number(String(value).split('|')[2])
}

/**
 * Checks the reopened database against the history: every key present is one the writer
 * writes, with the exact value of some generation written so far; batches are whole and of
 * one generation; an acknowledged put is present with its generation or a later one (a d:
 * key may also be gone: its delete follows the put at once); an acknowledged delete is gone,
 * unless a later run put the key again. Point reads agree with the scan.
 */
async function verify (db, history, label, extra = new Map()) {
  const entries = await db.iterator().all()
  const present = new Map()
  const groups = new Map() // 'b:<n>' / 'c:<n>' → { keys, gen }
  for (const [key, value] of entries) {
    if (extra.has(key)) {
      assert.equal(value, extra.get(key), `${label}: ${key}`)
      continue
    }
    const gen = genOf(value)
    if (!(gen >= 0 && gen <= history.gen) || value !== expectedValue(key, gen)) {
      assert.fail(`${label}: unexpected entry ${JSON.stringify(key)} = ${JSON.stringify(String(value).slice(0, 40))}…`)
    }
    present.set(key, gen)
    if (key[0] === 'b' || key[0] === 'c') {
      const name = key.slice(0, 8)
      const group = groups.get(name) || { keys: 0, gen }
      assert.equal(group.gen, gen, `${label}: batch ${name} mixes generations ${group.gen} and ${gen}`)
      group.keys++
      groups.set(name, group)
    }
  }
  for (const [name, group] of groups) {
    const whole = name[0] === 'b' ? 10 : 5
    assert.equal(group.keys, whole, `${label}: batch ${name} is torn: ${group.keys} of ${whole} keys present`)
  }
  let lost = 0
  const lostExamples = []
  const acknowledged = [...history.puts, ...[...history.groups].map(([name, gen]) => [name, gen, true])]
  for (const [key, gen, isGroup] of acknowledged) {
    const have = isGroup ? (groups.get(key) || {}).gen : present.get(key)
    if (have === undefined) {
      if (key[0] === 'd') continue // its delete may have landed
      lost++
      if (lostExamples.length < 5) lostExamples.push(`${key} (gen ${gen})`)
    } else {
      assert.ok(have >= gen, `${label}: ${key} went back from acknowledged generation ${gen} to ${have}`)
    }
  }
  assert.equal(lost, 0, `${label}: ${lost} acknowledged puts or batches were lost, e.g. ${lostExamples.join(', ')}`)
  for (const [key, gen] of history.dels) {
    if (present.has(key)) {
      assert.ok(present.get(key) > gen, `${label}: the acknowledged delete of ${key} (gen ${gen}) was lost`)
    }
  }
  // Point reads (memtable, level 0, deeper levels) agree with the scan.
  const keys = [...history.puts.keys(), ...history.dels.keys()]
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000)
    const values = await db.getMany(chunk)
    chunk.forEach((key, j) => {
      const gen = present.get(key)
      assert.equal(values[j], gen === undefined ? undefined : expectedValue(key, gen), `${label}: get(${key}) disagrees with the scan`)
    })
  }
  return { keys: entries.length, batches: groups.size }
}

async function crashCase (t, style) {
  const started = Date.now()
  const location = path.join(tmpDir(t), 'crash.bdb')
  const history = new History()
  const extra = new Map()
  const options = { compactionStyle: style, writeBufferSize: 64 * 1024 }
  for (let gen = 0; gen < ROUNDS.length; gen++) {
    const run = await crashRun(t, location, style, gen, ROUNDS[gen])
    history.add(gen, run)
    const db = await openDb(t, BrowserDB, location, options)
    const reopened = db.stats()
    const found = await verify(db, history, `${style}, kill ${gen + 1}`, extra)
    t.diagnostic(`${style}, kill ${gen + 1}: ${run.count} acks, ${run.compacted} compact() calls finished, killed ` +
      `${run.why === 'compacting' ? `${ROUNDS[gen].delayMs} ms after a compact() started` : 'on the timer'}; ` +
      `reopened with ${reopened.tables} tables (${reopened.levels.map((l) => l.tables).join('/')}), ${found.keys} keys, ${found.batches} whole batches`)
    if (gen === 0) {
      // The recovered database takes writes, compacts, closes and reopens with everything.
      await db.put('zz:after-crash', 'ok')
      extra.set('zz:after-crash', 'ok')
      await db.compact()
      const c = db.stats()
      const l0 = c.levels[0].tables
      assert.ok(style === 'tiered' ? l0 === 1 : l0 === 0, `after compact(): levels ${c.levels.map((l) => l.tables)}`)
      await verify(db, history, `${style}, kill 1, after compact()`, extra)
      await db.close()
      const again = await openDb(t, BrowserDB, location, options)
      await verify(again, history, `${style}, kill 1, after compact() and reopen`, extra)
      await again.close()
    } else {
      await db.close()
    }
  }
  t.diagnostic(`${style}: ${Date.now() - started} ms`)
}

const T = { timeout: 30000 }

test('kill -9 during flushes and compactions (leveled): acknowledged writes survive, batches stay whole', T, (t) => crashCase(t, 'leveled'))
test('kill -9 during flushes and compactions (tiered): acknowledged writes survive, batches stay whole', T, (t) => crashCase(t, 'tiered'))
