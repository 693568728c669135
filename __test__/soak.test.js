'use strict'
// The crash soak in short (`npm run soak` runs the long one): a child writes puts, deletes and
// batches (some with sync: true) from several concurrent workers, is SIGKILLed at a random
// moment, and the reopened database must hold every acknowledged write, each in-flight batch
// whole or not at all, and no value that was never written (scripts/soak.js explains the
// checks). The checker itself is tested first, so a soak that passes means something.
const { test } = require('node:test')
const assert = require('node:assert/strict')

const { soak, check } = require('../scripts/soak')
const { valueOf } = require('../scripts/soak-child')
const { tmpDir } = require('./helpers')

/** A log of worker 0: a put of w0:000, an acknowledged batch, then an in-flight batch. */
function sampleLog() {
  const entries = [
    { n: 0, op: { type: 'put', ops: [['w0:000', 30]] }, acked: true },
    { n: 1, op: { type: 'batch', ops: [['w0:001', 30], ['w0:002', 30]] }, acked: true },
    { n: 2, op: { type: 'batch', ops: [['w0:001', 40], ['w0:002', null], ['w0:003', 40]] }, acked: false },
  ]
  return new Map([['0', entries]])
}

const v = (n, key, length) => valueOf(1, 0, n, key, length)

test('the soak checker accepts what the promises allow and catches what they forbid', () => {
  const before = new Map([['w0:002', 'old'], ['w0:009', 'untouched']])
  const acked = new Map([['w0:000', v(0, 'w0:000', 30)], ['w0:001', v(1, 'w0:001', 30)], ['w0:002', v(1, 'w0:002', 30)], ['w0:009', 'untouched']])
  const applied = new Map([...acked, ['w0:001', v(2, 'w0:001', 40)], ['w0:003', v(2, 'w0:003', 40)]])
  applied.delete('w0:002')
  // The in-flight batch absent, or wholly there: both fine.
  assert.deepEqual(check(1, before, sampleLog(), acked).problems, [])
  assert.deepEqual(check(1, before, sampleLog(), applied).problems, [])
  // A torn in-flight batch.
  const torn = new Map(acked)
  torn.set('w0:003', v(2, 'w0:003', 40))
  assert.match(check(1, before, sampleLog(), torn).problems.join('\n'), /torn/)
  // A lost acknowledged write.
  const lost = new Map(acked)
  lost.delete('w0:000')
  assert.match(check(1, before, sampleLog(), lost).problems.join('\n'), /w0:000 lost/)
  // An older value come back.
  const stale = new Map(acked)
  stale.set('w0:002', 'old')
  assert.match(check(1, before, sampleLog(), stale).problems.join('\n'), /w0:002 holds a value/)
  // A value nobody wrote, and a key nobody wrote.
  const rotten = new Map(acked)
  rotten.set('w0:001', v(1, 'w0:001', 31))
  rotten.set('w5:000', 'ghost')
  const problems = check(1, before, sampleLog(), rotten).problems.join('\n')
  assert.match(problems, /w0:001 holds a value/)
  assert.match(problems, /w5:000 exists but was never written/)
})

test('crash soak: 5 SIGKILLs at random moments, every promise kept after each', { timeout: 60000 }, async (t) => {
  const seed = Math.floor(Math.random() * 1e9)
  t.diagnostic(`seed ${seed} (replay: npm run soak -- 5 --seed ${seed})`)
  const totals = await soak({ cycles: 5, dir: tmpDir(t), seed, maxDelayMs: 400, report: (line) => t.diagnostic(line) })
  assert.equal(totals.cycles, 5)
  assert.ok(totals.acked > 0, 'the child acknowledged nothing: the soak tested nothing')
})
