//! Claim (issue 5): a kill at any point of a flush or a compaction reopens to the same data.
//! The process "dies" at the Nth file-system call (that call and every later one fail, so
//! nothing after it reaches the disk), for every N of a workload of writes, flushes and
//! compactions; the copy of the disk it leaves must reopen with every acknowledged write.
#![allow(clippy::unwrap_used)]

mod common;

use browserdb::engine::{CompactionStyle, Db, Options};

fn options(style: CompactionStyle) -> Options {
    Options {
        write_buffer_size_bytes: 64 * 1024,
        table_size_bytes_target: 32 * 1024,
        level1_size_bytes_target: 128 * 1024,
        compaction_style: style,
        ..Options::default()
    }
}

/// Writes, deletes, flushes and compacts; records what was acknowledged. Stops at the first
/// error (the "dead" process cannot do more).
fn workload(db: &Db, acked: &mut common::Acked) {
    for round in 0..6u32 {
        for i in 0..400u32 {
            let k = format!("k{:05}", (i * 37 + round) % 900).into_bytes();
            let result = if (i + round) % 9 == 0 {
                db.delete(&k, false).map(|()| None)
            } else {
                let v = format!("{round}-{i}-{}", "x".repeat(60)).into_bytes();
                db.put(&k, &v, false).map(|()| Some(v))
            };
            match result {
                Ok(v) => {
                    acked.insert(k, v);
                }
                Err(_) => return,
            }
        }
        if db.flush().is_err() || (round % 2 == 1 && db.compact(None, None).is_err()) {
            return;
        }
    }
}

fn kill_at_every_call(style: CompactionStyle) {
    common::kill_at_every_call(|| options(style), 120, workload);
}

#[test]
fn leveled_flush_and_compaction_survive_a_kill_at_every_call() {
    kill_at_every_call(CompactionStyle::Leveled);
}

#[test]
fn tiered_flush_and_compaction_survive_a_kill_at_every_call() {
    kill_at_every_call(CompactionStyle::Tiered);
}
