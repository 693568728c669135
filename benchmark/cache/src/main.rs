//! Trace-driven hit-rate comparison of the HeatMap's eviction policy (browserdb's byte-weighted
//! W-TinyLFU, here with unit weights) with LRU, moka (TinyLFU), foyer-memory (W-TinyLFU,
//! S3-FIFO) and Belady's offline optimum. See ../README.md, section "Cache policies".
//!
//! `cargo run --release` prints markdown tables and writes results.md beside Cargo.toml.
//! `CACHE_BENCH_SCALE=0.1` scales every request count (quick runs).

mod policies;
mod trace;

use std::fmt::Write as _;
use std::time::Instant;

use browserdb::engine::heatmap::ENTRY_BYTES_TYPICAL;
use policies::{Belady, Budget, Foyer, HeatMap, HotTier, Lru, Moka, Policy};
use trace::Trace;

type Make = fn(Budget, &Trace) -> Box<dyn Policy>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The HeatMap as browserdb builds it (apart from the sketch budget, see policies.rs).
    HeatMap,
    /// The same policy with another constructor argument (not a baseline).
    HeatMapVariant,
    Baseline,
    Optimal,
}

const POLICIES: [(&str, Kind, Make); 8] = [
    ("HeatMap (browserdb W-TinyLFU as production sizes it: sketches 12.2 B/entry)", Kind::HeatMap, |b, _| {
        Box::new(HeatMap::new(b.entries))
    }),
    ("HeatMap, sketch capped at 1% of HOT's own bytes (2.56 B/entry)", Kind::HeatMapVariant, |b, _| {
        Box::new(HeatMap::with_sketch_bytes(b.entries, b.entries * ENTRY_BYTES_TYPICAL / 100))
    }),
    BASELINES[0],
    BASELINES[1],
    BASELINES[2],
    BASELINES[3],
    BASELINES[4],
    BELADY,
];

const BASELINES: [(&str, Kind, Make); 5] = [
    ("LRU (lru crate)", Kind::Baseline, |b, _| Box::new(Lru::new(b.entries))),
    ("TinyLFU + LRU (moka)", Kind::Baseline, |b, _| Box::new(Moka::new(b.entries))),
    ("W-TinyLFU (foyer-memory, LfuConfig default)", Kind::Baseline, |b, _| Box::new(Foyer::w_tinylfu(b.entries))),
    ("W-TinyLFU (foyer-memory, 1% window, sketch 10x capacity)", Kind::Baseline, |b, _| {
        Box::new(Foyer::w_tinylfu_caffeine_like(b.entries))
    }),
    ("S3-FIFO (foyer-memory, S3FifoConfig default)", Kind::Baseline, |b, _| Box::new(Foyer::s3fifo(b.entries))),
];

const BELADY: (&str, Kind, Make) =
    ("Belady optimal (offline, with bypass)", Kind::Optimal, |b, t| Box::new(Belady::new(b.entries, &t.keys)));

/// The byte-weighted browser mix: the production HeatMap's HOT tier in bytes; the others in
/// entries (the byte budget over the mean entry weight).
const BYTE_POLICIES: [(&str, Kind, Make); 7] = [
    ("HeatMap HOT tier (browserdb HeatMap as production runs it: 16 shards, byte weights)", Kind::HeatMap, |b, _| {
        Box::new(HotTier::new(b.bytes))
    }),
    BASELINES[0],
    BASELINES[1],
    BASELINES[2],
    BASELINES[3],
    BASELINES[4],
    BELADY,
];

struct Outcome {
    hits: u64,
    /// Hits and requests outside the full scans (browser mix).
    hits_no_scan: u64,
    requests_no_scan: u64,
    note: Option<String>,
}

fn run(trace: &Trace, budget: Budget, make: Make) -> Outcome {
    let mut p = make(budget, trace);
    let mut hits = 0u64;
    let mut hits_no_scan = 0u64;
    let mut requests_no_scan = 0u64;
    for (i, &k) in trace.keys.iter().enumerate() {
        let hit = p.access(k);
        hits += u64::from(hit);
        if trace.scan.as_ref().is_some_and(|s| !s[i]) {
            requests_no_scan += 1;
            hits_no_scan += u64::from(hit);
        }
    }
    assert!(p.within(budget), "a policy overfilled its cache");
    Outcome { hits, hits_no_scan, requests_no_scan, note: p.note() }
}

