'use strict'
// Shared by the benchmark drivers: runs one worker in its own Node process and returns the
// JSON object it printed last (or { error }), and formats numbers for the tables.
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const TIMEOUT_MS = 30 * 60 * 1000

function runWorker (script, args, { inheritStderr = false, timeoutMs = TIMEOUT_MS } = {}) {
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, script), ...args], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', inheritStderr ? 'inherit' : 'pipe'], timeout: timeoutMs, maxBuffer: 64 << 20
  })
  if (r.error) return { error: r.error.message }
  if (r.status !== 0) return { error: ((r.stderr || '').trim() || `exit ${r.status} ${r.signal || ''}`).trim() }
  if (r.stderr && r.stderr.trim()) process.stderr.write(r.stderr)
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

const fmt = (x) => typeof x === 'number' ? Math.round(x).toLocaleString('en-US') : x

module.exports = { runWorker, fmt }
