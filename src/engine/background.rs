//! The process-wide background pool: two threads that run flushes (and later compactions)
//! for every open database, so a hundred open databases do not mean a hundred threads.
//!
//! The queue holds at most three jobs per database (one flush, one compaction, one compaction
//! of a range a `clear` emptied; each schedules its successor only after it finished), so its
//! length is bounded by the number of open databases. Jobs do one unit of work each, so the
//! pool serves databases round robin.
//!
//! Timers (`schedule_at`) queue a job at a given time, at most one per key (a database's
//! next look for expired data, so an idle database gives it back too); idle threads sleep
//! until the earliest.
//!
//! The pool also hands freed memory back to the OS (`malloc_trim`, glibc only): a flush frees
//! a whole memtable and a compaction its decoded blocks and output buffers, but glibc keeps
//! free memory inside its arenas (one per thread that allocates: the libuv pool's, these
//! two) unless it sits at the top of an arena. With a hundred small databases, 50 MB of RSS
//! was free memory held by arenas while 27 MB was in use (docs/design.md "Memory"). After a
//! job, a trim is due; it runs at once if the last one was at least `TRIM_INTERVAL_MS` ago,
//! else when that much time has passed (an idle pool thread waits for it), so a burst of
//! small jobs costs one trim per interval and the last job's garbage is returned within one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Threads in the pool.
pub const BACKGROUND_THREADS: usize = 2;

/// Trims of the allocator happen at most this often (process-wide).
pub const TRIM_INTERVAL_MS: u64 = 1000;

type Job = Box<dyn FnOnce() + Send + 'static>;

static QUEUE: Mutex<VecDeque<Job>> = Mutex::new(VecDeque::new());
/// Jobs to queue at a time, at most one per key (a database's next expiry check), so their
/// number is bounded by the open databases.
static TIMERS: Mutex<Vec<Timer>> = Mutex::new(Vec::new());

struct Timer {
    key: u64,
    at: Instant,
    job: Job,
}
static READY: Condvar = Condvar::new();
/// How many pool threads started (0: jobs run inline).
static STARTED: OnceLock<usize> = OnceLock::new();

/// Whether a trim is due, and when the last one ran.
struct TrimState {
    pending: bool,
    last: Option<Instant>,
}

static TRIM: Mutex<TrimState> = Mutex::new(TrimState { pending: false, last: None });
static TRIMS: AtomicU64 = AtomicU64::new(0);

const TRIM_INTERVAL: Duration = Duration::from_millis(TRIM_INTERVAL_MS);

fn start() -> usize {
    let mut started = 0;
    for i in 0..BACKGROUND_THREADS {
        let spawned = std::thread::Builder::new().name(format!("browserdb-bg-{i}")).spawn(worker);
        // Without threads, jobs would never run: fall back to running them inline (see schedule).
        if spawned.is_ok() {
            started += 1;
        }
    }
    started
}

fn worker() {
    let mut queue = QUEUE.lock();
    loop {
        queue.extend(take_due_timers());
        if let Some(job) = queue.pop_front() {
            drop(queue);
            // Jobs catch their own panics (they poison their database); this is a backstop.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            job_done();
            queue = QUEUE.lock();
            continue;
        }
        let timer_in = next_timer_in();
        match trim_due_in() {
            Some(wait) if wait.is_zero() => {
                drop(queue);
                trim();
                queue = QUEUE.lock();
            }
            trim_in => match trim_in.into_iter().chain(timer_in).min() {
                None => READY.wait(&mut queue),
                Some(wait) => {
                    READY.wait_for(&mut queue, wait);
                }
            },
        }
    }
}

/// Runs `job` on the pool (or inline, if the pool could not start).
pub fn schedule(job: impl FnOnce() + Send + 'static) {
    if *STARTED.get_or_init(start) == 0 {
        job();
        job_done();
        return;
    }
    QUEUE.lock().push_back(Box::new(job));
    READY.notify_one();
}

