//! When a table's values expire: how many of its entries carry an expiry time and the times
//! by which a quarter, half, three quarters and all of them have expired. The MANIFEST keeps
//! it per table (docs/format.md "MANIFEST"), so compaction can rewrite a table once most of
//! it has expired, without reading it (docs/design.md "Compaction: expired data").
//!
//! Without it, expired values stay on disk until some merge happens to read their table: in
//! a history store, whose keys grow with time, nothing ever merges the oldest tables again
//! (new data lands at the other end of the key space), so a year of visits kept 90 days held
//! twice the live data on disk (the 100k-key churn of `benchmark/scale.js`).

/// Expiry times the builder keeps to compute the quartiles (8 KiB): beyond it, every other
/// sample is dropped and the sampling stride doubles, so a table of any size uses this much.
pub const SAMPLES_MAX: usize = 1024;

/// A table's expiring values, as the MANIFEST records them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryProfile {
    /// Entries with an expiry time (values put with a TTL), 0 if none.
    pub entries: u64,
    /// Unix ms by which at least 1/4, 2/4, 3/4 and 4/4 of those entries have expired
    /// (non-decreasing; the last is the latest expiry time). All 0 when `entries` is 0.
    pub quartiles_ms: [u64; 4],
}

impl ExpiryProfile {
    /// A lower estimate of the entries expired at `now_ms`: a quarter of the expiring entries
    /// for each quartile passed.
    #[must_use]
    pub fn expired_entries(&self, now_ms: u64) -> u64 {
        let passed = self.quartiles_ms.iter().filter(|&&q| q <= now_ms).count() as u64;
        self.expired_after_quartiles(passed)
    }

    /// The entries that count as expired once `passed` quartiles have passed.
    const fn expired_after_quartiles(&self, passed: u64) -> u64 {
        self.entries.saturating_mul(passed) / 4
    }

    /// The first time at which at least `needed` entries count as expired, or `None` if the
    /// table never gets there.
    #[must_use]
    pub fn time_when_expired(&self, needed: u64) -> Option<u64> {
        if self.entries == 0 {
            return None;
        }
        let needed = needed.max(1);
        (1..=4u64)
            .zip(self.quartiles_ms)
            .find(|&(passed, _)| self.expired_after_quartiles(passed) >= needed)
            .map(|(_, q)| q)
    }

    /// Whether at least half of a table's `entry_count` entries (estimate) have expired at
    /// `now_ms`: reason enough to rewrite it. Less would rewrite a table for a few dead
    /// values, more would leave up to that share of its bytes dead on disk.
    #[must_use]
    pub fn mostly_expired(&self, entry_count: u64, now_ms: u64) -> bool {
        self.time_mostly_expired(entry_count).is_some_and(|due| due <= now_ms)
    }

    /// When `mostly_expired` becomes true, if ever.
    #[must_use]
    pub fn time_mostly_expired(&self, entry_count: u64) -> Option<u64> {
        self.time_when_expired(Self::half_of(entry_count))
    }

    /// When to rewrite the table for its expired values: once it is mostly expired, or as
    /// late as the last quartile that follows within `settle_ms`, so values that expire
    /// together (a batch put with one TTL, its times a few ms apart) go in one rewrite
    /// instead of leaving their last quarter behind in a table no longer mostly expired.
    #[must_use]
    pub fn time_to_rewrite(&self, entry_count: u64, settle_ms: u64) -> Option<u64> {
        let first = self.time_mostly_expired(entry_count)?;
        let settled = self.quartiles_ms.iter().copied().filter(|&q| q >= first && q <= first.saturating_add(settle_ms));
        Some(settled.max().unwrap_or(first))
    }

    const fn half_of(entry_count: u64) -> u64 {
        entry_count.div_ceil(2)
    }

    /// Whether the quartiles are in order and present exactly when entries are.
    #[must_use]
    pub fn is_consistent(&self) -> bool {
        let ordered = self.quartiles_ms.windows(2).all(|w| w[0] <= w[1]);
        ordered && (self.entries > 0 || self.quartiles_ms == [0; 4])
    }
}

/// Collects the expiry times of the entries a table builder adds, within `SAMPLES_MAX`.
#[derive(Debug, Default)]
pub struct ExpirySampler {
    entries: u64,
    /// Every `stride`-th expiring entry is sampled (a power of two, 1 until the first thinning).
    stride_log2: u32,
    samples: Vec<u64>,
    latest_ms: u64,
}

