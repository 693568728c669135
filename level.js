'use strict'
// browserdb/level: BrowserLevel, an abstract-level database backed by browserdb, so Level tools
// (sublevels, level-read-stream, hooks, encodings such as charwise) work on a browserdb directory.
//
// abstract-level does the public API (argument checks, encodings, deferred open, events, hooks,
// sublevels); this file only maps its private `_` methods onto BrowserDB's calls. Keys, values
// and range bounds arrive already encoded as strings ('utf8'), Buffers ('buffer') or Uint8Arrays
// ('view'), all three of which browserdb stores natively, so nothing is transcoded twice.
//
// Keys: browserdb keys are 1 byte to 64 KiB, but a Level database takes the empty key too. So
// BrowserLevel stores keys through an order-preserving escape that touches only the empty key
// and keys starting with a NUL byte:  ''  ->  00  and  00 rest  ->  00 01 rest.  Every other key
// is stored byte for byte, so what BrowserLevel writes reads the same through BrowserDB and back.

let abstractLevel
try {
  abstractLevel = require('abstract-level')
} catch (cause) {
  const err = new Error("browserdb/level needs the 'abstract-level' package (v3): run `npm install abstract-level`. Cause: " + cause.message)
  err.code = 'MODULE_NOT_FOUND'
  err.cause = cause
  throw err
}
const { AbstractLevel, AbstractIterator, AbstractKeyIterator, AbstractValueIterator, AbstractSnapshot } = abstractLevel
const { BrowserDB } = require('./index.js')

const kDb = Symbol('browserdb')
const kInner = Symbol('inner')
const kLocation = Symbol('location')
const kClosed = Symbol('closed')
const kSignal = Symbol('signal')

/** BrowserDB open options BrowserLevel passes through (others are Level's business, or ignored). */
const PASSED_OPEN_OPTIONS = ['writeBufferSize', 'cacheSize', 'compression', 'compactionStyle', 'sync', 'mode', 'maxMemory']

// ------------------------------------------------------------------------------------------
// The key escape (see the top of the file). `escapeKey` is strictly increasing on byte strings,
// so ranges and seeks keep their meaning when their bounds are escaped the same way.

const EMPTY_ESCAPED = Buffer.from([0])

function escapeKey (key) {
  if (typeof key === 'string') {
    if (key.length === 0) return '\u0000'
    return key.charCodeAt(0) === 0 ? '\u0000\u0001' + key.slice(1) : key
  }
  if (key.length === 0) return EMPTY_ESCAPED
  if (key[0] !== 0) return key
  const out = Buffer.allocUnsafe(key.length + 1)
  out[0] = 0
  out[1] = 1
  out.set(key.subarray(1), 2)
  return out
}

function unescapeKey (key) {
  if (typeof key === 'string') {
    if (key.length === 0 || key.charCodeAt(0) !== 0) return key
    if (key.length === 1) return ''
    // A NUL-led key not written by BrowserLevel (no 01 after the 00) is returned as stored.
    return key.charCodeAt(1) === 1 ? '\u0000' + key.slice(2) : key
  }
  if (key === undefined || key.length === 0 || key[0] !== 0) return key
  if (key.length === 1) return key.subarray(1)
  if (key[1] !== 1) return key
  const out = Buffer.isBuffer(key) ? Buffer.allocUnsafe(key.length - 1) : new Uint8Array(key.length - 1)
  out[0] = 0
  out.set(key.subarray(2), 1)
  return out
}

// ------------------------------------------------------------------------------------------
// Options: BrowserDB rejects option names it does not know, while Level passes its own (and
// user-defined ones such as `highWaterMarkBytes`) along; so every call builds a clean object.

const encodingOptions = new Map()

/** A frozen `{ keyEncoding, valueEncoding }`, shared by every call with the same pair. */
function encodings (keyEncoding, valueEncoding) {
  const name = keyEncoding + '/' + valueEncoding
  let options = encodingOptions.get(name)
  if (options === undefined) {
    options = Object.freeze({ keyEncoding, valueEncoding })
    encodingOptions.set(name, options)
  }
  return options
}

/** The browserdb Snapshot behind a BrowserLevel snapshot (`undefined` without one). */
function innerSnapshot (snapshot) {
  if (snapshot === undefined || snapshot === null) return undefined
  const inner = snapshot[kInner]
  if (inner === undefined || inner === null) {
    throw Object.assign(new TypeError('snapshot must come from db.snapshot() of this BrowserLevel database'), {
      code: 'LEVEL_INVALID_VALUE'
    })
  }
  return inner
}

