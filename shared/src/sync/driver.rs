//! The effect contract, stated once: how a driver performs a hub's [`Effects`].
//!
//! Every driver (the server's storage thread, the browser's IndexedDB task, the test client,
//! the in-memory network) implements [`Driver`] and hands inputs to [`run`] (or collects them
//! in a [`Batch`]). The loop:
//!
//! 1. feeds each input to the hub, and resolves the documents it asks to load by handing their
//!    saved bytes back at once ([`Input::Loaded`]);
//! 2. makes the batch's changes, refusals and events durable ([`Driver::commit`]);
//! 3. only then sends its frames and closes what it closes: **durable before visible**;
//! 4. answers the batch's feed queries from committed state ([`Driver::answer`]) and performs
//!    what the answers cause the same way, so a cursor never counts a change that a crash
//!    could still lose, and never misses one received earlier in the same batch.
//!
//! Commits may wait (IndexedDB is asynchronous), so the loop is an `async fn`; a driver whose
//! commit never waits runs it with [`block_on`].

use std::collections::VecDeque;
use std::future::Future;

use super::effects::{ConnId, Effects, Event, Input, Persist, Quarantine};
use super::feed::{FeedAnswer, FeedQuery};
use super::hub::Hub;
use crate::ids::DocumentId;
use crate::time::Millis;

/// What a batch makes durable, in one commit.
#[derive(Clone, Copy, Debug)]
pub struct Durable<'a> {
    /// Document changes.
    pub persist: &'a [Persist],
    /// Refused changes kept for review.
    pub quarantine: &'a [Quarantine],
    /// What the hub reported (a client keeps acknowledgements and its cursor with its data).
    pub events: &'a [Event],
}

impl Durable<'_> {
    /// Whether the batch changed nothing and reported nothing.
    pub fn is_empty(&self) -> bool {
        self.persist.is_empty() && self.quarantine.is_empty() && self.events.is_empty()
    }
}

/// The I/O a hub needs, done by a driver. See the module docs for the order of calls.
pub trait Driver {
    /// Why a commit failed. Nothing of a batch whose commit failed is sent.
    type Error;

    /// The saved bytes of a document the hub asked to load, or `None` if it has none.
    fn load(&mut self, doc: &DocumentId) -> Option<Vec<u8>>;

    /// Answers a feed query from committed state (`None`: it cannot be answered now).
    fn answer(&mut self, query: &FeedQuery) -> Option<FeedAnswer>;

    /// Makes a batch durable.
    fn commit(&mut self, batch: Durable<'_>) -> impl Future<Output = Result<(), Self::Error>>;

    /// Sends a frame (after the commit of its batch).
    fn send(&mut self, conn: ConnId, frame: Vec<u8>);

    /// Closes a connection (after its last frames were handed to [`Driver::send`]).
    fn close(&mut self, conn: ConnId);
}

/// Effects gathered from inputs, with every load resolved, waiting to be performed.
#[derive(Debug, Default)]
pub struct Batch {
    effects: Effects,
    queries: Vec<(ConnId, FeedQuery)>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one input to the hub and gathers what it causes.
    pub fn feed<D: Driver>(&mut self, hub: &mut Hub, driver: &mut D, now: Millis, input: Input) {
        self.feed_loading(hub, &mut |doc| driver.load(doc), now, input);
    }

    /// Gathers effects the hub returned (a local edit's), resolving their loads.
    pub fn add<D: Driver>(&mut self, hub: &mut Hub, driver: &mut D, now: Millis, fx: Effects) {
        self.add_loading(hub, &mut |doc| driver.load(doc), now, fx);
    }

    /// As [`Batch::feed`] with only the driver's [`Driver::load`]: hubs that share one driver,
    /// each gathering on its own thread, read storage themselves and leave the rest to
    /// [`perform_all`].
    pub fn feed_loading(
        &mut self,
        hub: &mut Hub,
        load: &mut Loader<'_>,
        now: Millis,
        input: Input,
    ) {
        let fx = hub.handle(now, input);
        self.add_loading(hub, load, now, fx);
    }

