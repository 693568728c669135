//! browserdb: an embedded, ordered key-value database for Node.js and Electron.
pub mod engine;
mod node;
