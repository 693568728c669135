//! Binding of `engine::maintenance` and the event log: verify, repair, backup, restore,
//! export, import, `drainEvents`. Reports cross to JS as JSON text (parsed by index.js), so
//! one conversion serves every report shape. Progress is a pair of counters the pool thread
//! updates and the JS face polls (`NativeProgress`): no callback into JS from the pool.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use serde_json::{json, Value};

use super::db::NativeDb;
use super::error::{no_panic, to_js};
use super::tasks::{Job, Output};
use crate::engine::maintenance::{self, ExchangeFormat, Problem};
use crate::engine::storage::FsStorage;
use crate::engine::{Error, Event, Options};

/// Progress of one long operation: done and total (bytes or entries), set off the JS thread.
#[napi]
#[derive(Default)]
pub struct NativeProgress {
    counters: Arc<(AtomicU64, AtomicU64)>,
}

#[napi]
impl NativeProgress {
    /// A fresh pair of counters.
    #[napi(constructor)]
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Work done so far.
    #[napi(getter)]
    #[allow(clippy::cast_precision_loss)]
    pub fn done(&self) -> f64 {
        self.counters.0.load(Ordering::Relaxed) as f64
    }

    /// Work in all (0 while unknown).
    #[napi(getter)]
    #[allow(clippy::cast_precision_loss)]
    pub fn total(&self) -> f64 {
        self.counters.1.load(Ordering::Relaxed) as f64
    }
}

type Counters = Arc<(AtomicU64, AtomicU64)>;

fn counters(progress: Option<&NativeProgress>) -> Counters {
    progress.map_or_else(Counters::default, |p| Arc::clone(&p.counters))
}

fn set(c: &Counters, done: u64, total: u64) {
    c.0.store(done, Ordering::Relaxed);
    c.1.store(total, Ordering::Relaxed);
}

fn problems_json(problems: &[Problem]) -> Value {
    problems
        .iter()
        .map(|p| json!({ "file": p.file, "offset": p.offset, "kind": p.kind.as_str(), "message": p.message }))
        .collect()
}

fn json_output(value: &Value) -> Output {
    Output::Json(value.to_string())
}

fn format_option(format: Option<String>) -> Result<Option<ExchangeFormat>, Error> {
    format.as_deref().map(ExchangeFormat::parse).transpose()
}

fn event_json(event: &Event) -> Value {
    match event {
        Event::Flush { table, bytes, entries } => {
            json!({ "type": "flush", "table": table, "bytes": bytes, "entries": entries })
        }
        Event::Compaction { input_tables, input_bytes, output_tables, output_bytes, output_level } => json!({
            "type": "compaction",
            "inputTables": input_tables,
            "inputBytes": input_bytes,
            "outputTables": output_tables,
            "outputBytes": output_bytes,
            "outputLevel": output_level,
        }),
    }
}

