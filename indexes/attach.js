'use strict'

// Secondary indexes: `db.createIndex(name, { prefix, field })`, `db.dropIndex(name)`,
// `db.indexes()`, `db.index(name).iterator(...) / .keys(...) / .count(...)`. The engine keeps
// the entries in step with every write (same WAL record) and builds new indexes on its own
// worker thread; this file validates arguments, waits by polling the engine's in-memory
// state (no libuv thread is held during a build), and decodes entries.
// docs/design.md "Secondary indexes" has the decisions; docs/format.md the bytes.

const INDEX_POLL_MS = 20
const INDEX_OPTIONS = new Set(['prefix', 'field', 'onProgress'])
const QUERY_OPTIONS = new Set(['gt', 'gte', 'lt', 'lte', 'reverse', 'limit', 'keyEncoding', 'valueEncoding', 'snapshot'])
const COUNT_OPTIONS = new Set(['gt', 'gte', 'lt', 'lte', 'snapshot'])

/**
 * Decodes an index entry (the engine's order-preserving encoding of the indexed value, then
 * the primary key): returns `[indexedValue, primaryKeyBytes]`.
 */
function decodeEntry (entry) {
  switch (entry[0]) {
    case 0x01: return [null, entry.subarray(1)]
    case 0x02: return [false, entry.subarray(1)]
    case 0x03: return [true, entry.subarray(1)]
    case 0x04: {
      const bytes = Buffer.from(entry.subarray(1, 9))
      if (bytes[0] & 0x80) {
        bytes[0] &= 0x7f // was >= 0: only the sign bit was flipped
      } else {
        for (let i = 0; i < 8; i++) bytes[i] = ~bytes[i] & 0xff // was < 0: every bit was flipped
      }
      return [bytes.readDoubleBE(0), entry.subarray(9)]
    }
    case 0x05: {
      const out = []
      let start = 1
      for (let i = 1; i + 1 < entry.length; i++) {
        if (entry[i] !== 0) continue
        out.push(entry.subarray(start, i))
        if (entry[i + 1] === 0x01) return [Buffer.concat(out).toString('utf8'), entry.subarray(i + 2)]
        out.push(Buffer.from([0])) // 00 ff: a literal zero byte
        start = i + 2
        i++
      }
    }
  }
  const err = new Error('an index entry does not decode')
  err.code = 'BROWSERDB_CORRUPTION'
  throw err
}

