// Type definitions for browserdb: an embedded, ordered key-value database for Node.js.
// This file is the typed form of the JS API contract (docs: DESIGN "The JS API").
/// <reference types="node" />
import { EventEmitter } from 'node:events'

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

/** The key type an iterator returns: `K`, or what a per-call `keyEncoding` returns. */
export type KeyOutput<K, O> = O extends { keyEncoding: infer E extends Encoding } ? EncodingOutput[E] : K

/** `T`, or `undefined` where the flag `F` may be `false`. */
export type Flagged<T, F> = F extends false ? undefined : T

/**
 * The `[key, value]` pair `iterator()` yields: a part switched off by `keys: false` /
 * `values: false` is `undefined` (`T | undefined` when the flag is only known as a boolean).
 */
export type EntryOutput<K, V, O> = [
  O extends { keys: infer F } ? Flagged<KeyOutput<K, O>, F> : KeyOutput<K, O>,
  O extends { values: infer F } ? Flagged<ValueOutput<V, O>, F> : ValueOutput<V, O>,
]

/** `O` with every property that `Known` does not define forbidden (catches misspelt option names). */
export type NoExtraOptions<O, Known> = O & { [P in Exclude<keyof O, keyof Known>]: never }

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
  /** For `BROWSERDB_MODE_SWITCH_FAILED`: the error that made the switch fail. */
  cause?: BrowserDBError
}

/**
 * Block compression of tables: 'lz4' (default, fastest), 'zstd' (smallest), 'zlib', or
 * 'none'. It applies to tables written from now on; a database reopened with another
 * compression still reads every older table.
 */
export type Compression = 'lz4' | 'zstd' | 'zlib' | 'none'

/**
 * How tables are merged in the background. 'leveled' (default): level 0 compacts into level 1
 * at 4 tables, and each level n >= 1 holds up to 16 MiB × 10^(n-1) before compacting into
 * n + 1 (low space and read amplification). 'tiered': sorted runs of similar size stay in
 * level 0 and are merged 4 at a time (lower write amplification, more space).
 */
export type CompactionStyle = 'leveled' | 'tiered'

/** Options of `BrowserDB.open`. Unknown option names are rejected. */
export interface OpenOptions<K = string, V = string> {
  /** Create the database if it does not exist (default true); false + missing → `BROWSERDB_NOT_FOUND`. */
  createIfMissing?: boolean
  /** Reject with `BROWSERDB_EXISTS` if a database already exists (default false). */
  errorIfExists?: boolean
  /**
   * Open an existing database for reading only (default false): nothing in its directory is
   * created, changed or removed, not even at close; writes reject with
   * `BROWSERDB_INVALID_ARGUMENT`. A missing database is `BROWSERDB_NOT_FOUND`. Persistent mode only.
   */
  readOnly?: boolean
  /** Default encoding of keys (default 'utf8'). */
  keyEncoding?: EncodingFor<K>
  /** Default encoding of values (default 'utf8'). */
  valueEncoding?: EncodingFor<V>
  /** Memtable size in bytes before it is flushed to a table (default 4 MiB; 64 KiB..1 GiB). */
  writeBufferSize?: number
  /** Block cache budget in bytes (default 16 MiB). */
  cacheSize?: number
  /** Table block compression (default 'lz4'); other values are rejected with a RangeError. */
  compression?: Compression
  /** Default for the `sync` option of writes (default false). */
  sync?: boolean
  /** 'persistent' (default: disk + cache, durable) or 'ultra' (RAM only: no file, no directory, no lock). */
  mode?: 'persistent' | 'ultra'
  /**
   * Compaction style (default 'leveled'); other values are rejected with a RangeError. Writers
   * are slowed down (1 ms per write group) at 8 level-0 tables and wait at 12 (tiered: 20
   * and 30 runs) until background compaction catches up.
   */
  compactionStyle?: CompactionStyle
  /** Ultra mode only: bytes of data it may hold; a write past it rejects with `BROWSERDB_FULL` and changes nothing. */
  maxMemory?: number
}

/** Per-call options of reads: encoding overrides and a snapshot to read at. */
export interface ReadOptions {
  /** Encoding of the key(s) for this call, overriding the open default. */
  keyEncoding?: Encoding
  /** Encoding of the returned value(s) for this call, overriding the open default. */
  valueEncoding?: Encoding
  /** Read at this snapshot (from `db.snapshot()` of the same database, not closed). */
  snapshot?: Snapshot
}

