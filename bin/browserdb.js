#!/usr/bin/env node
'use strict'
// The browserdb command line: inspect, check, repair, back up and move databases.
// Exit codes: 0 success, 1 failure (or problems found by verify), 2 usage error.

const fs = require('node:fs')
const path = require('node:path')
const { BrowserDB } = require(path.join(__dirname, '..'))
const { version } = require(path.join(__dirname, '..', 'package.json'))

const USAGE = `Usage: browserdb <command> [options]

Commands:
  stats   <dir>                      engine counters of the database
  verify  <dir>                      check every byte (exit 1 if anything is wrong)
  repair  <dir>                      rebuild from what is intact; damaged files go to <dir>/lost/
  dump    <dir> [--prefix P] [--limit N]
                                     print entries in key order, one per line (key<TAB>value)
  get     <dir> <key>                print the value of one key
  backup  <dir> <backupDir>          incremental, consistent backup
  restore <backupDir> <dir>          restore a backup into a new (absent or empty) directory
  export  <dir> <file> [--format ndjson|bdb]
                                     write every entry to a file (format from the .bdb/.ndjson
                                     extension, else ndjson)
  import  <dir> <file> [--format ndjson|bdb]
                                     add every entry of an export file, atomically
  inspect <dir> [--port N]           serve a live read-only web page of the database on
                                     127.0.0.1 (URL with a secret token printed); Ctrl-C stops
  help                               this text

Options:
  --json        machine-readable JSON on stdout (dump: NDJSON, one entry per line)
  --hex         <key> and --prefix are given in hex (for binary keys)
  --help, -h    this text
  --version     the browserdb version

Keys and values print as text when they are printable UTF-8, else as hex:<bytes>.
Put -- before a <key> that starts with '-'.`

/** Each command: positional argument names and the options it takes beyond the global ones. */
const COMMANDS = {
  stats: { args: ['dir'], options: [] },
  verify: { args: ['dir'], options: [] },
  repair: { args: ['dir'], options: [] },
  dump: { args: ['dir'], options: ['prefix', 'limit', 'hex'] },
  get: { args: ['dir', 'key'], options: ['hex'] },
  backup: { args: ['dir', 'backupDir'], options: [] },
  restore: { args: ['backupDir', 'dir'], options: [] },
  export: { args: ['dir', 'file'], options: ['format'] },
  import: { args: ['dir', 'file'], options: ['format'] },
  inspect: { args: ['dir'], options: ['port'] }
}
const FLAGS = new Set(['json', 'hex', 'help', 'version'])
const VALUED = new Set(['prefix', 'limit', 'format', 'port'])
const GLOBAL_OPTIONS = ['json', 'help', 'version']

class UsageError extends Error {}

// ------------------------------------------------------------------------------------------
// Arguments

/** Splits argv into positionals and options ({ name: value | true }); throws UsageError. */
function parseArgv (argv) {
  const positionals = []
  const options = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (arg === '-h') {
      options.help = true
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = arg.slice(2, eq === -1 ? undefined : eq)
      if (FLAGS.has(name)) {
        if (eq !== -1) throw new UsageError(`option --${name} takes no value`)
        options[name] = true
      } else if (!VALUED.has(name)) {
        throw new UsageError(`unknown option --${name}`)
      } else {
        if (eq === -1 && i + 1 >= argv.length) throw new UsageError(`option --${name} needs a value`)
        options[name] = eq === -1 ? argv[++i] : arg.slice(eq + 1)
      }
    } else if (arg.startsWith('-') && arg.length > 1) {
      throw new UsageError(`unknown option ${arg}`)
    } else {
      positionals.push(arg)
    }
  }
  return { positionals, options }
}

