'use strict'
// Shared helpers for the JS test suite. Not a test file (node --test only runs *.test.js).
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')

const ROOT = path.join(__dirname, '..', '..')
const FIXTURES = path.join(__dirname, '..', 'fixtures')

// Per-test resources, released in one after-hook: databases are closed first, then the
// temp directories are removed (hook order must not matter).
const resources = new WeakMap()
function resourcesOf(t) {
  let r = resources.get(t)
  if (!r) {
    r = { dbs: [], dirs: [], children: [] }
    resources.set(t, r)
    t.after(async () => {
      for (const child of r.children) {
        if (child.exitCode === null && child.signalCode === null) {
          const gone = new Promise((resolve) => child.once('exit', resolve))
          child.kill('SIGKILL')
          await gone
        }
      }
      for (const db of r.dbs) {
        try {
          await db.close()
        } catch {}
      }
      for (const dir of r.dirs) fs.rmSync(dir, { recursive: true, force: true })
    })
  }
  return r
}

/** A fresh temp directory, removed after the test `t` (also when it fails). */
function tmpDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bdb-'))
  resourcesOf(t).dirs.push(dir)
  return dir
}

/**
 * Open a database and close it after the test `t` (unless the test closed it already;
 * close() is idempotent by contract).
 */
async function openDb(t, BrowserDB, location, options) {
  const db = await BrowserDB.open(location, options)
  resourcesOf(t).dbs.push(db)
  return db
}

function checkError(err, code, Class) {
  assert.ok(err instanceof Error, `expected an Error instance, got ${String(err)}`)
  assert.equal(err.code, code, `expected code ${code}, got ${err.code} (${err.message})`)
  assert.equal(typeof err.message, 'string')
  assert.ok(err.message.length > 0, 'error message is empty')
  if (Class) {
    const classes = Array.isArray(Class) ? Class : [Class]
    assert.ok(
      classes.some((C) => err instanceof C),
      `expected instance of ${classes.map((C) => C.name).join(' or ')}, got ${err.constructor && err.constructor.name} (${err.code}: ${err.message})`,
    )
  }
  return true
}

/**
 * `fn` must not throw synchronously, must return a Promise-like, and that Promise must
 * reject with an Error whose `code` is `code` (and is an instance of `Class`, if given).
 */
async function rejectsCode(fn, code, Class) {
  let result
  try {
    result = fn()
  } catch (err) {
    assert.fail(`expected a rejected Promise, but the call threw synchronously: ${err && err.code} ${err && err.message}`)
  }
  assert.ok(result && typeof result.then === 'function', 'expected the call to return a Promise')
  let settled = false
  let value
  try {
    value = await result
    settled = true
  } catch (err) {
    checkError(err, code, Class)
    return err
  }
  assert.ok(!settled, `expected rejection with ${code}, but it resolved with ${inspectShort(value)}`)
  return undefined
}

/** `fn` must throw synchronously an Error with `code` (and of `Class`, if given). */
function throwsCode(fn, code, Class) {
  let returned
  try {
    returned = fn()
  } catch (err) {
    checkError(err, code, Class)
    return err
  }
  if (returned && typeof returned.then === 'function') returned.catch(() => {})
  assert.fail(`expected a synchronous throw with ${code}, but the call returned ${inspectShort(returned)}`)
  return undefined
}

function inspectShort(v) {
  const s = require('node:util').inspect(v, { depth: 1 })
  return s.length > 200 ? s.slice(0, 200) + '…' : s
}

/** Recursive listing of a directory: relative path → { size, bytes (hex sha of content), mode, mtimeMs }. */
function snapshotDir(dir) {
  const crypto = require('node:crypto')
  const out = {}
  const walk = (rel) => {
    const abs = path.join(dir, rel)
    for (const name of fs.readdirSync(abs).sort()) {
      const r = path.join(rel, name)
      const st = fs.lstatSync(path.join(dir, r))
      if (st.isDirectory()) {
        out[r + '/'] = { dir: true, mode: st.mode, mtimeMs: st.mtimeMs }
        walk(r)
      } else {
        const content = fs.readFileSync(path.join(dir, r))
        out[r] = {
          size: st.size,
          sha256: crypto.createHash('sha256').update(content).digest('hex'),
          mode: st.mode,
          mtimeMs: st.mtimeMs,
        }
      }
    }
  }
  walk('')
  return out
}

/**
 * Spawn `node <fixture> ...args`. Returns { child, lines (array of stdout lines so far),
 * stderr (getter), waitForLine(predicate, timeoutMs), exited (Promise<{code, signal}>) }.
 */
function spawnFixture(name, args, options = {}) {
  const child = spawn(process.execPath, [path.join(FIXTURES, name), ...args], {
    cwd: ROOT,
    stdio: [options.stdin || 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(options.env || {}) },
  })
  const lines = []
  let stderr = ''
  let partial = ''
  const waiters = []
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    partial += chunk
    let nl
    while ((nl = partial.indexOf('\n')) !== -1) {
      const line = partial.slice(0, nl)
      partial = partial.slice(nl + 1)
      lines.push(line)
      if (options.onLine) options.onLine(line)
      for (const w of waiters.slice()) {
        if (w.predicate(line)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const exited = new Promise((resolve) => {
    // 'close', not 'exit': 'exit' can come before the last lines in the pipe are read, and a
    // crash test that checked then would miss what the child printed last (a `delstart` line
    // seen late made an in-flight delete look like a lost put).
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) {
        w.reject(new Error(`child exited (code ${code}, signal ${signal}) before the expected line; stderr:\n${stderr}\nstdout tail:\n${lines.slice(-5).join('\n')}`))
      }
      resolve({ code, signal })
    })
  })
  function waitForLine(predicate, timeoutMs = 15000) {
    const pred = typeof predicate === 'string' ? (l) => l === predicate : predicate
    const seen = lines.find(pred)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a line from ${name}; stderr:\n${stderr}\nstdout tail:\n${lines.slice(-5).join('\n')}`))
      }, timeoutMs)
      const w = {
        predicate: pred,
        resolve: (l) => {
          clearTimeout(timer)
          resolve(l)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      }
      waiters.push(w)
    })
  }
  return {
    child,
    lines,
    get stderr() {
      return stderr
    },
    waitForLine,
    exited,
  }
}

/** Kill a spawned child (if still running) after the test, before its temp dirs go. */
function killAfter(t, child) {
  resourcesOf(t).children.push(child)
}

module.exports = {
  ROOT,
  FIXTURES,
  tmpDir,
  openDb,
  rejectsCode,
  throwsCode,
  checkError,
  snapshotDir,
  spawnFixture,
  killAfter,
}
