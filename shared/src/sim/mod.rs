//! An in-memory network of hubs for tests and benchmarks: connect, disconnect, partition,
//! reorder and duplicate frames, and run until nothing is left to deliver. No sockets, no
//! clocks, no threads: a run is a pure function of its seed.

mod workload;

use std::collections::VecDeque;

use automerge::transaction::Transaction;
use automerge::{ActorId, AutomergeError, ChangeHash};

use crate::ids::{DocumentId, PeerId, StorageId};
use crate::sync::driver::{Batch, Driver, Durable, block_on};
use crate::sync::{
    AccessPolicy, ConnId, Direction, EditError, Effects, Event, FeedAnswer, FeedQuery, Hub,
    HubConfig, Input, MemStore, Principal, Quarantine,
};
use crate::time::Millis;
use crate::wire::{Cursor, Message};

pub use workload::{FirstSync, Tape, first_sync_cost, reconnect_cost, record_tape};

/// A small deterministic random number generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// 16 random bytes (a document ID, an actor ID).
    pub fn bytes16(&mut self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        out[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        out
    }
}

/// A peer of the network: its hub, its durable store, and what it reported.
pub struct SimPeer {
    /// Display name.
    pub name: String,
    /// The engine.
    pub hub: Hub,
    /// What it made durable.
    pub store: MemStore,
    /// Refused changes it kept.
    pub quarantine: Vec<Quarantine>,
    /// Every event it reported.
    pub events: Vec<Event>,
    /// The heads the server acknowledged, as a client would persist them.
    pub acked: Vec<(DocumentId, Vec<ChangeHash>)>,
    /// The last saved cursor, as a client would persist it.
    pub cursor: Option<Cursor>,
    user: String,
    config: HubConfig,
    make_policy: fn() -> Box<dyn AccessPolicy>,
}

/// Bytes and frames that crossed one link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Client to server bytes.
    pub bytes_up: u64,
    /// Server to client bytes.
    pub bytes_down: u64,
    /// Client to server frames.
    pub frames_up: u64,
    /// Server to client frames.
    pub frames_down: u64,
    /// The longest chain of frames each caused by the one before (2 per round trip).
    pub max_depth: u32,
}

impl LinkStats {
    /// Round trips: each one is a frame and its answer.
    pub fn round_trips(&self) -> u32 {
        self.max_depth.div_ceil(2)
    }

    /// Bytes in both directions.
    pub fn bytes(&self) -> u64 {
        self.bytes_up + self.bytes_down
    }
}

struct Link {
    client: usize,
    server: usize,
    client_conn: ConnId,
    server_conn: ConnId,
    up: bool,
    stats: LinkStats,
    /// Frames in flight: `[0]` towards the server, `[1]` towards the client.
    queues: [VecDeque<(Vec<u8>, u32)>; 2],
}

/// How frames are delivered.
#[derive(Clone, Copy, Debug, Default)]
pub struct Schedule {
    /// Deliver from a random link (and direction) each step instead of the oldest.
    pub reorder: bool,
    /// Probability that a sync frame is delivered twice.
    pub duplicate: f64,
}

/// Why a run did not settle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("network still busy after {0} deliveries")]
pub struct Busy(pub usize);

/// The network.
pub struct Network {
    peers: Vec<SimPeer>,
    links: Vec<Link>,
    /// Current simulated time.
    pub now: Millis,
    /// Delivery schedule.
    pub schedule: Schedule,
    /// Randomness for reordering and duplication.
    pub rng: Rng,
    next_conn: u64,
    /// The peer whose inputs are recorded, and what it was fed ([`Network::record`]).
    tape: Option<(usize, Vec<Input>)>,
}

impl Network {
    /// An empty network with a seed.
    pub fn new(seed: u64) -> Self {
        Self {
            peers: Vec::new(),
            links: Vec::new(),
            now: Millis(1_795_363_200_000),
            schedule: Schedule::default(),
            rng: Rng::new(seed),
            next_conn: 1,
            tape: None,
        }
    }