/** The command, its named arguments and checked options; throws UsageError. */
function parseCommand (argv) {
  const { positionals, options } = parseArgv(argv)
  const name = positionals[0]
  if (options.help || options.version || name === 'help') return { name: options.version && !options.help ? 'version' : 'help', options }
  if (name === undefined) throw new UsageError('missing command')
  const spec = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : null
  if (spec === null) throw new UsageError(`unknown command '${name}'`)
  for (const option of Object.keys(options)) {
    if (!GLOBAL_OPTIONS.includes(option) && !spec.options.includes(option)) {
      throw new UsageError(`unknown option --${option} for '${name}'`)
    }
  }
  const values = positionals.slice(1)
  if (values.length < spec.args.length) throw new UsageError(`'${name}' needs <${spec.args[values.length]}>`)
  if (values.length > spec.args.length) throw new UsageError(`unexpected argument '${values[spec.args.length]}'`)
  const args = {}
  spec.args.forEach((arg, i) => { args[arg] = values[i] })
  checkOptionValues(options)
  return { name, args, options }
}

function checkOptionValues (options) {
  if (options.limit !== undefined && !/^\d+$/.test(options.limit)) {
    throw new UsageError('--limit must be a whole number')
  }
  if (options.port !== undefined && (!/^\d+$/.test(options.port) || Number(options.port) > 65535)) {
    throw new UsageError('--port must be a number from 0 to 65535')
  }
  if (options.format !== undefined && options.format !== 'ndjson' && options.format !== 'bdb') {
    throw new UsageError("--format must be 'ndjson' or 'bdb'")
  }
  if (options.hex && options.prefix !== undefined && !isHex(options.prefix)) throw new UsageError('--prefix is not hex')
}

function isHex (text) {
  return text.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(text)
}

/** A key or prefix given on the command line, as bytes. */
function keyBytes (text, hex) {
  if (hex && !isHex(text)) throw new UsageError(`'${text}' is not hex`)
  return Buffer.from(text, hex ? 'hex' : 'utf8')
}

