//! Reused OS threads for running commands (PowerShell pipelines, WinRS command lines).
//!
//! Every command runs on a thread of its own, as before; a thread whose command ended waits
//! [`IDLE`] for the next one before exiting, so a session running many short commands does not
//! pay a thread creation (clone, stack mapping, unmapping at exit) per command.
//!
//! ```text
//!  run(job) ─► an idle thread? ─ yes ─► hand it the job (its channel)
//!                              └ no ──► new thread ─► job ─► idle: wait IDLE for a job, else exit
//! ```

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How long a thread without a command waits for one before exiting.
const IDLE: Duration = Duration::from_secs(30);
/// Idle threads kept at most (the rest exit after their command).
const MAX_IDLE: usize = 64;

type Job = Box<dyn FnOnce() + Send>;

/// One idle thread: its job channel and a number telling it apart.
struct Idle {
    id: u64,
    tx: Sender<Job>,
}

struct Pool {
    idle: Vec<Idle>,
    next_id: u64,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    idle: Vec::new(),
    next_id: 0,
});

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `job` on an idle thread, or on a new one named `name`.
///
/// # Errors
///
/// When no thread is idle and a new one cannot be created.
pub(crate) fn run(
    name: impl FnOnce() -> String,
    job: impl FnOnce() + Send + 'static,
) -> std::io::Result<()> {
    let mut job: Job = Box::new(job);
    loop {
        let Some(idle) = pool().idle.pop() else {
            break;
        };
        // A thread taken from the list waits for its job (it only exits while still listed).
        match idle.tx.send(job) {
            Ok(()) => return Ok(()),
            Err(mpsc::SendError(back)) => job = back,
        }
    }
    std::thread::Builder::new()
        .name(name())
        .spawn(move || worker(job))
        .map(drop)
}

fn worker(first: Job) {
    first();
    loop {
        let (tx, rx) = mpsc::channel();
        let id = {
            let mut p = pool();
            if p.idle.len() >= MAX_IDLE {
                return;
            }
            p.next_id = p.next_id.wrapping_add(1);
            let id = p.next_id;
            p.idle.push(Idle { id, tx });
            id
        };
        match wait(&rx, id) {
            Some(job) => job(),
            None => return,
        }
    }
}

/// The next job, or `None` when none came within [`IDLE`] (the thread then exits).
fn wait(rx: &Receiver<Job>, id: u64) -> Option<Job> {
    match rx.recv_timeout(IDLE) {
        Ok(job) => Some(job),
        Err(RecvTimeoutError::Disconnected) => None,
        Err(RecvTimeoutError::Timeout) => {
            let mut p = pool();
            if let Some(at) = p.idle.iter().position(|i| i.id == id) {
                p.idle.swap_remove(at);
                return None;
            }
            drop(p);
            // Taken from the list just now: the job is on its way (or the sender gave up).
            rx.recv().ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn jobs_run_and_threads_are_reused() {
        let ran = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = mpsc::channel();
        let mut threads = std::collections::HashSet::new();
        for _ in 0..20 {
            let ran = ran.clone();
            let done = done_tx.clone();
            run(
                || "test-job".into(),
                move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    let _ = done.send(std::thread::current().id());
                },
            )
            .unwrap();
            // One at a time: the previous thread is idle again (or about to be) when the next
            // job comes.
            threads.insert(done_rx.recv_timeout(Duration::from_secs(10)).unwrap());
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(ran.load(Ordering::SeqCst), 20);
        // Other tests may use the pool at the same time; still far fewer threads than jobs.
        assert!(threads.len() < 20, "{} threads for 20 jobs", threads.len());
    }

    #[test]
    fn concurrent_jobs_each_get_a_thread() {
        // Two jobs that wait for each other only finish if they run at the same time.
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..2 {
            let b = barrier.clone();
            let done = done_tx.clone();
            run(
                || "test-job".into(),
                move || {
                    b.wait();
                    let _ = done.send(());
                },
            )
            .unwrap();
        }
        for _ in 0..2 {
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
    }
}
