//! Deterministic, seeded request traces. A request is a key id (`u64`); string keys of the
//! browser mix are mapped to ids (see `browser_mix`).

/// splitmix64: the mixer used for seeding and as the 64-bit key hash.
#[must_use]
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xoshiro256** seeded through splitmix64.
pub struct Rng([u64; 4]);

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut s = [0u64; 4];
        let mut x = seed;
        for w in &mut s {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            *w = splitmix64(x);
        }
        Self(s)
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Discrete Zipf over ranks 0..n: P(rank r) proportional to 1 / (r + 1)^s.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for r in 0..n {
            sum += 1.0 / ((r + 1) as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Self { cdf }
    }

    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.f64();
        self.cdf.partition_point(|&c| c <= u).min(self.cdf.len() - 1)
    }
}

/// A random permutation of 0..n (rank -> key id), so hot keys are not neighbouring ids.
fn permutation(n: usize, rng: &mut Rng) -> Vec<u64> {
    let mut p: Vec<u64> = (0..n as u64).collect();
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

/// One trace.
pub struct Trace {
    pub name: String,
    pub keys: Vec<u64>,
    /// Marks requests that belong to a full scan (browser mix only), for the non-scan hit rate.
    pub scan: Option<Vec<bool>>,
    /// Marks requests that are writes (browser mix only). The policy comparison counts every
    /// request as an access; the engine run (examples/whole_cache.rs) puts these.
    #[allow(dead_code, reason = "read by examples/whole_cache.rs, which includes this file; not by the binary")]
    pub writes: Option<Vec<bool>>,
    /// The number the cache sizes are a percentage of.
    pub key_space: usize,
    /// Distinct keys actually requested.
    pub distinct: usize,
}

fn distinct(keys: &[u64]) -> usize {
    let mut v = keys.to_vec();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// Zipf(s) over `n` keys, `requests` requests.
pub fn zipf(n: usize, s: f64, requests: usize, seed: u64) -> Trace {
    let mut rng = Rng::new(seed);
    let perm = permutation(n, &mut rng);
    let z = Zipf::new(n, s);
    let keys: Vec<u64> = (0..requests).map(|_| perm[z.sample(&mut rng)]).collect();
    let d = distinct(&keys);
    Trace {
        name: format!("Zipf s={s} over {n} keys, {requests} requests"),
        keys,
        scan: None,
        writes: None,
        key_space: n,
        distinct: d,
    }
}

/// A loop over `len` keys, `requests` requests (0, 1, .., len-1, 0, 1, ..).
pub fn looping(len: usize, requests: usize) -> Trace {
    let keys: Vec<u64> = (0..requests).map(|i| (i % len) as u64).collect();
    Trace {
        name: format!("Loop over {len} keys, {requests} requests"),
        keys,
        scan: None,
        writes: None,
        key_space: len,
        distinct: len,
    }
}

/// Parameters of the browser mix.
pub struct BrowserMix {
    /// Non-scan requests.
    pub requests: usize,
    /// History entries that exist before the trace starts.
    pub history_initial: usize,
    /// Bookmarks (a fixed set).
    pub bookmarks: usize,
    /// A full history scan after every this many non-scan requests.
    pub scan_every: usize,
}

impl BrowserMix {
    /// The benchmark's mix: 1,000,000 requests over 10,000 history entries at the start and
    /// 5,000 bookmarks, a full history scan every 50,000; `scaled` maps each count
    /// (`CACHE_BENCH_SCALE`). Its trace seed is 3 plus `CACHE_BENCH_SEED`.
    pub fn standard(scaled: impl Fn(usize) -> usize) -> Self {
        Self { requests: scaled(1_000_000), history_initial: 10_000, bookmarks: 5_000, scan_every: scaled(50_000) }
    }
}

/// The browser mix's trace seed: 3, offset by `CACHE_BENCH_SEED`.
pub const BROWSER_MIX_SEED: u64 = 3;

pub const BOOKMARK_BASE: u64 = 1 << 40;
pub const SETTINGS_THEME: u64 = 2 << 40;

/// The seed guide's browser mix (docs: shared DESIGN.md "The seed guide's browser mix":
/// history 10k ops at 80% reads / 20% writes, bookmarks 5k ops at 50/50, `settings:theme`
/// reads 2k ops), interleaved at those proportions (10 : 5 : 2), with periodic full scans.
///
/// - `history:<n>` -> id n. A history read picks the entry `d` places from the newest, d drawn
///   from a (continuous, truncated) Zipf s=0.9 over all current entries: recent pages are read
///   most, old ones still occasionally. A history write is a new visit (25%: appends
///   `history:<count>`, the newest entry) or an update of an existing entry (75%: picked like a
///   read, e.g. its visit count).
/// - `bookmarks:<b>` -> id 2^40 + b: reads and writes (updates) Zipf s=0.8 over a fixed set.
/// - `settings:theme` -> id 2^41: reads.
/// - every `scan_every` non-scan requests: every history key read once, in order.
pub fn browser_mix(p: &BrowserMix, seed: u64) -> Trace {
    let mut rng = Rng::new(seed);
    let bperm = permutation(p.bookmarks, &mut rng);
    let bzipf = Zipf::new(p.bookmarks, 0.8);
    let mut history = p.history_initial as u64;
    let mut keys = Vec::with_capacity(p.requests * 2);
    let mut scan = Vec::with_capacity(p.requests * 2);
    let mut writes = Vec::with_capacity(p.requests * 2);
    let s = 0.9f64;
    let recent = |rng: &mut Rng, count: u64| -> u64 {
        // Inverse CDF of density ~ x^-s on [1, count + 1]; d = floor(x) - 1 in 0..count.
        let top = (count as f64 + 1.0).powf(1.0 - s);
        let x = ((top - 1.0) * rng.f64() + 1.0).powf(1.0 / (1.0 - s));
        let d = (x as u64).saturating_sub(1).min(count - 1);
        count - 1 - d
    };
    for i in 0..p.requests {
        if i > 0 && i % p.scan_every == 0 {
            for n in 0..history {
                keys.push(n);
                scan.push(true);
                writes.push(false);
            }
        }
        let op = rng.below(17);
        let (key, write) = if op < 10 {
            // History.
            if rng.f64() < 0.8 {
                (recent(&mut rng, history), false)
            } else if rng.f64() < 0.25 {
                history += 1;
                (history - 1, true)
            } else {
                (recent(&mut rng, history), true)
            }
        } else if op < 15 {
            // Bookmarks: a read or a write, both of the same popularity.
            let write = rng.f64() < 0.5;
            (BOOKMARK_BASE + bperm[bzipf.sample(&mut rng)], write)
        } else {
            (SETTINGS_THEME, false)
        };
        keys.push(key);
        scan.push(false);
        writes.push(write);
    }
    let d = distinct(&keys);
    Trace {
        name: format!(
            "Browser mix: {} requests + a full history scan every {} ({} history keys at the start, {} at the end; {} bookmarks; settings:theme)",
            p.requests, p.scan_every, p.history_initial, history, p.bookmarks
        ),
        keys,
        scan: Some(scan),
        writes: Some(writes),
        key_space: d,
        distinct: d,
    }
}

/// Byte sizes for the byte-weighted browser mix: a user key of 20..=40 bytes (`history:` or
/// `bookmarks:` and an id or URL hash) and a JSON value of 100..=200 bytes (a history visit or
/// a bookmark); `settings:theme` holds a short value. Drawn once per key id, deterministic.
pub fn browser_entry_bytes(id: u64) -> (usize, usize) {
    let key = 20 + (splitmix64(id) % 21) as usize;
    let value = if id == SETTINGS_THEME { 24 } else { 100 + (splitmix64(id ^ 0x5bd1_e995) % 101) as usize };
    (key, value)
}

/// The user key of `id` in the byte-weighted browser mix: the id's bytes, padded to its length.
pub fn browser_user_key(id: u64, out: &mut [u8; 40]) -> &[u8] {
    let (len, _) = browser_entry_bytes(id);
    out.fill(b'.');
    out[..8].copy_from_slice(&id.to_le_bytes());
    &out[..len]
}