    /// Adds a peer. `user` signs its edits; `extension` turns gridvisit's extension on.
    pub fn add_peer(
        &mut self,
        name: &str,
        user: &str,
        extension: bool,
        make_policy: fn() -> Box<dyn AccessPolicy>,
    ) -> usize {
        let actor = ActorId::from(&self.rng.bytes16()[..]);
        let mut config = HubConfig::new(
            PeerId::new(name).unwrap_or_else(|_| unreachable!("names are not empty")),
            StorageId::new(format!("{name}-storage")).ok(),
            actor,
        );
        config.extension = extension;
        let hub = Hub::new(config.clone(), make_policy());
        self.peers.push(SimPeer {
            name: name.to_owned(),
            hub,
            store: MemStore::new(format!("epoch-{name}")),
            quarantine: Vec::new(),
            events: Vec::new(),
            acked: Vec::new(),
            cursor: None,
            user: user.to_owned(),
            config,
            make_policy,
        });
        self.peers.len() - 1
    }

    /// Records every input peer `p` is fed from now on (connections, frames, closes; not
    /// what its own storage answers), to feed the same stream to another engine.
    pub fn record(&mut self, p: usize) {
        self.tape = Some((p, Vec::new()));
    }

    /// What was recorded since [`Network::record`], and stops recording.
    pub fn take_tape(&mut self) -> Vec<Input> {
        self.tape.take().map(|(_, tape)| tape).unwrap_or_default()
    }

    /// Changes a peer's configuration before it connects (its hub starts over).
    pub fn configure(&mut self, p: usize, change: impl FnOnce(&mut HubConfig)) {
        let peer = &mut self.peers[p];
        change(&mut peer.config);
        peer.hub = Hub::new(peer.config.clone(), (peer.make_policy)());
    }

    /// A peer.
    pub fn peer(&self, p: usize) -> &SimPeer {
        &self.peers[p]
    }

    /// A peer, mutably.
    pub fn peer_mut(&mut self, p: usize) -> &mut SimPeer {
        &mut self.peers[p]
    }

    /// How many peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Opens a connection from `client` to `server` with `principal` authenticated on it.
    pub fn connect(&mut self, client: usize, server: usize, principal: Option<Principal>) -> usize {
        let client_conn = ConnId(self.next_conn);
        let server_conn = ConnId(self.next_conn + 1);
        self.next_conn += 2;
        self.links.push(Link {
            client,
            server,
            client_conn,
            server_conn,
            up: true,
            stats: LinkStats::default(),
            queues: [VecDeque::new(), VecDeque::new()],
        });
        let link = self.links.len() - 1;
        self.feed(
            server,
            Input::Connected {
                conn: server_conn,
                direction: Direction::Inbound,
                principal,
            },
            0,
        );
        self.feed(
            client,
            Input::Connected {
                conn: client_conn,
                direction: Direction::Outbound,
                principal: None,
            },
            0,
        );
        link
    }

    /// Closes a link: frames in flight are lost, both ends hear of it.
    pub fn disconnect(&mut self, link: usize) {
        let l = &mut self.links[link];
        if !l.up {
            return;
        }
        l.up = false;
        l.queues.iter_mut().for_each(VecDeque::clear);
        let (c, s, cc, sc) = (l.client, l.server, l.client_conn, l.server_conn);
        self.feed(c, Input::Disconnected { conn: cc }, 0);
        self.feed(s, Input::Disconnected { conn: sc }, 0);
    }

    /// Closes every open link of a peer (it goes offline).
    pub fn isolate(&mut self, p: usize) {
        for link in 0..self.links.len() {
            if self.links[link].up && (self.links[link].client == p || self.links[link].server == p)
            {
                self.disconnect(link);
            }
        }
    }

    /// Whether a link is open.
    pub fn is_up(&self, link: usize) -> bool {
        self.links[link].up
    }

    /// The traffic of a link.
    pub fn stats(&self, link: usize) -> LinkStats {
        self.links[link].stats
    }