fn pct(hits: u64, of: u64) -> f64 {
    100.0 * hits as f64 / of.max(1) as f64
}

/// One table: every policy on `trace` within `budget`.
fn table(trace: &Trace, budget: Budget, policies: &[(&str, Kind, Make)], heading: &str, out: &mut String) {
    let start = Instant::now();
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = policies.iter().map(|&(_, _, make)| s.spawn(move || run(trace, budget, make))).collect();
        handles.into_iter().map(|h| h.join().expect("policy thread")).collect()
    });
    let n = trace.keys.len() as u64;
    let find = |kind: Kind| policies.iter().position(|p| p.1 == kind).expect("policy kind");
    let (heatmap, optimal) = (find(Kind::HeatMap), find(Kind::Optimal));
    let opt = pct(outcomes[optimal].hits, n);
    let scans = trace.scan.is_some();
    let _ = writeln!(out, "### {} — {heading}\n", trace.name);
    if scans {
        let opt_ns = pct(outcomes[optimal].hits_no_scan, outcomes[optimal].requests_no_scan);
        let _ = writeln!(
            out,
            "| policy | hit rate % | gap to optimal (points) | hit rate % outside scans | gap outside scans |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
        for ((name, _, _), o) in policies.iter().zip(&outcomes) {
            let h = pct(o.hits, n);
            let hn = pct(o.hits_no_scan, o.requests_no_scan);
            let _ = writeln!(out, "| {name} | {h:.2} | {:.2} | {hn:.2} | {:.2} |", opt - h, opt_ns - hn);
        }
    } else {
        let _ = writeln!(out, "| policy | hit rate % | gap to optimal (points) |");
        let _ = writeln!(out, "| --- | ---: | ---: |");
        for ((name, _, _), o) in policies.iter().zip(&outcomes) {
            let h = pct(o.hits, n);
            let _ = writeln!(out, "| {name} | {h:.2} | {:.2} |", opt - h);
        }
    }
    // Where the HeatMap stands against the best non-optimal policy.
    let (best, best_hits) = outcomes
        .iter()
        .enumerate()
        .filter(|&(i, _)| policies[i].1 == Kind::Baseline)
        .map(|(i, o)| (i, o.hits))
        .max_by_key(|&(_, h)| h)
        .expect("baselines");
    let d = pct(outcomes[heatmap].hits, n) - pct(best_hits, n);
    let hits_more = outcomes[heatmap].hits as i64 - best_hits as i64;
    let _ = writeln!(
        out,
        "\nHeatMap vs the best baseline ({}): {}{:.2} points ({}{hits_more} hits).",
        policies[best].0,
        if d >= 0.0 { "+" } else { "" },
        d,
        if hits_more >= 0 { "+" } else { "" },
    );
    if let Some(note) = &outcomes[heatmap].note {
        let _ = writeln!(out, "{note}.");
    }
    let _ = writeln!(
        out,
        "{} requests, {} distinct keys; {:.1} s for all policies.\n",
        n,
        trace.distinct,
        start.elapsed().as_secs_f64()
    );
}

/// Unit weights: `capacity` entries for every policy.
fn unit_table(trace: &Trace, capacity: usize, label: &str, out: &mut String) {
    let budget = Budget { entries: capacity, bytes: capacity };
    table(trace, budget, &POLICIES, &format!("cache {capacity} entries ({label})"), out);
}

