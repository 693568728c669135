// ESM entry: the same classes as the CommonJS entry.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const browserdb = require('./index.js')

export const BrowserDB = browserdb.BrowserDB
export const ChainedBatch = browserdb.ChainedBatch
export const Iterator = browserdb.Iterator
export const Snapshot = browserdb.Snapshot
export default browserdb.BrowserDB
