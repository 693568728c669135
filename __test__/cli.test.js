'use strict'
// The command line (bin/browserdb.js), run as a child process against temp databases:
// output on stdout (text and --json), errors on stderr, exit codes 0 / 1 / 2.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { BrowserDB } = require('..')
const { ROOT, tmpDir, openDb } = require('./helpers')
const { keyFor, valueFor } = require('./helpers/data')

const BIN = path.join(ROOT, 'bin', 'browserdb.js')

/** Runs the CLI; returns { status, stdout, stderr }. */
function cli (...args) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30000 })
  if (r.error) throw r.error
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Runs the CLI expecting exit 0 and an empty stderr; returns stdout. */
function ok (...args) {
  const r = cli(...args)
  assert.equal(r.status, 0, `browserdb ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  assert.equal(r.stderr, '', 'nothing on stderr (no progress bar without a terminal)')
  return r.stdout
}

/** Runs the CLI with --json expecting exit 0; returns the parsed stdout. */
function okJson (...args) {
  return JSON.parse(ok(...args, '--json'))
}

function lines (text) {
  return text.split('\n').filter((line) => line !== '')
}

/**
 * A closed database: 'a' keys compacted into one table, 'b' keys in another, plus a binary
 * value and a value with a newline.
 */
async function seed (t, location = path.join(tmpDir(t), 'db')) {
  const db = await BrowserDB.open(location, { writeBufferSize: 64 * 1024 })
  for (let i = 0; i < 1500; i += 100) {
    const ops = []
    for (let j = i; j < i + 100; j++) ops.push({ type: 'put', key: keyFor('a', j), value: valueFor('a', j) })
    await db.batch(ops)
  }
  await db.compact()
  await db.close()
  // The rest lands in one level-0 table (flushed at close): no compaction is due when the CLI
  // opens the database, so its tables stay as they are between two commands.
  const more = await BrowserDB.open(location, { writeBufferSize: 1024 * 1024 })
  for (let j = 0; j < 200; j++) await more.put(keyFor('b', j), valueFor('b', j))
  await more.put('c:binary', Buffer.from([0, 1, 0xfe, 0xff]), { valueEncoding: 'buffer' })
  await more.put('c:newline', 'two\nlines')
  await more.close()
  return location
}

const ENTRIES = 1500 + 200 + 2

/** The .sst files of `dir`, largest first. */
function largestTable (dir) {
  return fs.readdirSync(dir)
    .filter((name) => name.endsWith('.sst'))
    .map((name) => ({ name, size: fs.statSync(path.join(dir, name)).size }))
    .sort((a, b) => b.size - a.size)[0].name
}

function flipByte (file, offset) {
  const bytes = fs.readFileSync(file)
  bytes[offset] ^= 0xff
  fs.writeFileSync(file, bytes)
}

test('stats prints the engine counters, as text and as JSON', async (t) => {
  const location = await seed(t)
  const stats = okJson('stats', location)
  assert.ok(stats.tables >= 2, JSON.stringify(stats))
  assert.equal(stats.levels.length, 7)
  assert.equal(typeof stats.cache.hitRate, 'number')
  const text = ok('stats', location)
  assert.match(text, /^tables\s+\d+$/m)
  assert.match(text, /^cache\.hitRate\s+/m)
})

test('dump prints every entry in key order; --prefix, --limit and --json', async (t) => {
  const location = await seed(t)
  const all = lines(ok('dump', location))
  assert.equal(all.length, ENTRIES)
  assert.equal(all[0], `${keyFor('a', 0)}\t${valueFor('a', 0)}`)
  assert.ok(all.includes('c:binary\thex:0001feff'), 'a binary value prints as hex')
  assert.ok(all.includes(`c:newline\thex:${Buffer.from('two\nlines').toString('hex')}`), 'a newline never breaks a line')

  const b = lines(ok('dump', location, '--prefix', 'b:'))
  assert.equal(b.length, 200)
  assert.ok(b.every((line) => line.startsWith('b:')))
  assert.deepEqual(lines(ok('dump', location, '--prefix=b:', '--limit', '3')), b.slice(0, 3))
  assert.deepEqual(lines(ok('dump', location, '--limit=0')), [])
  assert.deepEqual(lines(ok('dump', location, '--prefix', Buffer.from('c:').toString('hex'), '--hex')), all.slice(-2))

  const json = lines(ok('dump', location, '--prefix', 'c:', '--json')).map((line) => JSON.parse(line))
  assert.deepEqual(json, [
    { key: 'c:binary', value: Buffer.from([0, 1, 0xfe, 0xff]).toString('base64'), valueEncoding: 'base64' },
    { key: 'c:newline', value: 'two\nlines' }
  ])
})

test('get prints one value; a missing key exits 1 with BROWSERDB_NOT_FOUND', async (t) => {
  const location = await seed(t)
  assert.equal(ok('get', location, keyFor('b', 7)), valueFor('b', 7) + '\n')
  assert.equal(ok('get', location, 'c:binary'), 'hex:0001feff\n')
  assert.equal(ok('get', location, Buffer.from('c:newline').toString('hex'), '--hex'), `hex:${Buffer.from('two\nlines').toString('hex')}\n`)
  assert.deepEqual(okJson('get', location, 'c:newline'), { key: 'c:newline', value: 'two\nlines' })
  const missing = cli('get', location, 'no-such-key')
  assert.equal(missing.status, 1)
  assert.equal(missing.stdout, '')
  assert.match(missing.stderr, /^error: .*no-such-key.* \(BROWSERDB_NOT_FOUND\)\n$/)
  const missingJson = cli('get', location, 'no-such-key', '--json')
  assert.equal(missingJson.status, 1)
  assert.equal(JSON.parse(missingJson.stdout).error.code, 'BROWSERDB_NOT_FOUND')
})

test('verify exits 0 on a sound database and 1 with the problem listed on a damaged one', async (t) => {
  const location = await seed(t)
  assert.match(ok('verify', location), /^ok: /)
  const sound = okJson('verify', location)
  assert.equal(sound.ok, true)
  assert.deepEqual(sound.problems, [])

  const damaged = largestTable(location)
  flipByte(path.join(location, damaged), 100)
  const text = cli('verify', location)
  assert.equal(text.status, 1)
  assert.ok(text.stdout.includes(damaged), text.stdout)
  assert.match(text.stdout, /checksum/)
  const json = cli('verify', location, '--json')
  assert.equal(json.status, 1)
  const report = JSON.parse(json.stdout)
  assert.equal(report.ok, false)
  assert.ok(report.problems.some((p) => p.file === damaged && p.kind === 'checksum'), json.stdout)
})

test('repair moves the damaged table aside; the database verifies again', async (t) => {
  const location = await seed(t)
  const damaged = largestTable(location)
  flipByte(path.join(location, damaged), 100)
  const report = okJson('repair', location)
  assert.deepEqual(report.lost, [`lost/${damaged}`])
  assert.ok(fs.existsSync(path.join(location, 'lost', damaged)))
  assert.equal(okJson('verify', location).ok, true)
  assert.equal(ok('get', location, keyFor('b', 199)), valueFor('b', 199) + '\n')
  assert.match(ok('repair', location), /^repaired: /)
})

test('backup and restore: incremental, and the restored copy dumps the same', async (t) => {
  const root = tmpDir(t)
  const location = await seed(t, path.join(root, 'db'))
  const backupDir = path.join(root, 'backup')
  const first = okJson('backup', location, backupDir)
  assert.equal(first.tablesReused, 0)
  assert.ok(first.tablesCopied >= 2)
  const second = okJson('backup', location, backupDir)
  assert.equal(second.tablesCopied, 0)
  assert.equal(second.tablesReused, second.tables)
  assert.equal(second.bytesCopied, 0)
  assert.match(ok('backup', location, backupDir), /reused/)

  const restored = path.join(root, 'restored')
  assert.equal(okJson('restore', backupDir, restored).tables, first.tables)
  assert.equal(ok('dump', restored), ok('dump', location))
  const again = cli('restore', backupDir, restored)
  assert.equal(again.status, 1)
  assert.match(again.stderr, /\(BROWSERDB_EXISTS\)/)
})

test('export and import, ndjson and bdb; a bad file exits 1 and imports nothing', async (t) => {
  const root = tmpDir(t)
  const location = await seed(t, path.join(root, 'db'))
  const expected = ok('dump', location)

  const ndjson = path.join(root, 'out.ndjson')
  assert.deepEqual(okJson('export', location, ndjson), { entries: ENTRIES, bytes: fs.statSync(ndjson).size, format: 'ndjson' })
  assert.equal(lines(fs.readFileSync(ndjson, 'utf8')).length, ENTRIES)
  const bdb = path.join(root, 'out.bdb')
  assert.equal(okJson('export', location, bdb).format, 'bdb', 'the format follows the extension')
  const forced = path.join(root, 'forced.data')
  assert.equal(okJson('export', location, forced, '--format', 'bdb').format, 'bdb')
  assert.equal(fs.readFileSync(forced).subarray(0, 8).equals(fs.readFileSync(bdb).subarray(0, 8)), true, 'same magic')

  for (const [name, file] of [['from-ndjson', ndjson], ['from-bdb', bdb], ['from-forced', forced]]) {
    const copy = path.join(root, name)
    const args = file === forced ? ['--format', 'bdb'] : []
    assert.equal(okJson('import', copy, file, ...args).entries, ENTRIES)
    assert.equal(ok('dump', copy), expected, name)
  }
  assert.match(ok('export', location, path.join(root, 'text.ndjson')), /^exported \d+ entries/)

  const bad = path.join(root, 'bad.ndjson')
  const good = lines(fs.readFileSync(ndjson, 'utf8'))
  fs.writeFileSync(bad, [...good.slice(0, 10), 'not json', ...good.slice(10, 20)].join('\n') + '\n')
  const target = path.join(root, 'from-ndjson')
  const failed = cli('import', target, bad)
  assert.equal(failed.status, 1)
  assert.match(failed.stderr, /^error: .* \(BROWSERDB_CORRUPTION\)\n$/)
  assert.equal(ok('dump', target), expected)
  const fresh = path.join(root, 'fresh')
  assert.equal(cli('import', fresh, bad).status, 1)
  assert.equal(fs.existsSync(fresh), false, 'a failed import into a new directory leaves nothing behind')
})

test('usage errors exit 2 and print nothing on stdout', async (t) => {
  const location = await seed(t)
  const cases = [
    [],
    ['frobnicate', location],
    ['dump'],
    ['get', location],
    ['backup', location],
    ['stats', location, 'extra'],
    ['dump', location, '--bogus'],
    ['dump', location, '-x'],
    ['stats', location, '--prefix', 'a'],
    ['dump', location, '--limit', 'ten'],
    ['dump', location, '--limit'],
    ['dump', location, '--prefix', 'zz', '--hex'],
    ['export', location, path.join(location, 'x'), '--format', 'csv'],
    ['verify', location, '--json=yes']
  ]
  for (const args of cases) {
    const r = cli(...args)
    assert.equal(r.status, 2, `browserdb ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
    assert.equal(r.stdout, '', args.join(' '))
    assert.match(r.stderr, /^error: /, args.join(' '))
  }
})

