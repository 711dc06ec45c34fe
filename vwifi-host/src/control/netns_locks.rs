//! One lock per network namespace, so that the control server serves the commands on one
//! namespace (`attach`, `detach`) one after the other, in the order they arrived, while
//! commands on different namespaces run side by side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The locks of the namespaces being worked on. A namespace's lock lives while someone holds
/// or waits for it; the table forgets it after that, so it stays as small as the work under way.
#[derive(Debug, Default, Clone)]
pub(crate) struct NetnsLocks {
    locks: Arc<Mutex<HashMap<String, Weak<AsyncMutex<()>>>>>,
}

impl NetnsLocks {
    /// Waits for the namespace `netns` to be free (tokio's mutex is fair: first come, first
    /// served) and holds it until the guard is dropped.
    pub(crate) async fn lock(&self, netns: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            locks.retain(|_, l| l.strong_count() > 0);
            match locks.get(netns).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(AsyncMutex::new(()));
                    locks.insert(netns.to_owned(), Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_owned().await
    }

    /// How many namespaces are locked or waited for.
    #[cfg(test)]
    fn len(&self) -> usize {
        let locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        locks.values().filter(|l| l.strong_count() > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_namespace_is_served_in_order_others_side_by_side() {
        let locks = NetnsLocks::default();
        let a = locks.lock("a").await;
        // Another namespace is free while `a` is held.
        let b = locks.lock("b").await;
        assert_eq!(locks.len(), 2);
        drop(b);
        // A second command on `a` waits until the first is done.
        let waiter = tokio::spawn({
            let locks = locks.clone();
            async move {
                let _g = locks.lock("a").await;
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(a);
        waiter.await.unwrap();
        // Nothing is kept once no one holds or waits.
        assert_eq!(locks.len(), 0);
        let _c = locks.lock("c").await;
        assert_eq!(locks.locks.lock().unwrap().len(), 1);
    }
}
