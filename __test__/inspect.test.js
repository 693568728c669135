'use strict'
// `browserdb inspect` and `db.inspect()`: the HTTP API (token, Host check, loopback only,
// read-only, real data, key paging and prefix search) and the CLI command.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const path = require('node:path')
const { spawn } = require('node:child_process')

const { BrowserDB } = require('..')
const { attachInspect } = require('../inspect/attach')
const { ROOT, tmpDir, openDb } = require('./helpers')

attachInspect(BrowserDB) // idempotent; index.js does the same

/** A raw request (so the Host header can be anything); resolves { status, headers, body }. */
function request (port, { method = 'GET', path: p = '/', headers = {}, setHost = true } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: false, setHost }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** A small database: 120 user keys, 30 order keys, one binary entry, one HTML-ish value, some reads. */
async function fillDb (t, dir) {
  const db = await openDb(t, BrowserDB, dir, { writeBufferSize: 64 * 1024 })
  const ops = []
  for (let i = 0; i < 120; i++) ops.push({ type: 'put', key: 'user:' + String(i).padStart(4, '0'), value: JSON.stringify({ i, pad: 'x'.repeat(200) }) })
  for (let i = 0; i < 30; i++) ops.push({ type: 'put', key: 'order:' + String(i).padStart(4, '0'), value: 'order ' + i })
  ops.push({ type: 'put', key: 'html', value: '<img src=x onerror=alert(1)>' })
  await db.batch(ops)
  await db.put(Buffer.from([0xff, 0x00, 0x01]), Buffer.from([0x00, 0x01, 0xfe, 0xff]), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.compact()
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 5; i++) await db.get('user:' + String(i).padStart(4, '0'))
  }
  return db
}

async function withInspect (t) {
  const db = await fillDb(t, tmpDir(t))
  const handle = await db.inspect({ port: 0 })
  t.after(() => handle.close())
  const api = async (p, init = {}) => {
    const r = await request(handle.port, { ...init, path: p, headers: { host: `127.0.0.1:${handle.port}`, 'x-browserdb-token': handle.token, ...(init.headers || {}) } })
    return { ...r, json: r.headers['content-type'].startsWith('application/json') ? JSON.parse(r.body) : undefined }
  }
  return { db, handle, api }
}

test('db.inspect: URL on 127.0.0.1 with a random token; bound to loopback only', async (t) => {
  const { handle, db } = await withInspect(t)
  assert.match(handle.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/)
  assert.ok(handle.url.endsWith(handle.token))
  const other = await db.inspect()
  t.after(() => other.close())
  assert.notEqual(other.token, handle.token, 'each server has its own token')
  assert.notEqual(other.port, handle.port)
  // The listening socket is bound to 127.0.0.1, not to every interface.
  const { startInspect } = require('../inspect/server')
  const raw = await startInspect(db)
  t.after(() => raw.close())
  assert.deepEqual({ address: raw.server.address().address, family: raw.server.address().family }, { address: '127.0.0.1', family: 'IPv4' })
  await assert.rejects(db.inspect({ port: -1 }), RangeError)
  await assert.rejects(db.inspect({ port: 70000 }), RangeError)
})

