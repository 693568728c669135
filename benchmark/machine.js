'use strict'
// The machine and package versions a benchmark ran on (shared by run.js and large.js).
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

// The npm package of each store (where its name differs).
const PACKAGE = { rocksdb: '@nxtedition/rocksdb' }

function version (store) {
  const dir = store === 'browserdb' ? path.join(__dirname, '..') : path.join(__dirname, 'node_modules', PACKAGE[store] || store)
  try { return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version } catch { return '?' }
}

function machineInfo (stores) {
  const cpus = os.cpus()
  return {
    cpu: cpus.length ? cpus[0].model.trim() : 'unknown',
    cores: cpus.length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    versions: Object.fromEntries(stores.map((s) => [s, version(s)]))
  }
}

// The report's machine, node and packages lines (`loaded`: the stores whose module loaded).
function machineLines (machine, stores, loaded) {
  return [
    `- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB RAM, ${machine.os}`,
    `- node: ${machine.node}`,
    `- packages: ${stores.map((s) => `${PACKAGE[s] || s} ${machine.versions[s]}${machine.engines?.[s] ? ` (${machine.engines[s]})` : ''}${loaded.includes(s) ? '' : ' (not loaded)'}`).join(', ')}`
  ]
}

module.exports = { machineInfo, machineLines, PACKAGE }
