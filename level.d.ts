// Type definitions for browserdb/level: BrowserLevel, an abstract-level (v3) database backed
// by browserdb. Needs the `abstract-level` package (an optional peer dependency of browserdb).
/// <reference types="node" />
import {
  AbstractLevel,
  AbstractDatabaseOptions,
  AbstractOpenOptions,
  AbstractPutOptions,
  AbstractDelOptions,
  AbstractBatchOptions,
  AbstractBatchOperation,
  AbstractChainedBatch
} from 'abstract-level'
import { BrowserDB, CompactionStyle, Compression } from './index'

/** BrowserDB's open options, taken by the constructor and by `open()`. */
export interface BrowserLevelOpenOptions extends AbstractOpenOptions {
  /** Memtable size in bytes before it is flushed to a table (default 4 MiB; 64 KiB..1 GiB). */
  writeBufferSize?: number | undefined
  /** Block cache budget in bytes (default 16 MiB). */
  cacheSize?: number | undefined
  /** Table block compression (default 'lz4'). */
  compression?: Compression | undefined
  /** Compaction style (default 'leveled'). */
  compactionStyle?: CompactionStyle | undefined
  /** Default for the `sync` option of writes (default false). */
  sync?: boolean | undefined
  /** 'persistent' (default) or 'ultra' (RAM only: `db.supports.permanence` is then false). */
  mode?: 'persistent' | 'ultra' | undefined
  /** Ultra mode only: bytes of data it may hold. */
  maxMemory?: number | undefined
}

/** Constructor options: Level's encodings plus the open options. */
export interface BrowserLevelDatabaseOptions<K, V>
  extends AbstractDatabaseOptions<K, V>, Omit<BrowserLevelOpenOptions, 'passive'> {}

/** `put` options: Level's, plus BrowserDB's `sync` (fdatasync before resolving) and `ttl` (ms). */
export interface BrowserLevelPutOptions<K, V> extends AbstractPutOptions<K, V> {
  sync?: boolean | undefined
  ttl?: number | undefined
}

/** `del` options: Level's, plus BrowserDB's `sync`. */
export interface BrowserLevelDelOptions<K> extends AbstractDelOptions<K> {
  sync?: boolean | undefined
}

/** `batch` options: Level's, plus BrowserDB's `sync`. */
export interface BrowserLevelBatchOptions<K, V> extends AbstractBatchOptions<K, V> {
  sync?: boolean | undefined
}

/**
 * An abstract-level database stored by browserdb in directory `location`.
 *
 * @template KDefault The type of keys when an operation does not override the encoding.
 * @template VDefault The type of values when an operation does not override the encoding.
 */
export declare class BrowserLevel<KDefault = string, VDefault = string>
  extends AbstractLevel<string | Buffer | Uint8Array, KDefault, VDefault> {
  constructor (location: string, options?: BrowserLevelDatabaseOptions<KDefault, VDefault> | undefined)

  /** The directory given to the constructor. */
  get location (): string

  /**
   * The BrowserDB underneath while the database is open (else `null`), for what Level has no
   * name for: verify, backup, compact, stats. Keys written through it are not escaped.
   */
  get browserdb (): BrowserDB<any, any> | null

  open (): Promise<void>
  open (options: BrowserLevelOpenOptions): Promise<void>

  put (key: KDefault, value: VDefault): Promise<void>
  put<K = KDefault, V = VDefault> (key: K, value: V, options: BrowserLevelPutOptions<K, V>): Promise<void>

  del (key: KDefault): Promise<void>
  del<K = KDefault> (key: K, options: BrowserLevelDelOptions<K>): Promise<void>

  batch (operations: Array<AbstractBatchOperation<typeof this, KDefault, VDefault>>): Promise<void>
  batch<K = KDefault, V = VDefault> (
    operations: Array<AbstractBatchOperation<typeof this, K, V>>,
    options: BrowserLevelBatchOptions<K, V>
  ): Promise<void>
  batch (): AbstractChainedBatch<typeof this, KDefault, VDefault>
}
