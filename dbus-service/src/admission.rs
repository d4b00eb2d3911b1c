//! Admission of large requests: at most [`PER_CALLER`] from one bus connection and
//! [`TOTAL`] from all at once, the others refused at once with `LimitsExceeded`
//! (the message is dropped, its memory with it, instead of waiting in a queue that
//! any local user can make as long as they like). When the last large request ends,
//! the heap is handed back to the system ([`trim_heap`]), so that a burst leaves the
//! service at about its idle size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::ServiceError;

/// A request with an argument of at least this many bytes is large.
pub const LARGE: usize = 16 * 1024;
/// Large requests one bus connection may have in flight.
pub const PER_CALLER: usize = 2;
/// Large requests all callers together may have in flight.
pub const TOTAL: usize = 4;

#[derive(Debug, Default)]
struct State {
    in_flight: usize,
    by_caller: HashMap<String, usize>,
    most: usize,
    refused: u64,
}

/// The gate every large request passes.
#[derive(Debug)]
pub struct Gate {
    state: Mutex<State>,
    per_caller: usize,
    total: usize,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate::new(PER_CALLER, TOTAL)
    }
}

impl Gate {
    /// A gate letting `per_caller` requests of one caller and `total` of all through.
    pub fn new(per_caller: usize, total: usize) -> Gate {
        Gate {
            state: Mutex::default(),
            per_caller,
            total,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent: every change is one step.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a request of `len` bytes from `caller` (its unique bus name, `""` on a
    /// peer-to-peer connection): `None` for a small one, a ticket to hold until its work
    /// ends for a large one, `LimitsExceeded` when the caller or everyone has as many in
    /// flight as allowed.
    pub fn admit(
        self: &Arc<Self>,
        caller: &str,
        len: usize,
    ) -> Result<Option<Ticket>, ServiceError> {
        if len < LARGE {
            return Ok(None);
        }
        let mut s = self.lock();
        let mine = s.by_caller.get(caller).copied().unwrap_or(0);
        if mine >= self.per_caller || s.in_flight >= self.total {
            s.refused += 1;
            let why = if mine >= self.per_caller {
                format!("this connection has {mine} large requests in flight")
            } else {
                format!("the service has {} large requests in flight", s.in_flight)
            };
            return Err(ServiceError::LimitsExceeded(format!(
                "Too many large requests: {why} (at most {} per connection, {} in all); \
                 try again once one has been answered",
                self.per_caller, self.total
            )));
        }
        *s.by_caller.entry(caller.to_owned()).or_insert(0) += 1;
        s.in_flight += 1;
        s.most = s.most.max(s.in_flight);
        Ok(Some(Ticket {
            gate: Arc::clone(self),
            caller: caller.to_owned(),
        }))
    }

    /// The most large requests that were in flight at once.
    pub fn most_in_flight(&self) -> usize {
        self.lock().most
    }

    /// Large requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// How many large requests were refused.
    pub fn refused(&self) -> u64 {
        self.lock().refused
    }
}

/// A large request in flight; dropping it lets the next one in.
#[derive(Debug)]
pub struct Ticket {
    gate: Arc<Gate>,
    caller: String,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut s = self.gate.lock();
        s.in_flight -= 1;
        if let Some(n) = s.by_caller.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                s.by_caller.remove(&self.caller);
            }
        }
        let last = s.in_flight == 0;
        drop(s);
        if last {
            trim_heap();
            // Once more after the reply, which is freed on the executor after it is sent,
            // if no other large request has started by then.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let gate = Arc::clone(&self.gate);
                rt.spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    if gate.in_flight() == 0 {
                        let _ = tokio::task::spawn_blocking(trim_heap).await;
                    }
                });
            }
        }
    }
}

/// Hands the heap's free memory back to the system. glibc keeps what the threads of
/// the blocking pool freed in their arenas; after a burst of large requests that is
/// hundreds of megabytes no one uses.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim_heap() {
    // SAFETY: malloc_trim takes no pointer and only walks glibc's own arenas under
    // their locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Hands the heap's free memory back to the system (nothing to do with this libc).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_requests_are_bounded_per_caller_and_in_all() {
        let gate = Arc::new(Gate::new(2, 3));
        assert!(gate.admit(":1.1", LARGE - 1).unwrap().is_none());
        let a1 = gate.admit(":1.1", LARGE).unwrap().unwrap();
        let a2 = gate.admit(":1.1", LARGE).unwrap().unwrap();
        let e = gate.admit(":1.1", LARGE).unwrap_err();
        assert_eq!(
            e.message(),
            "Too many large requests: this connection has 2 large requests in flight (at \
             most 2 per connection, 3 in all); try again once one has been answered"
        );
        // Small requests still pass.
        assert!(gate.admit(":1.1", 10).unwrap().is_none());
        let b1 = gate.admit(":1.2", LARGE).unwrap().unwrap();
        let e = gate.admit(":1.3", LARGE).unwrap_err();
        assert!(matches!(e, ServiceError::LimitsExceeded(ref m)
            if m.contains("the service has 3 large requests in flight")));
        assert_eq!(gate.in_flight(), 3);
        drop(a1);
        let a3 = gate.admit(":1.3", LARGE).unwrap().unwrap();
        drop((a2, b1, a3));
        assert_eq!(gate.in_flight(), 0);
        assert_eq!(gate.most_in_flight(), 3);
        assert_eq!(gate.refused(), 2);
        // Every caller's count is gone with its last ticket.
        assert!(gate.lock().by_caller.is_empty());
    }
}