    /// As [`Batch::add`] with only the driver's [`Driver::load`] (see [`Batch::feed_loading`]).
    pub fn add_loading(&mut self, hub: &mut Hub, load: &mut Loader<'_>, now: Millis, fx: Effects) {
        let mut work = VecDeque::from([fx]);
        while let Some(mut fx) = work.pop_front() {
            for doc in std::mem::take(&mut fx.load) {
                let bytes = load(&doc);
                work.push_back(hub.handle(now, Input::Loaded { doc, bytes }));
            }
            self.queries.append(&mut fx.queries);
            self.effects.extend(fx);
        }
    }

    /// Whether nothing was gathered.
    pub fn is_empty(&self) -> bool {
        self.effects.is_empty() && self.queries.is_empty()
    }

    /// Performs the batch: commit, then frames and closes, then the feed answers (each answer's
    /// effects as one more batch).
    pub async fn perform<D: Driver>(
        self,
        hub: &mut Hub,
        driver: &mut D,
        now: Millis,
    ) -> Result<(), D::Error> {
        perform_all(vec![self], std::slice::from_mut(hub), driver, now).await
    }
}

/// What reads a document's saved bytes for a hub ([`Driver::load`]).
pub type Loader<'a> = dyn FnMut(&DocumentId) -> Option<Vec<u8>> + 'a;

/// Performs the batches of hubs that share one driver as one (`batches[i]` gathered from
/// `hubs[i]`; a server shards its documents across hubs that gather in parallel): one commit
/// of all they gathered, then every frame and close (the first hub's first), then the feed
/// answers, each fed back to the hub that asked and performed the same way.
pub async fn perform_all<D: Driver>(
    mut batches: Vec<Batch>,
    hubs: &mut [Hub],
    driver: &mut D,
    now: Millis,
) -> Result<(), D::Error> {
    debug_assert_eq!(batches.len(), hubs.len(), "one batch per hub");
    loop {
        let mut effects = Effects::default();
        for batch in &mut batches {
            effects.extend(std::mem::take(&mut batch.effects));
        }
        let Effects {
            persist,
            quarantine,
            send,
            close,
            events,
            ..
        } = effects;
        driver
            .commit(Durable {
                persist: &persist,
                quarantine: &quarantine,
                events: &events,
            })
            .await?;
        for (conn, frame) in send {
            driver.send(conn, frame);
        }
        for conn in close {
            driver.close(conn);
        }
        let mut queries = Vec::new();
        for (i, batch) in batches.iter_mut().enumerate() {
            queries.extend(
                std::mem::take(&mut batch.queries)
                    .into_iter()
                    .map(|q| (i, q)),
            );
        }
        if queries.is_empty() {
            return Ok(());
        }
        for (i, (conn, query)) in queries {
            if let (Some(answer), Some(hub)) = (driver.answer(&query), hubs.get_mut(i)) {
                batches[i].feed(hub, driver, now, Input::Answer { conn, answer });
            }
        }
    }
}

/// Feeds inputs to the hub as one batch and performs it (see the module docs).
pub async fn run<D: Driver>(
    hub: &mut Hub,
    driver: &mut D,
    now: Millis,
    inputs: impl IntoIterator<Item = Input>,
) -> Result<(), D::Error> {
    let mut batch = Batch::new();
    for input in inputs {
        batch.feed(hub, driver, now, input);
    }
    batch.perform(hub, driver, now).await
}

/// Runs a future to completion on this thread. For drivers whose commit never waits (an
/// embedded database, memory): their futures are ready when first polled.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PeerId, UserId};
    use crate::sync::{Direction, HubConfig, Principal, Role, ScopePolicy};
    use crate::wire::{Cursor, ExtensionOffer, Message, PeerMetadata};

