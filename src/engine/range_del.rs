//! Range tombstones: one record that deletes every version of every key in `[start, end)`
//! older than itself (docs/design.md "Range deletes").
//!
//! A tombstone is a stored start key (inclusive), a stored end key (exclusive) and a
//! sequence number. It hides a version of a key it covers when the version's sequence number
//! is lower than the tombstone's and the reader can see the tombstone (its snapshot is at or
//! above the tombstone's sequence number).
//!
//! [`RangeDeletes`] is the read-side form: the tombstones of one layer (a table, an iterator's
//! whole view, a compaction's inputs) cut into non-overlapping fragments, each with the
//! sequence numbers of the tombstones covering it, newest first. A lookup is one binary search.
//! An empty set costs one length check, so layers without range deletes pay nothing.

/// The largest stored key a tombstone ending at `end` (exclusive) may cover, as an inclusive
/// bound for a table's key range: `p` for an end `p 00` (no key lies between `p` and `p 00`),
/// else `end` itself (one key too high, never too low). So a compaction output whose
/// fragments are clipped at `L 00` ends exactly at its last key `L`.
#[must_use]
pub fn inclusive_end(end: &[u8]) -> &[u8] {
    match end.split_last() {
        Some((0, rest)) if !rest.is_empty() => rest,
        _ => end,
    }
}

/// One range tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeTombstone {
    /// First stored key deleted.
    pub start: Vec<u8>,
    /// First stored key not deleted (exclusive).
    pub end: Vec<u8>,
    /// Sequence number: versions below it are deleted.
    pub seq: u64,
}

impl RangeTombstone {
    /// Whether `key` lies in `[start, end)`.
    #[must_use]
    pub fn covers(&self, key: &[u8]) -> bool {
        self.start.as_slice() <= key && key < self.end.as_slice()
    }
}

/// A piece of the key space on which the same tombstones apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// First stored key of the fragment.
    pub start: Vec<u8>,
    /// End of the fragment (exclusive).
    pub end: Vec<u8>,
    /// Sequence numbers of the tombstones covering it, newest first, without repeats.
    pub seqs: Vec<u64>,
}

/// Tombstones cut into sorted, non-overlapping fragments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeDeletes {
    fragments: Vec<Fragment>,
}

impl RangeDeletes {
    /// Fragments `tombstones` (in any order; empty ranges are ignored).
    #[must_use]
    pub fn new(tombstones: impl IntoIterator<Item = RangeTombstone>) -> Self {
        let mut ts: Vec<RangeTombstone> = tombstones.into_iter().filter(|t| t.start < t.end).collect();
        if ts.is_empty() {
            return Self::default();
        }
        ts.sort_by(|a, b| a.start.cmp(&b.start));
        let mut bounds: Vec<&[u8]> = ts.iter().flat_map(|t| [t.start.as_slice(), t.end.as_slice()]).collect();
        bounds.sort_unstable();
        bounds.dedup();
        let mut fragments: Vec<Fragment> = Vec::new();
        // Indexes of the tombstones that started at or before the current boundary.
        let mut active: Vec<usize> = Vec::new();
        let mut next = 0;
        for pair in bounds.windows(2) {
            let (Some(&lo), Some(&hi)) = (pair.first(), pair.get(1)) else { continue };
            active.retain(|&i| ts.get(i).is_some_and(|t| t.end.as_slice() > lo));
            while let Some(t) = ts.get(next).filter(|t| t.start.as_slice() <= lo) {
                if t.end.as_slice() > lo {
                    active.push(next);
                }
                next += 1;
            }
            if active.is_empty() {
                continue;
            }
            // Every active tombstone starts at or before `lo` and ends after it, so at or
            // after `hi` (the next boundary): it covers all of `[lo, hi)`.
            let mut seqs: Vec<u64> = active.iter().filter_map(|&i| ts.get(i).map(|t| t.seq)).collect();
            seqs.sort_unstable_by(|a, b| b.cmp(a));
            seqs.dedup();
            match fragments.last_mut() {
                Some(last) if last.end.as_slice() == lo && last.seqs == seqs => last.end = hi.to_vec(),
                _ => fragments.push(Fragment { start: lo.to_vec(), end: hi.to_vec(), seqs }),
            }
        }
        Self { fragments }
    }

