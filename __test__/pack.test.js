'use strict'
// Packaging (issue 11): `npm pack` makes a tarball that installs into a fresh project and works
// from CommonJS, ESM and TypeScript, for `browserdb` and `browserdb/level`; the release script
// writes the per-platform prebuilt packages and adds them to optionalDependencies only for a
// publish; the loader takes a matching prebuilt when one is installed, else the from-source
// build, and says how to get Rust when neither loads.
//
// The install runs the package's real install script (`node loader.js --install` →
// scripts/build-native.js → cargo build) with CARGO_TARGET_DIR pointing at this checkout's
// target/, so cargo reuses the compiled crates. The installed sources are dated back first
// (npm stamps them with the install time, which would make cargo rebuild the crate itself: about
// 20 s of LTO); the test checks separately that every source file cargo compiled is in the
// tarball. BROWSERDB_PACK_TEST_FULL_BUILD=1 skips the dating back: a full from-source build.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { ROOT, tmpDir } = require('./helpers')
const loader = require('../loader.js')
const release = require('../scripts/release-prepare.js')

const T = { timeout: 180000 }
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const npmProbe = spawnSync(npm, ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' })
const noNpm = (npmProbe.error || npmProbe.status !== 0) && `npm is not available (${npmProbe.error ? npmProbe.error.message : npmProbe.stderr})`
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))

function run (cmd, args, options) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', shell: process.platform === 'win32' && cmd === npm, ...options })
  if (r.error) throw r.error
  return r
}

function ok (r, what) {
  assert.equal(r.status, 0, `${what} exited ${r.status}\n${r.stdout}\n${r.stderr}`)
  return r
}

/** Every file of a directory tree, relative to it, with '/' separators. */
function walk (dir, base = dir) {
  const out = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...walk(full, base))
    else out.push(path.relative(base, full).split(path.sep).join('/'))
  }
  return out
}

test('the committed package.json: subpath exports, files, no platform optionalDependencies', () => {
  assert.deepEqual(pkg.exports['./level'], { types: './level.d.ts', import: './level.mjs', require: './level.js' })
  for (const file of ['loader.js', 'level.js', 'level.mjs', 'level.d.ts', 'index.js', 'index.mjs', 'index.d.ts']) {
    assert.ok(pkg.files.includes(file), `files lists ${file}`)
  }
  const platformDeps = Object.keys(pkg.optionalDependencies || {}).filter((name) => name.startsWith('browserdb-'))
  assert.deepEqual(platformDeps, [], 'platform packages are added only for a publish (release-prepare add-optional)')
  assert.equal(pkg.peerDependenciesMeta['abstract-level'].optional, true, 'browserdb itself installs no dependency')
  assert.equal(pkg.dependencies, undefined)
})

test('release-prepare: the five platform packages, with os/cpu/libc, and their addons', (t) => {
  const out = tmpDir(t)
  const artifacts = tmpDir(t)
  fs.writeFileSync(path.join(artifacts, 'browserdb.linux-x64-gnu.node'), 'not really an addon')
  const log = ok(run(process.execPath, [path.join(ROOT, 'scripts', 'release-prepare.js'), 'platforms', '--out', out, '--artifacts', artifacts]), 'platforms')
  assert.match(log.stdout, /publish these\): linux-x64-gnu\n/)
  const expected = {
    'linux-x64-gnu': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
    'linux-arm64-gnu': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
    'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
    'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
    'win32-x64-msvc': { os: ['win32'], cpu: ['x64'] }
  }
  assert.deepEqual(fs.readdirSync(out).sort(), Object.keys(expected).sort())
  assert.deepEqual(loader.PREBUILT_PLATFORMS.slice().sort(), Object.keys(expected).sort(), 'the loader knows the same platforms')
  for (const [platform, fields] of Object.entries(expected)) {
    const manifest = JSON.parse(fs.readFileSync(path.join(out, platform, 'package.json'), 'utf8'))
    assert.equal(manifest.name, `browserdb-${platform}`)
    assert.equal(manifest.version, pkg.version)
    assert.equal(manifest.main, `browserdb.${platform}.node`)
    assert.deepEqual(manifest.files, [manifest.main])
    assert.deepEqual(manifest.os, fields.os)
    assert.deepEqual(manifest.cpu, fields.cpu)
    assert.deepEqual(manifest.libc, fields.libc)
    assert.equal(loader.platformKey(fields.os[0], fields.cpu[0], false), platform, 'the loader names it the same way')
    assert.equal(fs.existsSync(path.join(out, platform, manifest.main)), platform === 'linux-x64-gnu')
  }
})

