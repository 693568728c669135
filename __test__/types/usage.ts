// Type test: compiled with `tsc -p __test__/types/tsconfig.json` (noEmit). Never run.
// Each `// @ts-expect-error` line must be a type error; tsc fails if it is not.
import {
  BrowserDB,
  BatchOperation,
  BrowserDBError,
  BrowserDBErrorCode,
  ChainedBatch,
  Encoding,
  OpenOptions,
  PutOptions,
  ReadOptions,
  Iterator,
  IteratorOptions,
  ClearOptions,
  RangeOptions,
  Snapshot,
  Stats,
  LevelStats,
  Compression,
  CompactionStyle,
  CompactOptions,
  Progress,
  Problem,
  ProblemKind,
  VerifyReport,
  RepairReport,
  BackupReport,
  RestoreReport,
  ExchangeFormat,
  ExchangeReport,
  WriteEventOperation,
  FlushEvent,
  CompactionEvent,
  BrowserDBEvents,
  Index,
  IndexInfo,
  IndexedValue,
} from '../../index'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T>(_value: T): void {}
function assertEqual<A, B>(_proof: Equal<A, B>): void {}

interface Bookmark {
  url: string
  title: string
  tags: string[]
}

async function main(): Promise<void> {
  // Defaults: string keys and values.
  const db = await BrowserDB.open('/tmp/profile.bdb')
  expectType<BrowserDB<string, string>>(db)
  expectType<string>(db.location)
  expectType<'persistent' | 'ultra'>(db.mode)

  await db.put('settings:theme', 'dark')
  await db.put('settings:theme', 'dark', { sync: true })
  const theme = await db.get('settings:theme')
  assertEqual<typeof theme, string | undefined>(true)
  const themeSync = db.getSync('settings:theme')
  assertEqual<typeof themeSync, string | undefined>(true)
  const many = await db.getMany(['a', 'b'])
  assertEqual<typeof many, (string | undefined)[]>(true)
  const there: boolean = await db.has('a')
  const there2: boolean = await db.exists('a')
  void there, there2
  await db.del('a')
  await db.del('a', { sync: true })
  await db.del(Buffer.from('a'), { keyEncoding: 'buffer' })
  const hasBin: boolean = await db.has(new Uint8Array([1]), { keyEncoding: 'view' })
  void hasBin
  await db.delete('a')
  await db.batch([
    { type: 'put', key: 'a', value: '1' },
    { type: 'del', key: 'b' },
  ])
  await db.batch([{ type: 'put', key: 'a', value: '1' }], { sync: true })

  const chained: ChainedBatch<string, string> = db.batch()
  chained.put('a', '1').del('b').put('c', '3')
  const n: number = chained.length
  void n
  chained.clear()
  await chained.write()
  await db.batch().put('x', 'y').write({ sync: true })
  await db.batch().close()
  await db.batch([{ type: 'put', key: Buffer.from('k'), value: Buffer.from('v') }], { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.batch().put(Buffer.from('k'), { a: 1 }, { keyEncoding: 'buffer', valueEncoding: 'json' }).delete('x').write()

  // Per-call encoding overrides change the accepted / returned types.
  await db.put('bin', Buffer.from([1, 2, 3]), { valueEncoding: 'buffer' })
  await db.put(Buffer.from('k'), 'v', { keyEncoding: 'buffer' })
  const asBuffer = await db.get('bin', { valueEncoding: 'buffer' })
  assertEqual<typeof asBuffer, Buffer | undefined>(true)
  const asView = db.getSync('bin', { valueEncoding: 'view' })
  assertEqual<typeof asView, Uint8Array | undefined>(true)
  const asJson = await db.get('bin', { valueEncoding: 'json' })
  assertEqual<typeof asJson, unknown>(true)
  const manyBuffers = await db.getMany([Buffer.from('k')], { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  assertEqual<typeof manyBuffers, (Buffer | undefined)[]>(true)
  const opts: ReadOptions = { valueEncoding: 'utf8' }
  const viaVariable = await db.get('k', opts)
  expectType<string | undefined>(viaVariable)
  const putOpts: PutOptions = { sync: true }
  await db.put('k', 'v', putOpts)

  // Generics: typed JSON values and binary keys.
  const bookmarks = await BrowserDB.open<string, Bookmark>('/tmp/b.bdb', { valueEncoding: 'json' })
  await bookmarks.put('bm:1', { url: 'https://example.com', title: 'Example', tags: [] })
  const bm = await bookmarks.get('bm:1')
  if (bm !== undefined) expectType<string[]>(bm.tags)
  const bmOps: BatchOperation<string, Bookmark>[] = [
    { type: 'put', key: 'bm:2', value: { url: 'u', title: 't', tags: ['x'] } },
    { type: 'del', key: 'bm:1' },
  ]
  await bookmarks.batch(bmOps)
  bookmarks.batch().put('bm:3', { url: 'u', title: 't', tags: [] })

  const bin = await BrowserDB.open<Buffer, Buffer>('/tmp/c.bdb', { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await bin.put(Buffer.from([0]), Buffer.alloc(10))
  const binValue = await bin.get(Buffer.from([0]))
  assertEqual<typeof binValue, Buffer | undefined>(true)

  const views = await BrowserDB.open<Uint8Array, Uint8Array>('/tmp/d.bdb', { keyEncoding: 'view', valueEncoding: 'view' })
  await views.put(new Uint8Array([1]), new Uint8Array([2]))
  const options: OpenOptions<string, string> = {
    createIfMissing: true,
    errorIfExists: false,
    keyEncoding: 'utf8',
    valueEncoding: 'utf8',
    writeBufferSize: 64 * 1024,
    cacheSize: 16 * 1024 * 1024,
    compression: 'none',
    sync: false,
    mode: 'persistent',
    compactionStyle: 'leveled',
  }
  await BrowserDB.open('/tmp/e.bdb', options)
  const enc: Encoding = 'view'
  void enc

  // Errors carry a typed code.
  try {
    await db.put('k', 'v')
  } catch (e) {
    const err = e as BrowserDBError
    const code: BrowserDBErrorCode = err.code
    if (code === 'BROWSERDB_LOCKED' || code === 'BROWSERDB_CLOSED') void err.message
    // @ts-expect-error not an error code
    const bad: BrowserDBErrorCode = 'BROWSERDB_NOPE'
    void bad
  }

  await db[Symbol.asyncDispose]()
  const closing: Promise<void> = db.close()
  await closing

  // ---- wrong usage must not compile ----
  // @ts-expect-error number value in a BrowserDB<string, string>
  await db.put('k', 1)
  // @ts-expect-error number key in a BrowserDB<string, string>
  await db.put(1, 'v')
  // @ts-expect-error object value in a BrowserDB<string, string>
  await db.put('k', { a: 1 })
  // @ts-expect-error missing value
  await db.put('k')
  // @ts-expect-error get returns string | undefined, not string
  const mustBeString: string = await db.get('k')
  void mustBeString
  // @ts-expect-error unknown encoding
  await db.get('k', { valueEncoding: 'hex' })
  // @ts-expect-error unknown put option
  await db.put('k', 'v', { synk: true })
  // @ts-expect-error unknown batch op type
  await db.batch([{ type: 'merge', key: 'a', value: '1' }])
  // @ts-expect-error put op needs a value
  await db.batch([{ type: 'put', key: 'a' }])
  // @ts-expect-error number value in a chained batch of strings
  db.batch().put('a', 2)
  // @ts-expect-error string key in a batch whose keyEncoding is 'buffer'
  await db.batch([{ type: 'del', key: 'a' }], { keyEncoding: 'buffer' })
  // @ts-expect-error chained write() takes no encodings
  await db.batch().write({ valueEncoding: 'json' })
  // @ts-expect-error has() takes no valueEncoding
  await db.has('a', { valueEncoding: 'json' })
  // @ts-expect-error length is read-only
  chained.length = 3
  // @ts-expect-error location is read-only
  db.location = '/elsewhere'
  // @ts-expect-error wrong bookmark shape
  await bookmarks.put('bm:9', { url: 'u' })
  // @ts-expect-error string key in a Buffer-keyed db
  await bin.get('plain')
  // @ts-expect-error utf8 cannot produce Buffer values
  await BrowserDB.open<string, Buffer>('/tmp/f.bdb', { valueEncoding: 'utf8' })
  // @ts-expect-error 'view' returns Uint8Array, not Buffer
  await BrowserDB.open<Buffer, Buffer>('/tmp/f.bdb', { keyEncoding: 'view' })
  // @ts-expect-error 'buffer' values are not strings
  await BrowserDB.open('/tmp/f.bdb', { valueEncoding: 'buffer' })
  // @ts-expect-error unknown open option
  await BrowserDB.open('/tmp/f.bdb', { cachesize: 1 })
  // @ts-expect-error unknown compression
  await BrowserDB.open('/tmp/f.bdb', { compression: 'brotli' })
  // @ts-expect-error the constructor is private; use BrowserDB.open
  new BrowserDB()
}

// `await using` closes the database at the end of the scope (TypeScript 5.2+).
async function scoped(): Promise<string | undefined> {
  await using db = await BrowserDB.open('/tmp/scoped.bdb')
  const disposable: AsyncDisposable = db
  void disposable
  return db.get('k')
}

void main
void scoped

// stats() is typed.
async function statsAreTyped(db: BrowserDB): Promise<number> {
  const s = db.stats()
  // @ts-expect-error: counters are numbers
  const wrong: string = s.walWrites
  void wrong
  db.resizeCache(1 << 20)
  const hot: Array<{ key: string; heat: number }> = db.heatmap({ limit: 5 })
  // @ts-expect-error: resizeCache takes a number of bytes
  db.resizeCache('1MB')
  return s.lastSequence + s.cache.hits + s.cache.hot.entries + hot.length
}
void statsAreTyped

// ---- ordered reads: iterators, snapshots, clear ----
async function orderedReads(): Promise<void> {
  const db = await BrowserDB.open('/tmp/ordered.bdb')

  // iterator(): [key, value] pairs; keys(); values().
  const it = db.iterator({ gte: 'history:', lt: 'history;', reverse: true, limit: 10 })
  assertEqual<typeof it, Iterator<[string, string], string>>(true)
  const first = await it.next()
  assertEqual<typeof first, [string, string] | undefined>(true)
  if (first !== undefined) {
    const [key, value] = first
    expectType<string>(key)
    expectType<string>(value)
  }
  const page = await it.nextv(7)
  assertEqual<typeof page, [string, string][]>(true)
  const rest = await it.all()
  assertEqual<typeof rest, [string, string][]>(true)
  it.seek('history:100')
  it.seek(Buffer.from('history:100'), { keyEncoding: 'buffer' })
  const closed: Promise<void> = it.close()
  await closed
  for await (const [key, value] of db.iterator({ prefix: 'settings:' })) {
    expectType<string>(key)
    expectType<string>(value)
  }
  for await (const key of db.keys()) expectType<string>(key)
  for await (const value of db.values({ gt: '', lte: 'z' })) expectType<string>(value)
  const keyList = await db.keys({ limit: -1 }).all()
  assertEqual<typeof keyList, string[]>(true)
  const valueList = await db.values({ limit: Infinity }).all()
  assertEqual<typeof valueList, string[]>(true)
  await db.iterator()[Symbol.asyncDispose]()
  const iterable: AsyncIterable<[string, string]> = db.iterator()
  void iterable

  // keys / values flags: the switched-off part is undefined.
  const noValues = await db.iterator({ values: false }).next()
  assertEqual<typeof noValues, [string, undefined] | undefined>(true)
  const noKeys = await db.iterator({ keys: false }).all()
  assertEqual<typeof noKeys, [undefined, string][]>(true)
  const maybeKeys = await db.iterator({ keys: Math.random() > 0.5, valueEncoding: 'view' }).next()
  assertEqual<typeof maybeKeys, [string | undefined, Uint8Array] | undefined>(true)

  // Per-call encodings change the entry types, and the bound / seek types.
  const binIt = db.iterator({ keyEncoding: 'buffer', valueEncoding: 'json', gt: Buffer.from([0]) })
  const binFirst = await binIt.next()
  assertEqual<typeof binFirst, [Buffer, unknown] | undefined>(true)
  binIt.seek(Buffer.from([1]))
  const viewKeys = await db.keys({ keyEncoding: 'view' }).all()
  assertEqual<typeof viewKeys, Uint8Array[]>(true)
  const bufValues = await db.values({ valueEncoding: 'buffer' }).all()
  assertEqual<typeof bufValues, Buffer[]>(true)
  const viaVariable: IteratorOptions = { gte: 'a', reverse: false }
  const fromVariable = await db.iterator(viaVariable).all()
  assertEqual<typeof fromVariable, [string, string][]>(true)

  // range() and prefix() aliases.
  const ranged = await db.range('a', 'b').all()
  assertEqual<typeof ranged, [string, string][]>(true)
  const rangedBuf = await db.range('a', 'b', { valueEncoding: 'buffer', reverse: true }).all()
  assertEqual<typeof rangedBuf, [string, Buffer][]>(true)
  const prefixed = await db.prefix('history:', { limit: 5 }).next()
  assertEqual<typeof prefixed, [string, string] | undefined>(true)

  // Snapshots: pass to get, getSync, getMany, has and iterator.
  const snapshot: Snapshot = db.snapshot()
  const atSnap = await db.get('k', { snapshot })
  assertEqual<typeof atSnap, string | undefined>(true)
  const atSnapBuf = db.getSync('k', { snapshot, valueEncoding: 'buffer' })
  assertEqual<typeof atSnapBuf, Buffer | undefined>(true)
  const manyAtSnap = await db.getMany(['a', 'b'], { snapshot })
  assertEqual<typeof manyAtSnap, (string | undefined)[]>(true)
  const hasAtSnap: boolean = await db.has('a', { snapshot })
  void hasAtSnap
  const snapIt = db.keys({ snapshot, prefix: 'a' })
  assertEqual<typeof snapIt, Iterator<string, string>>(true)
  const readOpts: ReadOptions = { snapshot }
  void readOpts
  await snapshot.close()
  await db.snapshot()[Symbol.asyncDispose]()

  // clear()
  const cleared: Promise<void> = db.clear()
  await cleared
  await db.clear({ gte: 'a', lt: 'b', limit: 10, reverse: true })
  await db.clear({ prefix: Buffer.from([0xff]), keyEncoding: 'buffer' })
  const clearOpts: ClearOptions = { prefix: 'tmp:' }
  await db.clear(clearOpts)
  const range: RangeOptions = { gt: 'a', limit: 3 }
  await db.clear(range)

  // stats() counts live iterators and snapshots.
  const stats: Stats = db.stats()
  const live: number = stats.liveIterators + stats.liveSnapshots
  void live

  // Typed databases.
  const bookmarks = await BrowserDB.open<string, Bookmark>('/tmp/b2.bdb', { valueEncoding: 'json' })
  for await (const [url, bm] of bookmarks.iterator({ prefix: 'bm:' })) {
    expectType<string>(url)
    expectType<string[]>(bm.tags)
  }
  const bmValues = await bookmarks.values().all()
  assertEqual<typeof bmValues, Bookmark[]>(true)
  const bin = await BrowserDB.open<Buffer, Buffer>('/tmp/c2.bdb', { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const binEntries = await bin.iterator({ gte: Buffer.from([0]), lt: Buffer.from([0xff]) }).all()
  assertEqual<typeof binEntries, [Buffer, Buffer][]>(true)
  const binKeys = bin.keys()
  binKeys.seek(Buffer.from([1]))
  await bin.clear({ prefix: Buffer.from([0xff]) })

  // ---- wrong usage must not compile ----
  // @ts-expect-error seek with a number on a string-keyed db
  it.seek(5)
  // @ts-expect-error seek with a string on a Buffer-keyed db
  binKeys.seek('a')
  // @ts-expect-error number bound under the default 'utf8' keys
  db.iterator({ gt: 5 })
  // @ts-expect-error string bound when keyEncoding is 'buffer'
  db.keys({ keyEncoding: 'buffer', lt: 'a' })
  // @ts-expect-error string bound on a Buffer-keyed db
  bin.iterator({ prefix: 'a' })
  // @ts-expect-error reverse is a boolean
  db.iterator({ reverse: 'yes' })
  // @ts-expect-error limit is a number
  db.values({ limit: '10' })
  // @ts-expect-error unknown encoding
  db.iterator({ valueEncoding: 'hex' })
  // @ts-expect-error unknown (misspelt) iterator option
  db.iterator({ gte: 'a', revrese: true })
  // @ts-expect-error unknown clear option
  await db.clear({ prefix: 'a', limt: 1 })
  // @ts-expect-error unknown option of keys()
  db.keys({ start: 'a' })
  // @ts-expect-error a snapshot must come from db.snapshot()
  await db.get('k', { snapshot: {} })
  // @ts-expect-error a snapshot must come from db.snapshot(), not look like one
  db.iterator({ snapshot: { close: async () => {} } })
  // @ts-expect-error next() may resolve to undefined
  const mustBePair: [string, string] = await db.iterator().next()
  void mustBePair
  // @ts-expect-error keys() yields strings, not pairs
  const notPairs: [string, string][] = await db.keys().all()
  void notPairs
  // @ts-expect-error nextv needs a size
  await db.iterator().nextv()
  // @ts-expect-error seek is synchronous: it returns void
  await db.iterator().seek('a').then(() => {})
  // @ts-expect-error clear() takes no keys/values flags
  await db.clear({ values: false })
  // @ts-expect-error clear() takes no snapshot
  await db.clear({ snapshot })
  // @ts-expect-error clear() bound of the wrong type
  await db.clear({ gte: 1 })
  // @ts-expect-error range() sets the bounds itself
  db.range('a', 'b', { gte: 'c' })
  // @ts-expect-error range() needs string bounds on a string-keyed db
  db.range(1, 2)
  // @ts-expect-error stats counters are numbers
  const wrongLive: string = stats.liveIterators
  void wrongLive
  // @ts-expect-error the Iterator constructor is private
  new Iterator()
  // @ts-expect-error the Snapshot constructor is private
  new Snapshot()
}
void orderedReads

// ---- compaction: compact(), compression, compactionStyle, level stats ----
async function compaction(): Promise<void> {
  const db = await BrowserDB.open('/tmp/compaction.bdb', { compression: 'zstd', compactionStyle: 'tiered', writeBufferSize: 65536 })
  for (const compression of ['lz4', 'zstd', 'zlib', 'none'] as const) {
    const c: Compression = compression
    await BrowserDB.open('/tmp/compaction.bdb', { compression: c })
  }
  const style: CompactionStyle = 'leveled'
  await BrowserDB.open('/tmp/compaction.bdb', { compactionStyle: style })

  // compact(): everything, or the tables of a range.
  const done: Promise<void> = db.compact()
  await done
  await db.compact({})
  await db.compact({ prefix: 'history:' })
  await db.compact({ gte: 'a', lt: 'b' })
  await db.compact({ gt: 'a', lte: 'b' })
  await db.compact({ gt: Buffer.from([0]), keyEncoding: 'buffer' })
  const range: CompactOptions = { prefix: 'tmp:' }
  await db.compact(range)
  const bin = await BrowserDB.open<Buffer, Buffer>('/tmp/c3.bdb', { keyEncoding: 'buffer', valueEncoding: 'buffer', compression: 'none' })
  await bin.compact({ prefix: Buffer.from([0xff]) })

  // stats(): levels and amplification.
  const s: Stats = db.stats()
  const levels: LevelStats[] = s.levels
  const l0: number = levels[0].tables + levels[0].bytes
  void l0
  const counters: number[] = [
    s.compactions, s.userBytesWritten, s.flushBytesWritten, s.compactionBytesWritten, s.writeAmplification,
    s.diskBytes, s.tableMetadataBytes, s.liveBytesEstimate, s.spaceAmplification, s.writeSlowdowns, s.writeStops,
  ]
  void counters

  // ---- wrong usage must not compile ----
  // @ts-expect-error unknown compactionStyle
  await BrowserDB.open('/tmp/f.bdb', { compactionStyle: 'universal' })
  // @ts-expect-error compression is a string
  await BrowserDB.open('/tmp/f.bdb', { compression: true })
  // @ts-expect-error compact() takes an options object
  await db.compact(5)
  // @ts-expect-error compact() has no limit
  await db.compact({ limit: 1 })
  // @ts-expect-error compact() has no reverse
  await db.compact({ prefix: 'a', reverse: true })
  // @ts-expect-error compact() takes no snapshot
  await db.compact({ snapshot: db.snapshot() })
  // @ts-expect-error compact() bound of the wrong type
  await db.compact({ gte: 1 })
  // @ts-expect-error string bound on a Buffer-keyed db
  await bin.compact({ prefix: 'a' })
  // @ts-expect-error compact() resolves to nothing
  const notCount: number = await db.compact()
  void notCount
  // @ts-expect-error level counters are numbers
  const wrongLevel: string = s.levels[0].tables
  void wrongLevel
  // @ts-expect-error writeAmplification is a number
  const wrongWA: string = s.writeAmplification
  void wrongWA
}
void compaction

// ttl on put, batch ops and the chained put.
async function ttlIsTyped(db: BrowserDB): Promise<void> {
  await db.put('session', 'token', { ttl: 60_000 })
  await db.batch([{ type: 'put', key: 'a', value: 'b', ttl: 1000 }])
  // @ts-expect-error: ttl is a number of milliseconds
  await db.put('session', 'token', { ttl: '1m' })
}
void ttlIsTyped

// ultra mode.
async function ultraIsTyped(): Promise<void> {
  const db = await BrowserDB.open('/tmp/x', { mode: 'ultra', maxMemory: 64 << 20 })
  const m: 'persistent' | 'ultra' = db.mode
  const bytes: number = db.stats().memoryBytes
  void m
  void bytes
  // @ts-expect-error: no such mode
  await BrowserDB.open('/tmp/x', { mode: 'ram' })
}
void ultraIsTyped

// setMode.
async function setModeIsTyped(db: BrowserDB): Promise<void> {
  await db.setMode('ultra', { maxMemory: 1 << 26 })
  await db.setMode('persistent', { location: '/tmp/saved' })
  // @ts-expect-error: location applies to 'persistent' only
  await db.setMode('ultra', { location: '/tmp/x' })
}
void setModeIsTyped

// Secondary indexes.
async function indexesAreTyped(): Promise<void> {
  const history = await BrowserDB.open<string, { url: string; lastVisit: number }>('/tmp/h.bdb', { valueEncoding: 'json' })
  await history.createIndex('byVisit', { prefix: 'history:', field: 'lastVisit', onProgress: (p) => void p.keysIndexed })
  const index: Index<string, { url: string; lastVisit: number }> = history.index('byVisit')
  for await (const [at, key, visit] of index.iterator({ reverse: true, limit: 20 })) {
    expectType<IndexedValue>(at)
    expectType<string>(key)
    expectType<number>(visit.lastVisit)
  }
  const keys: string[] = await index.keys({ gte: 0 }).all()
  void keys
  const n: number = await index.count({ gte: 'a', lt: 'b' })
  void n
  const listed: IndexInfo[] = history.indexes()
  void listed
  await history.dropIndex('byVisit')
  // @ts-expect-error: field is required
  await history.createIndex('x', { prefix: 'a' })
  // @ts-expect-error: bounds are JSON scalars
  index.iterator({ gt: { a: 1 } })
}
void indexesAreTyped

// Maintenance: verify, repair, backup/restore, export/import, and the events.
async function maintenanceIsTyped(db: BrowserDB, bin: BrowserDB<Buffer, Buffer>): Promise<void> {
  const verified: VerifyReport = await db.verify({ onProgress: (p: Progress) => void (p.done / p.total) })
  const ok: boolean = verified.ok
  const problem: Problem | undefined = verified.problems[0]
  if (problem !== undefined) {
    const kind: ProblemKind = problem.kind
    const where: string = `${problem.file}@${problem.offset}: ${problem.message}`
    void kind
    void where
  }
  void ok
  const repaired: RepairReport = await BrowserDB.repair('/tmp/profile.bdb')
  const lost: string[] = repaired.lost
  void lost
  const backedUp: BackupReport = await db.backup('/tmp/backup', { onProgress: () => {} })
  const reused: number = backedUp.tablesReused + backedUp.bytesCopied
  void reused
  const restored: RestoreReport = await BrowserDB.restore('/tmp/backup', '/tmp/restored', { onProgress: ({ done }) => void done })
  expectType<number>(restored.tables)
  const exported: ExchangeReport = await db.export('/tmp/out.ndjson')
  await db.export('/tmp/out.bdb', { format: 'bdb', onProgress: (p) => void p.done })
  const imported: ExchangeReport = await bin.import('/tmp/out.bdb', { format: 'bdb' })
  await db.import('/tmp/out.ndjson')
  expectType<number>(exported.entries + imported.bytes)
  const format: ExchangeFormat = 'ndjson'
  void format

  db.on('write', (ops) => {
    for (const op of ops) {
      expectType<'put' | 'del'>(op.type)
      expectType<string>(op.key)
      if (op.type === 'put') expectType<string>(op.value)
    }
  })
  bin.on('write', (ops: WriteEventOperation<Buffer, Buffer>[]) => void ops)
  db.on('flush', (info: FlushEvent) => void (info.table + info.bytes + info.entries))
  db.once('compaction', (info) => {
    const total: number = info.inputTables + info.inputBytes + info.outputTables + info.outputBytes + info.outputLevel
    void total
  })
  const listener = (info: CompactionEvent): void => void info
  db.on('compaction', listener).off('compaction', listener)
  db.on('some-other-event', (a: number, b: string) => void [a, b])
  assertEqual<BrowserDBEvents['flush'], FlushEvent>(true)
  const emitter: import('node:events').EventEmitter = db
  void emitter

  // @ts-expect-error: no such export format
  await db.export('/tmp/out.csv', { format: 'csv' })
  // @ts-expect-error: no such import format
  await db.import('/tmp/in.csv', { format: 'json' })
  // @ts-expect-error: onProgress is a function
  await db.verify({ onProgress: true })
  // @ts-expect-error: verify takes no format
  await db.verify({ format: 'ndjson' })
  // @ts-expect-error: repair is static
  await db.repair('/tmp/profile.bdb')
  // @ts-expect-error: restore needs a location
  await BrowserDB.restore('/tmp/backup')
  // @ts-expect-error: a flush event carries numbers
  db.on('flush', (info: { table: string }) => void info)
  // @ts-expect-error: write listeners get an array of operations
  db.on('write', (op: WriteEventOperation) => void op)
  // @ts-expect-error: ok is a boolean
  const notOk: string = verified.ok
  void notOk
}
void maintenanceIsTyped

// ------------------------------------------------------------------------------------------
// browserdb/level: BrowserLevel is an abstract-level database with BrowserDB's open options.
import { BrowserLevel, BrowserLevelOpenOptions, BrowserLevelPutOptions } from '../../level'
import { AbstractSublevel, AbstractIterator } from 'abstract-level'

async function levelIsTyped(): Promise<void> {
  const db = new BrowserLevel('/tmp/level.bdb')
  // (abstract-level's `typeof this` typing makes no subclass assignable to AbstractLevel<...>
  // itself; Level tools such as level-read-stream are generic over the database type instead.)
  expectType<string>(db.location)
  expectType<BrowserDB<any, any> | null>(db.browserdb)
  expectType<'opening' | 'open' | 'closing' | 'closed'>(db.status)
  await db.open({ createIfMissing: false, writeBufferSize: 1 << 20 })
  await db.put('a', '1')
  await db.put('a', '1', { sync: true, ttl: 1000 })
  await db.del('a', { sync: true })
  await db.batch([{ type: 'put', key: 'a', value: '1' }, { type: 'del', key: 'b' }], { sync: true })
  await db.batch().put('a', '1').del('b').write()
  const value = await db.get('a')
  assertEqual<typeof value, string | undefined>(true)
  const synced = db.getSync('a')
  assertEqual<typeof synced, string | undefined>(true)
  const many = await db.getMany(['a', 'b'])
  assertEqual<typeof many, (string | undefined)[]>(true)
  expectType<boolean>(await db.has('a'))
  const bytes = await db.get('a', { valueEncoding: 'buffer' })
  void bytes
  const it = db.iterator({ gte: 'a', lt: 'b', reverse: true, limit: 10 })
  expectType<AbstractIterator<typeof db, string, string>>(it)
  for await (const [k, v] of it) expectType<[string, string]>([k, v])
  const snapshot = db.snapshot()
  await db.get('a', { snapshot })
  await snapshot.close()

  // Generics: JSON values, Buffer keys.
  const json = new BrowserLevel<string, Bookmark>('/tmp/level-json.bdb', { valueEncoding: 'json', cacheSize: 1 << 24 })
  await json.put('b:1', { url: 'https://example.com', title: 'Example', tags: [] })
  const bookmark = await json.get('b:1')
  assertEqual<typeof bookmark, Bookmark | undefined>(true)
  const bin = new BrowserLevel<Buffer, Buffer>('/tmp/level-bin.bdb', { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await bin.put(Buffer.from([1]), Buffer.from([2]))

  // Sublevels.
  const sub = db.sublevel<string, Bookmark>('bookmarks', { valueEncoding: 'json' })
  expectType<AbstractSublevel<typeof db, string | Buffer | Uint8Array, string, Bookmark>>(sub)
  const fromSub = await sub.get('1')
  assertEqual<typeof fromSub, Bookmark | undefined>(true)

  const ultra: BrowserLevelOpenOptions = { mode: 'ultra', maxMemory: 64 << 20 }
  void ultra
  const putOptions: BrowserLevelPutOptions<string, string> = { ttl: 5 }
  void putOptions

  // @ts-expect-error: the location is required
  void new BrowserLevel()
  // @ts-expect-error: no such compression
  void new BrowserLevel('/tmp/x', { compression: 'brotli' })
  // @ts-expect-error: no such mode
  await db.open({ mode: 'fast' })
  // @ts-expect-error: a JSON database's values are Bookmarks
  await json.put('b:2', 'not a bookmark')
  // @ts-expect-error: ttl is a number of milliseconds
  await db.put('a', '1', { ttl: '1s' })
  // @ts-expect-error: Buffer keys by default
  await bin.put('a', Buffer.from([2]))
  // @ts-expect-error: sync is a boolean
  await db.del('a', { sync: 'yes' })
}
void levelIsTyped
