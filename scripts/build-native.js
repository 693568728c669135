#!/usr/bin/env node
// Builds the native addon from source with plain cargo and copies it to browserdb.node.
// Dependency-free on purpose: registry users get no devDependencies (see docs/building.md).
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const cargo = process.env.CARGO || 'cargo'
const probe = spawnSync(cargo, ['--version'], { encoding: 'utf8' })
if (probe.error || probe.status !== 0) {
  console.error('browserdb: building the native addon needs Rust (cargo). Install it from https://rustup.rs and run `npm install` again.')
  process.exit(1)
}
const build = spawnSync(cargo, ['build', '--release', '--lib'], { cwd: root, stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status || 1)
const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, 'target')
const artifact = { win32: 'browserdb.dll', darwin: 'libbrowserdb.dylib' }[process.platform] || 'libbrowserdb.so'
const from = path.join(targetDir, 'release', artifact)
const to = path.join(root, 'browserdb.node')
// Copy to a temp name and rename, so a process that has the old addon loaded is not disturbed.
const tmp = to + '.tmp'
fs.copyFileSync(from, tmp)
fs.renameSync(tmp, to)