/** Options of `put`. */
export interface PutOptions {
  /** fdatasync before resolving, so the write also survives power loss (default: the open `sync`). */
  sync?: boolean
  /** Encoding of the key for this call, overriding the open default. */
  keyEncoding?: Encoding
  /** Encoding of the value for this call, overriding the open default. */
  valueEncoding?: Encoding
  /** Milliseconds until the key expires and reads as absent (stored: it holds across restarts). */
  ttl?: number
}

/** Options of `has`. */
export interface HasOptions {
  /** Encoding of the key for this call, overriding the open default. */
  keyEncoding?: Encoding
  /** Read at this snapshot (from `db.snapshot()` of the same database, not closed). */
  snapshot?: Snapshot
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
  /** (put only) milliseconds until the key expires. */
  ttl?: number
}

/** Put one key in a batch. */
export interface BatchPutOperation<K = string, V = string> {
  /** Operation kind. */
  type: 'put'
  /** The key to write. */
  key: K
  /** The value to write. */
  value: V
  /** Milliseconds until the key expires and reads as absent. */
  ttl?: number
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

/**
 * A key range. Keys compare bytewise on their encoded form (UTF-8 bytes for 'utf8', JSON
 * text for 'json', raw bytes for 'buffer' / 'view'). Bounds may be empty; `prefix`
 * intersects with the other bounds.
 */
export interface RangeOptions<K = string> {
  /** Only keys greater than this. */
  gt?: K
  /** Only keys greater than or equal to this. */
  gte?: K
  /** Only keys less than this. */
  lt?: K
  /** Only keys less than or equal to this. */
  lte?: K
  /** Only keys that start with these bytes. */
  prefix?: K
  /** Walk from the top of the range down (default false). */
  reverse?: boolean
  /** At most this many entries: an integer >= 0, or -1 / Infinity for no limit (the default). */
  limit?: number
}

/** Options of `iterator()`, `keys()` and `values()`. Unknown option names are rejected. */
export interface IteratorOptions<K = string> extends RangeOptions<K> {
  /** Include keys (default true); `false` makes the key of each `iterator()` pair `undefined`. */
  keys?: boolean
  /** Include values (default true); `false` makes the value of each `iterator()` pair `undefined`. */
  values?: boolean
  /** Encoding of the bounds and returned keys for this call, overriding the open default. */
  keyEncoding?: Encoding
  /** Encoding of the returned values for this call, overriding the open default. */
  valueEncoding?: Encoding
  /** Read at this snapshot instead of one taken when the iterator is created. */
  snapshot?: Snapshot
}

/** Options of `range(start, end, options)`: the iterator options other than the bounds it sets. */
export type RangeCallOptions<K = string> = Omit<IteratorOptions<K>, 'gt' | 'gte' | 'lt' | 'lte'>

/** Options of `prefix(p, options)`: the iterator options other than `prefix`. */
export type PrefixCallOptions<K = string> = Omit<IteratorOptions<K>, 'prefix'>

/** Options of `clear()`: a range to delete (all keys without one). */
export interface ClearOptions<K = string> extends RangeOptions<K> {
  /** Encoding of the bounds for this call, overriding the open default. */
  keyEncoding?: Encoding
}

/**
 * Options of `compact()`: the key range whose tables are merged (all tables without one).
 * Bounds only choose tables: every table holding a key in the range is merged whole.
 */
export interface CompactOptions<K = string> {
  /** Tables holding keys greater than this. */
  gt?: K
  /** Tables holding keys greater than or equal to this. */
  gte?: K
  /** Tables holding keys less than this. */
  lt?: K
  /** Tables holding keys less than or equal to this. */
  lte?: K
  /** Tables holding keys that start with these bytes. */
  prefix?: K
  /** Encoding of the bounds for this call, overriding the open default. */
  keyEncoding?: Encoding
}

/** Options of `Iterator.seek()`. */
export interface SeekOptions {
  /** Encoding of the target for this call, overriding the iterator's key encoding. */
  keyEncoding?: Encoding
}

/**
 * A consistent, read-only view of the database at the moment `db.snapshot()` was called.
 * Pass it as `{ snapshot }` to `get`, `getSync`, `getMany`, `has` and `iterator`; `close()`
 * it when done (the garbage collector releases a forgotten one).
 */
export class Snapshot {
  private constructor()
  #private
  /** Releases the snapshot; idempotent. Reads passing it afterwards reject with a RangeError. */
  close(): Promise<void>
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * An ordered iterator over `T` (a `[key, value]` pair, a key or a value), reading one
 * consistent snapshot. `K` is the key type `seek()` accepts. Use `for await`, which closes
 * it at the end or on `break`; otherwise `close()` it (the garbage collector releases a
 * forgotten one). After `close()` (or `db.close()`) calls reject with `BROWSERDB_CLOSED`.
 */
export class Iterator<T, K = string> {
  private constructor()
  #private
  /** The next entry, or `undefined` at the end. */
  next(): Promise<T | undefined>
  /** Up to `size` entries; fewer only at the end (an empty array there). */
  nextv(size: number): Promise<T[]>
  /** Every remaining entry; then closes the iterator. */
  all(): Promise<T[]>
  /**
   * Repositions synchronously: the next entry is the first at or after `target` (at or
   * before, in reverse), within the iterator's range. Throws on a bad target.
   */
  seek<O extends SeekOptions = {}>(target: KeyInput<K, O>, options?: O): void
  /** Releases the iterator's snapshot; idempotent. */
  close(): Promise<void>
  /** Yields every remaining entry, then closes the iterator (also on `break` or a throw). */
  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined>
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

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

/** Tables and bytes of one level, in `Stats.levels`. */
export interface LevelStats {
  /** Table files in the level (tiered: sorted runs, all in level 0). */
  tables: number
  /** Bytes of those files on disk. */
  bytes: number
  /**
   * Tables of the level whose Bloom filter is in memory. A large database's deepest level
   * goes without once all filters would pass a quarter of `cacheSize` (at least 1 MiB): its
   * reads of keys the database holds need no filter, and its filters are most of them.
   */
  filters: number
}

/** Counters of one HeatMap tier. */
export interface TierStats {
  /** Lookups that found their entry (HOT) or block (WARM). */
  hits: number
  /** Lookups that did not. */
  misses: number
  /** Entries or blocks held. */
  entries: number
  /** Bytes held (data plus bookkeeping). */
  bytes: number
  /** Entries evicted or refused admission. */
  evictions: number
  /**
   * The tier's part of the cache budget now. HOT starts with a tenth and gives it to WARM
   * (down to a hundredth) while WARM's recent evictions are read again more than HOT's, weighing a
   * WARM miss (a file read) 16 times a HOT miss (docs/design.md, "Rebalancing the tiers").
   */
  capacityBytes: number
}

/** The HeatMap cache's counters (`stats().cache`). */
export interface CacheStats {
  /** Reads answered by either tier. */
  hits: number
  /** Reads that needed a block from a file (the OS page cache or the disk). */
  misses: number
  /** hits / (hits + misses). */
  hitRate: number
  /** Bytes held by both tiers. */
  bytes: number
  /** The budget (`cacheSize`, or the last `resizeCache`). */
  capacityBytes: number
  /** Bytes of the frequency sketches (under 1% of the budget). */
  sketchBytes: number
  /** Decoded entries of hot keys: a hit reads no block. */
  hot: TierStats
  /** Decoded blocks. */
  warm: TierStats
}

/** One key of `heatmap()`. */
export interface HotKey<K> {
  /** The key. */
  key: K
  /** Its recent access frequency, 0–15 (higher is hotter). */
  heat: number
}

/** Options of `db.inspect()`. */
export interface InspectOptions {
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number
}

/** A running inspect server (`db.inspect()`). */
export interface InspectServer {
  /** The page's URL, with its token: `http://127.0.0.1:<port>/?token=<token>`. */
  url: string
  /** The port it listens on (127.0.0.1 only). */
  port: number
  /** The random token every request must carry (`?token=` or the `X-BrowserDB-Token` header). */
  token: string
  /** Stops the server (the database stays open). */
  close(): Promise<void>
}

/** A value an index orders by: a JSON scalar. null < false < true < numbers < strings (bytewise). */
export type IndexedValue = number | string | boolean | null

/** `createIndex` options. */
export interface CreateIndexOptions {
  /** Keys the index covers: those starting with this prefix (every key without one). */
  prefix?: string | Uint8Array
  /** Dotted path of the JSON field to order by, e.g. `lastVisit` or `meta.folder`. */
  field: string
  /** Called as the build over existing data goes. */
  onProgress?: (progress: { keysIndexed: number }) => void
}

/** One index, as `indexes()` lists it. */
export interface IndexInfo {
  name: string
  prefix: string | Buffer
  field: string
  /** `'building'` until the build over existing data is done (queries wait for it). */
  state: 'building' | 'ready'
  /** Keys the build has indexed since open. */
  keysIndexed: number
}

/** A range of indexed values (`count`). Unknown option names are rejected. */
export interface IndexRangeOptions {
  gt?: IndexedValue
  gte?: IndexedValue
  lt?: IndexedValue
  lte?: IndexedValue
  /** Read at this snapshot instead of one taken now. */
  snapshot?: Snapshot
}

/** Options of an index's `iterator()` and `keys()`. */
export interface IndexIteratorOptions extends IndexRangeOptions {
  /** Largest value first. */
  reverse?: boolean
  /** At most this many entries (-1 or Infinity: no limit). */
  limit?: number
  keyEncoding?: Encoding
  valueEncoding?: Encoding
}

/** A handle on one index (`db.index(name)`); queries of an index still building wait for it. */
export class Index<K = string, V = string> {
  readonly name: string
  /** `[indexedValue, primaryKey, value]` in value order (then key order), at one snapshot. */
  iterator(options?: IndexIteratorOptions): Iterator<[IndexedValue, K, V], never>
  /** Primary keys in value order. */
  keys(options?: IndexIteratorOptions): Iterator<K, never>
  /** Entries whose value is in the range. */
  count(options?: IndexRangeOptions): Promise<number>
  /** Resolves once the index is built. */
  ready(): Promise<void>
}

/** Engine counters from `stats()` (all read from memory). Counters marked "since open" restart at 0 on open. */
/** One live table (`db.tables()`). */
export interface TableInfo {
  /** Level in the LSM tree. */
  level: number
  /** File number (`NNNNNN.sst`). */
  number: number
  /** File size in bytes. */
  bytes: number
  /** Entries (every version and tombstone). */
  entries: number
  /** Smallest key in the table. */
  smallest: Buffer
  /** Largest key in the table. */
  largest: Buffer
}

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
  /**
   * Of `walWrites`, the in-place commits: writes without `sync` committed on the JS thread by
   * a copy into the WAL's prepared, mapped memory (Linux), with no hop to the thread pool.
   */
  walInMemoryWrites: number
  /** The HeatMap cache. */
  cache: CacheStats
  /** Bytes of data held: memtables plus tables (in ultra mode, its RAM besides the cache). */
  memoryBytes: number
  /** Iterators not yet closed (or collected). */
  liveIterators: number
  /** Snapshots held in the engine: those of `db.snapshot()` and the one each live iterator reads at. */
  liveSnapshots: number
  /** One entry per level (index = level; always 7 entries, empty levels included). */
  levels: LevelStats[]
  /** Compactions since open (background ones and each `compact()` that merged something). */
  compactions: number
  /** Key and value bytes written by puts, deletes and batches since open. */
  userBytesWritten: number
  /** Table bytes written by memtable flushes since open. */
  flushBytesWritten: number
  /** Table bytes written by compactions since open. */
  compactionBytesWritten: number
  /** Compactions a `clear()` scheduled to give back its range's disk space (tables it cut
   * through, the memtable's log), queued or running; 0 once that space is back. (One after a clear that
   * left more dead bytes than live ones, merging at most 32 MiB, runs before `clear()` resolves
   * when no other compaction runs, and is not counted here.) */
  clearCompactionsPending: number
  /** (flushBytesWritten + compactionBytesWritten) / userBytesWritten; 0 before any write. */
  writeAmplification: number
  /** Bytes of every live table plus the current WAL. */
  diskBytes: number
  /** Memory the open tables keep outside `cacheSize`: their Bloom filters (about 10 bits per
   * key) and indexes (one entry per data block: the last key past a prefix all share, where
   * the block is, and a search probe). */
  tableMetadataBytes: number
  /** Bytes of the deepest non-empty level (tiered: of the oldest run): an estimate of the live data. */
  liveBytesEstimate: number
  /** diskBytes / liveBytesEstimate; 0 when there is no table. */
  spaceAmplification: number
  /** Write groups delayed because level 0 reached its slow-down threshold, since open. */
  writeSlowdowns: number
  /** Times writers waited because level 0 reached its stop threshold, since open. */
  writeStops: number
}

/** Progress of a long maintenance call, polled about every 100 ms. */
export interface Progress {
  /** Work done so far: bytes (verify, backup, restore) or entries (export, import). */
  done: number
  /** Work in all; 0 while unknown (always 0 for export and import). */
  total: number
}

/** Options of `verify`, `backup` and `BrowserDB.restore`. Unknown option names are rejected. */
export interface ProgressOptions {
  /** Called with the progress as it goes and once at the end; a listener that throws only causes a process warning. */
  onProgress?: (progress: Progress) => void
}

/** What sort of damage a problem is. */
export type ProblemKind = 'checksum' | 'format' | 'order' | 'mismatch' | 'missing' | 'io' | 'index'

/** One thing `verify` or `repair` found wrong. */
export interface Problem {
  /** The file's name within the database directory (e.g. '000012.sst', 'MANIFEST'). */
  file: string
  /** Byte offset of the damage (0 when it concerns the whole file). */
  offset: number
  /** What sort of problem. */
  kind: ProblemKind
  /** A sentence for people. */
  message: string
}

/** What `verify()` found. */
export interface VerifyReport {
  /** Whether nothing is wrong (`problems` is empty). */
  ok: boolean
  /** Tables checked. */
  tables: number
  /** Entries in the tables (every version and tombstone). */
  entries: number
  /** Bytes read: tables, MANIFEST and WALs. */
  bytes: number
  /** WAL records checked. */
  walRecords: number
  /** Everything wrong; empty when the database is sound. */
  problems: Problem[]
}

/** What `BrowserDB.repair()` did. */
export interface RepairReport {
  /** Tables read whole (no damage). */
  tablesIntact: number
  /** Damaged tables whose intact blocks were salvaged. */
  tablesSalvaged: number
  /** WAL records replayed. */
  walRecords: number
  /** Tables the rebuilt database consists of (everything is merged into fresh tables). */
  tables: number
  /** Live keys in the rebuilt tables. */
  entries: number
  /** Damaged files moved aside, relative to the location (e.g. 'lost/000012.sst'). */
  lost: string[]
  /** What was found wrong. */
  problems: Problem[]
  /** Indexes registered again to be rebuilt from the repaired data (after damage only; the build runs at the next open). */
  indexesRestarted: number
}

/** What `backup()` did. */
export interface BackupReport {
  /** Tables in the backup. */
  tables: number
  /** Tables copied by this run. */
  tablesCopied: number
  /** Tables already in the backup directory and reused. */
  tablesReused: number
  /** Bytes copied by this run. */
  bytesCopied: number
  /** Bytes of all tables in the backup. */
  bytesTotal: number
}

/** What `BrowserDB.restore()` did. */
export interface RestoreReport {
  /** Tables restored. */
  tables: number
}

/** File formats of `export` and `import`: newline-delimited JSON, or one table file. */
export type ExchangeFormat = 'ndjson' | 'bdb'

/** Options of `export`. */
export interface ExportOptions {
  /** File format (default 'ndjson'). */
  format?: ExchangeFormat
  /** Called with `{ done: entries, total: 0 }` as it goes; see `ProgressOptions`. */
  onProgress?: (progress: Progress) => void
}

/** Options of `import`. */
export interface ImportOptions {
  /** File format (default: detected from the file). */
  format?: ExchangeFormat
  /** Called with `{ done: entries, total: 0 }` as it goes; see `ProgressOptions`. */
  onProgress?: (progress: Progress) => void
}

/** What `export` wrote or `import` added. */
export interface ExchangeReport {
  /** Entries written (export) or added (import). */
  entries: number
  /** Bytes of the file. */
  bytes: number
}

/**
 * One operation of a `'write'` event: the key and value as passed to the call (so of another
 * type where the call overrode `keyEncoding` / `valueEncoding`).
 */
export type WriteEventOperation<K = string, V = string> =
  | { type: 'put'; key: K; value: V }
  | { type: 'del'; key: K }

/** The events of `BrowserDB` with their payload (other names work as on any EventEmitter). */
export interface BrowserDBEvents<K = string, V = string> {
  write: WriteEventOperation<K, V>[]
  flush: FlushEvent
  compaction: CompactionEvent
}

/** A `'flush'` event: a memtable was written to a table. */
export interface FlushEvent {
  /** The new table's number (its file is `<number>.sst`, zero-padded to 6 digits). */
  table: number
  /** Bytes of the table. */
  bytes: number
  /** Entries in the table. */
  entries: number
}

/** A `'compaction'` event: tables were merged. */
export interface CompactionEvent {
  /** Tables merged. */
  inputTables: number
  /** Bytes of those tables. */
  inputBytes: number
  /** Tables written. */
  outputTables: number
  /** Bytes written. */
  outputBytes: number
  /** Level the output went to. */
  outputLevel: number
}

/** An open database. Obtain one with `BrowserDB.open`. */
export class BrowserDB<K = string, V = string> extends EventEmitter {
  private constructor()

