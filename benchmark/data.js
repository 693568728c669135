'use strict'
// Deterministic benchmark data, identical in every worker process and for every store.

// mulberry32: a tiny seeded PRNG, returns floats in [0, 1).
function prng (seed) {
  let a = seed >>> 0
  return function () {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Zero-padded so that lexical order equals numeric order.
const key = (i) => 'history:' + String(i).padStart(9, '0')

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '

// N keys and N JSON string values of 100..200 bytes (ASCII, so bytes = characters).
function makeData (n, seed = 0xB10C) {
  const rand = prng(seed)
  const word = (len) => {
    let s = ''
    for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)]
    return s
  }
  const keys = new Array(n)
  const values = new Array(n)
  for (let i = 0; i < n; i++) {
    const target = 100 + Math.floor(rand() * 101)
    const rec = {
      id: i,
      url: 'https://example.com/' + word(4 + Math.floor(rand() * 8)).replace(/ /g, '-'),
      visits: Math.floor(rand() * 1000),
      ts: 1700000000000 + Math.floor(rand() * 1e10),
      title: ''
    }
    const base = JSON.stringify(rec).length
    if (base < target) rec.title = word(target - base)
    keys[i] = key(i)
    values[i] = JSON.stringify(rec)
  }
  return { keys, values }
}

// A random permutation of 0..n-1 (Fisher-Yates), the same for every store.
function shuffledIndexes (n, seed) {
  const rand = prng(seed)
  const idx = new Uint32Array(n)
  for (let i = 0; i < n; i++) idx[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    const t = idx[i]; idx[i] = idx[j]; idx[j] = t
  }
  return idx
}

// `scans` start indexes for scans of `len` consecutive keys (uniform in 0..n-len), the same
// for every store.
function rangeStarts (n, scans, len, seed) {
  const rand = prng(seed)
  const starts = new Uint32Array(scans)
  for (let i = 0; i < scans; i++) starts[i] = Math.floor(rand() * (n - len + 1))
  return starts
}

// A key prefix that selects a known block of keys, about 10% of them: with block the largest
// power of ten <= n / 10, the prefix of key(block) without its last log10(block) digits, which
// selects exactly the keys block..2*block-1 (of those that exist). For the default 100000 keys:
// 'history:00001', keys 10000..19999. `end` is the least string above every key with the prefix
// (for stores without a prefix option: gte prefix, lt end).
function prefixBlock (n) {
  let block = 1
  while (block * 100 <= n) block *= 10
  const k = key(block)
  const prefix = k.slice(0, k.length - (String(block).length - 1))
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
  return { prefix, end, from: Math.min(block, n), to: Math.min(2 * block, n) }
}

module.exports = { prng, key, makeData, shuffledIndexes, rangeStarts, prefixBlock }
