'use strict'
// `browserdb inspect`: a small read-only HTTP server (loopback only, random token, Host check)
// serving a page that shows a database's shape, heat and health, and the JSON API it polls.
//
// Endpoints (all need the token: `?token=` or the `X-BrowserDB-Token` header):
//   GET  /                  the page (index.html; asset URLs carry the token)
//   GET  /app.js, /style.css
//   GET  /api/stats         db.stats() plus the memory budgets, location, mode and tables' key ranges
//   GET  /api/heatmap       ?limit=N: the hottest keys with their heat
//   GET  /api/keys          ?prefix=&hex=1&after=<hex>&limit=N: one page of entries in key order
//   GET  /api/verify        the state of the last verify (progress, report)
//   POST /api/verify        starts db.verify() (reads only; one at a time)
// Nothing writes to the database: there is no write endpoint.

const http = require('node:http')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const ASSETS = {
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' }
}
const DEFAULT_WRITE_BUFFER_SIZE = 4 * 1024 * 1024
const VALUE_PREVIEW_BYTES = 1024
const KEYS_LIMIT_MAX = 500
const HEATMAP_LIMIT_MAX = 1000

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** `{ text?, hex, size, truncated }` of some bytes: text only when printable UTF-8. */
function showBytes (bytes, max = Infinity) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const shown = buf.length > max ? buf.subarray(0, max) : buf
  const out = { hex: shown.toString('hex'), size: buf.length, truncated: shown.length < buf.length }
  let text
  try {
    text = utf8.decode(shown)
  } catch {
    // A cut in the middle of a character: try without the last few bytes.
    if (out.truncated) {
      for (let cut = 1; cut < 4 && text === undefined; cut++) {
        try { text = utf8.decode(shown.subarray(0, shown.length - cut)) } catch {}
      }
    }
  }
  // eslint-disable-next-line no-control-regex
  if (text !== undefined && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) out.text = text
  return out
}

function sameToken (given, token) {
  if (typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && crypto.timingSafeEqual(a, b)
}

function send (res, status, type, body) {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
  })
  res.end(body)
}

function sendJson (res, status, value) {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value))
}

function fail (res, status, message) {
  sendJson(res, status, { error: message })
}

function intParam (value, fallback, max) {
  if (value === null || value === '') return fallback
  if (!/^\d+$/.test(value)) throw Object.assign(new Error('not a whole number: ' + value), { status: 400 })
  return Math.min(Number(value), max)
}

function hexParam (value, name) {
  if (value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value)) {
    throw Object.assign(new Error(`${name} is not hex`), { status: 400 })
  }
  return Buffer.from(value, 'hex')
}

/**
 * Starts the inspect server for an open `db`.
 * @param {object} db an open BrowserDB
 * @param {{ port?: number, token?: string }} [options] port 0 (default) picks a free one
 * @returns {Promise<{ url: string, port: number, token: string, server: http.Server, close: () => Promise<void> }>}
 */
