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

// The seed guide's browser mix (shared DESIGN.md, "The seed guide's browser mix"): history 80%
// reads / 20% writes (10k ops; reads favour recent entries), bookmarks 50/50 (5k ops),
// `settings:theme` reads (2k ops), 100-200 byte JSON values, interleaved in a seeded random
// order; every store gets the same operations. It runs on a database holding the history keys
// 0..n-1 with makeData(n)'s values plus mixExtraData()'s bookmarks and settings:theme.
// - a history read picks the entry d places from the newest, d from a continuous truncated
//   Zipf s=0.9 over the current entries (as benchmark/cache/src/trace.rs: recent pages most,
//   old ones still sometimes); a history write is a new visit (25%: a new newest key
//   history:<count>) or an update of an entry picked like a read (75%);
// - bookmarks `bookmarks:00000`..: reads and writes (updates) of a Zipf s=0.8 popularity over
//   a seeded permutation of the 5000;
// - `settings:theme`: reads.
// Returns parallel arrays: write[j] (1 for a put), key[j], value[j] (the value a put writes, or
// the value a read must return: the latest written), kind[j] (0 history, 1 bookmarks, 2 theme).
const MIX = { history: 10000, historyReads: 8000, bookmarks: 5000, bookmarkReads: 2500, theme: 2000, bookmarkKeys: 5000 }
const MIX_SEED = 0xB20C
const bookmarkKey = (i) => 'bookmarks:' + String(i).padStart(5, '0')
const THEME_KEY = 'settings:theme'

// The bookmarks and settings:theme the mix starts with (keys and values, sorted by key).
function mixExtraData () {
  const { values } = makeData(MIX.bookmarkKeys + 1, 0xB00C)
  const keys = []
  for (let i = 0; i < MIX.bookmarkKeys; i++) keys.push(bookmarkKey(i))
  keys.push(THEME_KEY)
  return { keys, values }
}

function browserMix (historyValues, seed = MIX_SEED) {
  const rand = prng(seed)
  const shuffle = (arr) => {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      const t = arr[i]; arr[i] = arr[j]; arr[j] = t
    }
    return arr
  }
  const extra = mixExtraData()
  const history = historyValues.slice() // latest value of each history entry
  const bookmarks = extra.values.slice(0, MIX.bookmarkKeys)
  const theme = extra.values[MIX.bookmarkKeys]
  const total = MIX.history + MIX.bookmarks + MIX.theme
  // Fresh 100-200 byte JSON values for the writes (another seed than the loaded data).
  const fresh = makeData(total, 0xB10E).values
  let nextFresh = 0

  // Operation kinds in a random order; within history and bookmarks, reads and writes likewise.
  const kinds = shuffle([...new Array(MIX.history).fill(0), ...new Array(MIX.bookmarks).fill(1), ...new Array(MIX.theme).fill(2)])
  const hWrites = shuffle([...new Array(MIX.historyReads).fill(0), ...new Array(MIX.history - MIX.historyReads).fill(1)])
  const bWrites = shuffle([...new Array(MIX.bookmarkReads).fill(0), ...new Array(MIX.bookmarks - MIX.bookmarkReads).fill(1)])
  let h = 0
  let b = 0

  const S = 0.9 // history recency: continuous Zipf, inverse CDF of x^-s on [1, count + 1]
  const recent = (count) => {
    const top = Math.pow(count + 1, 1 - S)
    const x = Math.pow((top - 1) * rand() + 1, 1 / (1 - S))
    const d = Math.min(Math.max(Math.floor(x) - 1, 0), count - 1)
    return count - 1 - d
  }
  // Bookmarks: discrete Zipf s=0.8 (CDF + binary search) over a seeded permutation.
  const perm = shuffle(Array.from({ length: MIX.bookmarkKeys }, (_, i) => i))
  const cdf = new Float64Array(MIX.bookmarkKeys)
  let acc = 0
  for (let r = 0; r < MIX.bookmarkKeys; r++) { acc += 1 / Math.pow(r + 1, 0.8); cdf[r] = acc }
  const zipfBookmark = () => {
    const u = rand() * acc
    let lo = 0
    let hi = MIX.bookmarkKeys - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < u) lo = mid + 1; else hi = mid
    }
    return perm[lo]
  }

  const write = new Uint8Array(total)
  const kind = new Uint8Array(kinds)
  const keyOut = new Array(total)
  const value = new Array(total)
  for (let j = 0; j < total; j++) {
    if (kinds[j] === 0) {
      const w = hWrites[h++] === 1
      let i
      if (w && rand() < 0.25) {
        i = history.length
        history.push(undefined)
      } else {
        i = recent(history.length)
      }
      keyOut[j] = key(i)
      if (w) { write[j] = 1; history[i] = fresh[nextFresh++] }
      value[j] = history[i]
    } else if (kinds[j] === 1) {
      const w = bWrites[b++] === 1
      const i = zipfBookmark()
      keyOut[j] = bookmarkKey(i)
      if (w) { write[j] = 1; bookmarks[i] = fresh[nextFresh++] }
      value[j] = bookmarks[i]
    } else {
      keyOut[j] = THEME_KEY
      value[j] = theme
    }
  }
  return { write, key: keyOut, value, kind, historyEnd: history.length, history, bookmarks, theme }
}

module.exports = { prng, key, makeData, shuffledIndexes, rangeStarts, prefixBlock, MIX, mixExtraData, browserMix }
