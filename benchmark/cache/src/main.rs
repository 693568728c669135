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

use policies::{Belady, Foyer, HeatMap, Lru, Moka, Policy};
use trace::Trace;

type Make = fn(usize, &Trace) -> Box<dyn Policy>;

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
    ("HeatMap (browserdb W-TinyLFU, hill-climbed window)", Kind::HeatMap, |c, _| Box::new(HeatMap::new(c))),
    ("HeatMap, production-sized sketch (2.56 B/entry)", Kind::HeatMapVariant, |c, _| {
        Box::new(HeatMap::with_sketch_bytes(c, c * 256 / 100))
    }),
    ("LRU (lru crate)", Kind::Baseline, |c, _| Box::new(Lru::new(c))),
    ("TinyLFU + LRU (moka)", Kind::Baseline, |c, _| Box::new(Moka::new(c))),
    ("W-TinyLFU (foyer-memory, LfuConfig default)", Kind::Baseline, |c, _| Box::new(Foyer::w_tinylfu(c))),
    ("W-TinyLFU (foyer-memory, 1% window, sketch 10x capacity)", Kind::Baseline, |c, _| {
        Box::new(Foyer::w_tinylfu_caffeine_like(c))
    }),
    ("S3-FIFO (foyer-memory, S3FifoConfig default)", Kind::Baseline, |c, _| Box::new(Foyer::s3fifo(c))),
    ("Belady optimal (offline, with bypass)", Kind::Optimal, |c, t| Box::new(Belady::new(c, &t.keys))),
];

struct Outcome {
    hits: u64,
    /// Hits and requests outside the full scans (browser mix).
    hits_no_scan: u64,
    requests_no_scan: u64,
    note: Option<String>,
}

fn run(trace: &Trace, capacity: usize, make: Make) -> Outcome {
    let mut p = make(capacity, trace);
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
    assert!(p.cached() <= capacity, "a policy overfilled its cache");
    Outcome { hits, hits_no_scan, requests_no_scan, note: p.note() }
}

fn pct(hits: u64, of: u64) -> f64 {
    100.0 * hits as f64 / of.max(1) as f64
}

/// One table: every policy on `trace` with `capacity` entries.
fn table(trace: &Trace, capacity: usize, label: &str, out: &mut String) {
    let start = Instant::now();
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> =
            POLICIES.iter().map(|&(_, _, make)| s.spawn(move || run(trace, capacity, make))).collect();
        handles.into_iter().map(|h| h.join().expect("policy thread")).collect()
    });
    let n = trace.keys.len() as u64;
    let find = |kind: Kind| POLICIES.iter().position(|p| p.1 == kind).expect("policy kind");
    let (heatmap, optimal) = (find(Kind::HeatMap), find(Kind::Optimal));
    let opt = pct(outcomes[optimal].hits, n);
    let scans = trace.scan.is_some();
    let _ = writeln!(out, "### {} — cache {} entries ({label})\n", trace.name, capacity);
    if scans {
        let opt_ns = pct(outcomes[optimal].hits_no_scan, outcomes[optimal].requests_no_scan);
        let _ = writeln!(
            out,
            "| policy | hit rate % | gap to optimal (points) | hit rate % outside scans | gap outside scans |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
        for ((name, _, _), o) in POLICIES.iter().zip(&outcomes) {
            let h = pct(o.hits, n);
            let hn = pct(o.hits_no_scan, o.requests_no_scan);
            let _ = writeln!(out, "| {name} | {h:.2} | {:.2} | {hn:.2} | {:.2} |", opt - h, opt_ns - hn);
        }
    } else {
        let _ = writeln!(out, "| policy | hit rate % | gap to optimal (points) |");
        let _ = writeln!(out, "| --- | ---: | ---: |");
        for ((name, _, _), o) in POLICIES.iter().zip(&outcomes) {
            let h = pct(o.hits, n);
            let _ = writeln!(out, "| {name} | {h:.2} | {:.2} |", opt - h);
        }
    }
    // Where the HeatMap stands against the best non-optimal policy.
    let (best, best_hits) = outcomes
        .iter()
        .enumerate()
        .filter(|&(i, _)| POLICIES[i].1 == Kind::Baseline)
        .map(|(i, o)| (i, o.hits))
        .max_by_key(|&(_, h)| h)
        .expect("baselines");
    let d = pct(outcomes[heatmap].hits, n) - pct(best_hits, n);
    let _ = writeln!(
        out,
        "\nHeatMap vs the best baseline ({}): {}{:.2} points.",
        POLICIES[best].0,
        if d >= 0.0 { "+" } else { "" },
        d
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

fn main() {
    let scale: f64 = std::env::var("CACHE_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
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
         \"Cache policies\"). Unit weights: every entry weighs 1, capacity = N entries.\n"
    );

    for (s, seed) in [(0.9, 1u64), (0.99, 2)] {
        let t = trace::zipf(100_000, s, req(1_000_000), seed);
        for (share, label) in [(0.01, "1% of the key space"), (0.10, "10% of the key space")] {
            table(&t, (t.key_space as f64 * share) as usize, label, &mut out);
            flush(&mut out, &mut all);
        }
    }

    let t = trace::browser_mix(
        &trace::BrowserMix {
            requests: req(1_000_000),
            history_initial: 10_000,
            bookmarks: 5_000,
            scan_every: req(50_000),
        },
        3,
    );
    for (share, label) in [(0.01, "1% of its distinct keys"), (0.10, "10% of its distinct keys")] {
        table(&t, (t.distinct as f64 * share) as usize, label, &mut out);
        flush(&mut out, &mut all);
    }

    // The loop is sized by the cache: 1.1 x capacity keys, for the capacities of the Zipf
    // traces' 1% and 10%.
    for capacity in [1_000usize, 10_000] {
        let t = trace::looping(capacity * 11 / 10, req(1_000_000));
        table(&t, capacity, "loop of 1.1 x capacity", &mut out);
        flush(&mut out, &mut all);
    }

    let _ = writeln!(all, "Total run time {:.0} s (scale {scale}).", started.elapsed().as_secs_f64());
    println!("Total run time {:.0} s (scale {scale}).", started.elapsed().as_secs_f64());
    // Only full-size runs replace results.md.
    if (scale - 1.0).abs() < f64::EPSILON {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/results.md");
        if let Err(e) = std::fs::write(path, &all) {
            eprintln!("could not write {path}: {e}");
        }
    }
}