    /// Kills a peer's process and starts it again from its store: open links drop, memory is
    /// lost, and only what it made durable (and, for a client, its acknowledgements and
    /// cursor) comes back.
    pub fn restart(&mut self, p: usize) -> Result<(), EditError> {
        self.isolate(p);
        let peer = &mut self.peers[p];
        let mut hub = Hub::new(peer.config.clone(), (peer.make_policy)());
        let saved: Vec<(DocumentId, Vec<u8>)> = peer
            .store
            .docs()
            .filter_map(|(id, _)| peer.store.load(id).map(|b| (*id, b)))
            .collect();
        for (id, bytes) in saved {
            hub.insert_saved(id, &bytes)?;
        }
        hub.restore_client_state(peer.cursor.clone(), peer.acked.clone());
        peer.hub = hub;
        Ok(())
    }

    /// Creates a record on a peer.
    pub fn create<F>(&mut self, p: usize, id: DocumentId, write: F) -> Result<(), EditError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let user = self.peers[p].user.clone();
        let fx = self.peers[p].hub.create(self.now, &user, id, write)?;
        self.apply(p, fx, 0);
        Ok(())
    }

    /// Edits a record on a peer.
    pub fn edit<F>(&mut self, p: usize, id: DocumentId, write: F) -> Result<(), EditError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let user = self.peers[p].user.clone();
        let fx = self.peers[p].hub.edit(self.now, &user, id, write)?;
        self.apply(p, fx, 0);
        Ok(())
    }

    /// Has a server peer drop the documents every connection holds in full (see
    /// [`Hub::evict_idle`]); they reload from its store when next needed.
    pub fn evict(&mut self, p: usize) -> usize {
        self.peers[p].hub.evict_idle(0)
    }

    /// Has a peer sync one document with its servers now (see [`Hub::sync_now`]).
    pub fn sync_now(&mut self, p: usize, id: DocumentId) {
        let fx = self.peers[p].hub.sync_now(id);
        self.apply(p, fx, 0);
    }

    /// Delivers one frame; false when nothing is in flight.
    pub fn step(&mut self) -> bool {
        let ready: Vec<(usize, usize)> = self
            .links
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                (0..2)
                    .filter(move |d| !l.queues[*d].is_empty())
                    .map(move |d| (i, d))
            })
            .collect();
        if ready.is_empty() {
            return false;
        }
        let (link, dir) = if self.schedule.reorder {
            ready[self.rng.below(ready.len())]
        } else {
            ready[0]
        };
        let l = &mut self.links[link];
        let duplicate = self.schedule.duplicate > 0.0 && self.rng.chance(self.schedule.duplicate);
        let Some((bytes, depth)) = (if duplicate && is_sync(&l.queues[dir][0].0) {
            l.queues[dir].front().cloned()
        } else {
            l.queues[dir].pop_front()
        }) else {
            return true;
        };
        let (peer, conn) = if dir == 0 {
            (l.server, l.server_conn)
        } else {
            (l.client, l.client_conn)
        };
        self.feed(peer, Input::Frame { conn, bytes }, depth);
        true
    }

    /// Delivers frames until none is in flight, or fails after `limit` deliveries.
    pub fn run_until_quiescent(&mut self, limit: usize) -> Result<usize, Busy> {
        for n in 0..limit {
            if !self.step() {
                return Ok(n);
            }
        }
        if self.step() {
            Err(Busy(limit))
        } else {
            Ok(limit)
        }
    }

    /// Performs a hub's effects the way every driver does (see [`crate::sync::driver`]):
    /// durable first, then frames; links it closes are disconnected afterwards.
    fn apply(&mut self, p: usize, fx: Effects, depth: u32) {
        self.perform(p, depth, |batch, hub, driver, now| {
            batch.add(hub, driver, now, fx)
        });
    }

    /// Feeds one input to a peer and performs what it causes.
    fn feed(&mut self, p: usize, input: Input, depth: u32) {
        if let Some((recorded, tape)) = &mut self.tape
            && *recorded == p
        {
            tape.push(input.clone());
        }
        self.perform(p, depth, |batch, hub, driver, now| {
            batch.feed(hub, driver, now, input)
        });
    }

    fn perform(
        &mut self,
        p: usize,
        depth: u32,
        gather: impl FnOnce(&mut Batch, &mut Hub, &mut SimDriver<'_>, Millis),
    ) {
        let now = self.now;
        let peer = &mut self.peers[p];
        let mut driver = SimDriver {
            peer: p,
            depth,
            store: &mut peer.store,
            quarantine: &mut peer.quarantine,
            events: &mut peer.events,
            acked: &mut peer.acked,
            cursor: &mut peer.cursor,
            links: &mut self.links,
            closed: Vec::new(),
        };
        let mut batch = Batch::new();
        gather(&mut batch, &mut peer.hub, &mut driver, now);
        let outcome: Result<(), std::convert::Infallible> =
            block_on(batch.perform(&mut peer.hub, &mut driver, now));
        let Ok(()) = outcome;
        let closed = driver.closed;
        for conn in closed {
            if let Some((link, _)) = link_of(&self.links, p, conn) {
                self.disconnect(link);
            }
        }
    }
}