/// Queues `job` on the pool at `at`, replacing the timer of the same `key` if there is one.
/// Without pool threads (jobs run inline), timers never fire.
pub fn schedule_at(key: u64, at: Instant, job: impl FnOnce() + Send + 'static) {
    if *STARTED.get_or_init(start) == 0 {
        return;
    }
    {
        let mut timers = TIMERS.lock();
        timers.retain(|t| t.key != key);
        timers.push(Timer { key, at, job: Box::new(job) });
    }
    // A waiting worker recomputes how long to sleep.
    READY.notify_one();
}

/// Drops the timer of `key`, if any.
pub fn cancel_timer(key: u64) {
    TIMERS.lock().retain(|t| t.key != key);
}

/// The jobs of the timers whose time has come.
fn take_due_timers() -> Vec<Job> {
    let mut timers = TIMERS.lock();
    if timers.is_empty() {
        return Vec::new();
    }
    let now = Instant::now();
    let (due, waiting): (Vec<Timer>, Vec<Timer>) = timers.drain(..).partition(|t| t.at <= now);
    *timers = waiting;
    due.into_iter().map(|t| t.job).collect()
}

/// How long until the next timer, if any.
fn next_timer_in() -> Option<Duration> {
    TIMERS.lock().iter().map(|t| t.at.saturating_duration_since(Instant::now())).min()
}

/// A job ended (it may have freed memory): a trim is due, now if the interval has passed.
fn job_done() {
    TRIM.lock().pending = true;
    if trim_due_in() == Some(Duration::ZERO) {
        trim();
    }
}

/// `None` when no trim is due; else how long until it may run.
fn trim_due_in() -> Option<Duration> {
    let state = TRIM.lock();
    if !state.pending {
        return None;
    }
    Some(state.last.map_or(Duration::ZERO, |last| TRIM_INTERVAL.saturating_sub(last.elapsed())))
}

/// Hands free memory back to the OS, if a trim is due (another thread may have just run it).
fn trim() {
    {
        let mut state = TRIM.lock();
        if !state.pending {
            return;
        }
        state.pending = false;
        state.last = Some(Instant::now());
    }
    release_free_memory();
    TRIMS.fetch_add(1, Ordering::Relaxed);
}

/// glibc's `malloc_trim(0)`: every arena's free pages (not only the top of each heap) are
/// returned with `madvise(MADV_DONTNEED)`; the memory stays mapped and is reused as before.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release_free_memory() {
    // SAFETY: malloc_trim takes no pointers and is thread-safe (it locks each arena in turn).
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
const fn release_free_memory() {}

/// Trims run since the process started.
#[cfg(test)]
fn trims() -> u64 {
    TRIMS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    /// One test, so no other test's jobs run on the pool meanwhile (the pool is process-wide).
    #[test]
    fn jobs_run_and_trims_follow_them_at_most_once_per_interval() {
        let t0 = Instant::now();
        let (tx, rx) = channel();
        for i in 0..100 {
            let tx = tx.clone();
            schedule(move || tx.send(i).unwrap_or_default());
        }
        let mut got: Vec<i32> = (0..100).map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap_or(-1)).collect();
        got.sort_unstable();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        // A hundred jobs within well under a second: one trim at once, the next one later.
        // (A job's result arrives before its worker runs `job_done`: wait for that.)
        while trims() == 0 && t0.elapsed() < TRIM_INTERVAL / 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let first = trims();
        assert!((1..=2).contains(&first), "{first} trims after a burst of jobs");
        // The last jobs' trim comes after the interval, with no further job to trigger it.
        while trims() == first && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(trims(), first + 1, "the pending trim ran once the interval had passed");
        assert!(t0.elapsed() >= TRIM_INTERVAL, "not before the interval had passed");
        // Idle: no job, no trim.
        std::thread::sleep(Duration::from_millis(TRIM_INTERVAL_MS * 3 / 2));
        assert_eq!(trims(), first + 1);
    }
}
