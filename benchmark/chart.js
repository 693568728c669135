'use strict'
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

module.exports = { ratioChart }
