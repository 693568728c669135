//! Compaction: picking which tables to merge, merging them, and the thresholds that keep
//! level 0 and the levels in shape (docs/design.md "Compaction").
//!
//! Leveled (default): level 0 compacts into level 1 once it holds `L0_COMPACTION_TRIGGER`
//! tables; level n (n >= 1) compacts one table at a time into level n + 1 once it holds more
//! than its target (`level1_size_bytes_target` × 10^(n−1)). Tiered: runs stay in level 0, and
//! `TIERED_RUNS_MERGED` adjacent runs of similar size merge into one.
//!
//! A merge keeps, for each key, the newest version and any older version a live snapshot can
//! still see; it drops tombstones and expired values once no snapshot needs them and no deeper
//! table can hold an older version of the key. Output tables are cut at user-key boundaries
//! near `table_size_bytes_target`, so tables of a level never share a key.
//!
//! Runs on the background pool under the database's version lock (one flush or compaction
//! at a time per database); readers never wait for it.

use std::collections::VecDeque;
use std::sync::Arc;

use super::error::{Error, IoContext, Result};
use super::files::{self, FileKind};
use super::iter::{EntryRef, TableMerge};
use super::key::Kind;
use super::options::{CompactionStyle, Options};
use super::range_del::{Fragment, RangeDeletes};
use super::storage::Storage;
use super::table::{TableBuilder, TableMeta};
use super::version::{Levels, LiveTable, LEVELS_MAX};

/// Level-0 tables that start a level-0 compaction (leveled).
pub const L0_COMPACTION_TRIGGER: usize = 4;
/// Level-0 tables (runs) at which each write group is delayed by `SLOWDOWN_DELAY_MS`.
pub const L0_SLOWDOWN_TABLES: usize = 8;
/// Level-0 tables (runs) at which writers wait for compaction.
pub const L0_STOP_TABLES: usize = 12;
/// Tiered: runs at which writers are delayed, and at which they wait.
pub const TIERED_SLOWDOWN_RUNS: usize = 20;
/// Tiered: see `TIERED_SLOWDOWN_RUNS`.
pub const TIERED_STOP_RUNS: usize = 30;
/// Tiered: adjacent runs of similar size merged at once.
pub const TIERED_RUNS_MERGED: usize = 4;
/// Tiered: runs count as "similar" when the largest is at most this many times the smallest.
pub const TIERED_SIZE_RATIO_MAX: u64 = 4;
/// Each level may hold this many times the level above.
pub const LEVEL_SIZE_MULTIPLIER: u64 = 10;
/// Delay of one write group while level 0 is over its slowdown threshold.
pub const SLOWDOWN_DELAY_MS: u64 = 1;

const _: () = assert!(L0_COMPACTION_TRIGGER < L0_SLOWDOWN_TABLES && L0_SLOWDOWN_TABLES < L0_STOP_TABLES);
const _: () = assert!(TIERED_RUNS_MERGED < TIERED_SLOWDOWN_RUNS && TIERED_SLOWDOWN_RUNS < TIERED_STOP_RUNS);

/// What one compaction merges and where the output goes.
pub struct Plan {
    /// Level-0 inputs (each its own source; they may overlap).
    pub overlapping: Vec<Arc<LiveTable>>,
    /// Inputs from deeper levels, one key-ordered run per level.
    pub runs: Vec<Vec<Arc<LiveTable>>>,
    /// Level of the output tables.
    pub output_level: u8,
    /// Whether no table outside the inputs can hold an older version of an input key (so
    /// tombstones can go).
    pub bottommost: bool,
}

impl Plan {
    /// Every input table.
    pub fn inputs(&self) -> impl Iterator<Item = &Arc<LiveTable>> {
        self.overlapping.iter().chain(self.runs.iter().flatten())
    }
}

/// How many level-0 tables make writers slow down and stop, for this style.
#[must_use]
pub const fn l0_thresholds(style: CompactionStyle) -> (usize, usize) {
    match style {
        CompactionStyle::Leveled => (L0_SLOWDOWN_TABLES, L0_STOP_TABLES),
        CompactionStyle::Tiered => (TIERED_SLOWDOWN_RUNS, TIERED_STOP_RUNS),
    }
}