    /// Records the order of calls; fails commits when told to.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<String>,
        fail: bool,
    }

    impl Driver for Recorder {
        type Error = &'static str;
        fn load(&mut self, _: &DocumentId) -> Option<Vec<u8>> {
            self.calls.push("load".into());
            None
        }
        fn answer(&mut self, _: &FeedQuery) -> Option<FeedAnswer> {
            self.calls.push("answer".into());
            Some(FeedAnswer::Changes {
                docs: vec![],
                cursor: Cursor {
                    epoch: "e".into(),
                    seq: 1,
                },
            })
        }
        async fn commit(&mut self, batch: Durable<'_>) -> Result<(), Self::Error> {
            self.calls.push(format!("commit {}", batch.events.len()));
            if self.fail { Err("disk full") } else { Ok(()) }
        }
        fn send(&mut self, _: ConnId, frame: Vec<u8>) {
            let kind = Message::decode(&frame, usize::MAX).map(|m| m.kind().as_str());
            self.calls.push(format!("send {}", kind.unwrap_or("?")));
        }
        fn close(&mut self, _: ConnId) {
            self.calls.push("close".into());
        }
    }

    fn server_and_join() -> (Hub, [Input; 2]) {
        let id = |s: &str| PeerId::new(s).expect("peer");
        let hub = Hub::new(
            HubConfig::new(id("server"), None, automerge::ActorId::random()),
            Box::new(ScopePolicy),
        );
        let principal = Principal {
            user: UserId::new("w").expect("user"),
            role: Role::Worker,
            scope: crate::ids::Scope::City,
        };
        let join = Message::Join {
            sender_id: id("phone"),
            peer_metadata: Some(PeerMetadata {
                storage_id: None,
                is_ephemeral: true,
                gridvisit: Some(ExtensionOffer {
                    version: 1,
                    cursor: None,
                }),
            }),
            supported_protocol_versions: vec!["1".into()],
        };
        (
            hub,
            [
                Input::Connected {
                    conn: ConnId(1),
                    direction: Direction::Inbound,
                    principal: Some(principal),
                },
                Input::Frame {
                    conn: ConnId(1),
                    bytes: join.encode(),
                },
            ],
        )
    }

    /// What a served `join` causes, in order: its commit, the `peer` answer, the feed query's
    /// answer from committed state, and the listing.
    const JOIN_THEN_LISTING: [&str; 5] = [
        "commit 1",
        "send peer",
        "answer",
        "commit 0",
        "send gv-changes",
    ];

    #[test]
    fn frames_go_out_after_the_commit_and_feed_answers_after_that() {
        let (mut hub, inputs) = server_and_join();
        let mut d = Recorder::default();
        block_on(run(&mut hub, &mut d, Millis(0), inputs)).expect("performed");
        assert_eq!(d.calls, JOIN_THEN_LISTING);
    }

    #[test]
    fn hubs_sharing_a_driver_commit_once_and_each_hears_the_answer_to_its_own_query() {
        let (first, _) = server_and_join();
        let (second, inputs) = server_and_join();
        let mut hubs = [first, second];
        let mut d = Recorder::default();
        let mut batches = vec![Batch::new(), Batch::new()];
        // Only the second hub knows the connection: the feed answer must go back to it.
        for input in inputs {
            batches[1].feed(&mut hubs[1], &mut d, Millis(0), input);
        }
        block_on(perform_all(batches, &mut hubs, &mut d, Millis(0))).expect("performed");
        assert_eq!(d.calls, JOIN_THEN_LISTING);
    }

    #[test]
    fn nothing_is_sent_when_the_commit_fails() {
        let (mut hub, inputs) = server_and_join();
        let mut d = Recorder {
            fail: true,
            ..Recorder::default()
        };
        assert_eq!(
            block_on(run(&mut hub, &mut d, Millis(0), inputs)),
            Err("disk full")
        );
        assert_eq!(d.calls, vec!["commit 1"]);
    }
}
