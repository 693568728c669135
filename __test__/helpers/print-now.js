'use strict'
const fs = require('node:fs')

/**
 * Write a line into the stdout pipe before returning. process.stdout.write queues the line when
 * the pipe is full, and a SIGKILL then loses it: a `delstart` line lost so while its delete
 * committed made the parent count that delete's key as a lost put.
 */
function printNow(line) {
  const bytes = Buffer.from(line + '\n')
  let written = 0
  while (written < bytes.length) {
    try {
      written += fs.writeSync(1, bytes, written)
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err // a non-blocking pipe that is full: try again
    }
  }
}

module.exports = { printNow }
