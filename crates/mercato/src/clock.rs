//! [`Clock`]: where the engine gets `now`. The pure core never reads a
//! clock; the engine asks its clock once per operation and passes the time
//! in. [`SystemClock`] for production, [`ManualClock`] for tests and
//! scenarios.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// Sets the time (it may go backwards; the engine does not care).
    pub fn set(&self, now: DateTime<Utc>) {
        if let Ok(mut g) = self.now.lock() {
            *g = now;
        }
    }

    /// Moves the time forward (stopping at the end of chrono's range
    /// rather than overflowing).
    pub fn advance(&self, by: Duration) {
        if let Ok(mut g) = self.now.lock() {
            *g = g
                .checked_add_signed(by)
                .unwrap_or(if by < Duration::zero() {
                    DateTime::<Utc>::MIN_UTC
                } else {
                    DateTime::<Utc>::MAX_UTC
                });
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.now
            .lock()
            .map(|g| *g)
            .unwrap_or_else(|p| *p.into_inner())
    }
}
