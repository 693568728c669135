'use strict'
// The JS face of browserdb: argument checks, encodings, typed errors, write coalescing.
// Logic lives in Rust (src/engine); this file only encodes, decodes and wraps.

const fs = require('node:fs')
const path = require('node:path')
const { EventEmitter } = require('node:events')
// Realm-independent: a Uint8Array made in another vm context fails `instanceof Uint8Array`.
const { isUint8Array } = require('node:util').types

// Loaded once per thread: a prebuilt package for this platform, else the from-source build
// (loader.js says what it tried and how to fix it when neither loads).
const native = require('./loader.js').loadNative().native
// The point reads without a snapshot, called straight through N-API (src/node/point_read.rs):
// `pointGetFast(handle, key, asString)` answers from memory or gives null,
// `pointGetSync(handle, key, asString)` reads tables too.
const { getFast: pointGetFast, getSync: pointGetSync } = native.pointReads()

/** A memory-only point read: the value, undefined if absent, or null when a table block must be read. */
function readFast (handle, key, asString, snapshot) {
  return snapshot === undefined ? pointGetFast(handle, key, asString) : native.dbGetFast(handle, key, asString, snapshot)
}

const KEY_SIZE_BYTES_MAX = 64 * 1024
const VALUE_SIZE_BYTES_MAX = 64 * 1024 * 1024
const BATCH_SIZE_BYTES_MAX = VALUE_SIZE_BYTES_MAX + KEY_SIZE_BYTES_MAX // any single valid op fits
const WRITE_BUFFER_SIZE_MIN = 64 * 1024
const WRITE_BUFFER_SIZE_MAX = 1024 * 1024 * 1024
const ENCODINGS = new Set(['utf8', 'buffer', 'view', 'json'])
const OPEN_OPTIONS = new Set([
  'createIfMissing', 'errorIfExists', 'keyEncoding', 'valueEncoding', 'writeBufferSize', 'cacheSize',
  'compression', 'sync', 'mode', 'compactionStyle', 'maxMemory', 'readOnly'
])
const asyncDispose = Symbol.asyncDispose || Symbol.for('nodejs.asyncDispose')
const noop = () => {}

// ------------------------------------------------------------------------------------------
// Errors

function invalid (Cls, message) {
  const err = new Cls(message)
  err.code = 'BROWSERDB_INVALID_ARGUMENT'
  return err
}

function codedError (code, message) {
  const err = new Error(message)
  err.code = code
  return err
}

/** Native errors already carry `code`; invalid-argument ones become RangeErrors, as documented. */
function fromNative (err) {
  if (err && err.code === 'BROWSERDB_INVALID_ARGUMENT' && !(err instanceof TypeError) && !(err instanceof RangeError)) {
    return invalid(RangeError, err.message)
  }
  if (err && typeof err.code !== 'string') err.code = 'BROWSERDB_INTERNAL'
  return err
}

// ------------------------------------------------------------------------------------------
// Encodings: keys and values cross into Rust as strings (utf8, json) or Uint8Arrays.

function checkEncoding (name, what) {
  if (!ENCODINGS.has(name)) {
    throw invalid(RangeError, `${what} must be one of 'utf8', 'buffer', 'view', 'json'; got ${String(name)}`)
  }
  return name
}

function encode (value, encoding, what) {
  switch (encoding) {
    case 'utf8':
      if (typeof value !== 'string') {
        throw invalid(TypeError, `${what} must be a string under the 'utf8' encoding; got ${describe(value)}`)
      }
      return value
    case 'json': {
      let text
      try {
        text = JSON.stringify(value)
      } catch (cause) {
        throw invalid(TypeError, `${what} cannot be JSON-encoded: ${cause.message}`)
      }
      if (typeof text !== 'string') throw invalid(TypeError, `${what} cannot be JSON-encoded (${describe(value)})`)
      return text
    }
    case 'buffer':
    case 'view':
      if (!isUint8Array(value)) {
        throw invalid(TypeError, `${what} must be a Buffer or Uint8Array under the '${encoding}' encoding; got ${describe(value)}`)
      }
      return value
  }
  throw invalid(RangeError, `unknown encoding ${encoding}`)
}

function describe (value) {
  if (value === null) return 'null'
  if (isUint8Array(value)) return 'a ' + value.constructor.name
  return typeof value
}

function byteLength (encoded) {
  return typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.byteLength
}

/**
 * At least `byteLength(encoded)`, without counting a string's UTF-8 bytes (a UTF-16 unit takes
 * at most 3): counting them was ~40% of a batch's JS time (profile of a 1M-key fill).
 */
function byteLengthBound (encoded) {
  return typeof encoded === 'string' ? encoded.length * 3 : encoded.byteLength
}

/** The exact UTF-8 size of `items[from..to]` (keys and values as addOp pushed them). */
function itemsByteLength (items, from, to = items.length) {
  let bytes = 0
  for (let i = from; i < to; i++) bytes += byteLength(items[i])
  return bytes
}

function encodeKey (key, encoding) {
  if (key === undefined) throw invalid(TypeError, 'key is required')
  const encoded = encode(key, encoding, 'key')
  const length = encoded.length
  if (length === 0) throw invalid(RangeError, 'key must not be empty')
  // A UTF-16 unit takes at most 3 UTF-8 bytes, so short strings skip the byte count.
  if ((typeof encoded !== 'string' || length * 3 > KEY_SIZE_BYTES_MAX) && byteLength(encoded) > KEY_SIZE_BYTES_MAX) {
    throw invalid(RangeError, `key is ${byteLength(encoded)} bytes; the limit is ${KEY_SIZE_BYTES_MAX}`)
  }
  return encoded
}

function encodeValue (value, encoding) {
  if (value === undefined && encoding !== 'json') throw invalid(TypeError, 'value is required')
  const encoded = encode(value, encoding, 'value')
  if (encoded.length * 3 > VALUE_SIZE_BYTES_MAX && byteLength(encoded) > VALUE_SIZE_BYTES_MAX) {
    throw invalid(RangeError, `value is ${byteLength(encoded)} bytes; the limit is ${VALUE_SIZE_BYTES_MAX}`)
  }
  return encoded
}

function decodeValue (raw, encoding) {
  if (raw === undefined) return undefined
  switch (encoding) {
    case 'utf8':
    case 'buffer':
      return raw
    case 'json':
      return JSON.parse(raw)
    case 'view':
      return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
  }
}

const returnsString = (encoding) => encoding === 'utf8' || encoding === 'json'

// ------------------------------------------------------------------------------------------
// Options

function checkOptionsObject (options, what) {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object' || Array.isArray(options)) throw invalid(TypeError, `${what} must be an object`)
  return options
}

function checkKnown (options, known, what) {
  for (const name of Object.keys(options)) {
    if (!known.has(name)) {
      throw invalid(RangeError, `unknown ${what} option '${name}'`)
    }
  }
}

function checkBoolean (value, name, fallback) {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalid(TypeError, `${name} must be a boolean`)
  return value
}

