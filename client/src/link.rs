//! The connection to the server as the app sees it: the status the bar shows, when to
//! reconnect, and how long to wait. Plain Rust: the browser driver feeds it what happened and
//! does what it says.
//!
//! Reconnects back off exponentially with full jitter (1 s doubling to 30 s, at least 250 ms),
//! so a city's phones coming back together do not reconnect in step; they start again at once
//! on the `online` event, when the app becomes visible, and on "sync now". A socket that closes
//! is followed by a token check: a rejected token means "sign in again", and nothing retries
//! until the user has.

/// What the status bar shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// No connection (and waiting to retry).
    Offline,
    /// Opening a connection or exchanging changes.
    Syncing,
    /// Connected and caught up.
    Online,
    /// The login expired or was revoked: sign in again.
    SignIn,
}

/// The first retry waits up to this long.
const BASE_MS: f64 = 1_000.0;
/// No retry waits longer.
const MAX_MS: f64 = 30_000.0;
/// No retry comes sooner.
const MIN_MS: f64 = 250.0;

/// The connection's state. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    signed_in: bool,
    rejected: bool,
    socket: bool,
    caught_up: bool,
    attempt: u32,
    generation: u64,
    /// A first sync in bulk: records received of the total.
    received: Option<(u64, u64)>,
}

impl Connection {
    /// The state at start: signed in when a session is saved.
    pub fn new(signed_in: bool) -> Self {
        Self {
            signed_in,
            rejected: false,
            socket: false,
            caught_up: false,
            attempt: 0,
            generation: 0,
            received: None,
        }
    }

    /// What the bar shows, with `pending` changes waiting.
    pub fn status(&self, pending: usize) -> Link {
        if !self.signed_in || self.rejected {
            Link::SignIn
        } else if !self.socket {
            Link::Offline
        } else if self.caught_up && pending == 0 {
            Link::Online
        } else {
            Link::Syncing
        }
    }

    /// Whether a socket should be opened now.
    pub fn may_connect(&self) -> bool {
        self.signed_in && !self.rejected && !self.socket
    }

    /// A socket is being opened: any scheduled retry is void.
    pub fn connecting(&mut self) {
        self.socket = true;
        self.caught_up = false;
        self.generation += 1;
    }

    /// The handshake completed: the next failure backs off from the start again.
    pub fn peer_ready(&mut self) {
        self.attempt = 0;
    }

    /// A complete sync with the server (a cursor was saved).
    pub fn caught_up(&mut self) {
        self.caught_up = true;
        self.received = None;
    }

    /// A first sync in bulk brought `received` of `total` records so far.
    pub fn received(&mut self, received: u64, total: u64) {
        self.received = Some((received, total));
    }

    /// How far a first sync in bulk is, while it runs: records received of the total.
    pub fn progress(&self) -> Option<(u64, u64)> {
        self.received.filter(|_| self.socket && !self.caught_up)
    }

    /// The socket closed; the driver now checks the token.
    pub fn closed(&mut self) {
        self.socket = false;
        self.caught_up = false;
        self.received = None;
    }

    /// The server rejected the token: sign in again; nothing retries until then.
    pub fn rejected(&mut self) {
        self.rejected = true;
        self.generation += 1;
    }

    /// The user signed in.
    pub fn signed_in(&mut self) {
        self.signed_in = true;
        self.rejected = false;
        self.attempt = 0;
    }

    /// The user signed out.
    pub fn signed_out(&mut self) {
        self.signed_in = false;
        self.generation += 1;
    }

    /// Schedules a retry: how long to wait (`random` is uniform in `0..1`) and the generation
    /// that must still be current when the wait is over. `None` when no retry is due.
    pub fn schedule_retry(&mut self, random: f64) -> Option<(u32, u64)> {
        if !self.signed_in || self.rejected || self.socket {
            return None;
        }
        let base = BASE_MS * 2f64.powi(self.attempt.min(5) as i32);
        self.attempt += 1;
        self.generation += 1;
        let delay = (base.min(MAX_MS) * random.clamp(0.0, 1.0)).max(MIN_MS);
        Some((delay as u32, self.generation))
    }

    /// Whether a retry scheduled with `generation` may still connect.
    pub fn is_current(&self, generation: u64) -> bool {
        self.generation == generation
    }

    /// Connect now (the network came back, the app became visible, "sync now"): the backoff
    /// starts over and any scheduled retry is void.
    pub fn reconnect_now(&mut self) {
        self.attempt = 0;
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_follows_the_socket_the_catch_up_and_what_waits() {
        let mut c = Connection::new(true);
        assert_eq!(c.status(0), Link::Offline);
        assert!(c.may_connect());
        c.connecting();
        assert!(!c.may_connect());
        assert_eq!(c.status(0), Link::Syncing);
        c.caught_up();
        assert_eq!(c.status(0), Link::Online);
        assert_eq!(c.status(2), Link::Syncing, "changes still wait");
        c.closed();
        assert_eq!(c.status(0), Link::Offline);
        c.rejected();
        assert_eq!(c.status(0), Link::SignIn);
        assert!(!c.may_connect());
        c.signed_in();
        assert_eq!(c.status(0), Link::Offline);
        assert_eq!(Connection::new(false).status(0), Link::SignIn);
    }

    #[test]
    fn a_first_sync_in_bulk_shows_its_progress_until_it_is_complete_or_the_socket_closes() {
        let mut c = Connection::new(true);
        c.connecting();
        assert_eq!(c.progress(), None);
        c.received(400, 3000);
        assert_eq!(c.progress(), Some((400, 3000)));
        c.received(3000, 3000);
        assert_eq!(c.progress(), Some((3000, 3000)), "the listing still runs");
        c.caught_up();
        assert_eq!(c.progress(), None);
        c.closed();
        c.connecting();
        c.received(10, 20);
        c.closed();
        assert_eq!(c.progress(), None, "a closed socket shows no progress");
    }

    #[test]
    fn retries_back_off_with_full_jitter_up_to_thirty_seconds() {
        let mut c = Connection::new(true);
        let delays: Vec<u32> = (0..8)
            .map(|_| c.schedule_retry(1.0).expect("due").0)
            .collect();
        assert_eq!(
            delays,
            vec![1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        // Full jitter: anywhere from the floor to the cap.
        let mut c = Connection::new(true);
        assert_eq!(c.schedule_retry(0.0).expect("due").0, 250);
        assert_eq!(c.schedule_retry(0.5).expect("due").0, 1000);
        // The handshake resets the backoff.
        c.peer_ready();
        assert_eq!(c.schedule_retry(1.0).expect("due").0, 1000);
    }

    #[test]
    fn a_newer_connect_or_sign_out_voids_a_scheduled_retry() {
        let mut c = Connection::new(true);
        let (_, generation) = c.schedule_retry(0.5).expect("due");
        assert!(c.is_current(generation));
        c.reconnect_now();
        assert!(!c.is_current(generation));
        let (_, generation) = c.schedule_retry(0.5).expect("due");
        c.connecting();
        assert!(!c.is_current(generation));
        assert_eq!(c.schedule_retry(0.5), None, "a socket is open");
        c.closed();
        c.signed_out();
        assert_eq!(c.schedule_retry(0.5), None, "signed out");
        c.signed_in();
        c.rejected();
        assert_eq!(c.schedule_retry(0.5), None, "the token was rejected");
    }
}