test('release-prepare: add-optional for the publish, then remove-optional restores package.json byte for byte', (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'package.json')
  const original = fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')
  fs.writeFileSync(file, original)
  const script = path.join(ROOT, 'scripts', 'release-prepare.js')
  // --assume-published: a unit test asks no registry (without it, each package is looked up
  // with `npm view` and only published ones are added).
  ok(run(process.execPath, [script, 'add-optional', '--assume-published', '--package', file]), 'add-optional')
  const publishing = JSON.parse(fs.readFileSync(file, 'utf8'))
  assert.deepEqual(publishing.optionalDependencies, Object.fromEntries(loader.PREBUILT_PLATFORMS.map((p) => [`browserdb-${p}`, pkg.version])))
  ok(run(process.execPath, [script, 'remove-optional', '--package', file]), 'remove-optional')
  assert.equal(fs.readFileSync(file, 'utf8'), original)
  assert.deepEqual(fs.readdirSync(dir), ['package.json'], 'no backup left behind')
  // Without a backup (another checkout), remove-optional still takes them out.
  fs.writeFileSync(file, JSON.stringify({ ...publishing, optionalDependencies: { ...publishing.optionalDependencies, other: '1' } }))
  ok(run(process.execPath, [script, 'remove-optional', '--package', file]), 'remove-optional')
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).optionalDependencies, { other: '1' })
})

/** A fake installed layout: node_modules/browserdb/{loader.js, ...} beside node_modules/browserdb-<key>. */
function layout (t, { prebuilt, fromSource }) {
  const dir = tmpDir(t)
  const own = path.join(dir, 'node_modules', 'browserdb')
  fs.mkdirSync(path.join(own, 'scripts'), { recursive: true })
  fs.copyFileSync(path.join(ROOT, 'loader.js'), path.join(own, 'loader.js'))
  fs.writeFileSync(path.join(own, 'scripts', 'build-native.js'), "console.log('BUILD FROM SOURCE'); process.exit(3)\n")
  if (fromSource) fs.copyFileSync(path.join(ROOT, 'browserdb.node'), path.join(own, 'browserdb.node'))
  if (prebuilt) {
    const key = loader.platformKey()
    const pre = path.join(dir, 'node_modules', `browserdb-${key}`)
    fs.mkdirSync(pre, { recursive: true })
    fs.writeFileSync(path.join(pre, 'package.json'), JSON.stringify({ name: `browserdb-${key}`, version: pkg.version, main: `browserdb.${key}.node` }))
    if (prebuilt === 'broken') fs.writeFileSync(path.join(pre, `browserdb.${key}.node`), 'not an addon')
    else fs.copyFileSync(path.join(ROOT, 'browserdb.node'), path.join(pre, `browserdb.${key}.node`))
  }
  return own
}

const probe = `const r = require('./loader.js').loadNative(); console.log(JSON.stringify({ source: r.source, file: r.file, open: typeof r.native.openDb }))`
const env = { ...process.env, BROWSERDB_NATIVE_PATH: '' }
const noPrebuilt = loader.prebuiltPackage() === null && `no prebuilt package is published for ${loader.platformKey()}`

