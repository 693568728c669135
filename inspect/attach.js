'use strict'
// Adds `db.inspect({ port })` to BrowserDB: the owning process serves the inspect page of its
// live database (same server as `browserdb inspect`: loopback only, token, Host check,
// read-only). Kept apart from index.js so the HTTP code loads only when used.

/**
 * @param {typeof import('..').BrowserDB} BrowserDB
 */
function attachInspect (BrowserDB) {
  /**
   * Starts the inspect server for this database.
   * @param {{ port?: number }} [options] port 0 (the default) picks a free port
   * @returns {Promise<{ url: string, port: number, token: string, close(): Promise<void> }>}
   */
  BrowserDB.prototype.inspect = function inspect (options) {
    try {
      this._checkOpen()
      if (options !== undefined && (options === null || typeof options !== 'object')) throw new TypeError('options must be an object')
      const { startInspect } = require('./server')
      return startInspect(this, { port: options && options.port }).then((handle) => {
        const { url, port, token, close } = handle
        return { url, port, token, close }
      })
    } catch (err) {
      return Promise.reject(err)
    }
  }
  return BrowserDB
}

module.exports = { attachInspect }