    /// Whether there is no tombstone at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fragments.is_empty()
    }

    /// The sorted, non-overlapping fragments.
    #[must_use]
    pub fn fragments(&self) -> &[Fragment] {
        &self.fragments
    }

    /// The newest sequence number at or below `seq` of a tombstone covering `key`; 0 if
    /// none (sequence numbers start at 1).
    #[must_use]
    pub fn covering_seq(&self, key: &[u8], seq: u64) -> u64 {
        let at = self.fragments.partition_point(|f| f.start.as_slice() <= key);
        let Some(f) = at.checked_sub(1).and_then(|i| self.fragments.get(i)) else { return 0 };
        if key >= f.end.as_slice() {
            return 0;
        }
        f.seqs.iter().copied().find(|&s| s <= seq).unwrap_or(0)
    }

    /// Whether a version of `key` with sequence number `version_seq` is deleted for a reader
    /// at `read_seq`.
    #[must_use]
    pub fn deletes(&self, key: &[u8], version_seq: u64, read_seq: u64) -> bool {
        !self.is_empty() && self.covering_seq(key, read_seq) > version_seq
    }

    /// Every (fragment, sequence number) pair as a tombstone: an equivalent set of
    /// non-overlapping tombstones.
    pub fn tombstones(&self) -> impl Iterator<Item = RangeTombstone> + '_ {
        self.fragments
            .iter()
            .flat_map(|f| f.seqs.iter().map(|&seq| RangeTombstone { start: f.start.clone(), end: f.end.clone(), seq }))
    }

    /// The smallest start and the largest end, if any tombstone.
    #[must_use]
    pub fn extent(&self) -> Option<(&[u8], &[u8])> {
        Some((self.fragments.first()?.start.as_slice(), self.fragments.last()?.end.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(start: &[u8], end: &[u8], seq: u64) -> RangeTombstone {
        RangeTombstone { start: start.to_vec(), end: end.to_vec(), seq }
    }

    #[test]
    fn fragments_overlapping_tombstones() {
        let r = RangeDeletes::new([t(b"a", b"m", 5), t(b"f", b"q", 9), t(b"x", b"z", 2), t(b"c", b"c", 7)]);
        let frags: Vec<(&[u8], &[u8], Vec<u64>)> =
            r.fragments().iter().map(|f| (f.start.as_slice(), f.end.as_slice(), f.seqs.clone())).collect();
        assert_eq!(
            frags,
            vec![
                (&b"a"[..], &b"f"[..], vec![5]),
                (&b"f"[..], &b"m"[..], vec![9, 5]),
                (&b"m"[..], &b"q"[..], vec![9]),
                (&b"x"[..], &b"z"[..], vec![2]),
            ]
        );
        assert_eq!(r.covering_seq(b"a", u64::MAX), 5);
        assert_eq!(r.covering_seq(b"g", u64::MAX), 9);
        assert_eq!(r.covering_seq(b"g", 8), 5);
        assert_eq!(r.covering_seq(b"g", 4), 0);
        assert_eq!(r.covering_seq(b"q", u64::MAX), 0);
        assert_eq!(r.covering_seq(b"0", u64::MAX), 0);
        assert_eq!(r.covering_seq(b"y", u64::MAX), 2);
        assert!(r.deletes(b"b", 4, u64::MAX));
        assert!(!r.deletes(b"b", 6, u64::MAX));
        assert_eq!(r.extent(), Some((&b"a"[..], &b"z"[..])));
    }

    #[test]
    fn adjacent_pieces_of_one_tombstone_coalesce() {
        let r = RangeDeletes::new([t(b"a", b"c", 3), t(b"c", b"e", 3), t(b"b", b"d", 3)]);
        assert_eq!(r.fragments().len(), 1);
        assert_eq!(r.tombstones().collect::<Vec<_>>(), vec![t(b"a", b"e", 3)]);
        assert!(RangeDeletes::new([t(b"b", b"a", 1)]).is_empty());
    }
}