test('loader: a matching prebuilt wins over the from-source build; install keeps it and builds nothing', { skip: noPrebuilt }, (t) => {
  const own = layout(t, { prebuilt: true, fromSource: true })
  const loaded = JSON.parse(ok(run(process.execPath, ['-e', probe], { cwd: own, env }), 'load').stdout)
  assert.equal(loaded.source, 'prebuilt')
  assert.equal(path.basename(loaded.file), `browserdb.${loader.platformKey()}.node`)
  assert.equal(loaded.open, 'function')
  const install = ok(run(process.execPath, ['loader.js', '--install'], { cwd: own, env }), 'install')
  assert.match(install.stdout, /using the prebuilt addon browserdb-/)
  assert.doesNotMatch(install.stdout, /BUILD FROM SOURCE/)
})

test('loader: without a prebuilt, or with one that does not load, the from-source build', { skip: noPrebuilt }, (t) => {
  for (const prebuilt of [false, 'broken']) {
    const own = layout(t, { prebuilt, fromSource: true })
    const loaded = JSON.parse(ok(run(process.execPath, ['-e', probe], { cwd: own, env }), 'load').stdout)
    assert.equal(loaded.source, 'source', `prebuilt: ${prebuilt}`)
    // The install script builds then (here a stand-in build script that exits 3).
    const install = run(process.execPath, ['loader.js', '--install'], { cwd: own, env })
    assert.equal(install.status, 3)
    assert.match(install.stdout, /BUILD FROM SOURCE/)
    if (prebuilt === 'broken') assert.match(install.stderr, /does not load .*building from source/)
  }
})

test('loader: neither a prebuilt nor a build: BROWSERDB_INTERNAL says what was tried and how to get Rust', (t) => {
  const own = layout(t, { prebuilt: false, fromSource: false })
  const r = run(process.execPath, ['-e', probe], { cwd: own, env: { ...env, CARGO: path.join(own, 'no-such-cargo') } })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /BROWSERDB_INTERNAL/)
  assert.match(r.stderr, /the from-source build \(browserdb\.node\) is missing/)
  assert.match(r.stderr, /needs Rust \(cargo\), which was not found: install it from https:\/\/rustup\.rs/)
  if (!noPrebuilt) assert.match(r.stderr, /the prebuilt package browserdb-\S+ is not installed/)
  const withCargo = run(process.execPath, ['-e', probe], { cwd: own, env: { ...env, CARGO: process.execPath } })
  assert.match(withCargo.stderr, /Rust is installed: run `npm rebuild browserdb`/)
})