#[napi]
impl NativeDb {
    /// Checks every byte of the database; resolves to the report as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn verify(&self, progress: Option<&NativeProgress>) -> AsyncTask<Job> {
        let (db, c) = (self.db.clone(), counters(progress));
        AsyncTask::new(Job::new(move || {
            let r = maintenance::verify(&db, &mut |done, total| set(&c, done, total))?;
            Ok(json_output(&json!({
                "ok": r.ok(),
                "tables": r.tables,
                "entries": r.entries,
                "bytes": r.bytes,
                "walRecords": r.wal_records,
                "problems": problems_json(&r.problems),
            })))
        }))
    }

    /// Backs the database up into `dir` (incremental); resolves to the report as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn backup(&self, dir: String, progress: Option<&NativeProgress>) -> AsyncTask<Job> {
        let (db, c) = (self.db.clone(), counters(progress));
        AsyncTask::new(Job::new(move || {
            let r = maintenance::backup(&db, &FsStorage, &PathBuf::from(dir), &mut |done, total| set(&c, done, total))?;
            Ok(json_output(&json!({
                "tables": r.tables,
                "tablesCopied": r.tables_copied,
                "tablesReused": r.tables_reused,
                "bytesCopied": r.bytes_copied,
                "bytesTotal": r.bytes_total,
            })))
        }))
    }

    /// Exports a snapshot to `file` as `'ndjson'` or `'bdb'`; resolves to the report as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn export_to(&self, file: String, format: String, progress: Option<&NativeProgress>) -> AsyncTask<Job> {
        let (db, c) = (self.db.clone(), counters(progress));
        AsyncTask::new(Job::new(move || {
            let format = ExchangeFormat::parse(&format)?;
            let r = maintenance::export(&db, &FsStorage, &PathBuf::from(file), format, &mut |n| set(&c, n, 0))?;
            Ok(json_output(&json!({ "entries": r.entries, "bytes": r.bytes })))
        }))
    }

    /// Imports `file` (checked whole first, then added atomically); resolves to JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn import_from(
        &self,
        file: String,
        format: Option<String>,
        progress: Option<&NativeProgress>,
    ) -> AsyncTask<Job> {
        let (db, c) = (self.db.clone(), counters(progress));
        AsyncTask::new(Job::new(move || {
            let format = format_option(format)?;
            let r = maintenance::import(&db, &FsStorage, &PathBuf::from(file), format, &mut |n| set(&c, n, 0))?;
            Ok(json_output(&json!({ "entries": r.entries, "bytes": r.bytes })))
        }))
    }

    /// The live tables with their key ranges (hex) as JSON (memory only).
    #[napi]
    pub fn tables_json(&self) -> napi::Result<String, String> {
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let tables = no_panic(|| self.db.tables()).map_err(|e| to_js(&e))?;
        let list: Vec<Value> = tables
            .iter()
            .map(|t| {
                json!({
                    "level": t.level,
                    "number": t.number,
                    "bytes": t.bytes,
                    "entries": t.entries,
                    "smallest": hex(&t.smallest),
                    "largest": hex(&t.largest),
                })
            })
            .collect();
        Ok(Value::Array(list).to_string())
    }

    /// Starts (`true`) or stops recording flush and compaction events for `drainEvents`;
    /// index.js records only while a 'flush' or 'compaction' listener is attached.
    #[napi]
    pub fn record_events(&self, on: bool) {
        self.db.record_events(on);
    }

    /// Flush and compaction events since the last call, as JSON (memory only).
    #[napi]
    pub fn drain_events(&self) -> String {
        let events: Vec<Value> = self.db.drain_events().iter().map(event_json).collect();
        Value::Array(events).to_string()
    }
}

/// Repairs the (closed) database at `location`; resolves to the report as JSON.
#[napi(ts_return_type = "Promise<string>")]
pub fn repair_db(location: String) -> AsyncTask<Job> {
    AsyncTask::new(Job::new(move || {
        let r = maintenance::repair(&PathBuf::from(location), &Options::default(), Arc::new(FsStorage))?;
        Ok(json_output(&json!({
            "tablesIntact": r.tables_intact,
            "tablesSalvaged": r.tables_salvaged,
            "walRecords": r.wal_records,
            "tables": r.tables,
            "entries": r.entries,
            "lost": r.lost,
            "problems": problems_json(&r.problems),
            "indexesRestarted": r.indexes_restarted,
        })))
    }))
}

/// Restores the backup in `dir` into `location` (which must be empty or absent).
#[napi(ts_return_type = "Promise<string>")]
pub fn restore_backup(dir: String, location: String, progress: Option<&NativeProgress>) -> AsyncTask<Job> {
    let c = counters(progress);
    AsyncTask::new(Job::new(move || {
        let tables =
            maintenance::restore(&FsStorage, &PathBuf::from(dir), &PathBuf::from(location), &mut |done, total| {
                set(&c, done, total);
            })?;
        Ok(json_output(&json!({ "tables": tables })))
    }))
}