function readOptions (options) {
  const snapshot = innerSnapshot(options.snapshot)
  const valueEncoding = options.valueEncoding === undefined ? 'utf8' : options.valueEncoding
  if (snapshot === undefined) return encodings(options.keyEncoding, valueEncoding)
  return { keyEncoding: options.keyEncoding, valueEncoding, snapshot }
}

/** Encodings, plus BrowserDB's `sync` (and `ttl` for puts) when the caller gave them. */
function writeOptions (options, isPut) {
  const base = encodings(options.keyEncoding, options.valueEncoding === undefined ? 'utf8' : options.valueEncoding)
  const ttl = isPut ? options.ttl : undefined
  if (typeof options.sync !== 'boolean' && ttl === undefined) return base
  const out = { ...base }
  if (typeof options.sync === 'boolean') out.sync = options.sync
  if (ttl !== undefined) out.ttl = ttl
  return out
}

/** Range, order, limit and encodings of a Level iterator or clear, for BrowserDB. */
function rangeOptions (options, withValues) {
  const out = {
    keyEncoding: options.keyEncoding,
    reverse: options.reverse === true,
    limit: options.limit === undefined || options.limit < 0 ? -1 : options.limit
  }
  if (withValues) out.valueEncoding = options.valueEncoding
  // Level: `gte` and `lte` take precedence over `gt` and `lt` (BrowserDB would apply both).
  if (options.gte !== undefined) out.gte = escapeKey(options.gte)
  else if (options.gt !== undefined) out.gt = escapeKey(options.gt)
  if (options.lte !== undefined) out.lte = escapeKey(options.lte)
  else if (options.lt !== undefined) out.lt = escapeKey(options.lt)
  const snapshot = innerSnapshot(options.snapshot)
  if (snapshot !== undefined) out.snapshot = snapshot
  return out
}

// ------------------------------------------------------------------------------------------
// Errors: Level's codes where Level has one; the browserdb error stays as `cause`.

const LEVEL_CODES = {
  BROWSERDB_LOCKED: 'LEVEL_LOCKED',
  BROWSERDB_CORRUPTION: 'LEVEL_CORRUPTION',
  BROWSERDB_IO: 'LEVEL_IO_ERROR'
}

function toLevelError (err, location) {
  if (err === null || typeof err !== 'object') return err
  if (err.code === 'BROWSERDB_NOT_FOUND') {
    return Object.assign(new Error(`database at ${location} does not exist (createIfMissing is false)`, { cause: err }), { code: err.code })
  }
  if (err.code === 'BROWSERDB_EXISTS') {
    return Object.assign(new Error(`database at ${location} exists (errorIfExists is true)`, { cause: err }), { code: err.code })
  }
  const code = LEVEL_CODES[err.code]
  if (code === undefined) return err
  return Object.assign(new Error(err.message, { cause: err }), { code })
}

function rethrow (location) {
  return (err) => { throw toLevelError(err, location) }
}

// ------------------------------------------------------------------------------------------
// The database

class BrowserLevel extends AbstractLevel {
  /**
   * A Level database in directory `location`. `options`: Level's (`keyEncoding`,
   * `valueEncoding`, `createIfMissing`, `errorIfExists`) plus BrowserDB's open options
   * (`writeBufferSize`, `cacheSize`, `compression`, `compactionStyle`, `sync`, `mode`,
   * `maxMemory`), which are checked when the database opens.
   */
  constructor (location, options) {
    if (typeof location !== 'string' || location === '') {
      throw new TypeError("The first argument 'location' must be a non-empty string")
    }
    const ultra = options != null && options.mode === 'ultra'
    super({
      encodings: { buffer: true, view: true, utf8: true },
      // An iterator reads the snapshot taken when it is created. get/getMany answer from memory
      // on the calling tick when they can; a read that goes to a table runs on the pool and sees
      // the state there (a write issued after it and committed first may show).
      implicitSnapshots: true,
      explicitSnapshots: true, // db.snapshot(), mapped onto BrowserDB snapshots
      has: true,
      getSync: true,
      seek: true,
      permanence: !ultra, // mode 'ultra' keeps everything in RAM only
      createIfMissing: true,
      errorIfExists: true,
      signals: { iterators: true }, // an AbortSignal cuts short next(), nextv() and all()
      additionalMethods: {}
    }, options)
    this[kLocation] = location
    this[kDb] = null
  }

  /** The directory given to the constructor. */
  get location () {
    return this[kLocation]
  }

  /**
   * The BrowserDB underneath while the database is open (else `null`): for what Level has
   * no name for (verify, backup, compact, stats...). Keys written through it are not escaped.
   */
  get browserdb () {
    return this[kDb]
  }

