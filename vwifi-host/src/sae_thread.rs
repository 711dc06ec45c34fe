//! The daemon's SAE worker: WPA3 joins' group arithmetic (password element, commit, shared
//! secret: a millisecond or more each) on a thread of its own, so that a burst of joins does
//! not hold up the driver thread and with it every connected guest's data. The core's SAE
//! instances hand their jobs over ([`vwifi_core::handshake::sae::SaeWorker`]) and pick the
//! results up at their next timeout.

use std::sync::mpsc;
use std::sync::Arc;

use tracing::warn;
use vwifi_core::handshake::sae::{SaeJob, SaeWorker, SaeWorkerHandle};

/// The thread's name, as `top -H` and the benchmarks show it.
pub(crate) const THREAD_NAME: &str = "sae";

/// Hands SAE jobs to the `sae` thread; runs them on the caller's thread should that thread
/// be gone (it ends only when the daemon does).
#[derive(Debug)]
pub(crate) struct SaeThread {
    jobs: mpsc::Sender<SaeJob>,
}

impl SaeThread {
    /// Starts the thread; `None` (and a warning: joins then compute on the driver thread) if
    /// the system refuses one.
    pub(crate) fn spawn() -> Option<SaeWorkerHandle> {
        let (jobs, queue) = mpsc::channel::<SaeJob>();
        let started = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    job.run();
                }
            });
        match started {
            Ok(_) => Some(SaeWorkerHandle(Arc::new(Self { jobs }))),
            Err(error) => {
                warn!(%error, "no thread for SAE: WPA3 joins compute on the driver thread");
                None
            }
        }
    }
}

impl SaeWorker for SaeThread {
    fn submit(&self, job: SaeJob) {
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            job.run();
        }
    }
}
