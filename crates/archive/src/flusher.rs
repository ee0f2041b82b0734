//! Early writeback: a thread that flushes a file system every few tens of milliseconds while a
//! run writes to it, so that the sync that makes a batch durable finds little left to write.
//!
//! The kernel leaves written data in the page cache for up to 30 seconds (or until a tenth of
//! memory is dirty) before it starts writing it, so a run that writes half a gigabyte and then
//! syncs it waits for all of it at the end: 0.1 to 0.2 s per batch of 500 files of 0.5 MB here,
//! on the critical path of the last batch. Flushing in the background while the workers go on
//! overlaps that disk time with their CPU time; the batch's own sync ([`crate::store`]) still
//! decides durability and reports errors, so this thread ignores its own.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the file system is flushed.
pub const PERIOD: Duration = Duration::from_millis(50);

/// A running background flusher; stops (and waits for its last flush) when dropped.
#[derive(Debug)]
pub struct Flusher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts flushing the file system holding `dir` every [`PERIOD`]. Does nothing where no
    /// file-system-wide sync exists ([`crate::store::CAN_SYNC_FILESYSTEM`]) or the thread
    /// cannot be started (durability never depends on it).
    pub fn start(dir: &Path) -> Flusher {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = if crate::store::CAN_SYNC_FILESYSTEM {
            let dir: PathBuf = dir.to_path_buf();
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("depot-flusher".into())
                .spawn(move || run(&dir, &stop))
                .ok()
        } else {
            None
        };
        Flusher { stop, thread }
    }
}

fn run(dir: &Path, stop: &(Mutex<bool>, Condvar)) {
    let (stopped, wake) = stop;
    let mut guard = stopped.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let (g, _) = wake
            .wait_timeout(guard, PERIOD)
            .unwrap_or_else(|p| p.into_inner());
        guard = g;
        if *guard {
            return;
        }
        drop(guard);
        let _ = crate::store::sync_filesystem(dir);
        guard = stopped.lock().unwrap_or_else(|p| p.into_inner());
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let f = Flusher::start(dir.path());
        std::thread::sleep(PERIOD * 2);
        drop(f);
    }
}
