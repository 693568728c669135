'use strict'
// Deterministic keys and values shared by tests and their child-process fixtures, so a parent
// can check every byte a child wrote.

/** Zero-padded key `<prefix>:<n>` (fixed width, so keys of one prefix sort like numbers). */
function keyFor(prefix, n) {
  return `${prefix}:${String(n).padStart(6, '0')}`
}

/** A value of 60..260 bytes that encodes its key number and generation. */
function valueFor(prefix, n, gen = 0) {
  const len = 60 + ((n * 7919 + gen * 104729) % 200)
  const head = `${prefix}|${n}|${gen}|`
  let body = ''
  let x = (Math.imul(n, 2654435761 | 0) + Math.imul(gen, 40503) + 1) >>> 0
  while (head.length + body.length < len) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    body += 'abcdefghijklmnopqrstuvwxyz0123456789'[(x >>> 16) % 36]
  }
  return head + body
}

/** A value of ~5-8 KB built from valueFor (so it still encodes its key number). */
function largeValueFor(prefix, n) {
  return valueFor(prefix, n).repeat(40).slice(0, 5000 + ((n * 131) % 3000))
}

/**
 * The writes of the exit-without-close child (fixtures/write-then-exit.js), phase by phase,
 * as a list of steps; `applyModel` turns them into the expected contents.
 */
function exitPhases() {
  const phases = {
    1: { puts: [], batches: [], dels: [] },
    2: { puts: [], batches: [], dels: [] },
  }
  for (let i = 0; i < 1000; i++) phases[1].puts.push([i, 0])
  for (let b = 0; b < 20; b++) {
    const ops = []
    for (let j = 0; j < 50; j++) ops.push([1000 + b * 50 + j, 0])
    phases[1].batches.push(ops)
  }
  for (let i = 0; i < 2000; i += 5) phases[1].dels.push(i)
  for (let i = 0; i < 2000; i += 3) phases[2].puts.push([i, 2])
  for (let i = 2000; i < 2500; i++) phases[2].puts.push([i, 2])
  for (let i = 1; i < 2500; i += 7) phases[2].dels.push(i)
  return phases
}

/** Apply the phases 1..upTo of `exitPhases()` to a Map key → value. */
function exitModel(upTo) {
  const phases = exitPhases()
  const model = new Map()
  for (let p = 1; p <= upTo; p++) {
    for (const [n, gen] of phases[p].puts) model.set(keyFor('nc', n), valueFor('nc', n, gen))
    for (const ops of phases[p].batches) for (const [n, gen] of ops) model.set(keyFor('nc', n), valueFor('nc', n, gen))
    for (const n of phases[p].dels) model.delete(keyFor('nc', n))
  }
  return model
}

module.exports = { keyFor, valueFor, largeValueFor, exitPhases, exitModel }
