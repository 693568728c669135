'use strict'
// Charts as SVG, hand-written, no dependencies.
// A horizontal bar chart of the ratios, as SVG (hand-written, no dependencies): one bar per
// row, from 1 to the ratio on a log2 axis, green where browserdb leads (ratio >= 1), red where
// it trails, labelled with the ratio and the peer.
//   ratioChart({ title, subtitle, rows: [{ label, ratio, peer }] }) -> SVG text
// A row whose ratio is not a number (n/a, a failed run) is drawn as a labelled gap.

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

function ratioChart ({ title, subtitle, rows }) {
  const W = 920
  const labelW = 330 // the row labels, left of the plot
  const valueW = 170 // room for the value labels, right of the plot
  const rowH = 26
  const top = subtitle ? 70 : 50
  const plotX = labelW
  const plotW = W - labelW - valueW
  const H = top + rows.length * rowH + 46

  // The axis: powers of two around 1 that cover every ratio (at least 1/2..2, at most 1/64..64).
  const finite = rows.map((r) => r.ratio).filter((x) => typeof x === 'number' && x > 0 && Number.isFinite(x))
  const maxExp = Math.min(6, Math.max(1, Math.ceil(Math.log2(Math.max(1, ...finite)))))
  const minExp = Math.max(-6, Math.min(-1, Math.floor(Math.log2(Math.min(1, ...finite)))))
  const clamp = (x) => Math.min(Math.max(x, 2 ** minExp), 2 ** maxExp)
  const xOf = (ratio) => plotX + (Math.log2(clamp(ratio)) - minExp) / (maxExp - minExp) * plotW
  const x1 = xOf(1)

  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="13">`)
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600" fill="#111">${esc(title)}</text>`)
  if (subtitle) out.push(`<text x="${W / 2}" y="44" text-anchor="middle" font-size="12" fill="#555">${esc(subtitle)}</text>`)

  // Grid lines and tick labels at each power of two.
  const plotTop = top - 6
  const plotBottom = top + rows.length * rowH
  for (let e = minExp; e <= maxExp; e++) {
    const x = xOf(2 ** e)
    const label = e >= 0 ? `${2 ** e}×` : `1/${2 ** -e}×`
    out.push(`<line x1="${x.toFixed(1)}" y1="${plotTop}" x2="${x.toFixed(1)}" y2="${plotBottom}" stroke="${e === 0 ? '#333' : '#e2e2e2'}" stroke-width="${e === 0 ? 1.5 : 1}"/>`)
    out.push(`<text x="${x.toFixed(1)}" y="${plotBottom + 16}" text-anchor="middle" font-size="11" fill="#555">${label}</text>`)
  }
  out.push(`<text x="${(plotX + plotW / 2).toFixed(1)}" y="${plotBottom + 34}" text-anchor="middle" font-size="11" fill="#555">browserdb vs the best peer (log scale; right of 1×: browserdb leads)</text>`)

  rows.forEach((r, i) => {
    const y = top + i * rowH
    const mid = y + rowH / 2
    if (i % 2 === 0) out.push(`<rect x="0" y="${y}" width="${W}" height="${rowH}" fill="#f7f7f7"/>`)
    out.push(`<text x="${labelW - 10}" y="${mid + 4}" text-anchor="end" fill="#222">${esc(r.label)}</text>`)
    if (!(typeof r.ratio === 'number' && r.ratio > 0 && Number.isFinite(r.ratio))) {
      out.push(`<text x="${(x1 + 6).toFixed(1)}" y="${mid + 4}" fill="#888">${esc(r.note || 'n/a')}</text>`)
      return
    }
    const x = xOf(r.ratio)
    const lead = r.ratio >= 1
    const bx = Math.min(x, x1)
    const bw = Math.max(1.5, Math.abs(x - x1))
    out.push(`<rect x="${bx.toFixed(1)}" y="${y + 5}" width="${bw.toFixed(1)}" height="${rowH - 10}" rx="2" fill="${lead ? '#2e9e5b' : '#d9534f'}"/>`)
    const text = `${r.ratio >= 10 ? r.ratio.toFixed(0) : r.ratio.toFixed(2)}× vs ${r.peer}`
    const clipped = r.ratio !== clamp(r.ratio) ? ' (off scale)' : ''
    if (lead) {
      out.push(`<text x="${(x + 6).toFixed(1)}" y="${mid + 4}" fill="#1d6b3c">${esc(text + clipped)}</text>`)
    } else {
      // Left of the 1× line the bar runs toward the labels: write the value right of the line.
      out.push(`<text x="${(x1 + 6).toFixed(1)}" y="${mid + 4}" fill="#a12f2b">${esc(text + clipped)}</text>`)
    }
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

// A line chart (hand-written SVG, no dependencies): one polyline per series over a shared x
// axis, linear or log10 y axis, a legend above the plot.
//   lineChart({ title, subtitle, xLabel, yLabel, logY, series: [{ name, points: [[x, y]], color?, dash? }] })
//   -> SVG text. Points whose y is not a positive finite number (log axis) or not finite are skipped.
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f']

function niceTicks (lo, hi, count = 5) {
  if (!(hi > lo)) hi = lo + 1
  const step0 = (hi - lo) / count
  const mag = 10 ** Math.floor(Math.log10(step0))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0)
  const ticks = []
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)))
  return ticks
}

