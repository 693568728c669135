'use strict'
// Finds and loads the native addon. In order:
//   1. BROWSERDB_NATIVE_PATH, when set (a .node file: for tests and unusual layouts);
//   2. the prebuilt package for this platform (browserdb-linux-x64-gnu, ...), which npm installs
//      from browserdb's optionalDependencies when a release published one;
//   3. ./browserdb.node, the from-source build the install script makes (needs Rust).
// One N-API build serves Node.js and Electron alike: nothing here depends on the runtime.
//
// `node loader.js --install` is the package's install script: it keeps a prebuilt that loads,
// and otherwise builds from source (scripts/build-native.js).
const fs = require('node:fs')
const path = require('node:path')

/** The platforms a release publishes prebuilt packages for (see scripts/release-prepare.js). */
const PREBUILT_PLATFORMS = ['linux-x64-gnu', 'linux-arm64-gnu', 'darwin-arm64', 'darwin-x64', 'win32-x64-msvc']

const FROM_SOURCE = path.join(__dirname, 'browserdb.node')

function isMusl () {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {}
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
  const header = report && (typeof report === 'string' ? JSON.parse(report) : report).header
  return !(header && header.glibcVersionRuntime)
}

/** This process's platform in the prebuilt packages' naming: 'linux-x64-gnu', 'darwin-arm64'... */
function platformKey (platform = process.platform, arch = process.arch, musl = platform === 'linux' && isMusl()) {
  if (platform === 'linux') return `linux-${arch}-${musl ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** The prebuilt package's name for this platform, or null if releases build none for it. */
function prebuiltPackage (key = platformKey()) {
  return PREBUILT_PLATFORMS.includes(key) ? `browserdb-${key}` : null
}

function isMissing (err, request) {
  return err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(request)
}

/**
 * The addon loaded once per thread (each worker thread has its own `process`). Initialising it a
 * second time in one thread — a fresh module cache re-evaluating this file: test runners'
 * module isolation, hot reload — would make napi-rs hand the first copy's calls the second
 * copy's classes (`instanceof` checks then fail), so later loads reuse the first.
 */
const kLoaded = Symbol.for('browserdb.native')

/**
 * Loads the addon; returns `{ native, source, file }` with `source` one of 'env', 'prebuilt',
 * 'source'. Throws BROWSERDB_INTERNAL with what was tried and how to fix it.
 */
function loadNative () {
  if (process[kLoaded] === undefined) {
    const loaded = findAndLoad()
    Object.defineProperty(process, kLoaded, { value: Object.freeze(loaded), configurable: true })
  }
  return process[kLoaded]
}

function findAndLoad () {
  const override = process.env.BROWSERDB_NATIVE_PATH
  if (override) {
    try {
      return { native: require(path.resolve(override)), source: 'env', file: path.resolve(override) }
    } catch (cause) {
      throw loadError(`BROWSERDB_NATIVE_PATH=${override} does not load: ${cause.message}`, cause)
    }
  }
  const tried = []
  let firstCause = null
  const key = platformKey()
  const pkg = prebuiltPackage(key)
  if (pkg !== null) {
    try {
      const file = require.resolve(pkg)
      return { native: require(file), source: 'prebuilt', file }
    } catch (cause) {
      if (isMissing(cause, pkg)) {
        tried.push(`the prebuilt package ${pkg} is not installed`)
      } else {
        tried.push(`the prebuilt package ${pkg} does not load: ${cause.message}`)
        firstCause = cause
      }
    }
  } else {
    tried.push(`no prebuilt package is published for ${key}`)
  }
  try {
    return { native: require(FROM_SOURCE), source: 'source', file: FROM_SOURCE }
  } catch (cause) {
    if (fs.existsSync(FROM_SOURCE)) {
      tried.push(`the from-source build ${FROM_SOURCE} does not load: ${cause.message}`)
      firstCause = firstCause || cause
    } else {
      tried.push('the from-source build (browserdb.node) is missing')
      firstCause = firstCause || cause
    }
  }
  const fix = hasCargo()
    ? 'Rust is installed: run `npm rebuild browserdb` to build the addon from source.'
    : 'Building from source needs Rust (cargo), which was not found: install it from https://rustup.rs, then run `npm rebuild browserdb`.'
  throw loadError(`the native addon does not load on ${key} (Node ${process.versions.node}, N-API ${process.versions.napi}): ` +
    tried.join('; ') + '. ' + fix, firstCause)
}

function loadError (message, cause) {
  const err = new Error('browserdb: ' + message)
  err.code = 'BROWSERDB_INTERNAL'
  err.cause = cause
  return err
}

function hasCargo () {
  const { spawnSync } = require('node:child_process')
  const probe = spawnSync(process.env.CARGO || 'cargo', ['--version'], { encoding: 'utf8', timeout: 10000 })
  return !probe.error && probe.status === 0
}

/** The install script: keep a prebuilt that loads, else build from source. */
function install () {
  const pkg = prebuiltPackage()
  if (pkg !== null && !process.env.BROWSERDB_BUILD_FROM_SOURCE) {
    try {
      require(require.resolve(pkg))
      console.log(`browserdb: using the prebuilt addon ${pkg}`)
      return
    } catch (cause) {
      if (!isMissing(cause, pkg)) console.warn(`browserdb: the prebuilt addon ${pkg} does not load (${cause.message}); building from source`)
    }
  }
  require('./scripts/build-native.js')
}

module.exports = { loadNative, platformKey, prebuiltPackage, PREBUILT_PLATFORMS }

if (require.main === module) {
  if (process.argv[2] === '--install') {
    install()
  } else {
    const { source, file } = loadNative()
    console.log(`browserdb: ${platformKey()}: the addon loads from ${file} (${source})`)
  }
}