  async _open (options) {
    const open = { createIfMissing: options.createIfMissing, errorIfExists: options.errorIfExists }
    for (const name of PASSED_OPEN_OPTIONS) {
      if (options[name] !== undefined) open[name] = options[name]
    }
    this[kDb] = await BrowserDB.open(this[kLocation], open).catch(rethrow(this[kLocation]))
  }

  async _close () {
    const db = this[kDb]
    if (db === null) return
    await db.close().catch(rethrow(this[kLocation]))
    this[kDb] = null
  }

  _get (key, options) {
    return this[kDb].get(escapeKey(key), readOptions(options)).catch(rethrow(this[kLocation]))
  }

  _getSync (key, options) {
    try {
      return this[kDb].getSync(escapeKey(key), readOptions(options))
    } catch (err) {
      throw toLevelError(err, this[kLocation])
    }
  }

  _getMany (keys, options) {
    return this[kDb].getMany(keys.map(escapeKey), readOptions(options)).catch(rethrow(this[kLocation]))
  }

  _has (key, options) {
    const read = readOptions({ keyEncoding: options.keyEncoding, snapshot: options.snapshot })
    return this[kDb].has(escapeKey(key), read).catch(rethrow(this[kLocation]))
  }

  async _hasMany (keys, options) {
    // Only presence is needed: 'buffer' hands values over as they come, undecoded.
    const read = readOptions({ keyEncoding: options.keyEncoding, valueEncoding: 'buffer', snapshot: options.snapshot })
    const values = await this[kDb].getMany(keys.map(escapeKey), read).catch(rethrow(this[kLocation]))
    return values.map((value) => value !== undefined)
  }

  _put (key, value, options) {
    return this[kDb].put(escapeKey(key), value, writeOptions(options, true)).catch(rethrow(this[kLocation]))
  }

  _del (key, options) {
    return this[kDb].del(escapeKey(key), writeOptions(options, false)).catch(rethrow(this[kLocation]))
  }

  _batch (operations, options) {
    const ops = new Array(operations.length)
    for (let i = 0; i < operations.length; i++) {
      const op = operations[i]
      const out = op.type === 'put'
        ? { type: 'put', key: escapeKey(op.key), value: op.value, keyEncoding: op.keyEncoding, valueEncoding: op.valueEncoding }
        : { type: op.type, key: escapeKey(op.key), keyEncoding: op.keyEncoding }
      if (op.ttl !== undefined && op.type === 'put') out.ttl = op.ttl
      ops[i] = out
    }
    const batchOptions = typeof options.sync === 'boolean' ? { sync: options.sync } : undefined
    return this[kDb].batch(ops, batchOptions).catch(rethrow(this[kLocation]))
  }

  _iterator (options) {
    return new BrowserLevelIterator(this, options)
  }

  _keys (options) {
    return new BrowserLevelKeyIterator(this, options)
  }

  _values (options) {
    return new BrowserLevelValueIterator(this, options)
  }

  async _clear (options) {
    const db = this[kDb]
    const range = rangeOptions(options, false)
    if (range.snapshot === undefined) {
      await db.clear(range).catch(rethrow(this[kLocation]))
      return
    }
    // BrowserDB's clear() deletes what is there now; Level's clear({ snapshot }) deletes the keys
    // the snapshot holds. So read those keys at the snapshot and delete them page by page (a
    // clear need not be atomic). Keys arrive escaped and go back escaped: no mapping needed.
    const keys = db.keys(range)
    try {
      for (;;) {
        const page = await keys.nextv(1000)
        if (page.length === 0) break
        await db.batch(page.map((key) => ({ type: 'del', key })), { keyEncoding: range.keyEncoding })
      }
    } catch (err) {
      throw toLevelError(err, this[kLocation])
    } finally {
      await keys.close()
    }
  }

  _snapshot (options) {
    return new BrowserLevelSnapshot(options, this[kDb].snapshot())
  }
}

// ------------------------------------------------------------------------------------------
// Iterators: each wraps one BrowserDB iterator (which pages entries out of Rust).

function openInner (db, options, mode) {
  // An iterator given a closed snapshot is created but never reads: abstract-level's next(),
  // nextv() and all() reject with LEVEL_SNAPSHOT_NOT_OPEN before calling ours.
  if (options.snapshot != null && options.snapshot[kClosed] === true) return null
  const range = rangeOptions(options, mode !== 'keys')
  if (mode === 'entries') {
    range.keys = options.keys !== false
    range.values = options.values !== false
  }
  try {
    const native = db[kDb]
    return mode === 'keys' ? native.keys(range) : mode === 'values' ? native.values(range) : native.iterator(range)
  } catch (err) {
    throw toLevelError(err, db.location)
  }
}