function attachIndexes (BrowserDB, internals) {
  const { Iterator, invalid, codedError, fromNative, checkOptionsObject, checkKnown, encodeKey, decodeKey } = internals

  function checkName (name) {
    if (typeof name !== 'string' || name.length === 0) throw invalid(TypeError, 'index name must be a non-empty string')
    return name
  }

  /** An indexed value as the engine takes a bound: JSON text of a scalar. */
  function boundText (value, name) {
    const ok = value === null || typeof value === 'string' || typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value))
    if (!ok) throw invalid(TypeError, `${name} must be a finite number, a string, a boolean or null`)
    return JSON.stringify(value)
  }

  function indexRange (options) {
    const range = {}
    for (const name of ['gt', 'gte', 'lt', 'lte']) {
      if (options[name] !== undefined) range[name] = boundText(options[name], name)
    }
    if (options.reverse !== undefined && typeof options.reverse !== 'boolean') throw invalid(TypeError, 'reverse must be a boolean')
    range.reverse = options.reverse === true
    return range
  }

  /**
   * Polls the engine until the index is ready (`want` 'ready') or gone ('gone'), reporting
   * `{ keysIndexed }` to `onProgress` as a build goes.
   */
  function waitFor (db, name, want, onProgress) {
    return new Promise((resolve, reject) => {
      let reported = -1
      const tick = () => {
        try {
          db._checkOpen()
          const state = db._native.indexState(name)
          const [keysIndexed, failure] = db._native.indexProgress(name)
          if (onProgress !== undefined && keysIndexed !== reported) {
            reported = keysIndexed
            onProgress({ keysIndexed })
          }
          if ((want === 'ready' && state === 'ready') || (want === 'gone' && state === null)) return resolve()
          if (want === 'ready' && (state === null || state === 'dropping')) {
            return reject(invalid(RangeError, `there is no index ${JSON.stringify(name)}`))
          }
          if (failure !== null && failure !== undefined) return reject(codedError('BROWSERDB_INTERNAL', failure))
          setTimeout(tick, INDEX_POLL_MS)
        } catch (err) {
          reject(fromNative(err))
        }
      }
      tick()
    })
  }

  /** Entries of one index in value order: `[indexedValue, primaryKey, value]` (or keys). */
  class IndexIterator extends Iterator {
    constructor (db, index, options, mode) {
      super(db, options, mode === 'keys' ? 'keys' : 'entries', { known: QUERY_OPTIONS })
      this._index = index
      this._indexMode = mode
      this._range = indexRange(checkOptionsObject(options, 'options'))
      // A ready index is opened now, so the iterator reads the state as of this call; one
      // still building is opened once it is ready.
      if (db._native.indexState(index.name) === 'ready') this._open()
    }

    _open () {
      try {
        this._native = this._db._native.indexIterator(this._index.name, this._range, this._indexMode === 'entries',
          this._valueEncoding === 'utf8' || this._valueEncoding === 'json', this._nativeSnapshotArg)
      } catch (err) {
        throw fromNative(err)
      }
    }

    async _fetch (wanted) {
      if (this._native === null) {
        await this._index.ready()
        if (this._native === null) this._open()
      }
      return super._fetch(wanted)
    }

    seek () {
      throw invalid(TypeError, 'an index iterator cannot seek; start a new one with gt/gte/lt/lte')
    }

    /** `kept`: the caller keeps every entry (all(); see keptEntry). */
    _take (kept) {
      const page = this._page
      const i = this._pos
      this._pos += this._stride
      this._count++
      const [indexed, primary] = decodeEntry(page[i])
      const key = decodeKey(this._keyEncoding === 'buffer' || this._keyEncoding === 'view'
        ? (this._keyEncoding === 'view' ? new Uint8Array(primary) : Buffer.from(primary))
        : primary.toString('utf8'), this._keyEncoding)
      if (this._indexMode === 'keys') return key
      const value = decodeValueOf(this, page[i + 1])
      return kept === true ? keptEntry(indexed, key, value) : [indexed, key, value]
    }
  }

  /**
   * The entries of an index iterator's all(), made at their own allocation site: as with
   * keptPair in index.js, entries that all() keeps alive would otherwise make V8 pretenure
   * every later entry of next(), nextv() and for await (~3x slower scans, never undone).
   */
  function keptEntry (indexed, key, value) {
    return [indexed, key, value]
  }

  function decodeValueOf (iterator, raw) {
    const encoding = iterator._valueEncoding
    if (encoding === 'json') return JSON.parse(raw)
    if (encoding === 'view') return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
    return raw
  }

  /** A handle on one index: queries wait for a build in progress to finish. */
  class Index {
    constructor (db, name) {
      this._db = db
      this.name = name
    }

    /** `[indexedValue, primaryKey, value]` in value order (then key order), at one snapshot. */
    iterator (options) {
      return new IndexIterator(this._db, this, options, 'entries')
    }

    /** Primary keys in value order. */
    keys (options) {
      return new IndexIterator(this._db, this, options, 'keys')
    }

    /** Entries with an indexed value in the range. */
    async count (options) {
      const db = this._db
      try {
        options = checkOptionsObject(options, 'options')
        checkKnown(options, COUNT_OPTIONS, 'count')
        const range = indexRange(options)
        const snapshot = db._nativeSnapshot(options.snapshot)
        await this.ready()
        return await db._track(db._native.indexCount(this.name, range, snapshot))
      } catch (err) {
        throw fromNative(err)
      }
    }

    /** Resolves once the index is built (at once when it is). */
    ready () {
      return waitFor(this._db, this.name, 'ready', undefined)
    }
  }

  Object.assign(BrowserDB.prototype, {
    /**
     * Indexes the JSON field `field` (dotted path) of every value under `prefix` and keeps
     * it in step with every write. Resolves once the index over existing data is built
     * (`onProgress({ keysIndexed })` as it goes). Values that are not JSON, lack the field
     * or hold an array or object there are not indexed.
     */
    async createIndex (name, options) {
      if (this._switching !== null) return this._afterSwitch(this.createIndex, arguments)
      try {
        this._checkOpen()
        checkName(name)
        const o = checkOptionsObject(options, 'options')
        checkKnown(o, INDEX_OPTIONS, 'createIndex')
        if (typeof o.field !== 'string' || o.field.length === 0) throw invalid(TypeError, 'field must be a non-empty string')
        if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalid(TypeError, 'onProgress must be a function')
        const prefix = o.prefix === undefined || o.prefix === '' ? '' : encodeKey(o.prefix, typeof o.prefix === 'string' ? 'utf8' : 'buffer')
        await this._track(this._native.createIndex(name, prefix, o.field))
        await waitFor(this, name, 'ready', o.onProgress)
      } catch (err) {
        throw fromNative(err)
      }
    },

    /** Removes an index and all its entries; resolves once they are gone. */
    async dropIndex (name) {
      if (this._switching !== null) return this._afterSwitch(this.dropIndex, arguments)
      try {
        this._checkOpen()
        checkName(name)
        await this._track(this._native.dropIndex(name))
        await waitFor(this, name, 'gone', undefined)
      } catch (err) {
        throw fromNative(err)
      }
    },

    /** The indexes: `[{ name, prefix, field, state: 'building' | 'ready', keysIndexed }]`. */
    indexes () {
      this._checkOpen()
      try {
        return this._native.indexes().map((i) => ({
          name: i.name,
          prefix: this._keyEncoding === 'buffer' || this._keyEncoding === 'view' ? i.prefix : i.prefix.toString('utf8'),
          field: i.field,
          state: i.state,
          keysIndexed: i.keysIndexed
        }))
      } catch (err) {
        throw fromNative(err)
      }
    },

    /** A handle to query the index `name`. */
    index (name) {
      this._checkOpen()
      return new Index(this, checkName(name))
    }
  })
}

module.exports = { attachIndexes, decodeEntry }
