//! What an index costs a single put, measured in the engine alone (no Node):
//! `cargo run --release --example index_cost -- <indexes 0|1|2>`.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use browserdb::engine::{Db, Options, WaitFor, WriteBatch};

const KEYS: u32 = 100_000;
const PUTS: u32 = 20_000;

fn visit(n: u32, at: u32) -> Vec<u8> {
    format!(
        r#"{{"url":"https://www.example{}.com/articles/{n}/index.html","title":"Article number {n} of the example site","lastVisit":{at},"meta":{{"folder":"f{}"}}}}"#,
        n % 997,
        n % 13
    )
    .into_bytes()
}

fn main() {
    let indexes: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let dir = std::env::temp_dir().join(format!("bdb-index-cost-{}", std::process::id()));
    let db = Db::open(&dir, Options::default()).unwrap();
    if indexes >= 1 {
        db.create_index("byVisit", b"history:", "lastVisit").unwrap();
        db.wait_index("byVisit", WaitFor::Ready, &mut |_| {}).unwrap();
    }
    if indexes >= 2 {
        db.create_index("byFolder", b"history:", "meta.folder").unwrap();
        db.wait_index("byFolder", WaitFor::Ready, &mut |_| {}).unwrap();
    }
    let key = |n: u32| format!("history:{n:09}").into_bytes();
    let started = std::time::Instant::now();
    for chunk in 0..KEYS / 1000 {
        let mut batch = WriteBatch::new();
        for n in chunk * 1000..(chunk + 1) * 1000 {
            batch.put(&key(n), &visit(n, n * 7919 % KEYS)).unwrap();
        }
        db.write(batch, false).unwrap();
    }
    let fill = started.elapsed();
    let started = std::time::Instant::now();
    for i in 0..PUTS {
        let n = i.wrapping_mul(104_729) % KEYS;
        db.put(&key(n), &visit(n, KEYS + i), false).unwrap();
    }
    let puts = started.elapsed();
    println!(
        "indexes {indexes}: fill {:.0} puts/s, single puts {:.0} puts/s ({:.2} µs each)",
        f64::from(KEYS) / fill.as_secs_f64(),
        f64::from(PUTS) / puts.as_secs_f64(),
        puts.as_secs_f64() * 1e6 / f64::from(PUTS)
    );
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
