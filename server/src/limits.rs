//! Limits that keep one client from taking the server down: slots (open sockets and live
//! streams, per user and in all), the login throttle, and the channel that closes the sockets
//! of a revoked or expired login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

/// Counted slots: at most `per_key` for one key (a user), `total` in all.
#[derive(Debug)]
pub struct Slots {
    per_key: usize,
    total: usize,
    taken: Mutex<(HashMap<String, usize>, usize)>,
}

/// Why a slot was not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// This key holds its share.
    Key,
    /// Every slot is taken.
    Total,
}

/// A slot, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    key: String,
}

impl Slots {
    /// Slots with these limits.
    pub fn new(per_key: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            per_key,
            total,
            taken: Mutex::new((HashMap::new(), 0)),
        })
    }

    /// Takes a slot for `key`.
    pub fn take(self: &Arc<Self>, key: &str) -> Result<Slot, Full> {
        let mut t = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        if t.1 >= self.total {
            return Err(Full::Total);
        }
        let n = t.0.entry(key.to_owned()).or_default();
        if *n >= self.per_key {
            return Err(Full::Key);
        }
        *n += 1;
        t.1 += 1;
        Ok(Slot {
            slots: self.clone(),
            key: key.to_owned(),
        })
    }

    /// Slots taken in all.
    pub fn in_use(&self) -> usize {
        self.taken.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self.slots.taken.lock().unwrap_or_else(|p| p.into_inner());
        t.1 = t.1.saturating_sub(1);
        if let Some(n) = t.0.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.0.remove(&self.key);
            }
        }
    }
}

/// Failed logins per username and per client address, in a sliding window of fixed start.
#[derive(Debug)]
pub struct LoginThrottle {
    per_user: u32,
    per_ip: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Entries kept before old windows are swept.
const THROTTLE_ENTRIES: usize = 100_000;

impl LoginThrottle {
    /// A throttle with these limits.
    pub fn new(per_user: u32, per_ip: u32, window: Duration) -> Self {
        Self {
            per_user,
            per_ip,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when this user or this address failed too often lately.
    pub fn check(&self, user: &str, ip: &str, now: Instant) -> Result<(), Duration> {
        let f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for (key, limit) in [
            (format!("u:{user}"), self.per_user),
            (format!("ip:{ip}"), self.per_ip),
        ] {
            if let Some((start, n)) = f.get(&key)
                && *n >= limit
                && now.duration_since(*start) < self.window
            {
                return Err(self.window - now.duration_since(*start));
            }
        }
        Ok(())
    }

    /// Counts a failed login.
    pub fn failed(&self, user: &str, ip: &str, now: Instant) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if f.len() > THROTTLE_ENTRIES {
            let window = self.window;
            f.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        for key in [format!("u:{user}"), format!("ip:{ip}")] {
            let e = f.entry(key).or_insert((now, 0));
            if now.duration_since(e.0) >= self.window {
                *e = (now, 0);
            }
            e.1 += 1;
        }
    }
}

/// A login that ended: a token (by its hash) or every token of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// One token, revoked.
    Token(String),
    /// Every token of this user (an admin ended their sessions, or disabled them).
    User(String),
    /// Every login: the server is shutting down (after its `shutdown` flag is set, so a
    /// socket that subscribes too late to hear this sees the flag).
    Shutdown,
}

/// Tells every socket that a login ended, so it closes within a second.
#[derive(Clone, Debug)]
pub struct Sessions {
    tx: broadcast::Sender<Ended>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Sessions {
    /// Announces an ended login.
    pub fn end(&self, ended: Ended) {
        let _ = self.tx.send(ended);
    }

    /// Hears of ended logins.
    pub fn subscribe(&self) -> broadcast::Receiver<Ended> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_per_key_and_in_all_and_come_back() {
        let s = Slots::new(2, 3);
        let a1 = s.take("a").expect("a1");
        let _a2 = s.take("a").expect("a2");
        assert_eq!(s.take("a").err(), Some(Full::Key));
        let _b1 = s.take("b").expect("b1");
        assert_eq!(s.take("c").err(), Some(Full::Total));
        drop(a1);
        assert!(s.take("c").is_ok());
    }

    #[test]
    fn failed_logins_are_throttled_per_user_and_per_address_and_forgotten() {
        let t = LoginThrottle::new(2, 3, Duration::from_secs(60));
        let now = Instant::now();
        t.failed("li", "1.2.3.4", now);
        assert!(t.check("li", "1.2.3.4", now).is_ok());
        t.failed("li", "1.2.3.4", now);
        assert!(
            t.check("li", "5.6.7.8", now).is_err(),
            "the user is throttled anywhere"
        );
        assert!(t.check("wang", "9.9.9.9", now).is_ok());
        t.failed("zhao", "1.2.3.4", now);
        assert!(
            t.check("wang", "1.2.3.4", now).is_err(),
            "the address is throttled"
        );
        let later = now + Duration::from_secs(61);
        assert!(t.check("li", "1.2.3.4", later).is_ok(), "the window passed");
    }
}

/// Counters in fixed windows, by key (a grid, an address): how many reports each sent lately.
#[derive(Debug, Default)]
pub struct Windows {
    hits: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Windows {
    /// Counts one hit for `key`; `Err(wait)` when `key` had `limit` hits in its current
    /// window of `window` already (the hit is not counted).
    pub fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut h = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if h.len() >= THROTTLE_ENTRIES {
            h.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = h.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            return Err(window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
    }
}