/// The size level `level` (>= 1) may reach.
#[must_use]
pub fn level_target_bytes(options: &Options, level: usize) -> u64 {
    let exponent = u32::try_from(level.saturating_sub(1)).unwrap_or(u32::MAX);
    options.level1_size_bytes_target.saturating_mul(LEVEL_SIZE_MULTIPLIER.saturating_pow(exponent))
}

/// The stored-key hull `[smallest, largest]` of some tables.
fn hull<'a>(tables: impl IntoIterator<Item = &'a Arc<LiveTable>>) -> Option<(Vec<u8>, Vec<u8>)> {
    tables.into_iter().fold(None, |acc, t| {
        let (lo, hi) = (&t.meta.smallest, &t.meta.largest);
        Some(match acc {
            None => (lo.clone(), hi.clone()),
            Some((a, b)) => (if lo < &a { lo.clone() } else { a }, if hi > &b { hi.clone() } else { b }),
        })
    })
}

fn overlapping(tables: &[Arc<LiveTable>], lower: &[u8], upper: &[u8]) -> Vec<Arc<LiveTable>> {
    tables.iter().filter(|t| t.overlaps(lower, upper)).cloned().collect()
}

/// Whether any table below `level` meets `[lower, upper]`.
fn deeper_overlap(levels: &Levels, level: usize, lower: &[u8], upper: &[u8]) -> bool {
    (level + 1..levels.depth()).any(|l| levels.level(l).iter().any(|t| t.overlaps(lower, upper)))
}

/// The moment a pick is made at: what decides whether expired values can be dropped.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    /// The database clock (unix ms).
    pub now_ms: u64,
    /// Sequence number of the oldest live snapshot (`u64::MAX` if none).
    pub oldest_snapshot: u64,
}

/// Chooses the next compaction, if any is due. `pointers[level]` remembers where the last
/// compaction of each level ended, so levels are compacted round-robin by key.
#[must_use]
pub fn pick(levels: &Levels, options: &Options, pointers: &mut [Vec<u8>; LEVELS_MAX], moment: Moment) -> Option<Plan> {
    match options.compaction_style {
        CompactionStyle::Leveled => pick_leveled(levels, options, pointers).or_else(|| pick_expired(levels, moment)),
        CompactionStyle::Tiered => pick_tiered(levels),
    }
}

/// How long after a pick found a mostly expired table held by a snapshot the writer looks
/// again (iterators hold snapshots too; one look costs a pick, so not at every write).
pub const EXPIRY_RETRY_MS: u64 = 10_000;
/// A mostly expired table whose next quartile of expiring values follows within this long
/// waits for it (`ExpiryProfile::time_to_rewrite`).
pub const EXPIRY_SETTLE_MS: u64 = 10_000;

/// Whether a snapshot may still read versions of this table: a rewrite would then keep its
/// expired values, and the table would be picked again and again.
fn held_by_snapshot(t: &LiveTable, moment: Moment) -> bool {
    t.meta.max_seq > moment.oldest_snapshot
}

/// When a table's own expired values are reason enough to rewrite it.
fn time_to_rewrite(t: &LiveTable) -> Option<u64> {
    t.meta.expiry.time_to_rewrite(t.meta.entry_count, EXPIRY_SETTLE_MS)
}

/// Whether a table's own expired values are reason enough to rewrite it now.
fn mostly_expired(t: &LiveTable, moment: Moment) -> bool {
    time_to_rewrite(t).is_some_and(|due| due <= moment.now_ms) && !held_by_snapshot(t, moment)
}

