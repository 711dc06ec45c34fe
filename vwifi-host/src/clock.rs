//! The daemon's clock: tokio's monotonic time since the start, as core [`Instant`]s.

use core::time::Duration;
use std::future::pending;

use async_trait::async_trait;
use vwifi_core::io::Clock;
use vwifi_core::Instant;

/// The clock of the daemon: tokio's monotonic time since `start`, as core [`Instant`]s.
/// Under `tokio::time::pause` it follows tokio's virtual time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokioClock {
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose zero is now.
    pub(crate) fn start() -> Self {
        Self {
            start: tokio::time::Instant::now(),
        }
    }

    /// `deadline` as tokio's instant; `None` beyond what tokio's clock can hold (never).
    pub(crate) fn tokio_instant(&self, deadline: Instant) -> Option<tokio::time::Instant> {
        self.start
            .checked_add(Duration::from_micros(deadline.as_micros()))
    }
}

#[async_trait]
impl Clock for TokioClock {
    fn now(&self) -> Instant {
        let us = self.start.elapsed().as_micros();
        Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    async fn sleep_until(&self, deadline: Instant) {
        match self.tokio_instant(deadline) {
            Some(at) => tokio::time::sleep_until(at).await,
            None => pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_counts_from_its_start_and_sleeps_until_a_deadline() {
        let clock = TokioClock::start();
        assert_eq!(clock.now(), Instant::ZERO);
        clock.sleep_until(Instant::from_millis(250)).await;
        assert_eq!(clock.now(), Instant::from_millis(250));
        // A deadline in the past completes at once.
        clock.sleep_until(Instant::from_millis(10)).await;
        assert_eq!(clock.now(), Instant::from_millis(250));
    }
}