test('every request needs the token (page, assets, API): 401 without or with a wrong one', async (t) => {
  const { handle } = await withInspect(t)
  const host = `127.0.0.1:${handle.port}`
  for (const p of ['/', '/app.js', '/style.css', '/api/stats', '/api/heatmap', '/api/keys', '/api/verify', '/nope']) {
    const none = await request(handle.port, { path: p, headers: { host } })
    assert.equal(none.status, 401, `${p} without a token`)
    assert.doesNotMatch(none.body, /user:/)
    const wrong = await request(handle.port, { path: p + '?token=' + 'a'.repeat(48), headers: { host } })
    assert.equal(wrong.status, 401, `${p} with a wrong token`)
    const short = await request(handle.port, { path: p, headers: { host, 'x-browserdb-token': handle.token.slice(1) } })
    assert.equal(short.status, 401, `${p} with a truncated token`)
  }
  const post = await request(handle.port, { method: 'POST', path: '/api/verify', headers: { host } })
  assert.equal(post.status, 401, 'starting verify needs the token too')

  // With the token in the query (the page) or the header (its API calls).
  const page = await request(handle.port, { path: '/?token=' + handle.token, headers: { host } })
  assert.equal(page.status, 200)
  assert.match(page.headers['content-type'], /^text\/html/)
  assert.ok(page.body.includes(`/app.js?token=${handle.token}`), 'asset URLs carry the token')
  assert.doesNotMatch(page.body, /https?:\/\/(?!127\.0\.0\.1)/, 'no external (CDN) URL')
  assert.match(page.headers['content-security-policy'], /default-src 'none'/)
  assert.equal(page.headers['referrer-policy'], 'no-referrer')
  const js = await request(handle.port, { path: '/app.js?token=' + handle.token, headers: { host } })
  assert.equal(js.status, 200)
  assert.match(js.headers['content-type'], /^text\/javascript/)
  assert.doesNotMatch(js.body, /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/, 'the page never parses data as HTML')
  const stats = await request(handle.port, { path: '/api/stats', headers: { host, 'x-browserdb-token': handle.token } })
  assert.equal(stats.status, 200)
})

test('the Host header must be 127.0.0.1:<port> or localhost:<port> (DNS rebinding): else 403', async (t) => {
  const { handle } = await withInspect(t)
  const p = '/api/stats?token=' + handle.token
  for (const host of ['evil.example', `evil.example:${handle.port}`, '127.0.0.1', `127.0.0.1:${handle.port + 1}`, `localhost.evil.example:${handle.port}`, `0.0.0.0:${handle.port}`]) {
    const r = await request(handle.port, { path: p, headers: { host } })
    assert.equal(r.status, 403, `Host: ${host}`)
  }
  const noHost = await request(handle.port, { path: p, setHost: false })
  assert.ok([400, 403].includes(noHost.status), 'no Host header: refused (node answers 400 itself)')
  assert.doesNotMatch(noHost.body, /tableEntries/)
  for (const host of [`127.0.0.1:${handle.port}`, `localhost:${handle.port}`]) {
    const r = await request(handle.port, { path: p, headers: { host } })
    assert.equal(r.status, 200, `Host: ${host}`)
  }
})

test('read-only: no endpoint writes; other methods are refused with 405', async (t) => {
  const { api, db } = await withInspect(t)
  const before = db.stats().lastSequence
  for (const method of ['PUT', 'DELETE', 'PATCH', 'POST']) {
    for (const p of ['/api/keys', '/api/keys?prefix=user', '/api/stats', '/api/heatmap', '/']) {
      const r = await api(p, { method })
      assert.equal(r.status, 405, `${method} ${p}`)
      assert.equal(r.headers.allow, 'GET, HEAD')
    }
  }
  for (const p of ['/api/put', '/api/del', '/api/batch', '/api/clear', '/api/compact', '/api/write']) {
    const r = await api(p)
    assert.equal(r.status, 404, `no ${p}`)
  }
  assert.equal(db.stats().lastSequence, before, 'nothing was written')
  assert.equal(await db.get('user:0000') !== undefined, true)
})

