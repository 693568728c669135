//! A fast probe of the HeatMap alone: the same tables as `cargo run --release` (src/main.rs),
//! the same traces (`CACHE_BENCH_SEED` offsets every trace's seed, `CACHE_BENCH_SCALE` scales
//! every request count) and the same constructors (`policies::HeatMap::new` for the unit-weight
//! tables, `policies::HotTier::new` for the byte-weighted ones), but none of the baselines,
//! Belady or results.md. It prints the HeatMap's hits per table, one line each, in the order
//! main.rs prints its tables, with the trace's requests.
//!
//! `cargo run --release --example probe` (a few seconds; the tables run on parallel threads).
//! The baselines' hits do not depend on the HeatMap, so a policy change's effect on each
//! table's "HeatMap vs the best baseline" line is the change in these hits: take the best
//! baseline's hits once from a full run per seed (HeatMap hits minus the "vs best" hits) and
//! compare against that.
#![allow(clippy::cast_precision_loss, missing_docs)]

#[allow(dead_code)]
#[path = "../src/policies.rs"]
mod policies;
#[allow(dead_code)]
#[path = "../src/trace.rs"]
mod trace;

use policies::{HeatMap, HotTier, Policy};
use trace::Trace;

/// One table to run: its label, the trace, and the HeatMap it runs.
struct Job<'a> {
    label: String,
    trace: &'a Trace,
    make: Box<dyn Fn() -> Box<dyn Policy> + Send + Sync + 'a>,
}

fn hits(trace: &Trace, mut p: Box<dyn Policy>) -> u64 {
    trace.keys.iter().map(|&k| u64::from(p.access(k))).sum()
}

/// The HOT budget's entries at the mean weight of the trace's distinct keys (as main.rs's
/// `byte_table` sizes the baselines; printed for reference only).
fn mean_weight(trace: &Trace) -> f64 {
    let mut ids = trace.keys.clone();
    ids.sort_unstable();
    ids.dedup();
    ids.iter().map(|&k| HotTier::weight(k)).sum::<usize>() as f64 / ids.len().max(1) as f64
}

fn main() {
    let scale: f64 = std::env::var("CACHE_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let seed_offset: u64 = std::env::var("CACHE_BENCH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let req = |n: usize| ((n as f64 * scale) as usize).max(1000);

    let zipf: Vec<(f64, Trace)> = [(0.9, 1u64), (0.99, 2)]
        .iter()
        .map(|&(s, seed)| (s, trace::zipf(100_000, s, req(1_000_000), seed + seed_offset)))
        .collect();
    let browser = trace::browser_mix(&trace::BrowserMix::standard(req), trace::BROWSER_MIX_SEED + seed_offset);
    let loops: Vec<(usize, Trace)> =
        [1_000usize, 10_000].iter().map(|&c| (c, trace::looping(c * 11 / 10, req(1_000_000)))).collect();

    let mut jobs: Vec<Job> = Vec::new();
    for (s, t) in &zipf {
        for share in [0.01, 0.10] {
            let capacity = (t.key_space as f64 * share) as usize;
            jobs.push(Job {
                label: format!("Zipf {s} {}%", share * 100.0),
                trace: t,
                make: Box::new(move || Box::new(HeatMap::new(capacity))),
            });
        }
    }
    for share in [0.01, 0.10] {
        let capacity = (browser.distinct as f64 * share) as usize;
        jobs.push(Job {
            label: format!("browser {}% ({capacity} entries)", share * 100.0),
            trace: &browser,
            make: Box::new(move || Box::new(HeatMap::new(capacity))),
        });
    }
    let mean = mean_weight(&browser);
    for mib in [2usize, 4, 8] {
        let bytes = mib << 20;
        jobs.push(Job {
            label: format!("byte-weighted {mib} MiB (others {} entries)", (bytes as f64 / mean) as usize),
            trace: &browser,
            make: Box::new(move || Box::new(HotTier::new(bytes))),
        });
    }
    for (capacity, t) in &loops {
        let capacity = *capacity;
        jobs.push(Job {
            label: format!("loop {capacity}"),
            trace: t,
            make: Box::new(move || Box::new(HeatMap::new(capacity))),
        });
    }

    let results: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs.iter().map(|j| s.spawn(|| hits(j.trace, (j.make)()))).collect();
        handles.into_iter().map(|h| h.join().expect("probe thread")).collect()
    });
    println!("seed offset {seed_offset}, scale {scale}");
    for (j, h) in jobs.iter().zip(results) {
        println!("{:<44} {h:>9} hits of {}", j.label, j.trace.keys.len());
    }
}