// ------------------------------------------------------------------------------------------
// Output

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The text of `bytes` if they are valid UTF-8, else undefined. */
function asUtf8 (bytes) {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** Text safe for a terminal line: printable UTF-8 as is, anything else as hex:<bytes>. */
function printable (bytes) {
  const text = asUtf8(bytes)
  // eslint-disable-next-line no-control-regex
  if (text !== undefined && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(text) && !text.startsWith('hex:')) return text
  return 'hex:' + Buffer.from(bytes).toString('hex')
}

/** An entry as an NDJSON object of the export format (base64 where not UTF-8). */
function jsonEntry (key, value) {
  const entry = {}
  const k = asUtf8(key)
  entry.key = k === undefined ? Buffer.from(key).toString('base64') : k
  if (k === undefined) entry.keyEncoding = 'base64'
  if (value !== undefined) {
    const v = asUtf8(value)
    entry.value = v === undefined ? Buffer.from(value).toString('base64') : v
    if (v === undefined) entry.valueEncoding = 'base64'
  }
  return entry
}

function out (line) {
  process.stdout.write(line + '\n')
}

function formatBytes (n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`
}

/** Lines `name  value` for every number in a (nested) object, names dotted. */
function flatten (object, prefix = '', lines = []) {
  for (const [name, value] of Object.entries(object)) {
    const label = prefix + name
    if (value !== null && typeof value === 'object') flatten(value, label + '.', lines)
    else lines.push([label, value])
  }
  return lines
}

function printTable (rows) {
  const width = Math.max(...rows.map(([name]) => name.length))
  for (const [name, value] of rows) out(`${name.padEnd(width)}  ${value}`)
}

/** One line of progress: a bar when the total is known, else a count. */
function progressLine (label, unit, { done, total }) {
  const amount = (n) => (unit === 'bytes' ? formatBytes(n) : `${n} ${unit}`)
  if (!(total > 0)) return `${label} ${amount(done)}`
  const fraction = Math.min(1, done / total)
  const filled = Math.round(fraction * 30)
  const bar = '#'.repeat(filled) + '-'.repeat(30 - filled)
  return `${label} [${bar}] ${Math.floor(fraction * 100)}% ${amount(done)} / ${amount(total)}`
}

/**
 * Runs `fn(progressOptions)`: `{ onProgress }` drawing a bar on stderr when a person is
 * watching (stdout and stderr are terminals: output redirected to a file or a pipe means a
 * script, which gets no bar; `unit` is 'bytes' or 'entries'), else `{}`. The bar is cleared at
 * the end.
 */
async function withBar (label, unit, fn) {
  if (!process.stderr.isTTY || !process.stdout.isTTY) return fn({})
  let shown = false
  const onProgress = (progress) => {
    const line = progressLine(label, unit, progress).slice(0, (process.stderr.columns || 80) - 1)
    process.stderr.write('\r' + line + '\x1b[K')
    shown = true
  }
  try {
    return await fn({ onProgress })
  } finally {
    if (shown) process.stderr.write('\r\x1b[K')
  }
}

// ------------------------------------------------------------------------------------------
// Commands

function openOptions (access) {
  return { createIfMissing: access === 'create', readOnly: access === 'read', keyEncoding: 'buffer', valueEncoding: 'buffer' }
}

/**
 * Opens `dir`, runs `fn(db)`, closes. `access`: 'read' (the default: read-only, the directory is
 * left byte for byte as it was), 'write' (an existing database) or 'create'.
 */
async function withDb (dir, fn, access = 'read') {
  const db = await BrowserDB.open(dir, openOptions(access))
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

async function stats ({ dir }, options) {
  const s = await withDb(dir, async (db) => db.stats())
  if (options.json) return out(JSON.stringify(s))
  const rows = flatten({ ...s, levels: undefined }).filter(([, v]) => v !== undefined)
  s.levels.forEach((level, i) => {
    if (level.tables > 0) rows.push([`levels.L${i}`, `${level.tables} tables, ${formatBytes(level.bytes)}`])
  })
  printTable(rows)
}

async function verify ({ dir }, options) {
  const report = await withDb(dir, (db) => withBar('verify', 'bytes', (o) => db.verify(o)))
  if (options.json) out(JSON.stringify(report))
  else printVerify(report)
  return report.ok ? 0 : 1
}

function printVerify (report) {
  const summary = `${report.tables} tables, ${report.entries} entries, ${report.walRecords} WAL records, ` +
    `${formatBytes(report.bytes)} checked`
  if (report.ok) return out(`ok: ${summary}`)
  out(`${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} (${summary}):`)
  printProblems(report.problems)
}

function printProblems (problems) {
  for (const p of problems) out(`  ${p.file} at offset ${p.offset}: ${p.kind}: ${p.message}`)
}

async function repair ({ dir }, options) {
  const report = await BrowserDB.repair(dir)
  if (options.json) return out(JSON.stringify(report))
  out(`repaired: ${report.tables} tables, ${report.entries} entries (${report.tablesIntact} tables intact, ` +
    `${report.tablesSalvaged} salvaged, ${report.walRecords} WAL records replayed)`)
  if (report.lost.length > 0) out(`moved aside: ${report.lost.join(', ')}`)
  printProblems(report.problems)
}

async function dump ({ dir }, options) {
  const range = {}
  if (options.prefix !== undefined) range.prefix = keyBytes(options.prefix, options.hex)
  if (options.limit !== undefined) range.limit = Number(options.limit)
  await withDb(dir, async (db) => {
    for await (const [key, value] of db.iterator(range)) {
      out(options.json ? JSON.stringify(jsonEntry(key, value)) : `${printable(key)}\t${printable(value)}`)
    }
  })
}

async function get ({ dir, key }, options) {
  const k = keyBytes(key, options.hex)
  const value = await withDb(dir, (db) => db.get(k))
  if (value === undefined) {
    const err = new Error(`key not found: ${printable(k)}`)
    err.code = 'BROWSERDB_NOT_FOUND'
    throw err
  }
  out(options.json ? JSON.stringify(jsonEntry(k, value)) : printable(value))
}

async function backup ({ dir, backupDir }, options) {
  const report = await withDb(dir, (db) => withBar('backup', 'bytes', (o) => db.backup(backupDir, o)), 'write')
  if (options.json) return out(JSON.stringify(report))
  out(`backed up ${report.tables} tables into ${backupDir}: ${report.tablesCopied} copied, ${report.tablesReused} reused ` +
    `(${formatBytes(report.bytesCopied)} of ${formatBytes(report.bytesTotal)} copied)`)
}

async function restore ({ backupDir, dir }, options) {
  const report = await withBar('restore', 'bytes', (o) => BrowserDB.restore(backupDir, dir, o))
  if (options.json) return out(JSON.stringify(report))
  out(`restored ${report.tables} tables into ${dir}`)
}

/** The export format: --format, else from the file's extension, else ndjson. */
function exportFormat (file, options) {
  if (options.format !== undefined) return options.format
  return path.extname(file).toLowerCase() === '.bdb' ? 'bdb' : 'ndjson'
}

async function exportCommand ({ dir, file }, options) {
  const format = exportFormat(file, options)
  const report = await withDb(dir, (db) => withBar('export', 'entries', (o) => db.export(file, { ...o, format })))
  if (options.json) return out(JSON.stringify({ ...report, format }))
  out(`exported ${report.entries} entries to ${file} (${format}, ${formatBytes(report.bytes)})`)
}

async function importCommand ({ dir, file }, options) {
  const format = options.format === undefined ? {} : { format: options.format }
  // Importing into a new directory creates the database; a failed import removes it again.
  const existed = fs.existsSync(dir)
  let report
  try {
    report = await withDb(dir, (db) => withBar('import', 'entries', (o) => db.import(file, { ...o, ...format })), 'create')
  } catch (err) {
    if (!existed) fs.rmSync(dir, { recursive: true, force: true })
    throw err
  }
  if (options.json) return out(JSON.stringify(report))
  out(`imported ${report.entries} entries from ${file} (${formatBytes(report.bytes)})`)
}

/** Serves the inspect page until SIGINT or SIGTERM, then closes the server and the database. */
async function inspect ({ dir }, options) {
  const { startInspect } = require(path.join(__dirname, '..', 'inspect', 'server.js'))
  const db = await BrowserDB.open(dir, openOptions('read'))
  let server
  try {
    server = await startInspect(db, { port: options.port === undefined ? 0 : Number(options.port) })
  } catch (err) {
    await db.close()
    throw err
  }
  if (options.json) out(JSON.stringify({ url: server.url, port: server.port }))
  else out(`browserdb inspect: ${server.url}\n(read-only, 127.0.0.1 only; Ctrl-C stops)`)
  await new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await server.close()
  await db.close()
  return 0
}

const RUN = {
  stats,
  verify,
  repair,
  dump,
  get,
  backup,
  restore,
  export: exportCommand,
  import: importCommand,
  inspect,
  help: async () => out(USAGE),
  version: async (args, options) => out(options.json ? JSON.stringify({ version }) : version)
}

// ------------------------------------------------------------------------------------------
// Main

function fail (err, json) {
  const code = err && typeof err.code === 'string' ? err.code : 'BROWSERDB_INTERNAL'
  const message = err && err.message ? err.message : String(err)
  if (json) out(JSON.stringify({ error: { code, message } }))
  process.stderr.write(`error: ${message} (${code})\n`)
  return 1
}

async function main (argv) {
  let command
  try {
    command = parseCommand(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`error: ${err.message}\nRun 'browserdb help' for usage.\n`)
    return 2
  }
  try {
    const code = await RUN[command.name](command.args, command.options)
    return typeof code === 'number' ? code : 0
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`)
      return 2
    }
    return fail(err, command.options.json)
  }
}

// A closed pipe (`browserdb dump db | head`) ends the output quietly.
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err
  process.exit(0)
})

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err) => { process.exitCode = fail(err, false) }
)
