'use strict'
// floor.get(key): the least an addon's sync get can cost: one N-API call that reads its key
// argument (UTF-8, into a stack buffer) and returns a new 155-byte JS string (a constant).
module.exports = require('./build/Release/napi_floor.node')
