// Type definitions for browserdb: an embedded, ordered key-value database for Node.js.
// This file is the typed form of the JS API contract (docs: DESIGN "The JS API").
/// <reference types="node" />

/** How keys or values are turned into bytes and back. */
export type Encoding = 'utf8' | 'buffer' | 'view' | 'json'

/** What each encoding returns when reading. */
export interface EncodingOutput {
  /** UTF-8 text. */
  utf8: string
  /** A Node.js Buffer (a copy owned by JS). */
  buffer: Buffer
  /** A Uint8Array (a copy owned by JS). */
  view: Uint8Array
  /** The value parsed with JSON.parse. */
  json: unknown
}

/** What each encoding accepts when writing. */
export interface EncodingInput {
  /** Only strings are accepted; other types are rejected, not coerced. */
  utf8: string
  /** A Buffer or any Uint8Array. */
  buffer: Buffer | Uint8Array
  /** Any Uint8Array (a Buffer is one). */
  view: Uint8Array
  /** Any value JSON.stringify can encode. */
  json: any
}

/**
 * The encodings that fit a key or value type `T` (used to check `keyEncoding` /
 * `valueEncoding` against the generic parameters of `BrowserDB.open`).
 */
export type EncodingFor<T> =
  | ([T] extends [string] ? 'utf8' : never)
  | ([T] extends [Uint8Array] ? (Buffer extends T ? 'buffer' : never) : never)
  | ([T] extends [Uint8Array] ? (Uint8Array extends T ? 'view' : never) : never)
  | 'json'

/** The key type a call accepts: `K`, or what a per-call `keyEncoding` accepts. */
export type KeyInput<K, O> = O extends { keyEncoding: infer E extends Encoding } ? EncodingInput[E] : K

/** The value type a call accepts: `V`, or what a per-call `valueEncoding` accepts. */
export type ValueInput<V, O> = O extends { valueEncoding: infer E extends Encoding } ? EncodingInput[E] : V

/** The value type a read returns: `V`, or what a per-call `valueEncoding` returns. */
export type ValueOutput<V, O> = O extends { valueEncoding: infer E extends Encoding } ? EncodingOutput[E] : V

/** Stable error codes; assert on `err.code`, never on the message. */
export type BrowserDBErrorCode =
  | 'BROWSERDB_CORRUPTION'
  | 'BROWSERDB_IO'
  | 'BROWSERDB_LOCKED'
  | 'BROWSERDB_CLOSED'
  | 'BROWSERDB_INVALID_ARGUMENT'
  | 'BROWSERDB_NOT_FOUND'
  | 'BROWSERDB_EXISTS'
  | 'BROWSERDB_NOT_A_DATABASE'
  | 'BROWSERDB_FULL'
  | 'BROWSERDB_MODE_SWITCH_FAILED'
  | 'BROWSERDB_INTERNAL'

/**
 * Every failure is an Error with a stable `code`. `BROWSERDB_INVALID_ARGUMENT` errors are
 * `TypeError` (wrong type) or `RangeError` (out of range) instances.
 */
export interface BrowserDBError extends Error {
  /** The stable error code. */
  code: BrowserDBErrorCode
}

/** Options of `BrowserDB.open`. Unknown option names are rejected. */
export interface OpenOptions<K = string, V = string> {
  /** Create the database if it does not exist (default true); false + missing → `BROWSERDB_NOT_FOUND`. */
  createIfMissing?: boolean
  /** Reject with `BROWSERDB_EXISTS` if a database already exists (default false). */
  errorIfExists?: boolean
  /** Default encoding of keys (default 'utf8'). */
  keyEncoding?: EncodingFor<K>
  /** Default encoding of values (default 'utf8'). */
  valueEncoding?: EncodingFor<V>
  /** Memtable size in bytes before it is flushed to a table (default 4 MiB; 64 KiB..1 GiB). */
  writeBufferSize?: number
  /** Block cache budget in bytes (default 16 MiB). */
  cacheSize?: number
  /** Table block compression (default 'lz4'); 'zstd' and 'zlib' are not supported yet and are rejected. */
  compression?: 'lz4' | 'none' | 'zstd' | 'zlib'
  /** Default for the `sync` option of writes (default false). */
  sync?: boolean
  /** Storage mode (default 'persistent'); 'ultra' is not supported yet and is rejected. */
  mode?: 'persistent' | 'ultra'
  /** Compaction style (default 'leveled'); 'tiered' is not supported yet and is rejected. */
  compactionStyle?: 'leveled' | 'tiered'
  /** Memory bound of ultra mode; not supported yet and rejected. */
  maxMemory?: number
}

/** Per-call encoding overrides of reads. */
export interface ReadOptions {
  /** Encoding of the key(s) for this call, overriding the open default. */
  keyEncoding?: Encoding
  /** Encoding of the returned value(s) for this call, overriding the open default. */
  valueEncoding?: Encoding
}

/** Options of `put`. */
export interface PutOptions {
  /** fdatasync before resolving, so the write also survives power loss (default: the open `sync`). */
  sync?: boolean
  /** Encoding of the key for this call, overriding the open default. */
  keyEncoding?: Encoding
  /** Encoding of the value for this call, overriding the open default. */
  valueEncoding?: Encoding
}

/** Options of `has`. */
export interface HasOptions {
  /** Encoding of the key for this call, overriding the open default. */
  keyEncoding?: Encoding
}

/** Options of `del`. */
export interface DelOptions {
  /** fdatasync before resolving (default: the open `sync`). */
  sync?: boolean
  /** Encoding of the key for this call, overriding the open default. */
  keyEncoding?: Encoding
}