test('/api/stats and /api/heatmap return the real data of the database', async (t) => {
  const { api, db } = await withInspect(t)
  const { json } = await api('/api/stats')
  assert.equal(json.location, db.location)
  assert.equal(json.mode, 'persistent')
  assert.equal(json.budgets.writeBufferSize, 64 * 1024)
  assert.equal(json.budgets.cacheSize, db.stats().cache.capacityBytes)
  const s = json.stats
  assert.equal(s.levels.length, 7)
  assert.ok(s.tables >= 1)
  assert.equal(s.levels.reduce((n, l) => n + l.tables, 0), s.tables)
  assert.ok(s.levels.reduce((n, l) => n + l.bytes, 0) > 0)
  assert.equal(s.tableEntries, 152)
  assert.ok(s.compactions >= 1)
  assert.ok(s.cache.hits + s.cache.misses > 0)
  for (const name of ['writeAmplification', 'diskBytes', 'spaceAmplification', 'memtableBytes']) assert.equal(typeof s[name], 'number', name)
  assert.ok(Math.abs(json.time - Date.now()) < 5000)
  // Key ranges per table: the same as db.tables(), text when printable, else hex.
  const tables = db.tables()
  assert.equal(json.tables.length, s.tables)
  assert.deepEqual(json.tables.map((t) => [t.level, t.number, t.bytes, t.entries]), tables.map((t) => [t.level, t.number, t.bytes, t.entries]))
  const smallest = tables.map((t) => t.smallest).sort(Buffer.compare)[0]
  const largest = tables.map((t) => t.largest).sort(Buffer.compare).pop()
  assert.equal(smallest.toString(), 'html', 'the smallest key of the database')
  assert.deepEqual(largest, Buffer.from([0xff, 0x00, 0x01]), 'the largest key, binary')
  assert.ok(json.tables.some((t) => t.smallest.text === 'html'))
  assert.ok(json.tables.some((t) => t.largest.text === undefined && t.largest.hex === 'ff0001'))

  const hot = (await api('/api/heatmap?limit=5')).json
  assert.ok(Array.isArray(hot.keys))
  assert.ok(hot.keys.length <= 5)
  const expected = db.heatmap({ limit: 5 })
  assert.deepEqual(hot.keys.map((k) => k.key.text), expected.map((k) => k.key))
  assert.deepEqual(hot.keys.map((k) => k.heat), expected.map((k) => k.heat))
  assert.equal((await api('/api/heatmap?limit=x')).status, 400)
})

test('/api/keys: pages in key order, prefix search (text and hex), binary as hex, values as data', async (t) => {
  const { api } = await withInspect(t)
  // Paging through all user keys, 25 at a time.
  const seen = []
  let after = null
  let pages = 0
  do {
    const r = await api(`/api/keys?prefix=user:&limit=25${after ? '&after=' + after : ''}`)
    assert.equal(r.status, 200)
    for (const e of r.json.entries) {
      assert.ok(e.key.text.startsWith('user:'))
      assert.equal(Buffer.from(e.key.hex, 'hex').toString(), e.key.text)
      assert.equal(JSON.parse(e.value.text).pad.length, 200)
      seen.push(e.key.text)
    }
    after = r.json.next
    pages++
  } while (after !== null)
  assert.equal(pages, 5)
  assert.equal(seen.length, 120)
  assert.deepEqual(seen, [...seen].sort(), 'key order')
  assert.equal(new Set(seen).size, 120, 'no key twice across pages')

  const orders = (await api('/api/keys?prefix=order:001&limit=50')).json
  assert.deepEqual(orders.entries.map((e) => e.key.text), Array.from({ length: 10 }, (_, i) => 'order:001' + i))
  assert.equal(orders.next, null)
  assert.equal(orders.entries[3].value.text, 'order 13')

  // Everything, default page size 50; the binary entry comes last (0xff).
  const all = (await api('/api/keys?limit=500')).json
  assert.equal(all.entries.length, 152)
  const bin = all.entries[all.entries.length - 1]
  assert.deepEqual(bin.key, { hex: 'ff0001', size: 3, truncated: false })
  assert.deepEqual(bin.value, { hex: '0001feff', size: 4, truncated: false })
  const html = all.entries.find((e) => e.key.text === 'html')
  assert.equal(html.value.text, '<img src=x onerror=alert(1)>', 'values travel as JSON data; the page shows them via textContent')

  const hex = (await api('/api/keys?prefix=ff00&hex=1')).json
  assert.deepEqual(hex.entries.map((e) => e.key.hex), ['ff0001'])
  assert.equal((await api('/api/keys?prefix=zz&hex=1')).status, 400)
  assert.equal((await api('/api/keys?after=abc')).status, 400)
  assert.equal((await api('/api/keys?limit=-1')).status, 400)
  assert.deepEqual((await api('/api/keys?prefix=nothing')).json, { entries: [], next: null })
})