/// Leveled, when no level is over its size: a mostly expired table. In level 0 (tables
/// overlap there, so one cannot be rewritten alone), level 0 is merged into level 1 as at its
/// trigger. Below, the table with the most expired entries is rewritten where it is when
/// nothing deeper holds its keys (a bottommost merge drops the expired values), else merged
/// into the next level (which keeps them, unless that merge is bottommost; they go when their
/// new table is in turn mostly expired or merged at the bottom). Rewriting it in place over a
/// deeper table would be wrong: the dropped value would let an older version show again.
fn pick_expired(levels: &Levels, moment: Moment) -> Option<Plan> {
    if levels.level(0).iter().any(|t| mostly_expired(t, moment)) {
        return plan_level0(levels);
    }
    let (level, chosen) = (1..levels.depth())
        .flat_map(|l| levels.level(l).iter().map(move |t| (l, t)))
        .filter(|(_, t)| mostly_expired(t, moment))
        .max_by_key(|(_, t)| t.meta.expiry.expired_entries(moment.now_ms))?;
    let (lo, hi) = (&chosen.meta.smallest, &chosen.meta.largest);
    if level + 1 >= LEVELS_MAX || !deeper_overlap(levels, level, lo, hi) {
        return Some(Plan {
            overlapping: Vec::new(),
            runs: vec![vec![Arc::clone(chosen)]],
            output_level: u8::try_from(level).unwrap_or(u8::MAX),
            bottommost: true,
        });
    }
    plan_into_next_level(levels, level, chosen)
}

/// One table of `level` (>= 1), with the tables of the next level it overlaps, into the next
/// level.
fn plan_into_next_level(levels: &Levels, level: usize, chosen: &Arc<LiveTable>) -> Option<Plan> {
    let next = overlapping(levels.level(level + 1), &chosen.meta.smallest, &chosen.meta.largest);
    let (lo, hi) = hull(std::iter::once(chosen).chain(&next))?;
    Some(Plan {
        overlapping: Vec::new(),
        runs: vec![vec![Arc::clone(chosen)], next],
        output_level: u8::try_from(level + 1).unwrap_or(u8::MAX),
        bottommost: !deeper_overlap(levels, level + 1, &lo, &hi),
    })
}

/// Leveled: when the writer should next ask for a compaction for expired values (nothing
/// else would: no flush or compaction may be due for days in a quiet database): the first
/// time at which some table becomes mostly expired (already past for one that became so
/// since the last pick looked: the next write looks again), or, for one a snapshot holds,
/// `EXPIRY_RETRY_MS` from now.
#[must_use]
pub fn next_expiry_due_ms(levels: &Levels, options: &Options, moment: Moment) -> Option<u64> {
    if options.compaction_style != CompactionStyle::Leveled {
        return None;
    }
    levels
        .all()
        .filter_map(|t| {
            let due = time_to_rewrite(t)?;
            if due <= moment.now_ms && held_by_snapshot(t, moment) {
                Some(moment.now_ms.saturating_add(EXPIRY_RETRY_MS))
            } else {
                Some(due)
            }
        })
        .min()
}

/// Every level-0 table, with the level-1 tables they overlap, into level 1.
fn plan_level0(levels: &Levels) -> Option<Plan> {
    let l0 = levels.level(0);
    let (lo, hi) = hull(l0)?;
    let l1 = overlapping(levels.level(1), &lo, &hi);
    let (lo, hi) = hull(l0.iter().chain(&l1))?;
    Some(Plan {
        overlapping: l0.to_vec(),
        runs: vec![l1],
        output_level: 1,
        bottommost: !deeper_overlap(levels, 1, &lo, &hi),
    })
}

