// ESM entry of browserdb/level: the same class as the CommonJS entry.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const level = require('./level.js')

export const BrowserLevel = level.BrowserLevel
export default level.BrowserLevel
