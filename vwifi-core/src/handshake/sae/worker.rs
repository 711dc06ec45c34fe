//! Where an SAE instance does its group arithmetic: the password element, the commit and the
//! shared secret cost a millisecond or more each, too much for a thread that also carries
//! every guest's data. An instance hands that work over as an [`SaeJob`] to its
//! [`SaeWorker`]: [`Inline`] (the default) runs it at once on the caller's thread, which keeps
//! simulations deterministic; a daemon passes a worker that runs jobs on a thread of their own,
//! and the instance picks the result up at its next timeout ([`Sae::poll_timeout`] asks for
//! one every [`POLL`] while a job is out).
//!
//! [`Sae::poll_timeout`]: super::Sae::poll_timeout

use core::fmt;
use core::time::Duration;
use std::sync::{Arc, Mutex};

use p256::Scalar;

use super::error::SaeError;
use super::exchange::{derive_keys, Keys, LocalCommit, PeerCommit};
use super::group::Pwe;
use super::password::SaePassword;
use crate::addr::MacAddr;

/// How often an instance whose job is out looks for its result.
pub const POLL: Duration = Duration::from_millis(1);

/// Runs SAE jobs. Implementations must eventually call [`SaeJob::run`] on every job they take
/// (on any thread); a job never run leaves its exchange waiting until the peer gives up.
pub trait SaeWorker: Send + Sync + fmt::Debug {
    /// Takes a job to run.
    fn submit(&self, job: SaeJob);
}

/// Runs each job at once, on the caller's thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inline;

impl SaeWorker for Inline {
    fn submit(&self, job: SaeJob) {
        job.run();
    }
}

/// A shared handle on a worker, [`Inline`] by default (configuration structs hold it).
#[derive(Clone)]
pub struct SaeWorkerHandle(pub Arc<dyn SaeWorker>);

impl Default for SaeWorkerHandle {
    fn default() -> Self {
        Self(Arc::new(Inline))
    }
}

impl fmt::Debug for SaeWorkerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The inputs of one job: secrets included, never shown by `Debug`.
pub(super) enum Work {
    /// An initiator's first commit: the PWE, then the commit from the drawn scalars.
    Commit {
        password: SaePassword,
        h2e: bool,
        own: MacAddr,
        peer: MacAddr,
        rand: Scalar,
        mask: Scalar,
    },
    /// An initiator's keys once the responder's commit came.
    Keys {
        pwe: Pwe,
        local: LocalCommit,
        peer: PeerCommit,
    },
    /// A responder's answer to a commit: the PWE, its own commit and the keys.
    Answer {
        password: SaePassword,
        h2e: bool,
        own: MacAddr,
        peer_addr: MacAddr,
        rand: Scalar,
        mask: Scalar,
        peer: PeerCommit,
        salt: Option<Vec<u8>>,
    },
}

/// What a job computed.
pub(super) enum Computed {
    /// The PWE and the local commit.
    Commit { pwe: Pwe, local: LocalCommit },
    /// The keys.
    Keys(Keys),
    /// All three of a responder.
    Answer {
        pwe: Pwe,
        local: LocalCommit,
        keys: Keys,
    },
}

impl fmt::Debug for Computed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Computed(<redacted>)")
    }
}

/// The place a job leaves its result for the instance that submitted it.
pub(super) type Slot = Arc<Mutex<Option<Result<Computed, SaeError>>>>;

/// One exchange's arithmetic, to be run by a [`SaeWorker`].
pub struct SaeJob {
    work: Work,
    slot: Slot,
}

impl fmt::Debug for SaeJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.work {
            Work::Commit { .. } => "commit",
            Work::Keys { .. } => "keys",
            Work::Answer { .. } => "answer",
        };
        f.debug_struct("SaeJob").field("work", &kind).finish()
    }
}

impl SaeJob {
    pub(super) fn new(work: Work, slot: Slot) -> Self {
        Self { work, slot }
    }

    /// Computes and leaves the result for the instance (which may be gone by now: then the
    /// result is dropped with the slot).
    pub fn run(self) {
        let result = compute(self.work);
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(result);
        }
    }
}

/// The commit for drawn scalars; should they sum to 0 or 1 (a chance of 2^-255), the scalars
/// are drawn again from a generator seeded with the secret `rand`.
fn local_commit(pwe: &Pwe, rand: Scalar, mask: Scalar) -> LocalCommit {
    LocalCommit::with_values(pwe, rand, mask).unwrap_or_else(|| {
        use p256::elliptic_curve::PrimeField;
        use rand_chacha::rand_core::SeedableRng;
        let seed: [u8; 32] = rand.to_repr().into();
        LocalCommit::new(pwe, &mut rand_chacha::ChaCha20Rng::from_seed(seed))
    })
}

fn compute(work: Work) -> Result<Computed, SaeError> {
    match work {
        Work::Commit {
            password,
            h2e,
            own,
            peer,
            rand,
            mask,
        } => {
            let pwe = password.pwe(h2e, own, peer)?;
            let local = local_commit(&pwe, rand, mask);
            Ok(Computed::Commit { pwe, local })
        }
        Work::Keys { pwe, local, peer } => {
            derive_keys(&pwe, &local, &peer, None).map(Computed::Keys)
        }
        Work::Answer {
            password,
            h2e,
            own,
            peer_addr,
            rand,
            mask,
            peer,
            salt,
        } => {
            let pwe = password.pwe(h2e, own, peer_addr)?;
            let local = local_commit(&pwe, rand, mask);
            let keys = derive_keys(&pwe, &local, &peer, salt.as_deref())?;
            Ok(Computed::Answer { pwe, local, keys })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sendable<T: Send>() {}

    #[test]
    fn a_job_can_go_to_another_thread_and_its_result_comes_back() {
        sendable::<SaeJob>();
        let slot = Slot::default();
        let job = SaeJob::new(
            Work::Commit {
                password: SaePassword::new(b"thread password"),
                h2e: false,
                own: MacAddr([2, 0, 0, 0, 0, 1]),
                peer: MacAddr([2, 0, 0, 0, 0, 2]),
                rand: Scalar::from(7u64),
                mask: Scalar::from(11u64),
            },
            slot.clone(),
        );
        std::thread::spawn(move || job.run()).join().unwrap();
        let result = slot.lock().unwrap().take();
        assert!(matches!(result, Some(Ok(Computed::Commit { .. }))));
    }

    #[test]
    fn scalars_summing_to_one_are_drawn_again() {
        let pwe = SaePassword::new(b"p")
            .pwe(
                false,
                MacAddr([2, 0, 0, 0, 0, 1]),
                MacAddr([2, 0, 0, 0, 0, 2]),
            )
            .unwrap();
        // rand + mask = 1: with_values refuses, the fallback draws a usable commit.
        let local = local_commit(&pwe, Scalar::from(3u64), -Scalar::from(2u64));
        assert_ne!(local.scalar, Scalar::ONE);
        assert_ne!(local.scalar, Scalar::ZERO);
    }
}