/** Options of `batch(ops)`. */
export interface BatchOptions {
  /** fdatasync before resolving (default: the open `sync`). */
  sync?: boolean
  /** Encoding of every operation's key, overriding the open default. */
  keyEncoding?: Encoding
  /** Encoding of every put's value, overriding the open default. */
  valueEncoding?: Encoding
}

/** Options of a chained batch's `write()`. */
export interface WriteOptions {
  /** fdatasync before resolving (default: the open `sync`). */
  sync?: boolean
}

/** Per-operation encoding overrides of a chained batch's `put()` / `del()`. */
export interface ChainedBatchOptions {
  /** Encoding of the key of this operation, overriding the open default. */
  keyEncoding?: Encoding
  /** Encoding of the value of this put, overriding the open default. */
  valueEncoding?: Encoding
}

/** Put one key in a batch. */
export interface BatchPutOperation<K = string, V = string> {
  /** Operation kind. */
  type: 'put'
  /** The key to write. */
  key: K
  /** The value to write. */
  value: V
}

/** Delete one key in a batch. */
export interface BatchDelOperation<K = string> {
  /** Operation kind. */
  type: 'del'
  /** The key to delete. */
  key: K
}

/** One operation of an atomic batch. */
export type BatchOperation<K = string, V = string> = BatchPutOperation<K, V> | BatchDelOperation<K>

/** A batch built step by step with `db.batch()`; nothing is written before `write()`. */
export class ChainedBatch<K = string, V = string> {
  private constructor()
  /** Number of queued operations. */
  readonly length: number
  /** Queue a put; throws synchronously on bad input. */
  put<O extends ChainedBatchOptions = {}>(key: KeyInput<K, O>, value: ValueInput<V, O>, options?: O): this
  /** Queue a delete; throws synchronously on bad input. */
  del<O extends ChainedBatchOptions = {}>(key: KeyInput<K, O>, options?: O): this
  /** Alias of `del`. */
  delete<O extends ChainedBatchOptions = {}>(key: KeyInput<K, O>, options?: O): this
  /** Drop all queued operations. */
  clear(): this
  /** Write all queued operations atomically; a batch can be written once. */
  write(options?: WriteOptions): Promise<void>
  /** Discard the batch without writing it. */
  close(): Promise<void>
}

/** An open database. Obtain one with `BrowserDB.open`. */
/** Engine counters from `stats()` (all read from memory). */
export interface Stats {
  /** Sequence number of the newest write. */
  lastSequence: number
  /** Bytes in the active memtable. */
  memtableBytes: number
  /** Frozen memtables waiting to be flushed. */
  immutableMemtables: number
  /** Live table files. */
  tables: number
  /** Entries in live tables. */
  tableEntries: number
  /** Memtable flushes since open. */
  flushes: number
  /** WAL writes (group commits) since open. */
  walWrites: number
  /** WAL fdatasyncs since open. */
  walSyncs: number
  /** Block cache lookups that found their block. */
  cacheHits: number
  /** Block cache lookups that did not. */
  cacheMisses: number
  /** Bytes held by the block cache. */
  cacheBytes: number
  /** Blocks held by the block cache. */
  cacheBlocks: number
  /** The block cache's budget (`cacheSize`). */
  cacheCapacityBytes: number
}

export class BrowserDB<K = string, V = string> {
  private constructor()

  /** Open (and by default create) the database in directory `location`. */
  static open<K = string, V = string>(location: string, options?: OpenOptions<K, V>): Promise<BrowserDB<K, V>>

  /** The directory the database lives in. */
  readonly location: string
  /** The storage mode. */
  readonly mode: 'persistent' | 'ultra'

  /** Write one key; resolves once the write survives a process crash (and power loss with `sync`). */
  put<O extends PutOptions = {}>(key: KeyInput<K, O>, value: ValueInput<V, O>, options?: O): Promise<void>
  /** Read one key; resolves to `undefined` if it is absent. */
  get<O extends ReadOptions = {}>(key: KeyInput<K, O>, options?: O): Promise<ValueOutput<V, O> | undefined>
  /** Read one key on the JS thread (may touch disk); returns `undefined` if absent, throws on error. */
  getSync<O extends ReadOptions = {}>(key: KeyInput<K, O>, options?: O): ValueOutput<V, O> | undefined
  /** Read many keys; the result has `undefined` where a key is absent. */
  getMany<O extends ReadOptions = {}>(keys: KeyInput<K, O>[], options?: O): Promise<(ValueOutput<V, O> | undefined)[]>
  /** Whether the key exists. */
  has<O extends HasOptions = {}>(key: KeyInput<K, O>, options?: O): Promise<boolean>
  /** Alias of `has`. */
  exists<O extends HasOptions = {}>(key: KeyInput<K, O>, options?: O): Promise<boolean>
  /** Delete one key (deleting an absent key is not an error). */
  del<O extends DelOptions = {}>(key: KeyInput<K, O>, options?: O): Promise<void>
  /** Alias of `del`. */
  delete<O extends DelOptions = {}>(key: KeyInput<K, O>, options?: O): Promise<void>
  /** Apply puts and deletes atomically: all or nothing, also across a crash. */
  batch<O extends BatchOptions = {}>(operations: BatchOperation<KeyInput<K, O>, ValueInput<V, O>>[], options?: O): Promise<void>
  /** Start a chained batch. */
  batch(): ChainedBatch<K, V>
  /** Engine counters; throws `BROWSERDB_CLOSED` after `close()`. */
  stats(): Stats
  /** Close the database: new calls reject with `BROWSERDB_CLOSED`; waits for in-flight calls; idempotent. */
  close(): Promise<void>
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}
