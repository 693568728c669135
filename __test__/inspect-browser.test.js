'use strict'
// The inspect page in a real headless Chromium (driven by playwright-core): the levels chart,
// the HeatMap, memory meters, the key browser (prefix search, paging, hex, escaping) and verify
// render real data from a test database; with BROWSERDB_SCREENSHOT=1 it refreshes docs/inspect.png.
// Skips (never fails) when /usr/bin/chromium or playwright-core is absent.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { BrowserDB } = require('..')
const { attachInspect } = require('../inspect/attach')
const { ROOT, tmpDir, openDb } = require('./helpers')
const { waitForFlushes } = require('./helpers/ordered')

attachInspect(BrowserDB)

const CHROMIUM = process.env.BROWSERDB_CHROMIUM || '/usr/bin/chromium'
let playwright = null
try {
  playwright = require('playwright-core')
} catch {}
const skip = !fs.existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set BROWSERDB_CHROMIUM)`
  : playwright === null ? 'playwright-core is not installed (npm install)' : false

test('the inspect page renders real data in headless Chromium', { skip, timeout: 25000 }, async (t) => {
  const db = await openDb(t, BrowserDB, tmpDir(t), { writeBufferSize: 64 * 1024 })
  const pad = 'p'.repeat(300)
  for (let batch = 0; batch < 6; batch++) {
    const ops = []
    for (let i = 0; i < 400; i++) {
      const n = batch * 400 + i
      ops.push({ type: 'put', key: 'user:' + String(n).padStart(5, '0'), value: JSON.stringify({ n, name: 'user ' + n, pad }) })
    }
    await db.batch(ops)
  }
  for (let i = 0; i < 40; i++) await db.put('session:' + String(i).padStart(3, '0'), 'token-' + i)
  await db.put('html', '<b id="injected">bold</b>')
  await db.put(Buffer.from([0xfe, 0xed]), Buffer.from([0xde, 0xad, 0xbe, 0xef]), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.compact()
  for (let i = 0; i < 600; i++) await db.put('user:' + String(i * 3).padStart(5, '0'), JSON.stringify({ n: i * 3, updated: true, pad }))
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < 8; i++) await db.get('user:' + String(i * 100).padStart(5, '0'))
  }
  // The page's levels are compared with a later stats(): no flush may land in between. (The
  // updates make three level-0 tables, below the 4 that start a background compaction.)
  await waitForFlushes(db)
  const handle = await db.inspect()
  t.after(() => handle.close())

  const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  t.after(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
  const errors = []
  page.on('pageerror', (err) => errors.push(err.message))
  const external = []
  page.on('request', (req) => { if (!req.url().startsWith(`http://127.0.0.1:${handle.port}/`)) external.push(req.url()) })

  await page.goto(handle.url)
  await page.waitForSelector('body[data-ready="1"]', { timeout: 10000 })

  // Levels chart: one group per level whose data matches stats().
  const stats = db.stats()
  const levels = await page.$$eval('#levels-svg g.level', (gs) => gs.map((g) => ({ tables: Number(g.dataset.tables), bytes: Number(g.dataset.bytes), width: Number(g.querySelector('.bar-bytes').getAttribute('width')) })))
  assert.equal(levels.length, 7)
  assert.deepEqual(levels.map((l) => l.tables), stats.levels.map((l) => l.tables))
  assert.ok(levels.some((l) => l.tables > 0 && l.width > 0), 'a non-empty level has a visible bar')
  assert.match(await page.textContent('#levels-summary'), new RegExp(`tables ${stats.tables}\\b`))
  // Key ranges: one line per non-empty level, naming real keys of its tables.
  const ranges = await page.$$eval('#levels-ranges li.range', (items) => items.map((li) => ({ level: Number(li.dataset.level), text: li.textContent })))
  assert.deepEqual(ranges.map((r) => r.level), stats.levels.flatMap((l, i) => (l.tables > 0 ? [i] : [])))
  const tables = db.tables()
  for (const r of ranges) {
    const first = tables.filter((t) => t.level === r.level).map((t) => t.smallest).sort(Buffer.compare)[0]
    assert.ok(r.text.includes(first.toString()), `level ${r.level} shows its smallest key: ${r.text}`)
  }

  // Compaction and HeatMap charts, tiers, hot keys, memory meters.
  await page.waitForSelector('#compaction-svg path', { state: 'attached' })
  await page.waitForSelector('#heat-svg path', { state: 'attached' })
  assert.match(await page.textContent('#compaction-summary'), /write amplification \d/)
  assert.equal(await page.$$eval('#tiers tbody tr', (rows) => rows.length), 2)
  const hot = await page.$$eval('#hot-keys li .k', (lis) => lis.map((li) => li.textContent))
  assert.ok(hot.length > 0, 'hot keys listed')
  assert.ok(hot.every((k) => k.startsWith('user:')), hot.join(','))
  assert.equal(await page.$$eval('#memory .meter', (m) => m.length), 4)
  assert.match(await page.textContent('#memory'), /memtable vs writeBufferSize/)
  assert.match(await page.textContent('#memory'), /64\.0 KiB/)

  // Key browser: first page in key order; the HTML-looking value shown as text, not parsed.
  await page.waitForSelector('#keys tbody tr.entry')
  const firstKeys = await page.$$eval('#keys tbody tr.entry td:first-child', (tds) => tds.map((td) => td.textContent))
  assert.equal(firstKeys.length, 25)
  assert.equal(firstKeys[0], 'html')
  assert.equal(firstKeys[1], 'session:000')
  assert.equal(await page.$('#injected'), null, 'value not parsed as HTML')
  assert.equal(await page.textContent('#keys tbody tr.entry td:nth-child(2)'), '<b id="injected">bold</b>')

  // Prefix search and paging.
  await page.fill('#prefix', 'user:01')
  await page.click('#keys-form button[type=submit]')
  await page.waitForFunction(() => document.querySelector('#keys tbody td')?.textContent === 'user:01000')
  await page.click('#keys-next')
  await page.waitForFunction(() => document.querySelector('#keys tbody td')?.textContent === 'user:01025')
  assert.match(await page.textContent('#keys-info'), /entries 26–50/)
  const second = await page.$$eval('#keys tbody tr.entry td:first-child', (tds) => tds.map((td) => td.textContent))
  assert.deepEqual(second, Array.from({ length: 25 }, (_, i) => 'user:' + String(1025 + i).padStart(5, '0')))
  await page.click('#keys-prev')
  await page.waitForFunction(() => document.querySelector('#keys tbody td')?.textContent === 'user:01000')

  // Binary keys and values as hex.
  await page.fill('#prefix', 'fe')
  await page.check('#prefix-hex')
  await page.click('#keys-form button[type=submit]')
  await page.waitForFunction(() => document.querySelector('#keys tbody td')?.textContent === 'hex:feed')
  assert.equal(await page.textContent('#keys tbody tr.entry td:nth-child(2)'), 'hex:deadbeef')

  // Verify: the progress bar fills and the report shows.
  await page.click('#verify-button')
  await page.waitForSelector('#verify-result', { timeout: 10000 })
  assert.match(await page.textContent('#verify-result'), /^ok: \d+ tables, [\d,]+ entries/)
  assert.equal(await page.$eval('#verify-progress', (p) => p.value), 1)

  // A readable key page for the screenshot.
  await page.uncheck('#prefix-hex')
  await page.fill('#prefix', 'user:')
  await page.click('#keys-form button[type=submit]')
  await page.waitForFunction(() => document.querySelector('#keys tbody td')?.textContent === 'user:00000')
  // A few seconds of live traffic, so the charts have some history to show.
  for (let second = 0; second < 4; second++) {
    const ops = []
    for (let i = 0; i < 150; i++) ops.push({ type: 'put', key: 'event:' + String(second * 1000 + i).padStart(6, '0'), value: pad })
    await db.batch(ops)
    for (let i = 0; i < 40; i++) await db.get('user:' + String((i % 8) * 100 + (second % 2) * 7).padStart(5, '0'))
    await page.waitForTimeout(1000)
  }
  // The README's screenshot is refreshed only on request (BROWSERDB_SCREENSHOT=1), so a test run
  // leaves the work tree clean; otherwise it goes to the test's temp directory.
  const shot = process.env.BROWSERDB_SCREENSHOT === '1' ? path.join(ROOT, 'docs', 'inspect.png') : path.join(tmpDir(t), 'inspect.png')
  await page.screenshot({ path: shot, fullPage: true })
  assert.ok(fs.statSync(shot).size > 10000, 'a screenshot with content')

  assert.deepEqual(errors, [], 'no script errors')
  assert.deepEqual(external, [], 'no request leaves 127.0.0.1')
})