fn pick_leveled(levels: &Levels, options: &Options, pointers: &mut [Vec<u8>; LEVELS_MAX]) -> Option<Plan> {
    if levels.level(0).len() >= L0_COMPACTION_TRIGGER {
        return plan_level0(levels);
    }
    let (level, _) = (1..LEVELS_MAX - 1)
        .map(|l| (l, levels.level_bytes(l) as f64 / level_target_bytes(options, l) as f64))
        .filter(|&(_, score)| score >= 1.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let tables = levels.level(level);
    let pointer = pointers.get(level).cloned().unwrap_or_default();
    let chosen = tables.iter().find(|t| t.meta.largest > pointer).or_else(|| tables.first())?;
    if let Some(p) = pointers.get_mut(level) {
        p.clone_from(&chosen.meta.largest);
    }
    plan_into_next_level(levels, level, chosen)
}

/// Tiered: the oldest window of `TIERED_RUNS_MERGED` adjacent runs whose sizes are within
/// `TIERED_SIZE_RATIO_MAX` of each other; at the stop threshold, the oldest window at all.
fn pick_tiered(levels: &Levels) -> Option<Plan> {
    let runs = levels.level(0);
    if runs.len() < TIERED_RUNS_MERGED {
        return None;
    }
    let similar = |w: &[Arc<LiveTable>]| {
        let sizes = w.iter().map(|t| t.meta.file_size.max(1));
        let (min, max) = sizes.fold((u64::MAX, 0), |(lo, hi), s| (lo.min(s), hi.max(s)));
        max <= min.saturating_mul(TIERED_SIZE_RATIO_MAX)
    };
    // Level 0 is newest first; scan from the oldest end.
    let windows = (0..=runs.len() - TIERED_RUNS_MERGED).rev();
    let start = windows
        .clone()
        .find(|&i| runs.get(i..i + TIERED_RUNS_MERGED).is_some_and(similar))
        .or_else(|| (runs.len() >= TIERED_SLOWDOWN_RUNS).then_some(runs.len() - TIERED_RUNS_MERGED))?;
    let window = runs.get(start..start + TIERED_RUNS_MERGED)?.to_vec();
    let (lo, hi) = hull(&window)?;
    // The oldest runs are the bottom only if no deeper level (left by leveled compaction,
    // before a reopen as tiered) holds their keys.
    let bottommost = start + TIERED_RUNS_MERGED == runs.len() && !deeper_overlap(levels, 0, &lo, &hi);
    Some(Plan { overlapping: window, runs: Vec::new(), output_level: 0, bottommost })
}

/// Everything below `level` of the whole database (manual compaction): all tables that meet
/// `[lower, upper]`, closed over overlaps so the output cannot overlap what stays.
#[must_use]
pub fn plan_manual(levels: &Levels, options: &Options, lower: &[u8], upper: &[u8]) -> Option<Plan> {
    let (mut lo, mut hi) = (lower.to_vec(), upper.to_vec());
    loop {
        let chosen: Vec<&Arc<LiveTable>> = levels.all().filter(|t| t.overlaps(&lo, &hi)).collect();
        let (nlo, nhi) = hull(chosen.iter().copied())?;
        let (nlo, nhi) = (nlo.min(lo.clone()), nhi.max(hi.clone()));
        if nlo == lo && nhi == hi {
            break;
        }
        (lo, hi) = (nlo, nhi);
    }
    let overlapping_l0 = overlapping(levels.level(0), &lo, &hi);
    let runs: Vec<Vec<Arc<LiveTable>>> = (1..levels.depth()).map(|l| overlapping(levels.level(l), &lo, &hi)).collect();
    let deepest = runs.iter().rposition(|r| !r.is_empty()).map_or(0, |i| i + 1);
    let output_level = match options.compaction_style {
        CompactionStyle::Tiered => 0,
        CompactionStyle::Leveled => deepest.max(1),
    };
    if overlapping_l0.len() + runs.iter().map(Vec::len).sum::<usize>() == 0 {
        return None;
    }
    Some(Plan {
        overlapping: overlapping_l0,
        runs,
        output_level: u8::try_from(output_level).unwrap_or(u8::MAX),
        bottommost: !deeper_overlap(levels, output_level.max(deepest), &lo, &hi),
    })
}

/// Whether the merge may drop this version: hidden from every snapshot by a newer version of
/// the same key, or a tombstone (or expired value) nobody needs.
struct DropRule {
    oldest_snapshot: u64,
    now_ms: u64,
    bottommost: bool,
    key: Vec<u8>,
    /// Sequence of the previous (newer) version of `key`, if one was seen.
    newer_seq: Option<u64>,
}

impl DropRule {
    fn keep(&mut self, e: &EntryRef<'_>) -> bool {
        if e.key != self.key.as_slice() {
            self.key.clear();
            self.key.extend_from_slice(e.key);
            self.newer_seq = None;
        }
        let hidden = self.newer_seq.is_some_and(|newer| newer <= self.oldest_snapshot);
        self.newer_seq = Some(e.seq);
        if hidden {
            return false;
        }
        let dead = match e.kind {
            Kind::Delete | Kind::RangeDelete => true,
            Kind::PutWithExpiry => e.expiry_ms <= self.now_ms,
            Kind::Put => false,
        };
        !(dead && self.bottommost && e.seq <= self.oldest_snapshot)
    }
}

/// The sequence number a merge writes for a version it keeps: 0 for a value every snapshot
/// sees in a bottommost merge, as RocksDB does. Every older version of the key was hidden and
/// dropped, no deeper table holds the key, and every tombstone that could cover the value is
/// newer than any snapshot, so 0 orders and reads the same; the packed tag then stores kind
/// and sequence in one byte instead of up to nine (docs/format.md "Data blocks").
fn stored_seq(bottommost: bool, oldest_snapshot: u64, e: &EntryRef<'_>) -> u64 {
    let value = matches!(e.kind, Kind::Put | Kind::PutWithExpiry);
    if bottommost && value && e.seq <= oldest_snapshot {
        0
    } else {
        e.seq
    }
}

/// The fragments of `covering` a merge writes out: per fragment, each tombstone some snapshot
/// may still need (a tombstone hidden from every snapshot by a newer one over the same keys
/// goes), minus, in a bottommost merge, those at or below the oldest snapshot (every version
/// they could delete is gone, and nothing older lies outside the inputs).
fn kept_fragments(covering: &RangeDeletes, oldest_snapshot: u64, bottommost: bool) -> VecDeque<Fragment> {
    let mut kept = VecDeque::new();
    for f in covering.fragments() {
        let mut seqs = Vec::new();
        let mut newer: Option<u64> = None;
        for &seq in &f.seqs {
            let hidden = newer.is_some_and(|n| n <= oldest_snapshot);
            newer = Some(seq);
            if hidden || (bottommost && seq <= oldest_snapshot) {
                continue;
            }
            seqs.push(seq);
        }
        if !seqs.is_empty() {
            kept.push_back(Fragment { start: f.start.clone(), end: f.end.clone(), seqs });
        }
    }
    kept
}

/// Adds to `builder` the pending fragments that start below `cut` (all with `None`),
/// clipping one that reaches past `cut` and leaving its rest pending.
fn add_fragments_below(builder: &mut TableBuilder, pending: &mut VecDeque<Fragment>, cut: Option<&[u8]>) -> Result<()> {
    while let Some(mut f) = pending.pop_front() {
        match cut {
            Some(cut) if f.start.as_slice() >= cut => {
                pending.push_front(f);
                break;
            }
            Some(cut) if f.end.as_slice() > cut => {
                for &seq in &f.seqs {
                    builder.add_range_delete(&f.start, cut, seq)?;
                }
                f.start = cut.to_vec();
                pending.push_front(f);
                break;
            }
            _ => {
                for &seq in &f.seqs {
                    builder.add_range_delete(&f.start, &f.end, seq)?;
                }
            }
        }
    }
    Ok(())
}

/// Writes the merge of a plan's inputs into new tables of `plan.output_level`.
pub struct Merger<'a> {
    /// Where the tables go.
    pub storage: &'a Arc<dyn Storage>,
    /// The database directory.
    pub dir: &'a std::path::Path,
    /// Options (compression, block and table sizes).
    pub options: &'a Options,
    /// Hands out file numbers.
    pub next_number: &'a dyn Fn() -> u64,
    /// Set to abandon the merge (a `clear` made its inputs dead): `run` then removes what it
    /// wrote and returns `Ok(None)`. `None` for merges nothing cancels.
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
}

