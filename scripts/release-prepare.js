#!/usr/bin/env node
// Prepares a release's per-platform prebuilt packages, the napi-rs way, and adds them to
// browserdb's optionalDependencies for the publish only. Dependency-free (like build-native.js).
//
//   node scripts/release-prepare.js platforms [--artifacts DIR] [--out DIR]
//       Writes DIR/<platform>/package.json + README.md for every platform below (DIR defaults to
//       target/npm, which git ignores);
//       with --artifacts, copies each DIR/browserdb.<platform>.node (a CI build of that platform,
//       the from-source browserdb.node renamed) into its package. Then publish each one that has
//       its .node file: `npm publish target/npm/<platform>`.
//   node scripts/release-prepare.js add-optional [--assume-published] [--package FILE]
//       Adds `browserdb-<platform>: <version>` to optionalDependencies of package.json for each
//       platform whose package is published at this exact version (asked with `npm view`; with
//       --assume-published, for every platform). An unpublished one would break every install,
//       so none is added on faith. Run it right before `npm publish`.
//   node scripts/release-prepare.js remove-optional [--package FILE]
//       Takes them out again: the committed package.json never has optionalDependencies
//       (__test__/pack.test.js checks that).
//
// A release, in order: build each platform in CI → `platforms --artifacts` → publish the
// platform packages → `add-optional` → `npm publish` → `remove-optional`.
// At run time loader.js picks the installed prebuilt for the platform, else the from-source
// build; at install time `node loader.js --install` skips building when a prebuilt loads.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')

/** Every prebuilt platform: npm's os/cpu/libc fields select the one that installs. */
const PLATFORMS = {
  'linux-x64-gnu': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
  'linux-arm64-gnu': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'win32-x64-msvc': { os: ['win32'], cpu: ['x64'] }
}

function readJson (file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'))
}

/** Writes JSON with a temp file and a rename, so a failure leaves the old file intact. */
function writeJson (file, value) {
  const tmp = file + '.tmp'
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n')
  fs.renameSync(tmp, file)
}

/** The package.json of `browserdb-<platform>` for the main package `main`. */
function platformManifest (main, platform) {
  const fields = PLATFORMS[platform]
  const binary = `browserdb.${platform}.node`
  const manifest = {
    name: `browserdb-${platform}`,
    version: main.version,
    description: `The prebuilt native addon of browserdb for ${platform} (N-API: Node.js and Electron)`,
    main: binary,
    files: [binary],
    license: main.license,
    engines: main.engines,
    os: fields.os,
    cpu: fields.cpu
  }
  if (fields.libc) manifest.libc = fields.libc
  if (main.repository) manifest.repository = main.repository
  return manifest
}

function platforms (options) {
  const main = readJson(path.join(root, 'package.json'))
  const out = path.resolve(options.out || path.join(root, 'target', 'npm'))
  const ready = []
  const missing = []
  for (const platform of Object.keys(PLATFORMS)) {
    const dir = path.join(out, platform)
    fs.mkdirSync(dir, { recursive: true })
    const manifest = platformManifest(main, platform)
    writeJson(path.join(dir, 'package.json'), manifest)
    fs.writeFileSync(path.join(dir, 'README.md'),
      `# ${manifest.name}\n\nThe prebuilt native addon of [browserdb](https://www.npmjs.com/package/browserdb) for ` +
      `${platform}. Install \`browserdb\`, not this package: npm picks the package matching your platform.\n`)
    if (options.artifacts) {
      const from = path.join(path.resolve(options.artifacts), manifest.main)
      if (fs.existsSync(from)) {
        fs.copyFileSync(from, path.join(dir, manifest.main))
      }
    }
    if (fs.existsSync(path.join(dir, manifest.main))) ready.push(platform)
    else missing.push(platform)
  }
  console.log(`browserdb: wrote ${Object.keys(PLATFORMS).length} platform packages in ${out}`)
  if (ready.length > 0) console.log(`  with their addon (publish these): ${ready.join(', ')}`)
  if (missing.length > 0) console.log(`  without an addon yet (do not publish): ${missing.join(', ')}`)
  return { out, ready, missing }
}

