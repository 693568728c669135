'use strict'
// The inspect page: polls the JSON API about every second and draws with hand-written SVG.
// Everything from the database is put in the page with textContent, never parsed as HTML.
;(function () {
  const token = new URLSearchParams(location.search).get('token') || ''
  const SVG = 'http://www.w3.org/2000/svg'
  const HISTORY = 120 // samples (about two minutes)
  const history = []
  const $ = (id) => document.getElementById(id)

  function api (path, init) {
    return fetch(path, Object.assign({ headers: { 'X-BrowserDB-Token': token }, cache: 'no-store' }, init)).then((r) => {
      if (!r.ok) return r.json().catch(() => ({})).then((b) => { throw new Error(b.error || r.status + ' ' + r.statusText) })
      return r.json()
    })
  }

  // -- helpers ------------------------------------------------------------------------------

  function el (tag, attrs, text) {
    const node = document.createElement(tag)
    if (attrs) for (const k of Object.keys(attrs)) node.setAttribute(k, attrs[k])
    if (text !== undefined) node.textContent = text
    return node
  }

  function svg (tag, attrs, text) {
    const node = document.createElementNS(SVG, tag)
    if (attrs) for (const k of Object.keys(attrs)) node.setAttribute(k, attrs[k])
    if (text !== undefined) node.textContent = text
    return node
  }

  function bytes (n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
    let i = 0
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
    return i === 0 ? n + ' B' : n.toFixed(1) + ' ' + units[i]
  }

  function num (n, digits) {
    return digits === undefined ? Number(n).toLocaleString('en') : Number(n).toFixed(digits)
  }

  /** A summary line of label/value pairs (values in bold). */
  function summary (node, pairs) {
    node.replaceChildren()
    pairs.forEach(([label, value], i) => {
      if (i > 0) node.append(' · ')
      node.append(label + ' ')
      node.append(el('b', null, String(value)))
    })
  }

  /** A byte string from the API ({ text?, hex, size, truncated }) as a DOM node. */
  function showBytes (b) {
    const span = el('span')
    if (b.text !== undefined) {
      span.textContent = b.text
    } else {
      span.className = 'hexv'
      span.textContent = 'hex:' + b.hex
    }
    if (b.truncated) span.append(el('span', { class: 'trunc' }, ' … (' + bytes(b.size) + ')'))
    return span
  }

  // -- charts -------------------------------------------------------------------------------

  function levelsChart (levels) {
    const W = 900; const rowH = 26; const top = 22; const labelW = 40; const half = (W - labelW - 20) / 2
    const H = top + levels.length * rowH + 6
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'tables and bytes per level', id: 'levels-svg' })
    const maxTables = Math.max(1, ...levels.map((l) => l.tables))
    const maxBytes = Math.max(1, ...levels.map((l) => l.bytes))
    root.append(svg('text', { x: labelW, y: 14, class: 'dim' }, 'tables'))
    root.append(svg('text', { x: labelW + half + 20, y: 14, class: 'dim' }, 'bytes'))
    levels.forEach((level, i) => {
      const y = top + i * rowH
      const g = svg('g', { class: 'level', 'data-level': String(i), 'data-tables': String(level.tables), 'data-bytes': String(level.bytes) })
      g.append(svg('text', { x: 4, y: y + 15 }, 'L' + i))
      const tw = level.tables === 0 ? 0 : Math.max(2, (level.tables / maxTables) * (half - 90))
      const bw = level.bytes === 0 ? 0 : Math.max(2, (level.bytes / maxBytes) * (half - 90))
      g.append(svg('rect', { x: labelW, y: y + 3, width: half - 10, height: rowH - 8, fill: '#f1f3f7', rx: 3 }))
      g.append(svg('rect', { x: labelW, y: y + 3, width: tw, height: rowH - 8, fill: '#2f6fde', rx: 3, class: 'bar-tables' }))
      g.append(svg('text', { x: labelW + tw + 6, y: y + 15 }, level.tables + (level.tables === 1 ? ' table' : ' tables')))
      const bx = labelW + half + 20
      g.append(svg('rect', { x: bx, y: y + 3, width: half - 10, height: rowH - 8, fill: '#f1f3f7', rx: 3 }))
      g.append(svg('rect', { x: bx, y: y + 3, width: bw, height: rowH - 8, fill: '#e0822b', rx: 3, class: 'bar-bytes' }))
      g.append(svg('text', { x: bx + bw + 6, y: y + 15 }, bytes(level.bytes)))
      root.append(g)
    })
    return root
  }

  /** Per level: its key range (smallest to largest key of its tables) and its tables' ranges. */
  function levelRanges (tables) {
    const list = el('ul', { class: 'ranges' })
    const byLevel = new Map()
    for (const t of tables) {
      if (!byLevel.has(t.level)) byLevel.set(t.level, [])
      byLevel.get(t.level).push(t)
    }
    for (const [level, ts] of [...byLevel.entries()].sort((a, b) => a[0] - b[0])) {
      const item = el('li', { class: 'range', 'data-level': String(level) })
      const low = ts.reduce((m, t) => (t.smallest.hex < m.smallest.hex ? t : m), ts[0]).smallest
      const high = ts.reduce((m, t) => (t.largest.hex > m.largest.hex ? t : m), ts[0]).largest
      item.append(el('b', null, 'L' + level), ' keys ', showBytes(low), ' … ', showBytes(high))
      const detail = el('details')
      detail.append(el('summary', null, ts.length + (ts.length === 1 ? ' table' : ' tables')))
      const rows = el('ol')
      for (const t of ts) {
        const row = el('li', null, String(t.number).padStart(6, '0') + '.sst · ' + bytes(t.bytes) + ' · ' + num(t.entries) + ' entries · ')
        row.append(showBytes(t.smallest), ' … ', showBytes(t.largest))
        rows.append(row)
      }
      detail.append(rows)
      item.append(' ', detail)
      list.append(item)
    }
    return list
  }

  /** A line chart of several series over the history; each series { values, color, max? }. */
  function lineChart (series, id, labelFn) {
    const W = 460; const H = 130; const padL = 44; const padB = 8; const padT = 8
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', id })
    root.append(svg('line', { x1: padL, y1: H - padB, x2: W, y2: H - padB, class: 'axis' }))
    root.append(svg('line', { x1: padL, y1: padT, x2: padL, y2: H - padB, class: 'axis' }))
    series.forEach((s, si) => {
      const max = s.max !== undefined ? s.max : Math.max(1e-9, ...s.values.filter((v) => v !== null))
      if (si === 0) {
        root.append(svg('text', { x: 2, y: padT + 8, class: 'dim' }, labelFn(max)))
        root.append(svg('text', { x: 2, y: H - padB, class: 'dim' }, labelFn(0)))
      }
      let d = ''
      s.values.forEach((v, i) => {
        if (v === null) return
        const x = padL + (i / Math.max(1, s.values.length - 1)) * (W - padL)
        const y = H - padB - (v / max) * (H - padB - padT)
        d += (d === '' ? 'M' : 'L') + x.toFixed(1) + ' ' + y.toFixed(1)
      })
      if (d !== '') root.append(svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2 }))
    })
    return root
  }

  function meter (label, used, budget) {
    const box = el('div', { class: 'meter' })
    const head = el('div', { class: 'label' })
    head.append(el('span', null, label), el('span', null, bytes(used) + ' / ' + (budget > 0 ? bytes(budget) : '—')))
    const track = el('div', { class: 'track' })
    const frac = budget > 0 ? used / budget : 0
    const fill = el('div', { class: 'fill' + (frac > 1 ? ' over' : '') })
    fill.style.width = Math.min(100, frac * 100).toFixed(1) + '%'
    track.append(fill)
    box.append(head, track)
    return box
  }

  // -- live panels ----------------------------------------------------------------------------

  function render (data, hot) {
    const s = data.stats
    const prev = history[history.length - 1]
    const dt = prev ? Math.max(0.001, (data.time - prev.time) / 1000) : 1
    const sample = {
      time: data.time,
      compactions: s.compactions,
      flushes: s.flushes,
      hits: s.cache.hits,
      misses: s.cache.misses,
      wa: s.writeAmplification,
      hitRate: s.cache.hitRate,
      activity: prev ? Math.max(0, (s.compactions - prev.compactions) + (s.flushes - prev.flushes)) / dt : 0,
      recentHitRate: null
    }
    if (prev) {
      const h = s.cache.hits - prev.hits; const m = s.cache.misses - prev.misses
      sample.recentHitRate = h + m > 0 ? h / (h + m) : null
    }
    history.push(sample)
    if (history.length > HISTORY) history.shift()

    $('where').textContent = data.location + ' (' + data.mode + ')'

    const levels = s.levels
    summary($('levels-summary'), [['tables', s.tables], ['entries', num(s.tableEntries)], ['on disk', bytes(s.diskBytes)],
      ['live (est.)', bytes(s.liveBytesEstimate)], ['space amplification', num(s.spaceAmplification, 2)]])
    $('levels-chart').replaceChildren(levelsChart(levels))
    $('levels-ranges').replaceChildren(levelRanges(data.tables || []))

    summary($('compaction-summary'), [['compactions', s.compactions], ['flushes', s.flushes], ['write amplification', num(s.writeAmplification, 2)],
      ['slowdowns', s.writeSlowdowns], ['stops', s.writeStops], ['L0 tables', levels[0].tables]])
    const pad = (values) => Array(Math.max(0, 30 - values.length)).fill(null).concat(values) // at least 30 slots
    const maxWa = Math.max(1, ...history.map((h) => h.wa))
    const maxAct = Math.max(1, ...history.map((h) => h.activity))
    $('compaction-chart').replaceChildren(lineChart([
      { values: pad(history.map((h) => h.wa)), color: '#2f6fde', max: maxWa },
      { values: pad(history.map((h) => h.activity * (maxWa / maxAct))), color: '#e0822b', max: maxWa }
    ], 'compaction-svg', (v) => v.toFixed(1) + '×'))

    const c = s.cache
    summary($('heat-summary'), [['hit rate', (c.hitRate * 100).toFixed(1) + '%'], ['hits', num(c.hits)], ['misses', num(c.misses)], ['cache', bytes(c.bytes)]])
    $('heat-chart').replaceChildren(lineChart([
      { values: pad(history.map((h) => h.hitRate)), color: '#2f6fde', max: 1 },
      { values: pad(history.map((h) => h.recentHitRate)), color: '#2aa876', max: 1 }
    ], 'heat-svg', (v) => Math.round(v * 100) + '%'))
    const tbody = $('tiers').tBodies[0]
    tbody.replaceChildren()
    for (const name of ['hot', 'warm']) {
      const t = c[name]
      const tr = el('tr')
      for (const v of [name.toUpperCase(), num(t.hits), num(t.misses), num(t.entries), bytes(t.bytes), num(t.evictions)]) tr.append(el('td', null, v))
      tbody.append(tr)
    }
    const list = $('hot-keys')
    list.replaceChildren()
    if (hot.keys.length === 0) list.append(el('li', { class: 'trunc' }, 'no hot keys yet (keys become hot as they are read)'))
    for (const { key, heat } of hot.keys) {
      const li = el('li')
      const k = el('span', { class: 'k' })
      k.append(showBytes(key))
      const bar = el('span', { class: 'bar', title: 'heat ' + heat })
      bar.style.width = (8 + heat * 6) + 'px'
      li.append(k, bar, el('span', null, String(heat)))
      list.append(li)
    }

    const memory = $('memory')
    memory.replaceChildren(
      meter('cache (HOT + WARM) vs cacheSize', c.bytes, c.capacityBytes),
      meter('· HOT tier', c.hot.bytes, c.capacityBytes),
      meter('· WARM tier', c.warm.bytes, c.capacityBytes),
      meter('memtable vs writeBufferSize', s.memtableBytes, data.budgets.writeBufferSize)
    )
    if (data.budgets.maxMemory !== null) memory.append(meter('data in RAM vs maxMemory', s.memoryBytes, data.budgets.maxMemory))
    const extra = el('p', { class: 'note' })
    extra.textContent = 'frozen memtables: ' + s.immutableMemtables + ' · data in memory: ' + bytes(s.memoryBytes) +
      ' · sketches: ' + bytes(c.sketchBytes) + ' · live iterators: ' + s.liveIterators + ' · snapshots: ' + s.liveSnapshots
    memory.append(extra)
  }

  let polling = false
  async function poll () {
    if (polling) return
    polling = true
    try {
      const [data, hot] = await Promise.all([api('/api/stats'), api('/api/heatmap?limit=15')])
      render(data, hot)
      $('status').textContent = 'live · ' + new Date(data.time).toLocaleTimeString()
      $('status').className = 'status'
      document.body.dataset.ready = '1'
    } catch (err) {
      $('status').textContent = 'error: ' + err.message
      $('status').className = 'status bad'
    } finally {
      polling = false
    }
  }

  // -- key browser ----------------------------------------------------------------------------

  const PAGE = 25
  let cursors = [''] // the `after` of each page shown so far; the last is the current page
  let nextCursor = null

  async function loadKeys () {
    const q = new URLSearchParams({ limit: String(PAGE), prefix: $('prefix').value, hex: $('prefix-hex').checked ? '1' : '0' })
    const after = cursors[cursors.length - 1]
    if (after) q.set('after', after)
    const tbody = $('keys').tBodies[0]
    try {
      const page = await api('/api/keys?' + q)
      tbody.replaceChildren()
      for (const { key, value } of page.entries) {
        const tr = el('tr', { class: 'entry' })
        const k = el('td'); k.append(showBytes(key))
        const v = el('td', { title: value.text !== undefined ? value.text : 'hex:' + value.hex }); v.append(showBytes(value))
        tr.append(k, v, el('td', null, bytes(value.size)))
        tbody.append(tr)
      }
      if (page.entries.length === 0) {
        const tr = el('tr'); tr.append(el('td', { colspan: '3', class: 'trunc' }, 'no keys')); tbody.append(tr)
      }
      nextCursor = page.next
      $('keys-next').disabled = nextCursor === null
      $('keys-prev').disabled = cursors.length <= 1
      const first = (cursors.length - 1) * PAGE
      $('keys-info').textContent = page.entries.length === 0 ? '' : 'entries ' + (first + 1) + '–' + (first + page.entries.length)
    } catch (err) {
      $('keys-info').textContent = 'error: ' + err.message
    }
  }

  $('keys-form').addEventListener('submit', (e) => { e.preventDefault(); cursors = ['']; loadKeys() })
  $('keys-next').addEventListener('click', () => { if (nextCursor !== null) { cursors.push(nextCursor); loadKeys() } })
  $('keys-prev').addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); loadKeys() } })

  // -- verify ---------------------------------------------------------------------------------

  function showVerify (state) {
    const p = state.progress
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : (state.running ? 0 : (state.report ? 1 : 0))
    $('verify-progress').value = frac
    $('verify-percent').textContent = state.running ? Math.floor(frac * 100) + '% (' + bytes(p.done) + (p.total > 0 ? ' / ' + bytes(p.total) : '') + ')' : ''
    $('verify-button').disabled = state.running
    const out = $('verify-report')
    out.replaceChildren()
    if (state.error) out.append(el('p', { class: 'problems' }, 'verify failed: ' + state.error.message + ' (' + state.error.code + ')'))
    const r = state.report
    if (r) {
      const line = r.tables + ' tables, ' + num(r.entries) + ' entries, ' + num(r.walRecords) + ' WAL records, ' + bytes(r.bytes) + ' checked'
      out.append(el('p', { class: r.ok ? 'ok' : 'problems', id: 'verify-result' }, (r.ok ? 'ok: ' : r.problems.length + ' problem(s): ') + line))
      if (r.problems.length > 0) {
        const ul = el('ul')
        for (const pr of r.problems) ul.append(el('li', null, pr.file + ' at offset ' + pr.offset + ': ' + pr.kind + ': ' + pr.message))
        out.append(ul)
      }
    }
  }

  async function watchVerify () {
    const state = await api('/api/verify')
    showVerify(state)
    if (state.running) setTimeout(() => watchVerify().catch(() => {}), 200)
  }

  $('verify-button').addEventListener('click', async () => {
    try {
      showVerify(await api('/api/verify', { method: 'POST' }))
      await watchVerify()
    } catch (err) {
      $('verify-report').textContent = 'error: ' + err.message
    }
  })

  poll()
  setInterval(poll, 1000)
  loadKeys()
  api('/api/verify').then(showVerify, () => {})
})()
