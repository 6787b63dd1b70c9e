//! Waking waiters when any process appends: one `LISTEN` session per store.
//!
//! Schema 3 adds a trigger on the `chain_head` row that every batch updates
//! (in any process): `pg_notify('mercato_append', '<schema>:<seq>')`,
//! delivered when the batch's transaction commits. A store starts one
//! listener thread on first use, with a session of its own that listens on
//! that channel and bumps a generation counter on every notification;
//! any number of waiters wait on a condition variable for the counter to
//! move. The waiters never hold a pooled connection while they wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mercato_store::StoreError;
use postgres::NoTls;
use postgres::fallible_iterator::FallibleIterator;

/// The channel the trigger notifies.
pub(crate) const CHANNEL: &str = "mercato_append";

/// How often the listener thread looks at its stop flag, and how often a
/// waiter re-reads the head anyway (so a listener that died costs latency,
/// never a missed event).
const TICK: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Gen {
    /// Notifications seen.
    count: u64,
    /// The listener session is gone (waiters fall back to polling).
    dead: bool,
}

/// The shared state of one store's listener.
#[derive(Default)]
pub(crate) struct Listener {
    counter: Mutex<Gen>,
    cv: Condvar,
    stop: AtomicBool,
}

impl Listener {
    /// Starts the listener thread; returns once it is listening (so that
    /// no notification sent after this returns is missed).
    pub(crate) fn start(config: &postgres::Config) -> Result<Arc<Listener>, StoreError> {
        let mut client = config
            .connect(NoTls)
            .map_err(|e| StoreError::Backend(format!("listener connection: {e}")))?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(|e| StoreError::Backend(format!("LISTEN: {e}")))?;
        let listener = Arc::new(Listener::default());
        let l = Arc::clone(&listener);
        std::thread::Builder::new()
            .name("mercato-pg-listen".into())
            .spawn(move || l.run(client))
            .map_err(|e| StoreError::Backend(format!("listener thread: {e}")))?;
        Ok(listener)
    }

    fn run(&self, mut client: postgres::Client) {
        while !self.stop.load(Ordering::SeqCst) {
            let next = client.notifications().timeout_iter(TICK).next();
            let mut g = self.counter.lock().unwrap_or_else(|p| p.into_inner());
            match next {
                Ok(Some(_)) => {
                    g.count = g.count.wrapping_add(1);
                    self.cv.notify_all();
                }
                Ok(None) => {}
                Err(_) => {
                    g.dead = true;
                    self.cv.notify_all();
                    return;
                }
            }
        }
    }

    /// Whether the listener session is still alive.
    pub(crate) fn alive(&self) -> bool {
        !self.counter.lock().unwrap_or_else(|p| p.into_inner()).dead
    }

    /// Waits until `head()` passes `after` or `timeout` ends; returns the
    /// last head read. `head` is read after the generation is taken, so a
    /// commit between the two still wakes the wait.
    pub(crate) fn wait(
        &self,
        after: u64,
        timeout: Duration,
        head: impl Fn() -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.counter.lock().unwrap_or_else(|p| p.into_inner()).count;
            let h = head()?;
            let now = Instant::now();
            if h > after || now >= deadline {
                return Ok(h);
            }
            let slice = (deadline - now).min(TICK);
            let g = self.counter.lock().unwrap_or_else(|p| p.into_inner());
            if g.count == seen && !g.dead {
                let _ = self
                    .cv
                    .wait_timeout_while(g, slice, |g| g.count == seen && !g.dead)
                    .unwrap_or_else(|p| p.into_inner());
            } else if g.dead {
                drop(g);
                std::thread::sleep(slice.min(Duration::from_millis(50)));
            }
        }
    }

    /// Asks the thread to end (it does within [`TICK`]).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