async function startInspect (db, options = {}) {
  const port = options.port === undefined ? 0 : options.port
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError('port must be an integer from 0 to 65535')
  const token = options.token === undefined ? crypto.randomBytes(24).toString('hex') : String(options.token)
  const page = fs.readFileSync(path.join(__dirname, 'index.html'), 'utf8').replaceAll('__TOKEN__', token)
  const assets = {}
  for (const [route, { file, type }] of Object.entries(ASSETS)) {
    assets[route] = { body: fs.readFileSync(path.join(__dirname, file), 'utf8'), type }
  }
  const verifyState = { running: false, progress: { done: 0, total: 0 }, report: null, error: null, startedAt: null, finishedAt: null }
  let actualPort = port

  async function handle (req, res) {
    // DNS rebinding: only our own loopback names with our port.
    const host = req.headers.host
    if (host !== `127.0.0.1:${actualPort}` && host !== `localhost:${actualPort}`) return fail(res, 403, 'forbidden host')
    const url = new URL(req.url, `http://127.0.0.1:${actualPort}`)
    const given = req.headers['x-browserdb-token'] !== undefined ? req.headers['x-browserdb-token'] : url.searchParams.get('token')
    if (!sameToken(given, token)) return fail(res, 401, 'token required')
    const route = url.pathname
    const method = req.method

    if (route === '/api/verify' && method === 'POST') return startVerify(res)
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      return fail(res, 405, 'read-only: this server never writes')
    }
    if (route === '/' || route === '/index.html') return send(res, 200, 'text/html; charset=utf-8', page)
    if (Object.prototype.hasOwnProperty.call(assets, route)) return send(res, 200, assets[route].type, assets[route].body)
    if (route === '/api/stats') return sendJson(res, 200, statsOf(db))
    if (route === '/api/heatmap') {
      const limit = intParam(url.searchParams.get('limit'), 20, HEATMAP_LIMIT_MAX)
      const hot = db.heatmap({ limit, keyEncoding: 'buffer' }).map(({ key, heat }) => ({ key: showBytes(key, 256), heat }))
      return sendJson(res, 200, { keys: hot })
    }
    if (route === '/api/keys') return sendJson(res, 200, await keysPage(db, url.searchParams))
    if (route === '/api/verify') return sendJson(res, 200, verifyState)
    return fail(res, 404, 'not found')
  }

  function startVerify (res) {
    if (!verifyState.running) {
      Object.assign(verifyState, { running: true, progress: { done: 0, total: 0 }, report: null, error: null, startedAt: Date.now(), finishedAt: null })
      db.verify({ onProgress: (p) => { verifyState.progress = { done: p.done, total: p.total } } }).then(
        (report) => { Object.assign(verifyState, { running: false, report, finishedAt: Date.now() }) },
        (err) => { Object.assign(verifyState, { running: false, error: { code: err.code, message: err.message }, finishedAt: Date.now() }) }
      )
    }
    sendJson(res, 202, verifyState)
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (res.headersSent) return res.destroy()
      if (err.status) return fail(res, err.status, err.message)
      if (err.code === 'BROWSERDB_CLOSED') return fail(res, 503, 'the database is closed')
      fail(res, 500, err.message || String(err))
    })
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  actualPort = server.address().port
  const sockets = new Set()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  let closing = null
  return {
    url: `http://127.0.0.1:${actualPort}/?token=${token}`,
    port: actualPort,
    token,
    server,
    close () {
      if (closing === null) {
        closing = new Promise((resolve) => {
          server.close(() => resolve())
          for (const s of sockets) s.destroy()
        })
      }
      return closing
    }
  }
}

function statsOf (db) {
  const stats = db.stats()
  const opts = db._openOptions || {}
  return {
    time: Date.now(),
    location: db.location,
    mode: db.mode,
    budgets: {
      writeBufferSize: opts.writeBufferSize === undefined ? DEFAULT_WRITE_BUFFER_SIZE : opts.writeBufferSize,
      cacheSize: stats.cache.capacityBytes,
      maxMemory: opts.maxMemory === undefined ? null : opts.maxMemory
    },
    stats,
    // Key ranges per table (the MANIFEST's records), shown per level by the page.
    tables: db.tables().map((t) => ({ ...t, smallest: showBytes(t.smallest, 96), largest: showBytes(t.largest, 96) }))
  }
}

/** One page of entries: `{ entries, next }`; `next` is the hex key to pass as `after`, or null. */
async function keysPage (db, params) {
  const limit = Math.max(1, intParam(params.get('limit'), 50, KEYS_LIMIT_MAX))
  const hex = params.get('hex') === '1'
  const prefixText = params.get('prefix') || ''
  const range = { keyEncoding: 'buffer', valueEncoding: 'buffer', limit: limit + 1 }
  if (prefixText !== '') range.prefix = hex ? hexParam(prefixText, 'prefix') : Buffer.from(prefixText, 'utf8')
  const after = params.get('after')
  if (after) range.gt = hexParam(after, 'after')
  const entries = []
  for await (const [key, value] of db.iterator(range)) {
    const shown = showBytes(value, VALUE_PREVIEW_BYTES)
    if (shown.text !== undefined) delete shown.hex // text values need not travel twice
    entries.push({ key: showBytes(key), value: shown })
  }
  const more = entries.length > limit
  if (more) entries.length = limit
  return { entries, next: more ? entries[entries.length - 1].key.hex : null }
}

module.exports = { startInspect, showBytes }
