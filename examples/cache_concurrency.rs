//! Measures HeatMap lookups from several threads: the sharded HeatMap against one W-TinyLFU
//! behind a single lock. Run with `cargo run --release --example cache_concurrency`; the
//! figures are in docs/design.md ("HeatMap"). Not a test: it asserts nothing about time.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use std::sync::Arc;
use std::time::Instant;

use browserdb::engine::heatmap::policy::WTinyLfu;
use browserdb::engine::heatmap::{HeatMap, HotLookup};
use parking_lot::Mutex;

const KEYS: u64 = 50_000;
const LOOKUPS_PER_THREAD: u64 = 2_000_000;

fn key(i: u64) -> Vec<u8> {
    format!("\0history:{i:09}").into_bytes()
}

fn hash(k: &[u8]) -> u64 {
    browserdb::engine::table::filter::key_hash(k)
}

type Lookup = Arc<dyn Fn(&[u8], u64) -> bool + Send + Sync>;
type OneLock = Arc<Mutex<WTinyLfu<Box<[u8]>, Arc<[u8]>>>>;

fn run(threads: u64, lookup: Lookup) -> f64 {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let lookup = Arc::clone(&lookup);
            std::thread::spawn(move || {
                let mut x = 0x9e37_79b9u64 + t;
                let mut hits = 0u64;
                for _ in 0..LOOKUPS_PER_THREAD {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Skewed: most lookups go to the first tenth of the keys.
                    let i = if x % 10 < 8 { x % (KEYS / 10) } else { x % KEYS };
                    let k = key(i);
                    hits += u64::from(lookup(&k, hash(&k)));
                }
                hits
            })
        })
        .collect();
    let hits: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(hits > 0);
    (threads * LOOKUPS_PER_THREAD) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let capacity = 16 * 1024 * 1024;
    let sharded = Arc::new(HeatMap::new(capacity));
    let single: OneLock = Arc::new(Mutex::new(WTinyLfu::new(capacity / 2, 256, capacity / 200)));
    let value = vec![b'v'; 150];
    for round in 0..3 {
        for i in 0..KEYS {
            let k = key(i);
            let h = hash(&k);
            if let HotLookup::Miss { offer: true } = sharded.lookup(&k, h) {
                sharded.offer(&k, h, &value, sharded.generation());
            }
            let mut s = single.lock();
            if s.get(&k[..], h).is_none() {
                s.insert(k.into(), h, value.clone().into(), 150 + 64);
            }
        }
        let _ = round;
    }
    for threads in [1, 2, 4] {
        let s = Arc::clone(&sharded);
        let sharded_rate = run(threads, Arc::new(move |k, h| matches!(s.lookup(k, h), HotLookup::Hit(_))));
        let one = Arc::clone(&single);
        let single_rate = run(threads, Arc::new(move |k, h| one.lock().get(k, h).is_some()));
        println!(
            "{threads} thread(s): sharded HeatMap {:.2} M lookups/s, one lock {:.2} M lookups/s",
            sharded_rate / 1e6,
            single_rate / 1e6
        );
    }
}