function checkBytes (value, name, min, max) {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(TypeError, `${name} must be an integer number of bytes`)
  if (value < min || value > max) throw invalid(RangeError, `${name} must be between ${min} and ${max} bytes`)
  return value
}

function parseOpenOptions (options) {
  options = checkOptionsObject(options, 'options')
  checkKnown(options, OPEN_OPTIONS, 'open')
  const mode = options.mode === undefined ? 'persistent' : options.mode
  if (mode !== 'persistent' && mode !== 'ultra') throw invalid(RangeError, "mode must be 'persistent' or 'ultra'")
  const compactionStyle = options.compactionStyle === undefined ? 'leveled' : options.compactionStyle
  if (compactionStyle !== 'leveled' && compactionStyle !== 'tiered') {
    throw invalid(RangeError, "compactionStyle must be 'leveled' or 'tiered'")
  }
  if (options.maxMemory !== undefined && mode !== 'ultra') throw invalid(RangeError, "maxMemory applies to mode 'ultra' only")
  checkBytes(options.maxMemory, 'maxMemory', 64 * 1024, Number.MAX_SAFE_INTEGER)
  const readOnly = checkBoolean(options.readOnly, 'readOnly', false)
  if (readOnly && mode === 'ultra') throw invalid(RangeError, "readOnly applies to mode 'persistent' only")
  const compression = options.compression === undefined ? 'lz4' : options.compression
  if (!['lz4', 'zstd', 'zlib', 'none'].includes(compression)) {
    throw invalid(RangeError, "compression must be 'lz4', 'zstd', 'zlib' or 'none'")
  }
  return {
    keyEncoding: checkEncoding(options.keyEncoding === undefined ? 'utf8' : options.keyEncoding, 'keyEncoding'),
    valueEncoding: checkEncoding(options.valueEncoding === undefined ? 'utf8' : options.valueEncoding, 'valueEncoding'),
    sync: checkBoolean(options.sync, 'sync', false),
    mode,
    native: {
      inMemory: mode === 'ultra',
      maxMemory: options.maxMemory,
      createIfMissing: checkBoolean(options.createIfMissing, 'createIfMissing', true),
      errorIfExists: checkBoolean(options.errorIfExists, 'errorIfExists', false),
      writeBufferSize: checkBytes(options.writeBufferSize, 'writeBufferSize', WRITE_BUFFER_SIZE_MIN, WRITE_BUFFER_SIZE_MAX),
      cacheSize: checkBytes(options.cacheSize, 'cacheSize', 0, Number.MAX_SAFE_INTEGER),
      compression,
      compactionStyle,
      readOnly
    }
  }
}

const READ_OPTIONS = new Set(['keyEncoding', 'valueEncoding', 'snapshot'])
const RANGE_OPTIONS = new Set(['gt', 'gte', 'lt', 'lte', 'prefix', 'reverse', 'limit', 'keys', 'values', 'keyEncoding', 'valueEncoding', 'snapshot'])
const HEATMAP_OPTIONS = new Set(['limit', 'keyEncoding'])
const SET_MODE_OPTIONS = new Set(['location', 'maxMemory'])
const COMPACT_OPTIONS = new Set(['gt', 'gte', 'lt', 'lte', 'prefix', 'keyEncoding'])
const CLEAR_OPTIONS = new Set(['gt', 'gte', 'lt', 'lte', 'prefix', 'reverse', 'limit', 'keyEncoding'])
const WRITE_OPTIONS = new Set(['keyEncoding', 'valueEncoding', 'sync'])
const PUT_OPTIONS = new Set(['keyEncoding', 'valueEncoding', 'sync', 'ttl'])
/** Longest accepted ttl: about 285 000 years, far inside exact JS integers. */
const TTL_MS_MAX = 2 ** 53 - 2 ** 52
const BATCH_OPTIONS = new Set(['keyEncoding', 'valueEncoding', 'sync'])
const OP_FIELDS = new Set(['type', 'key', 'value', 'keyEncoding', 'valueEncoding', 'ttl'])

/** Checks a `ttl` (milliseconds) and returns the expiry time, or undefined without one. */
function expiryOf (ttl) {
  if (ttl === undefined) return undefined
  if (typeof ttl !== 'number') throw invalid(TypeError, 'ttl must be a number of milliseconds')
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > TTL_MS_MAX) {
    throw invalid(RangeError, 'ttl must be a whole number of milliseconds, at least 1')
  }
  return Date.now() + ttl
}

// ------------------------------------------------------------------------------------------
// The database

const VERIFY_OPTIONS = new Set(['onProgress'])
const EXPORT_OPTIONS = new Set(['format', 'onProgress'])
const IMPORT_OPTIONS = new Set(['format', 'onProgress'])
const EXCHANGE_FORMATS = new Set(['ndjson', 'bdb'])
/** How often progress counters and engine events are polled while someone listens. */
const PROGRESS_POLL_MS = 100
const EVENTS_POLL_MS = 100
const ENGINE_EVENTS = new Set(['flush', 'compaction'])

function checkProgress (options, known, what) {
  options = checkOptionsObject(options, 'options')
  checkKnown(options, known, what)
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw invalid(TypeError, 'onProgress must be a function')
  }
  return options
}

function checkPath (value, name) {
  if (typeof value !== 'string' || value.length === 0) throw invalid(TypeError, `${name} must be a non-empty string`)
  return path.resolve(value)
}

function checkFormat (format, fallback) {
  if (format === undefined) return fallback
  if (!EXCHANGE_FORMATS.has(format)) throw invalid(RangeError, "format must be 'ndjson' or 'bdb'")
  return format
}

/** Calls a listener; one that throws is reported as a process warning, never to the caller. */
function callListener (listener, self, payload) {
  try {
    listener.call(self, payload)
  } catch (err) {
    process.emitWarning(`browserdb: a listener threw: ${err && err.stack ? err.stack : err}`, 'BrowserDBListenerWarning')
  }
}

/**
 * Runs a native maintenance call with a progress counter, polling it for `onProgress`
 * ({ done, total }) every PROGRESS_POLL_MS; resolves to the parsed JSON report.
 */
function withProgress (start, onProgress) {
  const progress = new native.NativeProgress()
  const promise = start(progress)
  if (onProgress === undefined) return promise.then((json) => JSON.parse(json), (err) => { throw fromNative(err) })
  const report = () => callListener(onProgress, undefined, { done: progress.done, total: progress.total })
  const timer = setInterval(report, PROGRESS_POLL_MS)
  return promise.then(
    (json) => { clearInterval(timer); report(); return JSON.parse(json) },
    (err) => { clearInterval(timer); throw fromNative(err) }
  )
}