impl ExpirySampler {
    /// Records one entry that expires at `expiry_ms`.
    pub fn add(&mut self, expiry_ms: u64) {
        if self.entries & ((1u64 << self.stride_log2) - 1) == 0 {
            if self.samples.len() == SAMPLES_MAX {
                // Keep the samples at even positions: those of the doubled stride.
                let mut position = 0;
                self.samples.retain(|_| {
                    position += 1;
                    position % 2 == 1
                });
                self.stride_log2 += 1;
            }
            if self.entries & ((1u64 << self.stride_log2) - 1) == 0 {
                self.samples.push(expiry_ms);
            }
        }
        self.entries += 1;
        self.latest_ms = self.latest_ms.max(expiry_ms);
    }

    /// The profile of what was added.
    #[must_use]
    pub fn finish(mut self) -> ExpiryProfile {
        if self.entries == 0 {
            return ExpiryProfile::default();
        }
        self.samples.sort_unstable();
        let n = self.samples.len();
        let at = |quarter: usize| self.samples.get((n * quarter).div_ceil(4).saturating_sub(1)).copied().unwrap_or(0);
        // The latest time is known exactly: a sample may have missed it.
        ExpiryProfile { entries: self.entries, quartiles_ms: [at(1), at(2), at(3), self.latest_ms] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile_of(times: &[u64]) -> ExpiryProfile {
        let mut sampler = ExpirySampler::default();
        for &t in times {
            sampler.add(t);
        }
        sampler.finish()
    }

    #[test]
    fn no_expiring_entries_give_an_empty_profile() {
        let p = profile_of(&[]);
        assert_eq!(p, ExpiryProfile::default());
        assert_eq!(p.expired_entries(u64::MAX), 0);
        assert_eq!(p.time_when_expired(1), None);
        assert!(p.is_consistent());
    }

    #[test]
    fn small_sets_give_exact_quartiles() {
        let p = profile_of(&[40, 10, 30, 20, 80, 60, 70, 50]);
        assert_eq!(p.entries, 8);
        assert_eq!(p.quartiles_ms, [20, 40, 60, 80]);
        assert_eq!(p.expired_entries(19), 0);
        assert_eq!(p.expired_entries(20), 2);
        assert_eq!(p.expired_entries(65), 6);
        assert_eq!(p.expired_entries(80), 8);
        assert_eq!(p.time_when_expired(4), Some(40));
        assert_eq!(p.time_when_expired(5), Some(60));
        assert_eq!(p.time_when_expired(9), None);
        assert!(p.is_consistent());
        // In a table of 12 entries (8 expiring), half is 6: three quartiles.
        assert!(!p.mostly_expired(12, 59));
        assert!(p.mostly_expired(12, 60));
        assert_eq!(p.time_mostly_expired(12), Some(60));
        assert_eq!(p.time_mostly_expired(17), None, "8 of 17 never reach half");
        // Half at 60; the last quartile (80) within 25 of it: wait for it; within 19: not.
        assert_eq!(p.time_to_rewrite(12, 25), Some(80));
        assert_eq!(p.time_to_rewrite(12, 19), Some(60));
        assert_eq!(p.time_to_rewrite(17, 1000), None);
    }

    #[test]
    fn the_estimate_never_exceeds_what_really_expired() {
        // 100k entries (the sample thins to 1024) in an order unrelated to their times.
        let times: Vec<u64> = (0..100_000u64).map(|i| (i * 7919) % 100_000).collect();
        let p = profile_of(&times);
        assert_eq!(p.entries, 100_000);
        assert_eq!(p.quartiles_ms[3], 99_999, "the latest time is exact");
        for now in (0..100_000).step_by(997) {
            let really = times.iter().filter(|&&t| t <= now).count() as u64;
            let estimate = p.expired_entries(now);
            assert!(estimate <= really + 100_000 / 512, "now {now}: {estimate} estimated, {really} expired");
        }
        // Uniform times: each quartile near its exact value (within the sampling's reach).
        for (quarter, &q) in p.quartiles_ms.iter().take(3).enumerate() {
            let exact = 25_000 * (quarter as u64 + 1);
            assert!(q.abs_diff(exact) < 1_000, "quartile {}: {q} against {exact}", quarter + 1);
        }
    }

    #[test]
    fn the_sample_stays_within_its_budget() {
        let mut sampler = ExpirySampler::default();
        for t in 0..1_000_000u64 {
            sampler.add(t);
            assert!(sampler.samples.len() <= SAMPLES_MAX);
        }
        assert!(sampler.samples.len() >= SAMPLES_MAX / 2);
    }
}