test('/api/verify: POST starts a read-only verify; GET reports progress and the report', async (t) => {
  const { api, db } = await withInspect(t)
  const before = db.stats().lastSequence
  const idle = (await api('/api/verify')).json
  assert.equal(idle.running, false)
  assert.equal(idle.report, null)
  const started = await api('/api/verify', { method: 'POST' })
  assert.equal(started.status, 202)
  let state
  const deadline = Date.now() + 10000
  do {
    await new Promise((resolve) => setTimeout(resolve, 50))
    state = (await api('/api/verify')).json
  } while (state.running && Date.now() < deadline)
  assert.equal(state.running, false)
  assert.equal(state.error, null)
  assert.equal(state.report.ok, true)
  assert.ok(state.report.tables >= 1)
  assert.ok(state.report.bytes > 0)
  assert.deepEqual(state.report.problems, [])
  assert.equal(db.stats().lastSequence, before)
})

test('after the database closes the API answers 503, and close() stops the server', async (t) => {
  const { api, db, handle } = await withInspect(t)
  await db.close()
  assert.equal((await api('/api/stats')).status, 503)
  await handle.close()
  await assert.rejects(request(handle.port, { path: '/' }), /ECONNREFUSED/)
  await assert.rejects(db.inspect(), { code: 'BROWSERDB_CLOSED' })
})

test('CLI: browserdb inspect <dir> prints a URL that serves the page; SIGINT closes the database', async (t) => {
  const dir = tmpDir(t)
  const db = await fillDb(t, dir)
  await db.close()
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'browserdb.js'), 'inspect', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no URL within 10 s: ' + stdout + stderr)), 10000)
    child.stdout.on('data', (d) => {
      stdout += d
      const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/.exec(stdout)
      if (m) { clearTimeout(timer); resolve(m[0]) }
    })
    child.once('exit', () => reject(new Error('exited early: ' + stderr)))
  })
  const page = await fetch(url)
  assert.equal(page.status, 200)
  assert.match(await page.text(), /<title>browserdb inspect<\/title>/)
  const u = new URL(url)
  const stats = await (await fetch(`${u.origin}/api/stats`, { headers: { 'X-BrowserDB-Token': u.searchParams.get('token') } })).json()
  assert.equal(stats.stats.tableEntries, 152)
  assert.equal((await fetch(`${u.origin}/api/stats`)).status, 401)
  // The database is held open (locked) while serving.
  await assert.rejects(BrowserDB.open(dir), (err) => typeof err.code === 'string')
  child.kill('SIGINT')
  assert.deepEqual(await exited, { code: 0, signal: null })
  assert.equal(stderr, '')
  const again = await openDb(t, BrowserDB, dir, { createIfMissing: false })
  assert.equal(await again.get('order:0003'), 'order 3')
})

test('CLI: inspect of a missing directory fails; a bad --port is a usage error', async (t) => {
  const { spawnSync } = require('node:child_process')
  const bin = path.join(ROOT, 'bin', 'browserdb.js')
  const missing = spawnSync(process.execPath, [bin, 'inspect', path.join(tmpDir(t), 'absent')], { encoding: 'utf8', timeout: 10000 })
  assert.equal(missing.status, 1)
  assert.match(missing.stderr, /error:/)
  const bad = spawnSync(process.execPath, [bin, 'inspect', tmpDir(t), '--port', 'x'], { encoding: 'utf8', timeout: 10000 })
  assert.equal(bad.status, 2)
  assert.match(bad.stderr, /--port/)
})