class BrowserDB extends EventEmitter {
  /**
   * Opens (creating if missing) the database in directory `location`.
   * @returns {Promise<BrowserDB>}
   */
  static open (location, options) {
    try {
      if (typeof location !== 'string' || location.length === 0) throw invalid(TypeError, 'location must be a non-empty string')
      const parsed = parseOpenOptions(options)
      const resolved = path.resolve(location)
      return native.openDb(resolved, parsed.native).then(
        (handle) => new BrowserDB(handle, resolved, parsed),
        (err) => { throw fromNative(err) }
      )
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** @private Use `BrowserDB.open`. */
  constructor (handle, location, parsed) {
    if (!(handle instanceof native.NativeDb)) throw new TypeError('use BrowserDB.open(location, options)')
    super()
    this._eventTimer = null
    this._setNative(handle)
    this.on('newListener', (name) => { if (ENGINE_EVENTS.has(name)) this._watchEngineEvents() })
    this._keyEncoding = parsed.keyEncoding
    this._valueEncoding = parsed.valueEncoding
    this._syncDefault = parsed.sync
    this._mode = parsed.mode
    this._defaultRead = Object.freeze({ keyEncoding: parsed.keyEncoding, valueEncoding: parsed.valueEncoding })
    this._closing = false
    this._closePromise = null
    this._pending = 0
    this._idleWaiters = []
    this._tick = null
    this._tickSync = false
    this._outsideWrites = 0
    this._location = location
    this._openOptions = parsed.native
    this._switching = null
    this._retired = null // the persistent handle kept (with its LOCK) after a switch to ultra
  }

  /** 'persistent' (disk + cache, durable) or 'ultra' (RAM only: no file, no lock). */
  get mode () {
    return this._mode
  }

  /** The directory given at open (or the last `setMode('persistent', { location })`). */
  get location () {
    return this._location
  }

  /**
   * Switches between 'persistent' and 'ultra' atomically: calls made meanwhile run after the
   * switch; a failed switch leaves the database as it was and rejects with
   * BROWSERDB_MODE_SWITCH_FAILED (its `cause` says why: LOCKED, IO, FULL...).
   * - to 'ultra': every key keeps being served; from then on nothing is written to disk (the
   *   old directory stays locked until close).
   * - to 'persistent' (`location` defaults to the one given at open): takes the directory's
   *   LOCK, replaces its contents with this database's, and syncs before resolving.
   */
  setMode (mode, options) {
    try {
      this._checkOpen()
      if (mode !== 'persistent' && mode !== 'ultra') throw invalid(RangeError, "mode must be 'persistent' or 'ultra'")
      options = checkOptionsObject(options, 'options')
      checkKnown(options, SET_MODE_OPTIONS, 'setMode')
      if (options.location !== undefined && (typeof options.location !== 'string' || options.location.length === 0)) {
        throw invalid(TypeError, 'location must be a non-empty string')
      }
      if (options.location !== undefined && mode !== 'persistent') throw invalid(RangeError, "location applies to 'persistent' only")
      if (options.maxMemory !== undefined && mode !== 'ultra') throw invalid(RangeError, "maxMemory applies to 'ultra' only")
      checkBytes(options.maxMemory, 'maxMemory', 64 * 1024, Number.MAX_SAFE_INTEGER)
    } catch (err) {
      return Promise.reject(err)
    }
    const run = () => (mode === this._mode && options.location === undefined ? undefined : this._switchTo(mode, options))
    const switched = (this._switching === null ? Promise.resolve() : this._switching).then(run)
    const gate = switched.then(noop, noop)
    this._switching = gate
    gate.then(() => { if (this._switching === gate) this._switching = null })
    return switched
  }

  /** @private Calls made while a switch runs are replayed after it. */
  _afterSwitch (method, args) {
    return this._switching.then(() => method.apply(this, args))
  }

  /** @private Waits until no native call of this database is in flight. */
  _idle () {
    this._commitTick()
    if (this._pending === 0) return Promise.resolve()
    return new Promise((resolve) => { this._idleWaiters.push(resolve) })
  }

  /** @private */
  async _switchTo (mode, options) {
    this._checkOpen()
    await this._idle()
    const location = mode === 'persistent' && options.location !== undefined ? path.resolve(options.location) : this._location
    let target = null
    let reused = false
    let createdDir = false
    try {
      if (mode === 'ultra') {
        const maxMemory = options.maxMemory === undefined ? this._openOptions.maxMemory : options.maxMemory
        target = await native.openDb(location, { ...this._openOptions, createIfMissing: true, errorIfExists: false, inMemory: true, maxMemory })
      } else if (this._retired !== null && this._retired.location === location) {
        target = this._retired.native // our own locked directory from before the switch to ultra
        reused = true
        await target.clear({ reverse: false }, undefined)
      } else {
        createdDir = !fs.existsSync(location)
        target = await native.openDb(location, { ...this._openOptions, createIfMissing: true, errorIfExists: false, inMemory: false, maxMemory: undefined })
        await target.clear({ reverse: false }, undefined)
      }
      // Index definitions travel with the data: defined first, the copy's writes fill them.
      for (const index of this._native.indexes()) await target.createIndex(index.name, index.prefix, index.field)
      await this._native.copyInto(target, mode === 'persistent')
    } catch (cause) {
      if (target !== null && !reused) {
        await target.close().catch(noop)
        if (createdDir) fs.rmSync(location, { recursive: true, force: true })
      }
      const err = new Error(`could not switch to ${mode} mode: ${cause.message}`)
      err.code = 'BROWSERDB_MODE_SWITCH_FAILED'
      err.cause = fromNative(cause)
      throw err
    }
    const old = this._native
    if (this._mode === 'persistent' && !reused) {
      if (this._retired !== null) await this._retired.native.close().catch(noop)
      this._retired = { native: old, location: this._location } // keeps its LOCK until close
    } else if (reused) {
      this._retired = null
    }
    // An old ultra handle is simply dropped: its memory goes when nothing refers to it.
    this._setNative(target)
    this._mode = mode
    this._location = location
  }

  // -- reads ---------------------------------------------------------------------------------

  get (key, options) {
    if (this._switching !== null) return this._afterSwitch(this.get, arguments)
    try {
      const { keyEncoding, valueEncoding, snapshot } = this._readOptions(options)
      const k = encodeKey(key, keyEncoding)
      const asString = returnsString(valueEncoding)
      const hit = readFast(this._handle, k, asString, snapshot)
      if (hit !== null) return Promise.resolve(valueEncoding === 'utf8' ? hit : decodeValue(hit, valueEncoding))
      const read = this._track(this._native.get(k, asString, snapshot))
      return valueEncoding === 'utf8' ? read : read.then((raw) => decodeValue(raw, valueEncoding))
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  /** Synchronous read; on a memtable miss it reads the table on the calling thread. */
  getSync (key, options) {
    try {
      const { keyEncoding, valueEncoding, snapshot } = this._readOptions(options)
      const k = encodeKey(key, keyEncoding)
      const asString = returnsString(valueEncoding)
      const raw = snapshot === undefined ? pointGetSync(this._handle, k, asString) : native.dbGetSync(this._handle, k, asString, snapshot)
      return decodeValue(raw, valueEncoding)
    } catch (err) {
      throw fromNative(err)
    }
  }

  getMany (keys, options) {
    if (this._switching !== null) return this._afterSwitch(this.getMany, arguments)
    try {
      const { keyEncoding, valueEncoding, snapshot } = this._readOptions(options)
      if (!Array.isArray(keys)) throw invalid(TypeError, 'keys must be an array')
      const asString = returnsString(valueEncoding)
      const values = new Array(keys.length)
      const missing = []
      const missingAt = []
      for (let i = 0; i < keys.length; i++) {
        const k = encodeKey(keys[i], keyEncoding)
        const hit = readFast(this._handle, k, asString, snapshot)
        if (hit === null) {
          missing.push(k)
          missingAt.push(i)
        } else {
          values[i] = decodeValue(hit, valueEncoding)
        }
      }
      if (missing.length === 0) return Promise.resolve(values)
      return this._track(this._native.getMany(missing, asString, snapshot)).then((found) => {
        for (let j = 0; j < found.length; j++) values[missingAt[j]] = decodeValue(found[j], valueEncoding)
        return values
      })
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  has (key, options) {
    let read
    try {
      read = this._readOptions(options, true)
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
    const passed = { keyEncoding: read.keyEncoding, valueEncoding: 'utf8' }
    if (read.snapshot !== undefined) passed.snapshot = options.snapshot
    return this.get(key, passed).then((v) => v !== undefined)
  }

  /**
   * The native database, and the handle of it that the point reads take (`pointGetFast`,
   * `pointGetSync`, and `dbGetFast`, `dbGetSync` through a snapshot: cheaper per call than
   * methods of the native class).
   * @private
   */
  _setNative (handle) {
    this._native = handle
    this._handle = handle.handle()
    // The engine keeps flush/compaction events only while someone listens (memory).
    handle.recordEvents(this._eventTimer !== null)
  }

  /** Alias of `has` (the BrowserDB guide's name). */
  exists (key, options) {
    return this.has(key, options)
  }

  // -- writes --------------------------------------------------------------------------------

  put (key, value, options) {
    if (this._switching !== null) return this._afterSwitch(this.put, arguments)
    try {
      const o = this._writeOptions(options, PUT_OPTIONS)
      const k = encodeKey(key, o.keyEncoding)
      const v = encodeValue(value, o.valueEncoding)
      const expiry = expiryOf(o.ttl)
      if (expiry === undefined) this._native.queuePut(k, v)
      else this._native.queuePutExpiring(k, v, expiry)
      return this._emitWrite(this._afterQueue(o.sync), () => [{ type: 'put', key, value }])
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  del (key, options) {
    if (this._switching !== null) return this._afterSwitch(this.del, arguments)
    try {
      const o = this._writeOptions(options)
      this._native.queueDel(encodeKey(key, o.keyEncoding))
      return this._emitWrite(this._afterQueue(o.sync), () => [{ type: 'del', key }])
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  /** Alias of `del` (the BrowserDB guide's name). */
  delete (key, options) {
    return this.del(key, options)
  }

  /**
   * `batch(ops, options)` writes all ops atomically; `batch()` returns a chained batch.
   */
  batch (ops, options) {
    if (arguments.length !== 0 && this._switching !== null) return this._afterSwitch(this.batch, arguments)
    if (arguments.length === 0) {
      this._checkOpen()
      return new ChainedBatch(this)
    }
    try {
      if (!Array.isArray(ops)) throw invalid(TypeError, 'batch operations must be an array')
      const o = this._writeOptions(options, BATCH_OPTIONS)
      let kinds = ''
      const items = []
      const expiries = []
      let bound = 0
      for (const op of ops) {
        const added = addOp(op, o, items, expiries)
        kinds += added.kind
        bound += added.bytes
      }
      // Exact bytes only when the bound says the batch might not fit.
      if (bound > BATCH_SIZE_BYTES_MAX) {
        const bytes = itemsByteLength(items, 0)
        if (bytes > BATCH_SIZE_BYTES_MAX) throw invalid(RangeError, `batch is ${bytes} bytes; the limit is ${BATCH_SIZE_BYTES_MAX}`)
      }
      return this._emitWrite(this._writeBatch(kinds, items, o.sync, expiries), () => ops.map(publicOp))
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  /**
   * @private Emits 'write' with the ops once `done` resolves (only when someone listens).
   */
  _emitWrite (done, opsOf) {
    if (this.listenerCount('write') === 0) return done
    const ops = opsOf()
    return done.then(() => {
      for (const listener of this.rawListeners('write')) callListener(listener, this, ops)
    })
  }

  /** @private Starts polling the engine's flush/compaction events while anyone listens. */
  _watchEngineEvents () {
    if (this._eventTimer !== null || this._closing) return
    this._native.recordEvents(true)
    this._eventTimer = setInterval(() => this._drainEngineEvents(), EVENTS_POLL_MS)
    this._eventTimer.unref()
  }

  /** @private Delivers recorded engine events; stops polling when nobody listens. */
  _drainEngineEvents () {
    if (this.listenerCount('flush') + this.listenerCount('compaction') === 0 || this._closing) {
      clearInterval(this._eventTimer)
      this._eventTimer = null
      if (this._closing) this._deliverEngineEvents()
      try { this._native.recordEvents(false) } catch {}
      return
    }
    this._deliverEngineEvents()
  }

  /** @private */
  _deliverEngineEvents () {
    let events
    try {
      events = JSON.parse(this._native.drainEvents())
    } catch {
      return
    }
    for (const event of events) {
      const { type, ...info } = event
      for (const listener of this.rawListeners(type)) callListener(listener, this, info)
    }
  }

  /** @private */
  _writeBatch (kinds, items, sync, expiries) {
    if (this._switching !== null) return this._afterSwitch(this._writeBatch, arguments)
    this._checkOpen()
    if (kinds.length === 0) return Promise.resolve()
    this._native.queueBatch(kinds, items, expiries !== undefined && expiries.length > 0 ? expiries : undefined)
    return this._afterQueue(sync)
  }

  /**
   * Writes queued in one JS tick are committed by one native task (one group commit); every
   * caller of that tick gets the same promise.
   * @private
   */
  _afterQueue (sync) {
    if (sync) this._tickSync = true
    if (this._tick === null) {
      let resolve, reject
      const promise = new Promise((res, rej) => { resolve = res; reject = rej })
      this._tick = { promise, resolve, reject }
      queueMicrotask(() => this._commitTick())
    }
    return this._tick.promise
  }

  /** @private */
  _commitTick () {
    const tick = this._tick
    if (tick === null) return
    this._tick = null
    const sync = this._tickSync
    this._tickSync = false
    let committed
    try {
      // A commit that touches only memory may run right here (no pool hop): ultra mode's
      // memtable, or a disk WAL's prepared memory for writes that need no fsync
      // (docs/design.md "In-place commits").
      if ((this._mode === 'ultra' || !sync) && this._outsideWrites === 0 && this._native.commitNow()) {
        tick.resolve()
        return
      }
      committed = this._native.commit(sync)
    } catch (err) {
      tick.reject(fromNative(err))
      return
    }
    this._track(committed).then(tick.resolve, tick.reject)
  }

  // -- ordered reads -------------------------------------------------------------------------

  /**
   * An iterator over `[key, value]` entries in bytewise order of the encoded keys, within
   * `gt`/`gte`/`lt`/`lte`/`prefix`, optionally `reverse`, at most `limit` entries, at one
   * snapshot. Use `for await`, `next()`, `nextv(n)`, `all()`, `seek(target)`, `close()`.
   */
  iterator (options) {
    return new Iterator(this, options, 'entries')
  }

  /** An iterator over keys only. */
  keys (options) {
    return new Iterator(this, options, 'keys')
  }

  /** An iterator over values only. */
  values (options) {
    return new Iterator(this, options, 'values')
  }

  /** The BrowserDB guide's name: `iterator({ gte: start, lt: end })`. */
  range (start, end, options) {
    return this.iterator({ ...checkOptionsObject(options, 'options'), gte: start, lt: end })
  }

  /** The BrowserDB guide's name: `iterator({ prefix })`. */
  prefix (prefix, options) {
    return this.iterator({ ...checkOptionsObject(options, 'options'), prefix })
  }

  /** A snapshot: pass it as `{ snapshot }` to `get`, `getMany`, `has` and `iterator`. */
  snapshot () {
    this._checkOpen()
    try {
      return new Snapshot(this, this._native.snapshot())
    } catch (err) {
      throw fromNative(err)
    }
  }

  /**
   * Flushes the memtable and merges every table holding keys in the range (all tables
   * without one) into one sorted run, reclaiming overwritten and deleted data.
   */
  compact (options) {
    if (this._switching !== null) return this._afterSwitch(this.compact, arguments)
    try {
      this._checkOpen()
      options = checkOptionsObject(options, 'options')
      checkKnown(options, COMPACT_OPTIONS, 'compact')
      const keyEncoding = options.keyEncoding === undefined ? this._keyEncoding : checkEncoding(options.keyEncoding, 'keyEncoding')
      const range = encodeRange(options, keyEncoding)
      return this._track(this._native.compact(range)).then(() => undefined)
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  /** Deletes every key in the range (all keys without options); resolves when done. */
  clear (options) {
    if (this._switching !== null) return this._afterSwitch(this.clear, arguments)
    try {
      this._checkOpen()
      options = checkOptionsObject(options, 'options')
      checkKnown(options, CLEAR_OPTIONS, 'clear')
      const keyEncoding = options.keyEncoding === undefined ? this._keyEncoding : checkEncoding(options.keyEncoding, 'keyEncoding')
      const range = encodeRange(options, keyEncoding)
      const limit = checkLimit(options.limit)
      if (limit === 0) return Promise.resolve()
      return this._writesOutsideTicks(this._native.clear(range, limit === Infinity ? undefined : limit)).then(() => undefined)
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  // -- maintenance ---------------------------------------------------------------------------

  /**
   * Reads every byte of every table, the MANIFEST and the WALs; checks checksums, SHA-256
   * footers, key order and that the MANIFEST and the files agree. Reads and writes go on.
   * @returns {Promise<{ ok, tables, entries, bytes, walRecords, problems: Array<{ file, offset, kind, message }> }>}
   */
  verify (options) {
    if (this._switching !== null) return this._afterSwitch(this.verify, arguments)
    try {
      this._checkOpen()
      const o = checkProgress(options, VERIFY_OPTIONS, 'verify')
      return this._track(withProgress((p) => this._native.verify(p), o.onProgress))
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  /**
   * Online, consistent, incremental backup into `dir`: copies only tables `dir` lacks, then
   * writes a checksummed BACKUP description. Reads and writes go on.
   */
  backup (dir, options) {
    if (this._switching !== null) return this._afterSwitch(this.backup, arguments)
    try {
      this._checkOpen()
      const target = checkPath(dir, 'dir')
      const o = checkProgress(options, VERIFY_OPTIONS, 'backup')
      return this._track(withProgress((p) => this._native.backup(target, p), o.onProgress))
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  /** Writes a snapshot of every live entry to `file` ('ndjson' by default, or 'bdb'). */
  export (file, options) {
    if (this._switching !== null) return this._afterSwitch(this.export, arguments)
    try {
      this._checkOpen()
      const target = checkPath(file, 'file')
      const o = checkProgress(options, EXPORT_OPTIONS, 'export')
      const format = checkFormat(o.format, 'ndjson')
      this._commitTick()
      return this._track(withProgress((p) => this._native.exportTo(target, format, p), o.onProgress))
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  /**
   * Adds every entry of an export file (format detected unless given): the whole file is
   * checked first (BROWSERDB_CORRUPTION if anything is wrong, and nothing is written), then
   * all entries are added in one atomic step.
   */
  import (file, options) {
    if (this._switching !== null) return this._afterSwitch(this.import, arguments)
    try {
      this._checkOpen()
      const source = checkPath(file, 'file')
      const o = checkProgress(options, IMPORT_OPTIONS, 'import')
      const format = checkFormat(o.format, undefined)
      this._commitTick()
      return this._writesOutsideTicks(withProgress((p) => this._native.importFrom(source, format, p), o.onProgress))
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  /**
   * Rebuilds a usable database at `location` (which must not be open) from what is intact;
   * damaged files are moved into `location/lost/`.
   * @returns {Promise<{ tablesIntact, tablesSalvaged, walRecords, tables, entries, lost: string[], problems }>}
   */
  static repair (location) {
    try {
      const target = checkPath(location, 'location')
      return withProgress(() => native.repairDb(target), undefined)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * Restores the backup in `dir` into `location` (absent or empty) after validating all of
   * it; a damaged backup is refused with BROWSERDB_CORRUPTION.
   */
  static restore (dir, location, options) {
    try {
      const source = checkPath(dir, 'dir')
      const target = checkPath(location, 'location')
      const o = checkProgress(options, VERIFY_OPTIONS, 'restore')
      return withProgress((p) => native.restoreBackup(source, target, p), o.onProgress)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  // -- lifecycle -----------------------------------------------------------------------------

  /**
   * Changes the cache budget (`cacheSize`) at run time; shrinking evicts at once.
   * Synchronous: it touches only memory.
   */
  resizeCache (bytes) {
    this._checkOpen()
    checkBytes(bytes, 'bytes', 0, Number.MAX_SAFE_INTEGER)
    if (bytes === undefined) throw invalid(TypeError, 'bytes is required')
    try {
      this._native.resizeCache(bytes)
    } catch (err) {
      throw fromNative(err)
    }
  }

  /**
   * The hottest keys the HeatMap keeps decoded (its HOT tier), with their heat (0–15, the
   * key's recent access frequency), hottest first.
   * @returns {Array<{ key: K, heat: number }>}
   */
  heatmap (options) {
    this._checkOpen()
    options = checkOptionsObject(options, 'options')
    checkKnown(options, HEATMAP_OPTIONS, 'heatmap')
    const limit = options.limit === undefined ? 20 : options.limit
    if (typeof limit !== 'number' || !Number.isInteger(limit)) throw invalid(TypeError, 'limit must be an integer')
    if (limit < 0 || limit > 100000) throw invalid(RangeError, 'limit must be between 0 and 100000')
    const keyEncoding = options.keyEncoding === undefined ? this._keyEncoding : checkEncoding(options.keyEncoding, 'keyEncoding')
    let flat
    try {
      flat = this._native.hottest(limit, returnsString(keyEncoding))
    } catch (err) {
      throw fromNative(err)
    }
    const out = []
    for (let i = 0; i < flat.length; i += 2) out.push({ key: decodeKey(flat[i], keyEncoding), heat: flat[i + 1] })
    return out
  }

  /**
   * The live tables, level by level (level 0 newest first): `{ level, number, bytes, entries,
   * smallest, largest }` with the key range as Buffers. Memory only.
   */
  tables () {
    this._checkOpen()
    let list
    try {
      list = JSON.parse(this._native.tablesJson())
    } catch (err) {
      throw fromNative(err)
    }
    for (const t of list) {
      t.smallest = Buffer.from(t.smallest, 'hex')
      t.largest = Buffer.from(t.largest, 'hex')
    }
    return list
  }

  /** Engine counters: sequence, memtable bytes, tables, flushes, WAL writes and syncs. */
  stats () {
    this._checkOpen()
    return this._native.stats()
  }

  /**
   * Closes the database: new calls reject with BROWSERDB_CLOSED, in-flight calls settle,
   * the memtable is flushed. Calling it again returns the same promise.
   */
  close () {
    if (this._closePromise !== null) return this._closePromise
    this._closing = true
    this._commitTick()
    this._closePromise = (async () => {
      if (this._switching !== null) await this._switching
      await this._idle()
      try {
        await this._native.close()
        if (this._eventTimer !== null) this._drainEngineEvents()
        if (this._retired !== null) await this._retired.native.close()
      } catch (err) {
        throw fromNative(err)
      }
    })()
    return this._closePromise
  }

  [asyncDispose] () {
    return this.close()
  }

  // -- internals -----------------------------------------------------------------------------

  /** @private */
  _checkOpen () {
    if (this._closing) throw codedError('BROWSERDB_CLOSED', 'database is closed')
  }

  /** @private */
  _track (promise) {
    this._pending++
    return promise.then(
      (value) => { this._settled(); return value },
      (err) => { this._settled(); throw fromNative(err) }
    )
  }

  /**
   * Tracks a task that writes outside the tick queue (`clear`, `import`). While one is in
   * flight no tick commits in place: a write issued after it then takes the pool like it, as
   * before in-place commits, instead of landing at once ahead of it.
   * @private
   */
  _writesOutsideTicks (promise) {
    this._outsideWrites++
    const done = () => { this._outsideWrites-- }
    promise.then(done, done)
    return this._track(promise)
  }

  /** @private */
  _settled () {
    if (--this._pending === 0) {
      const waiters = this._idleWaiters
      this._idleWaiters = []
      for (const resolve of waiters) resolve()
    }
  }

  /** @private */
  _readOptions (options, keyOnly) {
    this._checkOpen()
    if (options === undefined) return this._defaultRead
    options = checkOptionsObject(options, 'options')
    checkKnown(options, READ_OPTIONS, 'read')
    return {
      keyEncoding: options.keyEncoding === undefined ? this._keyEncoding : checkEncoding(options.keyEncoding, 'keyEncoding'),
      valueEncoding: keyOnly || options.valueEncoding === undefined ? this._valueEncoding : checkEncoding(options.valueEncoding, 'valueEncoding'),
      snapshot: this._nativeSnapshot(options.snapshot)
    }
  }

  /** @private The native handle of a `{ snapshot }` option, checked. */
  _nativeSnapshot (snapshot) {
    if (snapshot === undefined) return undefined
    if (!(snapshot instanceof Snapshot)) throw invalid(TypeError, 'snapshot must come from db.snapshot()')
    if (snapshot._db !== this) throw invalid(RangeError, 'the snapshot belongs to another database')
    if (snapshot._native === null) throw invalid(RangeError, 'the snapshot is closed')
    return snapshot._native
  }

  /** @private */
  _writeOptions (options, known = WRITE_OPTIONS) {
    this._checkOpen()
    if (options === undefined) return { keyEncoding: this._keyEncoding, valueEncoding: this._valueEncoding, sync: this._syncDefault }
    options = checkOptionsObject(options, 'options')
    checkKnown(options, known, 'write')
    return {
      keyEncoding: options.keyEncoding === undefined ? this._keyEncoding : checkEncoding(options.keyEncoding, 'keyEncoding'),
      valueEncoding: options.valueEncoding === undefined ? this._valueEncoding : checkEncoding(options.valueEncoding, 'valueEncoding'),
      sync: checkBoolean(options.sync, 'sync', this._syncDefault),
      ttl: options.ttl
    }
  }
}

/** An op as a 'write' listener sees it: type, key, and value for puts. */
function publicOp (op) {
  return op.type === 'put' ? { type: 'put', key: op.key, value: op.value } : { type: 'del', key: op.key }
}

/**
 * Encodes one batch operation into `items`; returns its kind letter and an upper bound of its
 * byte size (`byteLengthBound`).
 */
function addOp (op, defaults, items, expiries) {
  if (op === null || typeof op !== 'object') throw invalid(TypeError, 'each batch operation must be an object')
  for (const name of Object.keys(op)) {
    if (!OP_FIELDS.has(name)) {
      throw invalid(RangeError, `unknown batch operation field '${name}'`)
    }
  }
  const keyEncoding = op.keyEncoding === undefined ? defaults.keyEncoding : checkEncoding(op.keyEncoding, 'keyEncoding')
  const key = encodeKey(op.key, keyEncoding)
  if (op.type === 'put') {
    const valueEncoding = op.valueEncoding === undefined ? defaults.valueEncoding : checkEncoding(op.valueEncoding, 'valueEncoding')
    const value = encodeValue(op.value, valueEncoding)
    const expiry = expiryOf(op.ttl)
    items.push(key, value)
    if (expiry !== undefined) expiries.push(expiry)
    return { kind: expiry === undefined ? 'p' : 'e', bytes: byteLengthBound(key) + byteLengthBound(value) }
  }
  if (op.type === 'del') {
    if (op.ttl !== undefined) throw invalid(RangeError, "a 'del' operation takes no ttl")
    items.push(key)
    return { kind: 'd', bytes: byteLengthBound(key) }
  }
  throw invalid(TypeError, `batch operation type must be 'put' or 'del'; got ${String(op.type)}`)
}

/** A batch built step by step: `.put()`, `.del()`, then `.write()`. */
class ChainedBatch {
  constructor (db) {
    this._db = db
    this._kinds = ''
    this._items = []
    this._expiries = []
    this._ops = []
    this._bytes = 0
    // `_bytes` is an upper bound until the bound passes the limit, then exact (see _push).
    this._bytesExact = false
    this._done = false
  }

  /** Queues a put (with an optional `ttl` in ms); throws on bad input. */
  put (key, value, options) {
    this._checkUsable()
    const o = this._db._writeOptions(options, PUT_OPTIONS)
    const op = o.ttl === undefined ? { type: 'put', key, value } : { type: 'put', key, value, ttl: o.ttl }
    const kind = addOp(op, o, this._items, this._expiries)
    this._push(kind)
    this._ops.push(op)
    return this
  }

  /** Queues a delete; throws on bad input. */
  del (key, options) {
    this._checkUsable()
    const o = this._db._writeOptions(options)
    const kind = addOp({ type: 'del', key }, o, this._items, this._expiries)
    this._push(kind)
    this._ops.push({ type: 'del', key })
    return this
  }

  /** Alias of `del`. */
  delete (key, options) {
    return this.del(key, options)
  }

  /** Number of queued operations. */
  get length () {
    return this._kinds.length
  }

  /** Drops every queued operation. */
  clear () {
    this._checkUsable()
    this._kinds = ''
    this._items = []
    this._expiries = []
    this._ops = []
    this._bytes = 0
    this._bytesExact = false
    return this
  }

  /** Writes all queued operations atomically. */
  write (options) {
    try {
      this._checkUsable()
      const o = this._db._writeOptions(options, BATCH_OPTIONS)
      this._done = true
      const ops = this._ops
      return this._db._emitWrite(this._db._writeBatch(this._kinds, this._items, o.sync, this._expiries), () => ops.map(publicOp))
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
  }

  /** Discards the batch without writing. */
  close () {
    this._done = true
    return Promise.resolve()
  }

  /** @private */
  _push (added) {
    const itemsAdded = added.kind === 'd' ? 1 : 2
    let bytes = added.bytes
    if (!this._bytesExact && this._bytes + bytes > BATCH_SIZE_BYTES_MAX) {
      // The bound says this op might not fit: count exactly from here on.
      this._bytes = itemsByteLength(this._items, 0, this._items.length - itemsAdded)
      this._bytesExact = true
    }
    if (this._bytesExact) bytes = itemsByteLength(this._items, this._items.length - itemsAdded)
    if (this._bytes + bytes > BATCH_SIZE_BYTES_MAX) {
      this._items.length -= itemsAdded
      if (added.kind === 'e') this._expiries.length -= 1
      throw invalid(RangeError, `batch would exceed ${BATCH_SIZE_BYTES_MAX} bytes`)
    }
    this._kinds += added.kind
    this._bytes += bytes
  }

  /** @private */
  _checkUsable () {
    if (this._done) throw invalid(TypeError, 'batch was already written or closed')
    this._db._checkOpen()
  }
}

// ------------------------------------------------------------------------------------------
// Ordered reads

/** Entries per page fetched from Rust, and the bytes a page may carry. */
const PAGE_ENTRIES_MAX = 1000
const PAGE_BYTES_MAX = 1024 * 1024
/** A page answered on the JS thread stays small, so it never holds the thread long. */
const FAST_PAGE_BYTES_MAX = 256 * 1024
const PAGE_MORE = 0
/** Makes a page's array out of the values Rust passes (one call, not a store per value). */
const collectPage = (...items) => items
const PAGE_NEEDS_DISK = 2

/** Encodes a range bound: like a key, but may be empty. */
function encodeBound (value, encoding, name) {
  const encoded = encode(value, encoding, name)
  if (byteLength(encoded) > KEY_SIZE_BYTES_MAX) throw invalid(RangeError, `${name} is longer than ${KEY_SIZE_BYTES_MAX} bytes`)
  return encoded
}

function encodeRange (options, keyEncoding) {
  const range = {}
  for (const name of ['gt', 'gte', 'lt', 'lte', 'prefix']) {
    if (options[name] !== undefined) range[name] = encodeBound(options[name], keyEncoding, name)
  }
  range.reverse = checkBoolean(options.reverse, 'reverse', false)
  return range
}

function checkLimit (limit) {
  if (limit === undefined || limit === Infinity || limit === -1) return Infinity
  if (typeof limit !== 'number' || !Number.isInteger(limit)) throw invalid(TypeError, 'limit must be an integer, -1 or Infinity')
  if (limit < 0) throw invalid(RangeError, 'limit must be -1 (no limit) or at least 0')
  return limit
}

function decodeKey (raw, encoding) {
  return encoding === 'json' ? JSON.parse(raw) : decodeValue(raw, encoding)
}

/**
 * An ordered iterator. Entries come from Rust in pages: first from memory on the JS thread
 * when everything needed is cached, else one libuv task per page (never one per entry).
 */
class Iterator {
  /**
   * `source` (used by index iterators) replaces the key range: `{ known }` names the options
   * it accepts, and the subclass opens `this._native` itself (lazily, in `_fetch`).
   */
  constructor (db, options, mode, source) {
    db._checkOpen()
    options = checkOptionsObject(options, 'options')
    checkKnown(options, source === undefined ? RANGE_OPTIONS : source.known, 'iterator')
    this._db = db
    this._mode = mode
    this._keyEncoding = options.keyEncoding === undefined ? db._keyEncoding : checkEncoding(options.keyEncoding, 'keyEncoding')
    this._valueEncoding = options.valueEncoding === undefined ? db._valueEncoding : checkEncoding(options.valueEncoding, 'valueEncoding')
    this._wantKeys = mode === 'keys' || (mode === 'entries' && checkBoolean(options.keys, 'keys', true))
    this._wantValues = mode === 'values' || (mode === 'entries' && checkBoolean(options.values, 'values', true))
    if (mode !== 'entries') {
      checkBoolean(options.keys, 'keys', true)
      checkBoolean(options.values, 'values', true)
    }
    this._limit = checkLimit(options.limit)
    const range = source === undefined ? encodeRange(options, this._keyEncoding) : null
    const snapshot = db._nativeSnapshot(options.snapshot)
    this._nativeSnapshotArg = snapshot
    this._count = 0
    this._page = null
    this._pos = 0
    this._exhausted = this._limit === 0
    this._seekTarget = undefined
    this._busy = null
    this._closed = false
    this._closePromise = null
    // With neither keys nor values wanted, pages still carry keys so each entry has a slot.
    this._carryKeys = this._wantKeys || !this._wantValues
    this._stride = (this._carryKeys ? 1 : 0) + (this._wantValues ? 1 : 0)
    this._epoch = 0
    this._native = null
    if (source !== undefined) return
    try {
      this._native = db._native.iterator(range, this._carryKeys, this._wantValues,
        returnsString(this._keyEncoding), returnsString(this._valueEncoding), snapshot)
    } catch (err) {
      throw fromNative(err)
    }
  }

  /** The next entry (`[key, value]`, or the key or value for `keys()`/`values()`), or `undefined` at the end. */
  next () {
    // Fast path: nothing in flight and an entry buffered — no promise chain, no await.
    if (this._busy === null && !this._closed && this._page !== null && this._pos < this._page.length &&
        this._count < this._limit && !this._db._closing) {
      try {
        return Promise.resolve(this._take())
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return this._serial(async () => {
      if (!(await this._ensure())) return undefined
      return this._take()
    })
  }

  /** Up to `size` entries (fewer only at the end). */
  nextv (size) {
    if (typeof size !== 'number' || !(size >= 0) || (!Number.isInteger(size) && size !== Infinity)) {
      return Promise.reject(invalid(TypeError, 'size must be a non-negative integer'))
    }
    return this._serial(() => this._drain(size, false))
  }

  /** Every remaining entry; closes the iterator. */
  async all () {
    try {
      return await this._serial(() => this._drain(Infinity, true))
    } finally {
      await this.close()
    }
  }

  /**
   * Repositions: the next entry is the first at or after `target` (at or before, in reverse),
   * within the iterator's range. Synchronous; throws on a bad target.
   */
  seek (target, options) {
    if (this._closed) throw codedError('BROWSERDB_CLOSED', 'iterator is closed')
    const o = checkOptionsObject(options, 'options')
    const encoding = o.keyEncoding === undefined ? this._keyEncoding : checkEncoding(o.keyEncoding, 'keyEncoding')
    this._seekTarget = encodeBound(target, encoding, 'target')
    this._epoch++ // a page in flight was read before the seek: it will be dropped
    this._page = null
    this._exhausted = this._count >= this._limit
  }

  /** Releases the iterator's snapshot and the data it holds. Idempotent. */
  close () {
    if (this._closePromise === null) {
      this._closed = true
      this._closePromise = (async () => {
        if (this._busy !== null) await this._busy
        if (this._native !== null) this._native.close()
        this._page = null
      })()
    }
    return this._closePromise
  }

  async * [Symbol.asyncIterator] () {
    try {
      for (;;) {
        // Drain the buffered page synchronously; await only to fetch the next one.
        const entry = this._busy === null && this._page !== null && this._pos < this._page.length &&
          this._count < this._limit && !this._closed && !this._db._closing
          ? this._take()
          : await this.next()
        if (entry === undefined) return
        yield entry
      }
    } finally {
      await this.close()
    }
  }

  [asyncDispose] () {
    return this.close()
  }

  /** @private Runs calls one after another (a page fetch must not overlap another). */
  _serial (fn) {
    if (this._closed) return Promise.reject(codedError('BROWSERDB_CLOSED', 'iterator is closed'))
    if (this._db._closing) return Promise.reject(codedError('BROWSERDB_CLOSED', 'database is closed'))
    const run = this._busy === null ? fn() : this._busy.then(fn)
    // `settled` never rejects, so a failed call leaves no unhandled rejection behind.
    const settled = run.then(noop, noop)
    this._busy = settled
    settled.then(() => { if (this._busy === settled) this._busy = null })
    return run
  }

  /** @private Up to `size` entries; `kept`: the caller keeps them all (all(); see keptPair). */
  async _drain (size, kept) {
    const out = []
    while (out.length < size) {
      // Buffered entries are taken synchronously; only a page fetch awaits (an await per
      // entry cost a microtask each: ~10% of a 100k-key scan).
      if (this._count >= this._limit) break
      if ((this._page === null || this._pos >= this._page.length) && !(await this._ensure(size - out.length))) break
      out.push(this._take(kept))
    }
    return out
  }

  /** @private Whether an item is buffered, fetching a page if needed. */
  async _ensure (wanted = 1) {
    if (this._count >= this._limit) return false
    while (this._page === null || this._pos >= this._page.length) {
      if (this._exhausted) return false
      await this._fetch(wanted)
    }
    return true
  }

  /** @private Fetches the next page: from memory if it can, else on the pool. */
  async _fetch (wanted) {
    if (this._closed) throw codedError('BROWSERDB_CLOSED', 'iterator is closed')
    this._db._checkOpen()
    const entries = Math.max(1, Math.min(PAGE_ENTRIES_MAX, this._limit - this._count, Math.max(wanted, 16)))
    const epoch = this._epoch
    let page
    try {
      if (this._seekTarget !== undefined) {
        this._native.seek(this._seekTarget)
        this._seekTarget = undefined
      }
      page = this._native.nextFast(entries, FAST_PAGE_BYTES_MAX, collectPage)
    } catch (err) {
      throw fromNative(err)
    }
    if (page[0] === PAGE_NEEDS_DISK && page.length === 1) {
      page = await this._db._track(this._native.next(entries, PAGE_BYTES_MAX))
      if (epoch !== this._epoch) return // seek() ran meanwhile; the next fetch starts from its target
    }
    this._exhausted = page[0] !== PAGE_MORE && page[0] !== PAGE_NEEDS_DISK
    this._page = page
    this._pos = 1
  }

  /** @private Decodes the next buffered item (`kept`: see `_drain`). */
  _take (kept) {
    const page = this._page
    let i = this._pos
    this._pos += this._stride
    this._count++
    const key = this._wantKeys ? decodeKey(page[i], this._keyEncoding) : undefined
    if (this._carryKeys) i++
    const value = this._wantValues ? decodeValue(page[i], this._valueEncoding) : undefined
    if (this._mode === 'keys') return key
    if (this._mode === 'values') return value
    return kept === true ? keptPair(key, value) : [key, value]
  }
}

/**
 * The `[key, value]` pairs of all(), made apart from the others. V8 tracks survival per
 * allocation site (per array literal): once most pairs made at a site outlive a young-generation
 * GC, as all() results do, it allocates every later pair of that site straight in the old
 * generation ("pretenuring", never undone). Pairs of a streaming scan then keep their strings
 * alive until a full GC, and scavenges copy almost everything: a 100k-key nextv(1000) scan after
 * one large all() ran at ~1.1M keys/s instead of ~3M. With its own site, all() cannot do that
 * to next(), nextv() and for await.
 */
function keptPair (key, value) {
  return [key, value]
}

/** A consistent view of the database; pass it as `{ snapshot }`, then `close()` it. */
class Snapshot {
  constructor (db, native) {
    this._db = db
    this._native = native
  }

  /** Releases the snapshot (idempotent). */
  close () {
    if (this._native !== null) {
      this._native.close()
      this._native = null
    }
    return Promise.resolve()
  }

  [asyncDispose] () {
    return this.close()
  }
}

module.exports = { BrowserDB, ChainedBatch, Iterator, Snapshot }
// Secondary indexes (indexes/): createIndex, dropIndex, indexes(), index(name).
require('./indexes/attach').attachIndexes(BrowserDB, {
  Iterator, invalid, codedError, fromNative, checkOptionsObject, checkKnown, encodeKey, decodeKey
})
// db.inspect({ port }): the local inspection page (inspect/), kept out of this file.
require('./inspect/attach').attachInspect(BrowserDB)