  /** Open (and by default create) the database in directory `location`. */
  static open<K = string, V = string>(location: string, options?: OpenOptions<K, V>): Promise<BrowserDB<K, V>>
  /**
   * Rebuilds a usable database at `location` (which must not be open: `BROWSERDB_LOCKED`)
   * from what is intact; damaged files are moved into `location/lost/`. A missing database
   * rejects with `BROWSERDB_NOT_FOUND`.
   */
  static repair(location: string): Promise<RepairReport>
  /**
   * Restores the backup in `dir` into `location` (absent or empty, else `BROWSERDB_EXISTS`)
   * after checking all of it: a damaged backup rejects with `BROWSERDB_CORRUPTION` and
   * nothing is written.
   */
  static restore(dir: string, location: string, options?: ProgressOptions): Promise<RestoreReport>

  /** The directory the database lives in. */
  readonly location: string
  /** The storage mode. */
  readonly mode: 'persistent' | 'ultra'
  /**
   * Switches modes atomically (calls made meanwhile run after the switch). To 'ultra': every
   * key keeps being served and nothing more is written to disk (the directory stays locked
   * until close). To 'persistent': takes `location`'s LOCK (default: the open location),
   * replaces its contents with this database's and syncs before resolving. A failed switch
   * leaves the database as it was and rejects with `BROWSERDB_MODE_SWITCH_FAILED`, whose
   * `cause` carries the reason (`BROWSERDB_LOCKED`, `BROWSERDB_IO`, `BROWSERDB_FULL`...).
   * Snapshots taken before a switch cannot be used after it.
   */
  setMode(mode: 'ultra', options?: { maxMemory?: number }): Promise<void>
  setMode(mode: 'persistent', options?: { location?: string }): Promise<void>

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
  /**
   * An iterator over `[key, value]` pairs in bytewise key order, within the range, at one
   * snapshot. Throws synchronously on bad options.
   */
  iterator<O extends IteratorOptions<KeyInput<K, O>> = {}>(options?: NoExtraOptions<O, IteratorOptions<unknown>>): Iterator<EntryOutput<K, V, O>, KeyInput<K, O>>
  /** An iterator over keys only. */
  keys<O extends IteratorOptions<KeyInput<K, O>> = {}>(options?: NoExtraOptions<O, IteratorOptions<unknown>>): Iterator<KeyOutput<K, O>, KeyInput<K, O>>
  /** An iterator over values only. */
  values<O extends IteratorOptions<KeyInput<K, O>> = {}>(options?: NoExtraOptions<O, IteratorOptions<unknown>>): Iterator<ValueOutput<V, O>, KeyInput<K, O>>
  /** `iterator({ ...options, gte: start, lt: end })`. */
  range<O extends RangeCallOptions<KeyInput<K, O>> = {}>(start: KeyInput<K, O>, end: KeyInput<K, O>, options?: NoExtraOptions<O, RangeCallOptions<unknown>>): Iterator<EntryOutput<K, V, O>, KeyInput<K, O>>
  /** `iterator({ ...options, prefix })`. */
  prefix<O extends PrefixCallOptions<KeyInput<K, O>> = {}>(prefix: KeyInput<K, O>, options?: NoExtraOptions<O, PrefixCallOptions<unknown>>): Iterator<EntryOutput<K, V, O>, KeyInput<K, O>>
  /** A snapshot of the database now (synchronous); pass it as `{ snapshot }` to reads. */
  snapshot(): Snapshot
  /**
   * Flush the memtable, then merge every table holding keys in the range (every table without
   * options) into one sorted run, dropping overwritten versions and the tombstones no
   * snapshot or iterator needs. Open snapshots and iterators keep reading what they saw.
   * Resolves when done; writes and reads go on meanwhile.
   */
  compact<O extends CompactOptions<KeyInput<K, O>> & object = {}>(options?: NoExtraOptions<O, CompactOptions<unknown>>): Promise<void>
  /** Delete every key in the range (every key without options); resolves when done. */
  clear<O extends ClearOptions<KeyInput<K, O>> = {}>(options?: NoExtraOptions<O, ClearOptions<unknown>>): Promise<void>
  /** Changes the cache budget at run time (bytes); shrinking evicts at once. Synchronous. */
  resizeCache(bytes: number): void
  /** The hottest keys the cache keeps decoded, with their heat, hottest first. Synchronous. */
  heatmap(options?: { limit?: number; keyEncoding?: Encoding }): Array<HotKey<K>>
  /** Engine counters; throws `BROWSERDB_CLOSED` after `close()`. */
  stats(): Stats
  /** The live tables, level by level (level 0 newest first), with their key ranges. Synchronous. */
  tables(): TableInfo[]
  /**
   * Index the JSON field `field` of every value under `prefix`, kept in step with every write
   * (in the same WAL record, so exact after any crash). Resolves once the index over the
   * existing data is built. Values that are not JSON, lack the field or hold an array or
   * object there are skipped. Creating an existing index with the same definition does nothing.
   */
  createIndex(name: string, options: CreateIndexOptions): Promise<void>
  /** Remove an index and all its entries; resolves once they are gone. */
  dropIndex(name: string): Promise<void>
  /** The indexes (synchronous). */
  indexes(): IndexInfo[]
  /** A handle to query the index `name`, e.g. `db.index('byVisit').iterator({ reverse: true, limit: 20 })`. */
  index(name: string): Index<K, V>
  /**
   * Serves the inspect page of this live database (as `browserdb inspect` does): an HTTP server
   * on 127.0.0.1 only, a random token required on every request, the `Host` header checked,
   * read-only (no endpoint writes). Resolves once listening.
   */
  inspect(options?: InspectOptions): Promise<InspectServer>