impl Merger<'_> {
    /// Merges and returns the finished tables (fsynced; their directory entries are synced
    /// by the caller before the MANIFEST names them).
    ///
    /// Range tombstones of the inputs delete the versions they cover once no snapshot needs
    /// those (tombstone at or below the oldest snapshot); they are carried to the outputs as
    /// non-overlapping fragments (older ones hidden by a newer tombstone that every snapshot
    /// sees are left out), and dropped like point tombstones in a bottommost merge. Each
    /// output gets the fragments of its own key range, so the outputs of a level stay
    /// disjoint: an output cut after key `L` takes the fragments below `L + 0x00` (clipped, so
    /// its largest key stays `L`, see `range_del::inclusive_end`), and the next output starts
    /// at `L + 0x00`.
    ///
    /// Returns `None`, having removed every file it created, when `cancel` was set meanwhile.
    pub fn run(&self, plan: &Plan, oldest_snapshot: u64, now_ms: u64) -> Result<Option<Vec<TableMeta>>> {
        let created = std::cell::RefCell::new(Vec::new());
        let merged = self.merge_inputs(plan, oldest_snapshot, now_ms, &created)?;
        if merged.is_none() {
            for &number in created.borrow().iter() {
                // Not named by any MANIFEST: a file left behind is removed at the next open.
                let _ = self.storage.remove(&files::path(self.dir, number, FileKind::Table));
            }
        }
        Ok(merged)
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn merge_inputs(
        &self,
        plan: &Plan,
        oldest_snapshot: u64,
        now_ms: u64,
        created: &std::cell::RefCell<Vec<u64>>,
    ) -> Result<Option<Vec<TableMeta>>> {
        let mut merge = TableMerge::new(&plan.overlapping, plan.runs.clone());
        let mut rule =
            DropRule { oldest_snapshot, now_ms, bottommost: plan.bottommost, key: Vec::new(), newer_seq: None };
        let covering = RangeDeletes::new(
            plan.inputs().filter(|t| !t.range_deletes().is_empty()).flat_map(|t| t.range_deletes().tombstones()),
        );
        let mut pending = kept_fragments(&covering, oldest_snapshot, plan.bottommost);
        let mut outputs = Vec::new();
        let mut builder: Option<TableBuilder> = None;
        let mut last_key: Vec<u8> = Vec::new();
        // One output table per run of keys: cut only where the user key changes.
        let split = plan.output_level > 0;
        let start = |range_deletes: bool| {
            let b = self.start(range_deletes)?;
            created.borrow_mut().push(b.number());
            Ok::<_, Error>(b)
        };
        loop {
            if self.cancelled() {
                return Ok(None);
            }
            let step = merge.next_entry(|e| -> Result<()> {
                if !rule.keep(&e) || covering.deletes(e.key, e.seq, oldest_snapshot) {
                    return Ok(());
                }
                let full =
                    builder.as_ref().is_some_and(|b| b.bytes_so_far() >= self.options.table_size_bytes_target as u64);
                if full && split && e.key != last_key.as_slice() {
                    if let Some(mut b) = builder.take() {
                        let cut = [last_key.as_slice(), &[0]].concat();
                        add_fragments_below(&mut b, &mut pending, Some(&cut))?;
                        outputs.push(self.finish(b, plan.output_level)?);
                    }
                }
                let b = match builder.as_mut() {
                    Some(b) => b,
                    None => builder.insert(start(!pending.is_empty())?),
                };
                b.add(e.key, stored_seq(plan.bottommost, oldest_snapshot, &e), e.kind, e.expiry_ms, e.value)?;
                last_key.clear();
                last_key.extend_from_slice(e.key);
                Ok(())
            })?;
            match step {
                Some(result) => result?,
                None => break,
            }
        }
        if builder.is_none() && !pending.is_empty() {
            builder = Some(start(true)?);
        }
        if let Some(mut b) = builder.take() {
            add_fragments_below(&mut b, &mut pending, None)?;
            outputs.push(self.finish(b, plan.output_level)?);
        }
        Ok((!self.cancelled()).then_some(outputs))
    }

    /// Starts an output table; `range_deletes`: it may get range tombstones (decided before
    /// its first byte, as the header records it).
    fn start(&self, range_deletes: bool) -> Result<TableBuilder> {
        let number = (self.next_number)();
        let path = files::path(self.dir, number, FileKind::Table);
        let file = self.storage.create(&path).ctx(|| format!("creating table {number:06}"))?;
        let mut builder = TableBuilder::new(file, number, self.options.compression, self.options.block_size_bytes);
        if range_deletes {
            builder.allow_range_deletes()?;
        }
        Ok(builder)
    }

    fn finish(&self, builder: TableBuilder, level: u8) -> Result<TableMeta> {
        let mut meta = builder.finish()?;
        meta.level = level;
        Ok(meta)
    }
}
