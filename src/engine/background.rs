//! The process-wide background pool: two threads that run flushes (and later compactions)
//! for every open database, so a hundred open databases do not mean a hundred threads.
//!
//! The queue holds at most three jobs per database (one flush, one compaction, one compaction
//! of a range a `clear` emptied; each schedules its successor only after it finished), so its
//! length is bounded by the number of open databases. Jobs do one unit of work each, so the
//! pool serves databases round robin.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

/// Threads in the pool.
pub const BACKGROUND_THREADS: usize = 2;

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    sender: Mutex<Sender<Job>>,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn start() -> Pool {
    let (sender, receiver) = channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..BACKGROUND_THREADS {
        let receiver: Arc<Mutex<Receiver<Job>>> = Arc::clone(&receiver);
        let spawned = std::thread::Builder::new().name(format!("browserdb-bg-{i}")).spawn(move || loop {
            let job = receiver.lock().recv();
            match job {
                // Jobs catch their own panics (they poison their database); this is a backstop.
                Ok(job) => {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
                Err(_) => return,
            }
        });
        // Without threads, jobs would never run: fall back to running them inline (see schedule).
        if spawned.is_err() {
            break;
        }
    }
    Pool { sender: Mutex::new(sender) }
}

/// Runs `job` on the pool (or inline, if the pool could not start).
pub fn schedule(job: impl FnOnce() + Send + 'static) {
    let pool = POOL.get_or_init(start);
    if let Err(failed) = pool.sender.lock().send(Box::new(job)) {
        (failed.0)();
    }
}