const tickLabel = (v) => {
  const a = Math.abs(v)
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`
  return String(+v.toPrecision(3))
}

function lineChart ({ title, subtitle, xLabel, yLabel, logY = false, series, width = 920, height = 360 }) {
  const W = width
  const H = height
  const left = 80
  const right = 20
  const legendRows = Math.ceil(series.length / 3)
  const top = (subtitle ? 62 : 44) + legendRows * 18
  const bottom = 48
  const plotW = W - left - right
  const plotH = H - top - bottom
  const ok = (p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!logY || p[1] > 0)
  const pts = series.flatMap((s) => s.points.filter(ok))
  const xs = pts.map((p) => p[0])
  const ys = pts.map((p) => logY ? Math.log10(p[1]) : p[1])
  const xMin = xs.length ? Math.min(...xs) : 0
  const xMax = xs.length ? Math.max(...xs) : 1
  let yMin = ys.length ? Math.min(...ys) : 0
  let yMax = ys.length ? Math.max(...ys) : 1
  if (!logY) { yMin = Math.min(0, yMin); yMax = yMax > yMin ? yMax * 1.05 : yMin + 1 } else { yMin = Math.floor(yMin); yMax = Math.max(Math.ceil(yMax), yMin + 1) }
  const xOf = (x) => left + (xMax > xMin ? (x - xMin) / (xMax - xMin) : 0.5) * plotW
  const yOf = (y) => top + plotH - ((logY ? Math.log10(y) : y) - yMin) / (yMax - yMin) * plotH

  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600" fill="#111">${esc(title)}</text>`)
  if (subtitle) out.push(`<text x="${W / 2}" y="40" text-anchor="middle" font-size="11" fill="#555">${esc(subtitle)}</text>`)
  series.forEach((s, i) => {
    const color = s.color || PALETTE[i % PALETTE.length]
    const lx = left + (i % 3) * (plotW / 3)
    const ly = (subtitle ? 58 : 40) + Math.floor(i / 3) * 18
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${s.dash ? ' stroke-dasharray="5,3"' : ''}/>`)
    out.push(`<text x="${lx + 30}" y="${ly}" fill="#222">${esc(s.name)}</text>`)
  })
  const yTicks = logY
    ? Array.from({ length: yMax - yMin + 1 }, (_, i) => 10 ** (yMin + i))
    : niceTicks(yMin, yMax)
  for (const t of yTicks) {
    const y = yOf(t)
    if (!(y >= top - 0.5 && y <= top + plotH + 0.5)) continue
    out.push(`<line x1="${left}" y1="${y.toFixed(1)}" x2="${left + plotW}" y2="${y.toFixed(1)}" stroke="#e6e6e6"/>`)
    out.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#555">${tickLabel(t)}</text>`)
  }
  for (const t of niceTicks(xMin, xMax, 8)) {
    const x = xOf(t)
    if (!(x >= left - 0.5 && x <= left + plotW + 0.5)) continue
    out.push(`<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${top + plotH}" stroke="#f0f0f0"/>`)
    out.push(`<text x="${x.toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" font-size="11" fill="#555">${tickLabel(t)}</text>`)
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`)
  out.push(`<text x="${left + plotW / 2}" y="${H - 10}" text-anchor="middle" font-size="11" fill="#333">${esc(xLabel || '')}</text>`)
  out.push(`<text x="14" y="${top + plotH / 2}" text-anchor="middle" font-size="11" fill="#333" transform="rotate(-90 14 ${top + plotH / 2})">${esc((yLabel || '') + (logY ? ' (log scale)' : ''))}</text>`)
  series.forEach((s, i) => {
    const color = s.color || PALETTE[i % PALETTE.length]
    const p = s.points.filter(ok)
    if (!p.length) return
    const d = p.map(([x, y]) => `${xOf(x).toFixed(1)},${yOf(y).toFixed(1)}`).join(' ')
    out.push(`<polyline points="${d}" fill="none" stroke="${color}" stroke-width="1.6"${s.dash ? ' stroke-dasharray="5,3"' : ''}/>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

// Several charts (SVG texts from lineChart / ratioChart) stacked vertically in one SVG file.
function stackCharts (charts) {
  let y = 0
  let width = 0
  const parts = []
  for (const svg of charts) {
    const w = Number(/width="(\d+)"/.exec(svg)[1])
    const h = Number(/height="(\d+)"/.exec(svg)[1])
    parts.push(svg.replace('<svg ', `<svg x="0" y="${y}" `))
    y += h
    width = Math.max(width, w)
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">\n${parts.join('')}</svg>\n`
}

module.exports = { ratioChart, lineChart, stackCharts }