/// Byte weights: the HeatMap's HOT tier gets `hot_bytes`; the other policies count entries, as
/// many as `hot_bytes` holds at the mean weight of the trace's distinct keys.
fn byte_table(trace: &Trace, hot_bytes: usize, out: &mut String) {
    let mut ids = trace.keys.clone();
    ids.sort_unstable();
    ids.dedup();
    let all_bytes: usize = ids.iter().map(|&k| HotTier::weight(k)).sum();
    let mean = all_bytes as f64 / ids.len().max(1) as f64;
    let entries = (hot_bytes as f64 / mean) as usize;
    let heading = format!(
        "byte-weighted, HOT budget {} MiB (`cacheSize` {} MiB); others {entries} entries (mean entry {mean:.0} B; \
         all {} distinct keys take {:.1} MiB)",
        hot_bytes >> 20,
        (hot_bytes as f64 / browserdb::engine::heatmap::HOT_SHARE) as usize >> 20,
        ids.len(),
        all_bytes as f64 / f64::from(1 << 20)
    );
    table(trace, Budget { entries, bytes: hot_bytes }, &BYTE_POLICIES, &heading, out);
    let (all, outside) = unbounded(trace);
    let _ = writeln!(out, "An unbounded cache (only first accesses miss): {all:.2}% ({outside:.2}% outside scans).\n");
}

/// Hit rates of a cache that never evicts: the ceiling any policy can reach on `trace`.
fn unbounded(trace: &Trace) -> (f64, f64) {
    let mut seen = std::collections::HashSet::new();
    let (mut hits, mut hits_no_scan, mut no_scan) = (0u64, 0u64, 0u64);
    for (i, &k) in trace.keys.iter().enumerate() {
        let hit = !seen.insert(k);
        hits += u64::from(hit);
        if trace.scan.as_ref().is_some_and(|s| !s[i]) {
            no_scan += 1;
            hits_no_scan += u64::from(hit);
        }
    }
    (pct(hits, trace.keys.len() as u64), pct(hits_no_scan, no_scan))
}

fn main() {
    let scale: f64 = std::env::var("CACHE_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    // Another trace seed (added to every trace's own), to tell a policy change's effect from
    // the luck of one trace.
    let seed_offset: u64 = std::env::var("CACHE_BENCH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let req = |n: usize| ((n as f64 * scale) as usize).max(1000);
    let started = Instant::now();
    let mut out = String::new();
    let flush = |out: &mut String, all: &mut String| {
        print!("{out}");
        all.push_str(out);
        out.clear();
    };
    let mut all = String::new();
    let _ = writeln!(
        all,
        "# Cache policy hit rates\n\nGenerated by `cargo run --release` in benchmark/cache (see benchmark/README.md, \
         \"Cache policies\"). Unit weights (every entry weighs 1, capacity = N entries) except the \
         byte-weighted browser-mix tables.\n"
    );

    for (s, seed) in [(0.9, 1u64), (0.99, 2)] {
        let t = trace::zipf(100_000, s, req(1_000_000), seed + seed_offset);
        for (share, label) in [(0.01, "1% of the key space"), (0.10, "10% of the key space")] {
            unit_table(&t, (t.key_space as f64 * share) as usize, label, &mut out);
            flush(&mut out, &mut all);
        }
    }

    let t = trace::browser_mix(&trace::BrowserMix::standard(req), trace::BROWSER_MIX_SEED + seed_offset);
    for (share, label) in [(0.01, "1% of its distinct keys"), (0.10, "10% of its distinct keys")] {
        unit_table(&t, (t.distinct as f64 * share) as usize, label, &mut out);
        flush(&mut out, &mut all);
    }
    for mib in [2usize, 4, 8] {
        byte_table(&t, mib << 20, &mut out);
        flush(&mut out, &mut all);
    }

    // The loop is sized by the cache: 1.1 x capacity keys, for the capacities of the Zipf
    // traces' 1% and 10%.
    for capacity in [1_000usize, 10_000] {
        let t = trace::looping(capacity * 11 / 10, req(1_000_000));
        unit_table(&t, capacity, "loop of 1.1 x capacity", &mut out);
        flush(&mut out, &mut all);
    }

    let _ = writeln!(all, "Total run time {:.0} s (scale {scale}).", started.elapsed().as_secs_f64());
    println!("Total run time {:.0} s (scale {scale}, seed offset {seed_offset}).", started.elapsed().as_secs_f64());
    // Only full-size runs of the standard traces replace results.md.
    if (scale - 1.0).abs() < f64::EPSILON && seed_offset == 0 {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/results.md");
        if let Err(e) = std::fs::write(path, &all) {
            eprintln!("could not write {path}: {e}");
        }
    }
}
