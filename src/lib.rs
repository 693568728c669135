//! browserdb: an embedded, ordered key-value database for Node.js and Electron.
//!
//! `engine` is the database in plain Rust (tested with `cargo test`, no Node needed);
//! `node` is the thin napi-rs binding that `index.js` wraps.

pub mod engine;

// Under `cargo test` napi's registration code is compiled out, so the binding's entry
// points look unused; they are used by Node.
#[cfg_attr(test, allow(dead_code))]
mod node;
