'use strict'
// Where a Node process's resident memory goes, for the scale benchmark's multi phase
// (docs/design.md "Memory"). Linux only; every figure in bytes.
//   memoryBreakdown()  process.memoryUsage() plus /proc/self/smaps summed by kind of mapping:
//                      file-backed (node, the addon, libraries), the main malloc arena ([heap]),
//                      glibc's thread arenas (64 MiB-aligned anonymous heaps), thread stacks
//                      (the mappings holding a thread's stack pointer), and the other
//                      anonymous memory (V8's heap, malloc's mmap'd large chunks)
//   mallocInfo()       glibc's own account (malloc_info) of every arena: bytes mapped, bytes
//                      free inside them; read by attaching gdb for ~2 s, so only when asked
//                      (BROWSERDB_MALLOC_INFO=1) and only at a few chosen moments;
//                      BROWSERDB_MALLOC_TRIM_PROBE=1 also calls malloc_trim(0) then and
//                      records the RSS before and after (what a trim would still give back)
// scale.js's multi phase with BROWSERDB_EXIT_AT_SETTLED=1 exits at its settled sample, so that
// `heaptrack node --expose-gc benchmark/scale.js --worker multi '{...}'` reports what was
// allocated then as "leaked".
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const v8 = require('node:v8')
const { execFileSync } = require('node:child_process')

const HEAP_MAX = 64 * 2 ** 20 // glibc's HEAP_MAX_SIZE on 64-bit: thread arenas are aligned to it

// Each thread's stack pointer (/proc/self/task/*/syscall: the sp of a thread in a syscall;
// a running thread answers "running" and its stack is counted as other memory).
function stackPointers () {
  const sps = []
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const f = fs.readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8').trim().split(' ')
      if (f.length >= 3) sps.push(parseInt(f[f.length - 2], 16))
    } catch {}
  }
  return sps
}

function smaps () {
  const sps = stackPointers()
  const out = { file: 0, mainArena: 0, threadArenas: 0, stacks: 0, otherAnon: 0, anonymous: 0, rss: 0 }
  let text
  try { text = fs.readFileSync('/proc/self/smaps', 'utf8') } catch { return null }
  let cur = null
  const flush = () => {
    if (!cur) return
    out.rss += cur.rss
    out.anonymous += cur.anon
    if (cur.name === '[heap]') out.mainArena += cur.rss
    else if (cur.name === '[stack]' || sps.some((sp) => sp >= cur.start && sp < cur.end)) out.stacks += cur.rss
    else if (cur.name && cur.name.startsWith('/')) out.file += cur.rss
    else if (cur.start % HEAP_MAX === 0 && cur.name === '' && cur.perms.startsWith('rw')) out.threadArenas += cur.rss
    else out.otherAnon += cur.rss
  }
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (m) {
      flush()
      const start = parseInt(m[1], 16)
      const end = parseInt(m[2], 16)
      cur = { start, end, perms: m[3], name: m[4].trim(), rss: 0, anon: 0 }
      continue
    }
    const r = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line)
    if (r && cur) cur[r[1] === 'Rss' ? 'rss' : 'anon'] += Number(r[2]) * 1024
  }
  flush()
  return out
}

// v8Physical: the V8 heap's resident bytes (committed pages actually touched), which is where
// the driver's JS objects live; the engine allocates nothing there (values it returns are
// copied into it, and the multi phase reads none), so RSS − v8Physical is the process's
// native memory: node's own, the addon's, glibc's arenas, stacks, mapped files.
function memoryBreakdown () {
  const m = process.memoryUsage()
  const v8Physical = v8.getHeapStatistics().total_physical_size
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, v8Physical, native: m.rss - v8Physical, external: m.external, arrayBuffers: m.arrayBuffers, smaps: smaps() }
}

// glibc's malloc_info, summed: mapped = bytes the arenas hold from the OS (plus big mmap'd
// chunks), free = free chunks inside them (fastbins + bins), inUse = the difference.
function mallocInfo () {
  if (process.env.BROWSERDB_MALLOC_INFO !== '1') return null
  const file = path.join(os.tmpdir(), `malloc-info-${process.pid}.xml`)
  try {
    execFileSync('gdb', ['-p', String(process.pid), '-batch', '-nx',
      '-ex', `set $f = (void*)fopen("${file}","w")`, '-ex', 'call (int)malloc_info(0, $f)', '-ex', 'call (int)fclose($f)'],
    { stdio: ['ignore', 'ignore', 'ignore'], timeout: 30000 })
    const xml = fs.readFileSync(file, 'utf8')
    fs.rmSync(file, { force: true })
    // The totals after the last </heap> are the whole process's.
    const tail = xml.slice(xml.lastIndexOf('</heap>'))
    const num = (re) => { const x = re.exec(tail); return x ? Number(x[1]) : 0 }
    const fast = num(/<total type="fast" count="\d+" size="(\d+)"/)
    const rest = num(/<total type="rest" count="\d+" size="(\d+)"/)
    const mmap = num(/<total type="mmap" count="\d+" size="(\d+)"/)
    const system = num(/<system type="current" size="(\d+)"/)
    const arenas = (xml.match(/<heap nr=/g) || []).length
    const out = { arenas, mapped: system + mmap, free: fast + rest, inUse: system + mmap - fast - rest, mmap }
    // Diagnostic: what a malloc_trim(0) right now would hand back (RSS before and after).
    if (process.env.BROWSERDB_MALLOC_TRIM_PROBE === '1') {
      const before = process.memoryUsage.rss()
      execFileSync('gdb', ['-p', String(process.pid), '-batch', '-nx', '-ex', 'call (int)malloc_trim(0)'], { stdio: ['ignore', 'ignore', 'ignore'], timeout: 30000 })
      out.trimProbe = { before, after: process.memoryUsage.rss() }
    }
    return out
  } catch (err) {
    return { error: String(err.message || err) }
  }
}

module.exports = { memoryBreakdown, mallocInfo, smaps }
