//! The port threads: where the data ports (namespaces' TAPs, VMs' vhost-user NICs) run, beside
//! the driver's thread.
//!
//! Each port thread runs a current-thread tokio runtime of its own; a new port goes to the
//! thread serving the fewest ports. On the runtime's two work-stealing workers instead, every
//! wake-up of a port (its TAP readable, its outbox filled by the driver) woke one worker, which,
//! having found the task, woke the other to look for more work too, and a port's task moved
//! between the threads; here a port stays on its thread and a wake-up wakes that thread alone
//! (profile and figures: README, session 24).
//!
//! The threads start with the first port and live as long as the daemon. If one cannot be
//! started, ports run on the daemon's runtime as before (logged once).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// How many port threads; the daemon's runtime has as many workers (`daemon.rs` reads this).
pub(crate) const PORT_THREADS: usize = 2;

/// One port thread: where to spawn on it, and how many ports it serves.
#[derive(Debug)]
struct PortThread {
    runtime: tokio::runtime::Handle,
    ports: Arc<AtomicUsize>,
}

/// The port threads, started at the first port; `None` if they could not be.
static THREADS: OnceLock<Option<Vec<PortThread>>> = OnceLock::new();

/// Starts `count` port threads.
fn start(count: usize) -> std::io::Result<Vec<PortThread>> {
    (0..count)
        .map(|i| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name(format!("vwifi-port-{i}"))
                .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
            Ok(PortThread {
                runtime: handle,
                ports: Arc::default(),
            })
        })
        .collect()
}

/// The thread serving the fewest ports (the first of them on a tie).
fn least_busy(threads: &[PortThread]) -> Option<&PortThread> {
    threads
        .iter()
        .min_by_key(|t| t.ports.load(Ordering::Relaxed))
}

/// Counts a port on its thread while it lives.
struct Serving(Arc<AtomicUsize>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs the port `port` on the port thread serving the fewest ports (on the daemon's runtime
/// if the port threads could not be started). What the future creates that registers with
/// tokio's reactor (a TAP's `AsyncDevice`) must be created inside it, on its thread.
pub(crate) fn spawn<F>(port: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let threads = THREADS.get_or_init(|| match start(PORT_THREADS) {
        Ok(threads) => Some(threads),
        Err(e) => {
            tracing::warn!(error = %e, "port threads could not be started: ports run on the daemon's runtime");
            None
        }
    });
    // One placement at a time: two ports attached at the same instant must not both see the
    // same thread as the least busy.
    static PLACING: Mutex<()> = Mutex::new(());
    let placing = PLACING.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(thread) = threads.as_deref().and_then(least_busy) else {
        drop(placing);
        tokio::spawn(port);
        return;
    };
    thread.ports.fetch_add(1, Ordering::Relaxed);
    drop(placing);
    let serving = Serving(Arc::clone(&thread.ports));
    thread.runtime.spawn(async move {
        let _serving = serving;
        port.await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_spread_over_the_threads_by_how_many_each_serves() {
        let threads = start(2).unwrap();
        let pick = |t: &[PortThread]| {
            let picked = least_busy(t).unwrap();
            t.iter().position(|t| std::ptr::eq(t, picked)).unwrap()
        };
        assert_eq!(pick(&threads), 0, "a tie goes to the first");
        threads[0].ports.store(3, Ordering::Relaxed);
        threads[1].ports.store(1, Ordering::Relaxed);
        assert_eq!(pick(&threads), 1);
        // A port that ends is counted off its thread.
        drop(Serving(Arc::clone(&threads[0].ports)));
        drop(Serving(Arc::clone(&threads[0].ports)));
        assert_eq!(pick(&threads), 0);
    }

    #[test]
    fn a_port_runs_on_a_port_thread_with_a_reactor_of_its_own() {
        let (tx, rx) = std::sync::mpsc::channel();
        spawn(async move {
            // A timer needs the thread's own runtime (time and I/O enabled).
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            let name = std::thread::current().name().map(str::to_owned);
            tx.send(name).unwrap();
        });
        let name = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(
            name.as_deref()
                .is_some_and(|n| n.starts_with("vwifi-port-")),
            "{name:?}"
        );
    }
}
