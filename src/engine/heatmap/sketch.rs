//! Frequency sketch: a count-min sketch of 4-bit counters with periodic halving (TinyLFU,
//! Einziger et al.; the layout of Caffeine's `FrequencySketch`). Each key hashes to four
//! counters, one in each quarter of a 64-bit word group; its estimated frequency is the
//! smallest of them. After `sample_size` increments every counter is halved, so old
//! popularity fades and the sketch follows a changing workload.
//!
//! - **Width**: one 64-bit word (16 counters) per expected entry, Caffeine's width, unless the
//!   owner's byte cap is lower. The table need not be a power of two (a multiply-shift picks
//!   the word), so a cap is used exactly rather than rounded up past it.
//! - **Conservative update**: an access increments only those of its four counters that hold
//!   the minimum, so keys sharing a counter inflate each other's estimates less.
//!
//! Memory: 8 bytes per 16 counters; the owner decides the cap (the HeatMap keeps all its
//! sketches under 1% of its budget).

/// Increments per expected entry between two halvings. Caffeine uses ten; 2.5 follows a
/// shifting popularity faster. benchmark/cache, against 5: the browser mix +0.6 points at 1%
/// and +0.2 at 10%, Zipf +0.6 at 1% and level at 10%; ten would win 0.35 on Zipf at 10% but
/// lose 1.4 on the browser mix at 1%.
const AGING_PERIOD_PER_ENTRY: f64 = 2.5;

/// The sketch.
#[derive(Debug, Clone)]
pub struct FrequencySketch {
    table: Vec<u64>,
    additions: u64,
    sample_size: u64,
}

const RESET_MASK: u64 = 0x7777_7777_7777_7777;
const ONE_MASK: u64 = 0x1111_1111_1111_1111;
const SEEDS: [u64; 4] = [0xc3a5_c85c_97cb_3127, 0xb492_b66f_be98_f273, 0x9ae1_6a3b_2f90_404f, 0xcbf2_9ce4_8422_2325];

impl FrequencySketch {
    /// A sketch for about `entries` distinct hot keys using at most `bytes_max` bytes (but
    /// never less than one word).
    #[must_use]
    pub fn new(entries: usize, bytes_max: usize) -> Self {
        let words = entries.max(8).min(bytes_max / 8).max(1);
        Self {
            table: vec![0; words],
            additions: 0,
            sample_size: (AGING_PERIOD_PER_ENTRY * entries.max(8) as f64) as u64,
        }
    }

    /// Bytes the sketch occupies.
    #[must_use]
    pub fn size_bytes(&self) -> usize {
        self.table.len() * 8
    }

    fn slot(&self, hash: u64, i: usize) -> (usize, u32) {
        let seed = SEEDS.get(i).copied().unwrap_or(1);
        let h = (hash ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let h = h ^ (h >> 29);
        // Multiply-shift maps the hash onto any table length (no power-of-two rounding).
        let index = ((u128::from(h) * self.table.len() as u128) >> 64) as usize;
        // Counter i lives in nibble group i of the word: offsets 0..16 step 4 within the
        // quarter chosen by the hash.
        let offset = (h as u32 & 3) * 16 + (i as u32) * 4;
        (index, offset)
    }

    /// Estimated frequency (0..=15) of the key with this hash.
    #[must_use]
    pub fn frequency(&self, hash: u64) -> u8 {
        (0..4)
            .map(|i| {
                let (index, offset) = self.slot(hash, i);
                self.table.get(index).map_or(0, |w| ((w >> offset) & 0xf) as u8)
            })
            .min()
            .unwrap_or(0)
    }

    /// Counts one access (conservative update: only the counters at the minimum grow);
    /// returns the key's estimate before it.
    pub fn increment(&mut self, hash: u64) -> u8 {
        let before = self.frequency(hash);
        let min = u64::from(before);
        let mut added = false;
        for i in 0..4 {
            let (index, offset) = self.slot(hash, i);
            if let Some(w) = self.table.get_mut(index) {
                if (*w >> offset) & 0xf == min && min < 15 {
                    *w += 1 << offset;
                    added = true;
                }
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample_size {
                self.halve();
            }
        }
        before
    }

    /// Halves every counter (aging).
    fn halve(&mut self) {
        let mut odd = 0u64;
        for w in &mut self.table {
            odd += u64::from((*w & ONE_MASK).count_ones());
            *w = (*w >> 1) & RESET_MASK;
        }
        self.additions = self.additions.saturating_sub(odd / 4) / 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ages() {
        let mut s = FrequencySketch::new(1000, 1 << 20);
        for _ in 0..10 {
            s.increment(42);
        }
        s.increment(7);
        assert!(s.frequency(42) >= 10);
        assert!(s.frequency(7) >= 1);
        assert_eq!(s.frequency(99_999), 0);
        for i in 0..20_000u64 {
            s.increment(i.wrapping_mul(0x2545_f491_4f6c_dd1d));
        }
        assert!(s.frequency(42) < 10, "halving makes old counts fade");
    }

    #[test]
    fn stays_within_its_byte_budget() {
        let s = FrequencySketch::new(1_000_000, 64 * 1024);
        assert!(s.size_bytes() <= 64 * 1024);
        // Not a power of two: used as given, not rounded up past it.
        let s = FrequencySketch::new(1_000_000, 3000);
        assert_eq!(s.size_bytes(), 3000 / 8 * 8);
        // One word per expected entry when the cap allows more.
        assert_eq!(FrequencySketch::new(1000, 1 << 20).size_bytes(), 8000);
    }

    #[test]
    fn conservative_update_spares_shared_counters() {
        // A one-word sketch: key b shares some of key a's counters (same nibble) but not all.
        let mut s = FrequencySketch::new(8, 8);
        for _ in 0..5 {
            s.increment(1);
        }
        let shared = |b: u64| (0..4).filter(|&i| s.slot(1, i) == s.slot(b, i)).count();
        let b = (2..10_000u64).find(|&b| (1..4).contains(&shared(b))).expect("a partial overlap");
        let counters_of_a: Vec<_> = (0..4).map(|i| s.slot(1, i)).collect();
        s.increment(b);
        assert_eq!(s.frequency(b), 1);
        // Plain count-min would have raised the shared counters to 6.
        for (index, offset) in counters_of_a {
            assert_eq!((s.table[index] >> offset) & 0xf, 5);
        }
    }
}