/** Level's error for a read cut short by an AbortSignal. */
class AbortError extends Error {
  constructor () {
    super('Operation has been aborted')
    this.code = 'LEVEL_ABORTED'
  }

  get name () {
    return 'AbortError'
  }
}

/**
 * `promise`, or a rejection with LEVEL_ABORTED if the iterator's `signal` fires first. The
 * BrowserDB read goes on to its end (it cannot be torn mid-page); its result is dropped.
 */
function abortable (promise, signal) {
  if (signal === null) return promise
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new AbortError())
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value) },
      (err) => { signal.removeEventListener('abort', onAbort); reject(err) }
    )
  })
}

function unescapeEntries (entries) {
  for (const entry of entries) entry[0] = unescapeKey(entry[0])
  return entries
}

function unescapeKeys (keys) {
  for (let i = 0; i < keys.length; i++) keys[i] = unescapeKey(keys[i])
  return keys
}

class BrowserLevelIterator extends AbstractIterator {
  constructor (db, options) {
    super(db, options)
    this[kInner] = openInner(db, options, 'entries')
    this[kLocation] = db.location
    this[kSignal] = options.signal == null ? null : options.signal
    this._keysWanted = options.keys !== false
  }

  async _next () {
    const entry = await abortable(this[kInner].next(), this[kSignal]).catch(rethrow(this[kLocation]))
    if (entry !== undefined && this._keysWanted) entry[0] = unescapeKey(entry[0])
    return entry
  }

  async _nextv (size) {
    const entries = await abortable(this[kInner].nextv(size), this[kSignal]).catch(rethrow(this[kLocation]))
    return this._keysWanted ? unescapeEntries(entries) : entries
  }

  async _all () {
    // The inner all(), not nextv(Infinity): its pairs come from their own allocation site
    // (index.js keptPair), so keeping a large result cannot make V8 pretenure the pairs of
    // later next()/nextv() calls (~3x slower scans). It also closes the inner iterator, which
    // abstract-level's all() does anyway right after (close() is idempotent).
    const entries = await abortable(this[kInner].all(), this[kSignal]).catch(rethrow(this[kLocation]))
    return this._keysWanted ? unescapeEntries(entries) : entries
  }

  _seek (target, options) {
    this[kInner].seek(escapeKey(target), { keyEncoding: options.keyEncoding })
  }

  async _close () {
    if (this[kInner] !== null) await this[kInner].close()
  }
}

class BrowserLevelKeyIterator extends AbstractKeyIterator {
  constructor (db, options) {
    super(db, options)
    this[kInner] = openInner(db, options, 'keys')
    this[kLocation] = db.location
    this[kSignal] = options.signal == null ? null : options.signal
  }

  async _next () {
    return unescapeKey(await abortable(this[kInner].next(), this[kSignal]).catch(rethrow(this[kLocation])))
  }

  async _nextv (size) {
    return unescapeKeys(await abortable(this[kInner].nextv(size), this[kSignal]).catch(rethrow(this[kLocation])))
  }

  async _all () {
    // As BrowserLevelIterator's: the inner all() (no pairs here, but one path for all three).
    return unescapeKeys(await abortable(this[kInner].all(), this[kSignal]).catch(rethrow(this[kLocation])))
  }

  _seek (target, options) {
    this[kInner].seek(escapeKey(target), { keyEncoding: options.keyEncoding })
  }

  async _close () {
    if (this[kInner] !== null) await this[kInner].close()
  }
}

class BrowserLevelValueIterator extends AbstractValueIterator {
  constructor (db, options) {
    super(db, options)
    this[kInner] = openInner(db, options, 'values')
    this[kLocation] = db.location
    this[kSignal] = options.signal == null ? null : options.signal
  }

  _next () {
    return abortable(this[kInner].next(), this[kSignal]).catch(rethrow(this[kLocation]))
  }

  _nextv (size) {
    return abortable(this[kInner].nextv(size), this[kSignal]).catch(rethrow(this[kLocation]))
  }

  _all () {
    return abortable(this[kInner].all(), this[kSignal]).catch(rethrow(this[kLocation]))
  }

  _seek (target, options) {
    this[kInner].seek(escapeKey(target), { keyEncoding: options.keyEncoding })
  }

  async _close () {
    if (this[kInner] !== null) await this[kInner].close()
  }
}

// ------------------------------------------------------------------------------------------
// Snapshots

class BrowserLevelSnapshot extends AbstractSnapshot {
  constructor (options, inner) {
    super(options)
    this[kInner] = inner
    this[kClosed] = false
  }

  _close () {
    this[kClosed] = true
    return this[kInner].close()
  }
}

module.exports = { BrowserLevel }
