#!/usr/bin/env node
'use strict'
// Installs the benchmark's peers into benchmark/node_modules (`npm run bench` runs this, then
// run.js; the root `npm install` / `npm test` never do):
//   node benchmark/install.js
// `npm install` here, with better-sqlite3 built from source against the running Node's own
// headers: its prebuilt-binary download is unreachable on this project's machines, and so is
// node-gyp's header download, so node-gyp gets `--nodedir` = the Node install (the directory
// holding include/node/node_api.h), and prebuild-install is told not to try (.npmrc:
// build-from-source=better-sqlite3, which node-gyp-build, used by the other peers, ignores).
// lmdb, classic-level and @nxtedition/rocksdb ship prebuilt binaries inside their npm tarballs;
// napi-floor (a local package, ./napi-floor) is built from source like better-sqlite3.
// Then every peer must load; one that does not (e.g. better-sqlite3 built earlier for another
// Node version: npm install does not rebuild an installed package) is rebuilt once.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const here = __dirname

function nodeDir () {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir
  // <prefix>/bin/node -> <prefix>, which holds include/node/ in every standard Node install
  // (the official tarballs, distro packages, nvm, fnm, Homebrew).
  const prefix = path.dirname(path.dirname(process.execPath))
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined
}

const env = { ...process.env, npm_config_build_from_source: 'better-sqlite3' }
const dir = nodeDir()
if (dir) env.npm_config_nodedir = dir
else console.error('benchmark/install.js: no Node headers beside this node (include/node/node_api.h); node-gyp will try to download them')

function npm (args) {
  // Under `npm run`, npm_execpath is the npm that runs us: use the same one.
  const execpath = process.env.npm_execpath
  const [cmd, argv] = execpath && /\.c?js$/.test(execpath)
    ? [process.execPath, [execpath, ...args]]
    : [process.platform === 'win32' ? 'npm.cmd' : 'npm', args]
  console.error(`benchmark/install.js: npm ${args.join(' ')}${dir ? ` (nodedir ${dir})` : ''}`)
  const r = spawnSync(cmd, argv, { cwd: here, env, stdio: 'inherit', shell: process.platform === 'win32' })
  if (r.error) throw r.error
  if (r.status !== 0) process.exit(r.status || 1)
}

// Each peer must load and work, in a fresh process (a failed native load can leave state).
const CHECKS = {
  lmdb: "require('lmdb')",
  'classic-level': "require('classic-level')",
  'memory-level': "require('memory-level')",
  '@nxtedition/rocksdb': "require('@nxtedition/rocksdb').RocksLevel",
  'better-sqlite3': "{ const D = require('better-sqlite3'); const db = new D(':memory:'); if (db.prepare('select 1 + 1').pluck().get() !== 2) throw new Error('bad result'); db.close() }",
  // The benchmark's own trivial addon (napi-floor/: the cost of a bare N-API call), built here.
  'napi-floor': "if (require('napi-floor').get('history:000001234').length !== 155) throw new Error('bad result')"
}
function loads (name) {
  const r = spawnSync(process.execPath, ['-e', CHECKS[name]], { cwd: here, encoding: 'utf8' })
  return r.status === 0 ? null : (r.stderr || '').trim().split('\n').slice(0, 4).join('\n')
}

// npm 11.19 runs no install script of a linked (`file:`) package, at install or rebuild: build
// napi-floor with the node-gyp npm bundles, against the same headers.
function nodeGyp (packageDir) {
  const npmRoot = process.env.npm_execpath ? path.dirname(path.dirname(process.env.npm_execpath)) : ''
  const script = path.join(npmRoot, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  const [cmd, argv] = fs.existsSync(script) ? [process.execPath, [script]] : ['npx', ['--yes', 'node-gyp']]
  const args = ['rebuild', ...(dir ? [`--nodedir=${dir}`] : [])]
  console.error(`benchmark/install.js: node-gyp ${args.join(' ')} in ${packageDir}`)
  const r = spawnSync(cmd, [...argv, ...args], { cwd: packageDir, env, stdio: 'inherit', shell: process.platform === 'win32' })
  if (r.error) throw r.error
}

npm(['install', '--no-audit', '--no-fund'])
let failed = false
for (const name of Object.keys(CHECKS)) {
  let err = loads(name)
  if (err) {
    console.error(`benchmark/install.js: ${name} does not load; rebuilding it:\n${err}`)
    npm(['rebuild', name])
    err = loads(name)
    const local = path.join(here, name)
    if (err && fs.existsSync(path.join(local, 'binding.gyp'))) {
      nodeGyp(local)
      err = loads(name)
    }
  }
  if (err) {
    failed = true
    console.error(`benchmark/install.js: ${name} still does not load:\n${err}`)
  }
}
if (failed) process.exit(1)
console.error(`benchmark/install.js: all peers load (${Object.keys(CHECKS).join(', ')})`)