test('npm pack → install into a fresh project → require, import, browserdb/level, types, CLI', { ...T, skip: noNpm }, async (t) => {
  const work = tmpDir(t)
  const packed = JSON.parse(ok(run(npm, ['pack', '--json', '--pack-destination', work], { cwd: ROOT }), 'npm pack').stdout)
  const tarball = path.join(work, packed[0].filename)
  const inTarball = new Set(packed[0].files.map((f) => f.path))

  // Everything cargo and Node need is in the tarball; nothing of the repo's tests or builds is.
  for (const file of ['package.json', 'README.md', 'Cargo.toml', 'Cargo.lock', 'build.rs', 'index.js', 'index.mjs', 'index.d.ts',
    'loader.js', 'level.js', 'level.mjs', 'level.d.ts', 'bin/browserdb.js', 'scripts/build-native.js']) {
    assert.ok(inTarball.has(file), `the tarball has ${file}`)
  }
  for (const file of walk(path.join(ROOT, 'src'))) assert.ok(inTarball.has(`src/${file}`), `the tarball has src/${file}`)
  for (const file of inTarball) {
    assert.ok(!/^(target|node_modules|__test__|benchmark|tests)\//.test(file) && !file.endsWith('.node'), `the tarball leaves out ${file}`)
  }

  const project = path.join(work, 'app')
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  const npmEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }
  // abstract-level is browserdb/level's optional peer: the app installs it (from npm's cache,
  // which this checkout's own install filled).
  ok(run(npm, ['install', tarball, `abstract-level@${pkg.devDependencies['abstract-level']}`, '--ignore-scripts', '--prefer-offline'],
    { cwd: project, env: npmEnv }), 'npm install')
  const installed = path.join(project, 'node_modules', 'browserdb')
  assert.ok(!fs.existsSync(path.join(installed, 'browserdb.node')), 'nothing built yet')
  if (!process.env.BROWSERDB_PACK_TEST_FULL_BUILD) {
    const old = new Date('2000-01-01T00:00:00Z')
    for (const file of walk(installed)) fs.utimesSync(path.join(installed, file), old, old)
  }
  // The package's install script, as `npm install` runs it.
  const rebuilt = run(npm, ['rebuild', 'browserdb', '--foreground-scripts'], {
    cwd: project, env: { ...npmEnv, CARGO_TARGET_DIR: path.join(ROOT, 'target'), BROWSERDB_NATIVE_PATH: '' }
  })
  ok(rebuilt, 'npm rebuild (the install script)')
  assert.ok(fs.existsSync(path.join(installed, 'browserdb.node')), `the install script built the addon\n${rebuilt.stdout}\n${rebuilt.stderr}`)

  const db = path.join(work, 'db')
  fs.writeFileSync(path.join(project, 'cjs.js'), `
    const { BrowserDB } = require('browserdb')
    const { BrowserLevel } = require('browserdb/level')
    ;(async () => {
      const db = await BrowserDB.open(${JSON.stringify(db + '-cjs')})
      await db.put('k', 'from cjs')
      const v = await db.get('k')
      await db.close()
      const level = new BrowserLevel(${JSON.stringify(db + '-level')}, { valueEncoding: 'json' })
      await level.sublevel('s', { valueEncoding: 'json' }).put('k', { v })
      const got = await level.sublevel('s', { valueEncoding: 'json' }).get('k')
      await level.close()
      console.log(JSON.stringify(got))
    })().catch((e) => { console.error(e); process.exit(1) })
  `)
  fs.writeFileSync(path.join(project, 'esm.mjs'), `
    import { BrowserDB } from 'browserdb'
    import DefaultDB from 'browserdb'
    import { BrowserLevel } from 'browserdb/level'
    const db = await BrowserDB.open(${JSON.stringify(db + '-esm')}, { valueEncoding: 'json' })
    await db.put('k', { from: 'esm' })
    console.log(JSON.stringify({ value: await db.get('k'), same: DefaultDB === BrowserDB, level: typeof BrowserLevel }))
    await db.close()
  `)
  fs.writeFileSync(path.join(project, 'app.ts'), `
    import { BrowserDB } from 'browserdb'
    import { BrowserLevel } from 'browserdb/level'
    export async function main (): Promise<string | undefined> {
      const db = await BrowserDB.open<string, { any: string }>('x', { valueEncoding: 'json' })
      await db.put('k', { any: 'json' })
      const level = new BrowserLevel<string, number>('y', { valueEncoding: 'json' })
      const n: number | undefined = await level.get('k')
      void n
      // @ts-expect-error: values of this Level database are numbers
      await level.put('k', 'text')
      await db.close()
      return level.location
    }
  `)
  fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      noEmit: true, strict: true, target: 'ES2022', lib: ['ES2022'], module: 'node16', moduleResolution: 'node16',
      types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')], skipLibCheck: false
    },
    files: ['app.ts']
  }))

  assert.deepEqual(JSON.parse(ok(run(process.execPath, ['cjs.js'], { cwd: project }), 'CommonJS').stdout), { v: 'from cjs' })
  assert.deepEqual(JSON.parse(ok(run(process.execPath, ['esm.mjs'], { cwd: project }), 'ESM').stdout), { value: { from: 'esm' }, same: true, level: 'function' })
  ok(run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project }), 'tsc (exports types, node16 resolution)')
  const cli = ok(run(process.execPath, [path.join(project, 'node_modules', '.bin', 'browserdb'), 'get', db + '-cjs', 'k'], { cwd: project }), 'CLI')
  assert.match(cli.stdout, /from cjs/)
})