/** Whether `name@version` is on the registry (npm view prints the version, or fails with E404). */
function isPublished (name, version) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const r = spawnSync(npm, ['view', `${name}@${version}`, 'version'], { encoding: 'utf8', shell: process.platform === 'win32' })
  if (r.error) throw new Error(`cannot run npm view: ${r.error.message}`)
  if (r.status === 0) return r.stdout.trim() === version
  if (/E404|404 Not Found|is not in this registry/.test(r.stderr)) return false
  throw new Error(`npm view ${name}@${version} failed: ${r.stderr.trim()}`)
}

/** Where add-optional keeps the exact bytes of package.json for remove-optional. */
const backupOf = (file) => file + '.before-publish'

function addOptional (options) {
  const file = path.resolve(options.package || path.join(root, 'package.json'))
  const text = fs.readFileSync(file, 'utf8')
  const main = JSON.parse(text)
  const added = []
  const skipped = []
  for (const platform of Object.keys(PLATFORMS)) {
    const name = `browserdb-${platform}`
    if (options.assumePublished || isPublished(name, main.version)) added.push(name)
    else skipped.push(name)
  }
  if (added.length === 0) {
    console.log(`browserdb: no platform package is published at ${main.version}; package.json is unchanged`)
    if (skipped.length > 0) console.log(`  not published: ${skipped.join(', ')}`)
    return { added, skipped }
  }
  const optional = { ...(main.optionalDependencies || {}) }
  for (const name of added) optional[name] = main.version
  main.optionalDependencies = optional
  if (!fs.existsSync(backupOf(file))) fs.writeFileSync(backupOf(file), text)
  writeJson(file, main)
  console.log(`browserdb: optionalDependencies for the publish: ${added.join(', ')}`)
  if (skipped.length > 0) console.log(`  not published at ${main.version}, left out: ${skipped.join(', ')}`)
  return { added, skipped }
}

function removeOptional (options) {
  const file = path.resolve(options.package || path.join(root, 'package.json'))
  const backup = backupOf(file)
  if (fs.existsSync(backup)) {
    // Restore the file byte for byte (formatting included), unless it changed meanwhile.
    const saved = JSON.parse(fs.readFileSync(backup, 'utf8'))
    const now = readJson(file)
    delete now.optionalDependencies
    const before = { ...saved }
    delete before.optionalDependencies
    if (JSON.stringify(now) === JSON.stringify(before) && !hasPlatformDeps(saved)) {
      fs.renameSync(backup, file)
      console.log('browserdb: restored package.json as it was before add-optional')
      return
    }
    fs.rmSync(backup)
  }
  const main = readJson(file)
  if (main.optionalDependencies) {
    for (const platform of Object.keys(PLATFORMS)) delete main.optionalDependencies[`browserdb-${platform}`]
    if (Object.keys(main.optionalDependencies).length === 0) delete main.optionalDependencies
  }
  writeJson(file, main)
  console.log('browserdb: removed the platform packages from optionalDependencies')
}

function hasPlatformDeps (manifest) {
  return Object.keys(manifest.optionalDependencies || {}).some((name) => name.startsWith('browserdb-'))
}

function parseArgs (argv) {
  const options = {}
  const rest = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--artifacts' || arg === '--out' || arg === '--package') {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`)
      options[arg.slice(2)] = argv[++i]
    } else if (arg === '--assume-published') {
      options.assumePublished = true
    } else if (arg.startsWith('--')) {
      throw new Error(`unknown option ${arg}`)
    } else {
      rest.push(arg)
    }
  }
  return { command: rest[0], options }
}

module.exports = { PLATFORMS, platformManifest, platforms, addOptional, removeOptional }

if (require.main === module) {
  try {
    const { command, options } = parseArgs(process.argv.slice(2))
    if (command === 'platforms') platforms(options)
    else if (command === 'add-optional') addOptional(options)
    else if (command === 'remove-optional') removeOptional(options)
    else {
      console.error('usage: node scripts/release-prepare.js platforms [--artifacts DIR] [--out DIR]\n' +
        '       node scripts/release-prepare.js add-optional [--assume-published] [--package FILE]\n' +
        '       node scripts/release-prepare.js remove-optional [--package FILE]')
      process.exit(2)
    }
  } catch (err) {
    console.error(`error: ${err.message}`)
    process.exit(1)
  }
}
