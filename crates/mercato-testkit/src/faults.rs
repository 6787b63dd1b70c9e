//! [`FaultyStore`]: a store wrapper that fails commits on request, the way
//! storage fails in production: before anything is written (disk full,
//! lost connection), after the transaction committed but before the
//! answer arrived (the ambiguous case: the data is there, the caller hears
//! an error), or by panicking. It can also hold a commit until the test
//! releases it, to line up concurrent calls deterministically.
//!
//! ```
//! use mercato::store::{Commit, MemoryStore, NewEvent, Store};
//! use mercato_testkit::faults::{Fault, FaultyStore};
//!
//! let store = FaultyStore::new(MemoryStore::new());
//! store.inject(Fault::FailBefore);
//! let commit = Commit { events: vec![NewEvent::new("s", "k", "{}")], ..Commit::default() };
//! assert!(store.commit_batch(&[commit.clone()]).is_err());
//! assert_eq!(store.head().unwrap(), 0, "nothing written");
//! store.inject(Fault::FailAfter);
//! assert!(store.commit_batch(&[commit]).is_err());
//! assert_eq!(store.head().unwrap(), 1, "written, though the caller heard an error");
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use mercato::store::{
    Chain, ChainTail, Commit, CommitOutcome, IdempotencyRecord, ReadModel, ReplayEntry, ReplayPage,
    SnapshotRecord, Store, StoreError, StoredEvent, VerifyReport,
};

/// What one `commit_batch` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fails before writing anything.
    FailBefore,
    /// Writes the batch, then reports an error.
    FailAfter,
    /// Panics before writing anything.
    Panic,
}

/// A commit held at the door until the test releases it.
#[derive(Default)]
pub struct Hold {
    state: Mutex<(bool, bool)>, // (entered, released)
    cv: Condvar,
}

impl Hold {
    /// Waits until a commit has arrived and is being held.
    pub fn wait_entered(&self) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !g.0 {
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Lets the held commit go on (with the fault injected for it, if any).
    pub fn release(&self) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        g.1 = true;
        self.cv.notify_all();
    }

    fn enter_and_wait(&self) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        g.0 = true;
        self.cv.notify_all();
        while !g.1 {
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[derive(Default)]
struct Plan {
    faults: VecDeque<Fault>,
    hold: Option<Arc<Hold>>,
    /// Held after the commits are decided, before they are written.
    hold_write: Option<Arc<Hold>>,
    injected: u64,
}

/// A [`Store`] that passes everything to `inner` except the faults it is
/// told to inject into the next commits.
pub struct FaultyStore<S> {
    inner: S,
    plan: Mutex<Plan>,
}

impl<S: Store> FaultyStore<S> {
    /// Wraps `inner`; no fault until one is injected.
    pub fn new(inner: S) -> Self {
        FaultyStore {
            inner,
            plan: Mutex::new(Plan::default()),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The next `commit_batch` not already given a fault gets `fault`.
    pub fn inject(&self, fault: Fault) {
        self.plan().faults.push_back(fault);
    }

    /// The next `commit_batch` waits at the door until the returned hold is
    /// released.
    pub fn hold_next(&self) -> Arc<Hold> {
        let hold = Arc::new(Hold::default());
        self.plan().hold = Some(Arc::clone(&hold));
        hold
    }

    /// The next commit waits once its commits are known (for
    /// `commit_exclusive`: once they are decided, with the write lock
    /// held) and before they are written, until the returned hold is
    /// released.
    pub fn hold_next_write(&self) -> Arc<Hold> {
        let hold = Arc::new(Hold::default());
        self.plan().hold_write = Some(Arc::clone(&hold));
        hold
    }

    /// Faults injected so far (that reached a commit).
    pub fn injected(&self) -> u64 {
        self.plan().injected
    }

    /// Forgets faults not yet used.
    pub fn clear(&self) {
        self.plan().faults.clear();
    }

    /// Waits at a hold, then takes the next fault.
    fn next_fault(&self) -> Option<Fault> {
        let hold = self.plan().hold.take();
        if let Some(h) = hold {
            h.enter_and_wait();
        }
        let mut p = self.plan();
        let f = p.faults.pop_front();
        if f.is_some() {
            p.injected += 1;
        }
        f
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn commit_batch(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>, StoreError> {
        if let Some(h) = self.plan().hold_write.take() {
            h.enter_and_wait();
        }
        match self.next_fault() {
            None => self.inner.commit_batch(commits),
            Some(Fault::FailBefore) => Err(StoreError::Backend(
                "injected fault: the disk is full".into(),
            )),
            Some(Fault::FailAfter) => {
                self.inner.commit_batch(commits)?;
                Err(StoreError::Backend(
                    "injected fault: the connection dropped after the commit".into(),
                ))
            }
            Some(Fault::Panic) => panic!("injected fault: the store panicked"),
        }
    }
    fn commit_exclusive(
        &self,
        decide: &mut dyn FnMut() -> Vec<Commit>,
    ) -> Result<Vec<CommitOutcome>, StoreError> {
        let hold_write = self.plan().hold_write.take();
        let mut decide = || {
            let commits = decide();
            if let Some(h) = &hold_write {
                h.enter_and_wait();
            }
            commits
        };
        let decide: &mut dyn FnMut() -> Vec<Commit> = &mut decide;
        match self.next_fault() {
            None => self.inner.commit_exclusive(decide),
            Some(Fault::FailBefore) => Err(StoreError::Backend(
                "injected fault: the disk is full".into(),
            )),
            Some(Fault::FailAfter) => {
                self.inner.commit_exclusive(decide)?;
                Err(StoreError::Backend(
                    "injected fault: the connection dropped after the commit".into(),
                ))
            }
            Some(Fault::Panic) => panic!("injected fault: the store panicked"),
        }
    }
    fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.read_from(after, limit)
    }
    fn read_payloads(&self, after: u64, limit: usize) -> Result<Vec<ReplayEntry>, StoreError> {
        self.inner.read_payloads(after, limit)
    }
    fn read_replay_page(
        &self,
        after: u64,
        limit: usize,
        page: &mut ReplayPage,
    ) -> Result<(), StoreError> {
        self.inner.read_replay_page(after, limit, page)
    }
    fn read_stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.read_stream(stream)
    }
    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        self.inner.stream_version(stream)
    }
    fn head(&self) -> Result<u64, StoreError> {
        self.inner.head()
    }
    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.idempotency(key)
    }
    fn save_snapshot(&self, snapshot: &SnapshotRecord) -> Result<(), StoreError> {
        self.inner.save_snapshot(snapshot)
    }
    fn load_snapshot(&self) -> Result<Option<SnapshotRecord>, StoreError> {
        self.inner.load_snapshot()
    }
    fn read_model(&self, model: ReadModel, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.read_model(model, key)
    }
    fn read_models(&self, model: ReadModel) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.read_models(model)
    }
    fn guard(&self, key: &str) -> Result<i64, StoreError> {
        self.inner.guard(key)
    }
    fn chain_head(&self) -> Result<(u64, String), StoreError> {
        self.inner.chain_head()
    }
    fn tail(&self) -> Result<ChainTail, StoreError> {
        self.inner.tail()
    }
    fn chain(&self) -> &Chain {
        self.inner.chain()
    }
    fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.inner.verify()
    }
}