  /**
   * Reads every byte of every table, the MANIFEST and the WALs and checks checksums, key order
   * and that the MANIFEST agrees with the files. Reads and writes go on meanwhile.
   */
  verify(options?: ProgressOptions): Promise<VerifyReport>
  /**
   * Online, consistent, incremental backup into `dir` (created if missing): copies only the
   * tables `dir` lacks, then writes a checksummed `BACKUP` description.
   */
  backup(dir: string, options?: ProgressOptions): Promise<BackupReport>
  /** Writes a snapshot of every live entry to `file` (replaced atomically). */
  export(file: string, options?: ExportOptions): Promise<ExchangeReport>
  /**
   * Adds every entry of an export file in one atomic step. The whole file is checked first:
   * anything wrong rejects with `BROWSERDB_CORRUPTION` and nothing is written.
   */
  import(file: string, options?: ImportOptions): Promise<ExchangeReport>

  /** After a put, del or batch resolves: its operations (a listener that throws only causes a process warning). */
  on(event: 'write', listener: (ops: WriteEventOperation<K, V>[]) => void): this
  /** After a memtable was written to a table (polled about every 100 ms while anyone listens). */
  on(event: 'flush', listener: (info: FlushEvent) => void): this
  /** After tables were merged (polled about every 100 ms while anyone listens). */
  on(event: 'compaction', listener: (info: CompactionEvent) => void): this
  on<E extends string | symbol>(event: Exclude<E, keyof BrowserDBEvents>, listener: (...args: any[]) => void): this
  once(event: 'write', listener: (ops: WriteEventOperation<K, V>[]) => void): this
  once(event: 'flush', listener: (info: FlushEvent) => void): this
  once(event: 'compaction', listener: (info: CompactionEvent) => void): this
  once<E extends string | symbol>(event: Exclude<E, keyof BrowserDBEvents>, listener: (...args: any[]) => void): this
  off(event: 'write', listener: (ops: WriteEventOperation<K, V>[]) => void): this
  off(event: 'flush', listener: (info: FlushEvent) => void): this
  off(event: 'compaction', listener: (info: CompactionEvent) => void): this
  off<E extends string | symbol>(event: Exclude<E, keyof BrowserDBEvents>, listener: (...args: any[]) => void): this
  /** Close the database: new calls reject with `BROWSERDB_CLOSED`; waits for in-flight calls; idempotent. */
  close(): Promise<void>
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}