fn link_of(links: &[Link], peer: usize, conn: ConnId) -> Option<(usize, usize)> {
    links.iter().enumerate().find_map(|(i, l)| {
        if l.client == peer && l.client_conn == conn {
            Some((i, 0))
        } else if l.server == peer && l.server_conn == conn {
            Some((i, 1))
        } else {
            None
        }
    })
}

/// One peer's driver: its [`MemStore`] is the durable store, frames go into the link queues.
struct SimDriver<'a> {
    peer: usize,
    depth: u32,
    store: &'a mut MemStore,
    quarantine: &'a mut Vec<Quarantine>,
    events: &'a mut Vec<Event>,
    acked: &'a mut Vec<(DocumentId, Vec<ChangeHash>)>,
    cursor: &'a mut Option<Cursor>,
    links: &'a mut Vec<Link>,
    closed: Vec<ConnId>,
}

impl Driver for SimDriver<'_> {
    type Error = std::convert::Infallible;

    fn load(&mut self, doc: &DocumentId) -> Option<Vec<u8>> {
        self.store.load(doc)
    }

    fn answer(&mut self, query: &FeedQuery) -> Option<FeedAnswer> {
        Some(self.store.answer(query))
    }

    async fn commit(&mut self, batch: Durable<'_>) -> Result<(), Self::Error> {
        for persist in batch.persist {
            self.store.append(
                persist.doc,
                persist.chunk.clone(),
                &persist.heads,
                persist.meta.as_ref().map(|m| m.grid.clone()),
                persist.standing(&crate::time::Calendar::CHINA),
            );
        }
        self.quarantine.extend(batch.quarantine.iter().cloned());
        for event in batch.events {
            match event {
                Event::Acked { doc, heads } => {
                    self.acked.retain(|(d, _)| d != doc);
                    self.acked.push((*doc, heads.clone()));
                }
                Event::CursorSaved { cursor } => *self.cursor = Some(cursor.clone()),
                _ => {}
            }
        }
        self.events.extend(batch.events.iter().cloned());
        Ok(())
    }

    fn send(&mut self, conn: ConnId, bytes: Vec<u8>) {
        let Some((link, dir)) = link_of(self.links, self.peer, conn) else {
            return;
        };
        let l = &mut self.links[link];
        if !l.up {
            return;
        }
        if dir == 0 {
            l.stats.bytes_up += bytes.len() as u64;
            l.stats.frames_up += 1;
        } else {
            l.stats.bytes_down += bytes.len() as u64;
            l.stats.frames_down += 1;
        }
        l.stats.max_depth = l.stats.max_depth.max(self.depth + 1);
        l.queues[dir].push_back((bytes, self.depth + 1));
    }

    fn close(&mut self, conn: ConnId) {
        self.closed.push(conn);
    }
}

fn is_sync(frame: &[u8]) -> bool {
    matches!(
        Message::decode(frame, usize::MAX),
        Ok(Message::Sync { .. } | Message::Request { .. })
    )
}