test('a missing database is an error (exit 1, with its code), never created', async (t) => {
  const root = tmpDir(t)
  const missing = path.join(root, 'absent')
  for (const args of [['stats', missing], ['verify', missing], ['dump', missing], ['get', missing, 'k'],
    ['backup', missing, path.join(root, 'b')], ['export', missing, path.join(root, 'x.ndjson')], ['repair', missing],
    ['restore', path.join(root, 'no-backup'), path.join(root, 'r')]]) {
    const r = cli(...args)
    assert.equal(r.status, 1, `browserdb ${args.join(' ')} exited ${r.status}`)
    assert.match(r.stderr, /^error: .+ \(BROWSERDB_[A-Z_]+\)\n$/, args.join(' '))
    assert.match(r.stderr, /BROWSERDB_NOT_FOUND/, args.join(' '))
  }
  assert.deepEqual(fs.readdirSync(root), [])
  const json = cli('stats', missing, '--json')
  assert.equal(JSON.parse(json.stdout).error.code, 'BROWSERDB_NOT_FOUND')
})

test('a database open elsewhere is reported as BROWSERDB_LOCKED', async (t) => {
  const location = await seed(t)
  await openDb(t, BrowserDB, location)
  const r = cli('stats', location)
  assert.equal(r.status, 1)
  assert.match(r.stderr, /\(BROWSERDB_LOCKED\)/)
})

