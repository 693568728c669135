//! Which part of S3-FIFO wins the browser mix at 1% (the one benchmark/cache table where the
//! HeatMap is behind)? A replica of foyer-memory's S3-FIFO (small FIFO queue, main FIFO with
//! re-insertion and counts to 3, a ghost of evicted hashes), checked against foyer's own hit
//! count, with each part switchable, beside the HeatMap. docs/design.md, "A fourth round",
//! gives the findings.
//!
//! `cargo run --release --example s3fifo_parts` (~10 s); `CACHE_BENCH_SEED` as for the benchmark.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss, missing_docs, dead_code)]

#[path = "../src/policies.rs"]
mod policies;
#[path = "../src/trace.rs"]
mod trace;
use policies::Policy;

use std::collections::{HashMap, VecDeque};

#[derive(Clone, Copy, Default)]
struct Cfg {
    small_ratio: f64,
    ghost_ratio: f64,
    threshold: u8,
    max_freq: u8,
    /// A ghost hit goes to small instead of main (the ghost off).
    no_ghost: bool,
    /// A hit in small does not promote (every small exit goes to the ghost).
    no_small_promote: bool,
    /// Keep frequency when moving small -> main (foyer does).
    reset_on_promote: bool,
    /// A ghost hit enters main only if the sketch says it is at least as hot as main's next
    /// victim (plus `filter_margin`); otherwise it goes to small as a new key.
    ghost_filter: bool,
    filter_margin: u8,
}

struct S3 {
    cap: usize,
    small_cap: usize,
    cfg: Cfg,
    small: VecDeque<u64>,
    main: VecDeque<u64>,
    // key -> (freq, in_small)
    map: HashMap<u64, (u8, bool)>,
    ghost: VecDeque<u64>,
    ghost_set: HashMap<u64, u32>,
    ghost_cap: usize,
    pub ghost_admits: u64,
    sketch: browserdb::engine::heatmap::sketch::FrequencySketch,
}

impl S3 {
    fn new(cap: usize, cfg: Cfg) -> Self {
        Self {
            cap,
            small_cap: (cap as f64 * cfg.small_ratio) as usize,
            cfg,
            small: VecDeque::new(),
            main: VecDeque::new(),
            map: HashMap::new(),
            ghost: VecDeque::new(),
            ghost_set: HashMap::new(),
            ghost_cap: (cap as f64 * cfg.ghost_ratio) as usize,
            ghost_admits: 0,
            sketch: browserdb::engine::heatmap::sketch::FrequencySketch::new(cap, cap * 8),
        }
    }
    fn ghost_push(&mut self, k: u64) {
        if self.ghost_cap == 0 {
            return;
        }
        while self.ghost.len() >= self.ghost_cap {
            let old = self.ghost.pop_front().unwrap();
            let c = self.ghost_set.get_mut(&old).unwrap();
            *c -= 1;
            if *c == 0 {
                self.ghost_set.remove(&old);
            }
        }
        self.ghost.push_back(k);
        *self.ghost_set.entry(k).or_insert(0) += 1;
    }
    fn evict_small(&mut self) -> bool {
        while let Some(k) = self.small.pop_front() {
            let (f, _) = self.map[&k];
            if !self.cfg.no_small_promote && f >= self.cfg.threshold {
                let nf = if self.cfg.reset_on_promote { 0 } else { f };
                self.map.insert(k, (nf, false));
                self.main.push_back(k);
            } else {
                self.map.remove(&k);
                self.ghost_push(k);
                return true;
            }
        }
        false
    }
    fn evict_main(&mut self) -> bool {
        while let Some(k) = self.main.pop_front() {
            let e = self.map.get_mut(&k).unwrap();
            if e.0 > 0 {
                e.0 -= 1;
                self.main.push_back(k);
            } else {
                self.map.remove(&k);
                return true;
            }
        }
        false
    }
    fn evict(&mut self) {
        if self.small.len() > self.small_cap && self.evict_small() {
            return;
        }
        if self.evict_main() {
            return;
        }
        // force
        if let Some(k) = self.small.pop_front() {
            self.map.remove(&k);
        }
    }
    /// The key main would evict next (the first with frequency 0 from the head, as the hand
    /// would find it), without moving anything.
    fn main_victim_heat(&self) -> u8 {
        let v = self.main.iter().find(|k| self.map[*k].0 == 0).or(self.main.front());
        v.map_or(0, |k| self.sketch.frequency(trace::splitmix64(*k)))
    }
    fn access(&mut self, k: u64) -> bool {
        self.sketch.increment(trace::splitmix64(k));
        if let Some(e) = self.map.get_mut(&k) {
            e.0 = (e.0 + 1).min(self.cfg.max_freq);
            return true;
        }
        // foyer: insert, then evict while over capacity.
        let full = self.main.len() + 1 > self.cap - self.small_cap.min(self.cap);
        let passes = !self.cfg.ghost_filter
            || !full
            || self.sketch.frequency(trace::splitmix64(k)) >= self.main_victim_heat() + self.cfg.filter_margin;
        if !self.cfg.no_ghost && self.ghost_set.contains_key(&k) && passes {
            self.ghost_admits += 1;
            self.map.insert(k, (0, false));
            self.main.push_back(k);
        } else {
            self.map.insert(k, (0, true));
            self.small.push_back(k);
        }
        while self.map.len() > self.cap {
            self.evict();
        }
        false
    }
}