test('help, --help and --version', () => {
  const { version } = require('../package.json')
  const help = ok('help')
  assert.match(help, /^Usage: browserdb/)
  for (const command of ['stats', 'verify', 'repair', 'dump', 'get', 'backup', 'restore', 'export', 'import']) {
    assert.match(help, new RegExp(`^  ${command} `, 'm'))
  }
  assert.equal(ok('--help'), help)
  assert.equal(ok('dump', '-h'), help)
  assert.equal(ok('--version'), version + '\n')
  assert.deepEqual(okJson('--version'), { version })
  const mode = fs.statSync(BIN).mode
  assert.ok(mode & 0o111, 'bin/browserdb.js is executable')
  assert.match(fs.readFileSync(BIN, 'utf8'), /^#!\/usr\/bin\/env node\n/)
})

test('a progress bar appears only when a person watches (stdout and stderr are terminals)', async (t) => {
  // `script` (util-linux) runs the CLI under a pseudo-terminal, as a person's shell would.
  const probe = spawnSync('script', ['--version'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) {
    t.skip('util-linux `script` is not installed: no pseudo-terminal to run the CLI in')
    return
  }
  const location = path.join(tmpDir(t), 'db')
  const db = await openDb(t, BrowserDB, location)
  for (let i = 0; i < 200; i++) await db.put(keyFor(i), valueFor(i))
  await db.close()
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} verify ${JSON.stringify(location)}`
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 30000 })
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /verify \[#+-*\] \d+%/, 'the bar is drawn on the terminal')
  assert.match(r.stdout, /ok: 1 tables?, 200 entries/, 'the report follows the cleared bar')
  // Redirected (the other tests): no bar, nothing on stderr.
  assert.equal(cli('verify', location).stderr, '')
})

test('read commands open read-only: the directory is byte for byte as it was, WAL included', async (t) => {
  const location = path.join(tmpDir(t), 'db')
  // A writer that exits without closing leaves its last writes only in the WAL.
  const child = spawnSync(process.execPath, [path.join(ROOT, '__test__', 'fixtures', 'write-then-exit.js'), location, '1'], { encoding: 'utf8', timeout: 60000 })
  assert.equal(child.status, 0, child.stderr)
  const snapshot = () => Object.fromEntries(fs.readdirSync(location).sort().map((name) => {
    const file = path.join(location, name)
    return [name, fs.statSync(file).isFile() ? fs.readFileSync(file).toString('base64') : 'dir']
  }))
  const before = snapshot()
  assert.ok(Object.keys(before).some((name) => name.endsWith('.wal') && before[name].length > 0), 'unflushed writes in a WAL')
  const out = path.join(tmpDir(t), 'export.ndjson')
  okJson('stats', location)
  ok('verify', location)
  ok('dump', location, '--limit', '5')
  ok('export', location, out)
  assert.ok(fs.statSync(out).size > 0)
  assert.deepEqual(snapshot(), before, 'no file created, changed or removed')
  // The API refuses writes on a read-only database, and says why.
  const db = await openDb(t, BrowserDB, location, { readOnly: true })
  await assert.rejects(db.put('k', 'v'), (err) => err.code === 'BROWSERDB_INVALID_ARGUMENT' && /read-only/.test(err.message))
  await db.close()
  assert.deepEqual(snapshot(), before)
})