fn foyer_hits(keys: &[u64], cap: usize) -> u64 {
    let mut c = policies::Foyer::s3fifo(cap);
    keys.iter().map(|&k| u64::from(c.access(k))).sum()
}

fn heatmap_hits(keys: &[u64], cap: usize) -> u64 {
    let mut c = policies::HeatMap::new(cap);
    keys.iter().map(|&k| u64::from(c.access(k))).sum()
}

fn main() {
    let seed: u64 = std::env::var("CACHE_BENCH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let t = trace::browser_mix(&trace::BrowserMix::standard(|n| n), trace::BROWSER_MIX_SEED + seed);
    let cap = (t.distinct as f64 * 0.01) as usize;
    println!("browser mix seed {seed}: {} requests, cap {cap}", t.keys.len());
    println!("foyer S3-FIFO: {}", foyer_hits(&t.keys, cap));
    println!("HeatMap: {}", heatmap_hits(&t.keys, cap));
    let base = Cfg { small_ratio: 0.1, ghost_ratio: 1.0, threshold: 1, max_freq: 3, ..Cfg::default() };
    let variants: Vec<(&str, Cfg)> = vec![
        ("replica", base),
        ("no ghost", Cfg { no_ghost: true, ..base }),
        ("no small promotion", Cfg { no_small_promote: true, ..base }),
        ("reset freq on promote", Cfg { reset_on_promote: true, ..base }),
        ("ghost 0.5", Cfg { ghost_ratio: 0.5, ..base }),
        ("ghost 2", Cfg { ghost_ratio: 2.0, ..base }),
        ("small 0.05", Cfg { small_ratio: 0.05, ..base }),
        ("small 0.2", Cfg { small_ratio: 0.2, ..base }),
        ("max freq 1", Cfg { max_freq: 1, ..base }),
        ("max freq 2", Cfg { max_freq: 2, ..base }),
        ("max freq 7", Cfg { max_freq: 7, ..base }),
        ("threshold 2", Cfg { threshold: 2, ..base }),
        ("ghost filter >=", Cfg { ghost_filter: true, ..base }),
        ("ghost filter > (margin 1)", Cfg { ghost_filter: true, filter_margin: 1, ..base }),
        ("ghost filter margin 2 (HeatMap's)", Cfg { ghost_filter: true, filter_margin: 2, ..base }),
        ("ghost filter margin 3", Cfg { ghost_filter: true, filter_margin: 3, ..base }),
    ];
    for (name, cfg) in variants {
        let mut s = S3::new(cap, cfg);
        let hits: u64 = t.keys.iter().map(|&k| u64::from(s.access(k))).sum();
        println!("{name:28} {hits}  (ghost admits {})", s.ghost_admits);
    }
}
