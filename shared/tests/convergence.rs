//! Property: whatever the edits, the delivery order, the partitions, duplicated frames and
//! restarts, once everyone reconnects every replica holds the same heads and derives the same
//! records, including the issue state folded from events.
//!
//! Runs 1,000 random schedules by default (`PROPTEST_CASES` overrides).

mod common;

use std::collections::BTreeSet;

use common::*;
use proptest::prelude::*;
use shared::ids::DocumentId;
use shared::model::household::edit;
use shared::model::issue::append_event;
use shared::model::{EventKind, IssueEvent, Outcome, Record, Role, rules};
use shared::sim::{Network, Schedule};

const GRID: &str = "s01/c01/g01";
const USERS: [&str; 3] = ["wa", "wb", "wc"];

#[derive(Clone, Debug)]
enum Op {
    CreateHousehold {
        peer: u8,
    },
    CreateIssue {
        peer: u8,
    },
    CreateVisit {
        peer: u8,
        doc: u8,
    },
    EditHousehold {
        peer: u8,
        doc: u8,
        field: u8,
        value: u8,
    },
    IssueEvent {
        peer: u8,
        doc: u8,
        kind: u8,
        at: u8,
    },
    Toggle {
        peer: u8,
    },
    Deliver {
        steps: u8,
    },
    Restart {
        peer: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any::<u8>().prop_map(|peer| Op::CreateHousehold { peer }),
        1 => any::<u8>().prop_map(|peer| Op::CreateIssue { peer }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(peer, doc)| Op::CreateVisit { peer, doc }),
        4 => (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(peer, doc, field, value)| Op::EditHousehold { peer, doc, field, value }),
        3 => (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(peer, doc, kind, at)| Op::IssueEvent { peer, doc, kind, at }),
        3 => any::<u8>().prop_map(|peer| Op::Toggle { peer }),
        3 => any::<u8>().prop_map(|steps| Op::Deliver { steps }),
        1 => any::<u8>().prop_map(|peer| Op::Restart { peer }),
    ]
}

struct World {
    net: Network,
    server: usize,
    clients: Vec<usize>,
    links: Vec<Option<usize>>,
    households: Vec<DocumentId>,
    issues: Vec<DocumentId>,
    events: u64,
}

impl World {
    fn new(seed: u64, duplicate: bool) -> Self {
        let mut net = Network::new(seed);
        net.schedule = Schedule {
            reorder: true,
            duplicate: if duplicate { 0.05 } else { 0.0 },
        };
        let server = net.add_peer("server", "server", true, server_policy);
        // Two gridvisit clients and one plain automerge-repo client.
        let clients = vec![
            net.add_peer("a", "wa", true, client_policy),
            net.add_peer("b", "wb", true, client_policy),
            net.add_peer("c", "wc", false, client_policy),
        ];
        Self {
            net,
            server,
            clients,
            links: vec![None; 3],
            households: Vec::new(),
            issues: Vec::new(),
            events: 0,
        }
    }

    fn client(&self, i: u8) -> (usize, usize) {
        let k = usize::from(i) % self.clients.len();
        (k, self.clients[k])
    }

    fn connect(&mut self, k: usize) {
        let user = USERS[k];
        let link = self
            .net
            .connect(self.clients[k], self.server, Some(worker(user, GRID)));
        self.links[k] = Some(link);
    }

    fn held(&self, p: usize, pool: &[DocumentId], i: u8) -> Option<DocumentId> {
        let held: Vec<DocumentId> = pool
            .iter()
            .copied()
            .filter(|d| self.net.peer(p).hub.doc(d).is_some())
            .collect();
        (!held.is_empty()).then(|| held[usize::from(i) % held.len()])
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::CreateHousehold { peer } => {
                let (_, p) = self.client(peer);
                let id = new_id(&mut self.net.rng);
                self.net
                    .create(p, id, |tx| household(GRID, "1").write(tx))
                    .expect("create");
                self.households.push(id);
            }
            Op::CreateIssue { peer } => {
                let (k, p) = self.client(peer);
                let id = new_id(&mut self.net.rng);
                let now = self.net.now;
                self.net
                    .create(p, id, |tx| issue(GRID, None, now, USERS[k]).write(tx))
                    .expect("create");
                self.issues.push(id);
            }
            Op::CreateVisit { peer, doc } => {
                let (_, p) = self.client(peer);
                let Some(h) = self.held(p, &self.households, doc) else {
                    return;
                };
                let id = new_id(&mut self.net.rng);
                let now = self.net.now;
                self.net
                    .create(p, id, |tx| visit(GRID, h, now, Outcome::NotHome).write(tx))
                    .expect("create");
            }
            Op::EditHousehold {
                peer,
                doc,
                field,
                value,
            } => {
                let (_, p) = self.client(peer);
                let Some(h) = self.held(p, &self.households, doc) else {
                    return;
                };
                let v = format!("{value}");
                self.net
                    .edit(p, h, |tx| match field % 5 {
                        0 => edit::set_contact(tx, &v),
                        1 => edit::set_members(tx, i64::from(value % 9)),
                        2 => edit::set_notes(tx, &format!("备注{v}")),
                        3 => edit::set_address(tx, "room", &v),
                        _ => edit::set_tag(
                            tx,
                            ["disabled", "low-income"][usize::from(value % 2)],
                            value % 3 != 0,
                        ),
                    })
                    .expect("edit");
            }
            Op::IssueEvent {
                peer,
                doc,
                kind,
                at,
            } => {
                let (k, p) = self.client(peer);
                let Some(i) = self.held(p, &self.issues, doc) else {
                    return;
                };
                self.events += 1;
                // What the app offers: an action the worker's role may take on the issue as
                // their phone holds it, dated no earlier than what it holds and within the
                // server's ten minutes (concurrent events still land in any order).
                let Some(Record::Issue(seen)) = self
                    .net
                    .peer(p)
                    .hub
                    .doc(&i)
                    .and_then(|d| Record::read(d).ok())
                else {
                    return;
                };
                let now = self.net.now.plus(i64::from(at % 10) * 60_000);
                let offered = rules::actions(Role::Worker, &seen.state.standing(), now);
                let kind = offered[usize::from(kind) % offered.len()];
                let latest = seen.events.iter().map(|e| e.at).max().unwrap_or(now);
                let e = IssueEvent {
                    level: (kind == EventKind::Escalate)
                        .then(|| rules::escalation_target(seen.state.level)),
                    assignee: Some("w2".into()),
                    ..event(
                        &format!("e{}-{p}", self.events),
                        kind,
                        now.max(latest),
                        USERS[k],
                    )
                };
                self.net
                    .edit(p, i, |tx| append_event(tx, &e))
                    .expect("event");
            }
            Op::Toggle { peer } => {
                let (k, _) = self.client(peer);
                match self.links[k].take() {
                    Some(l) if self.net.is_up(l) => self.net.disconnect(l),
                    _ => self.connect(k),
                }
            }
            Op::Deliver { steps } => {
                for _ in 0..steps {
                    if !self.net.step() {
                        break;
                    }
                }
                // The server drops documents everyone holds, as it does under memory pressure.
                if steps % 2 == 0 {
                    self.net.evict(self.server);
                }
            }
            Op::Restart { peer } => {
                let p = if peer % 4 == 3 {
                    self.server
                } else {
                    self.client(peer).1
                };
                self.net.restart(p).expect("restart");
                for l in &mut self.links {
                    if l.is_some_and(|l| !self.net.is_up(l)) {
                        *l = None;
                    }
                }
            }
        }
    }

    /// Runs until quiet; then the plain client, which only syncs what it asks for, asks for
    /// every document the server stored, and the network runs until quiet again.
    fn run_and_fetch_all(&mut self) {
        self.net.run_until_quiescent(200_000).expect("settles");
        let all: Vec<DocumentId> = self
            .net
            .peer(self.server)
            .store
            .docs()
            .map(|(id, _)| *id)
            .collect();
        for id in all {
            self.net.sync_now(self.clients[2], id);
        }
        self.net.run_until_quiescent(200_000).expect("settles");
    }

    /// Everyone reconnects; the plain client asks for every document the server holds.
    fn settle(&mut self) {
        for k in 0..self.clients.len() {
            if !self.links[k].is_some_and(|l| self.net.is_up(l)) {
                self.connect(k);
            }
        }
        self.run_and_fetch_all();
        // Everyone reconnects once more: documents must not depend on live pushes, only on
        // what the saved cursors and acknowledgements claim.
        for k in 0..self.clients.len() {
            if let Some(l) = self.links[k].take() {
                self.net.disconnect(l);
            }
        }
        for k in 0..self.clients.len() {
            self.net.restart(self.clients[k]).expect("restart");
            self.connect(k);
        }
        self.run_and_fetch_all();
    }

    /// The server's durable truth: every stored document, loaded from its store (documents it
    /// evicted from memory are only there).
    fn server_docs(&self) -> Result<Vec<(DocumentId, automerge::Automerge)>, TestCaseError> {
        let store = &self.net.peer(self.server).store;
        store
            .docs()
            .map(|(id, _)| {
                let doc = automerge::Automerge::load(&store.load(id).unwrap_or_default())
                    .map_err(|e| TestCaseError::fail(format!("{id}: {e}")))?;
                Ok((*id, doc))
            })
            .collect()
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let stored = self.server_docs()?;
        let created: BTreeSet<DocumentId> = self
            .households
            .iter()
            .chain(&self.issues)
            .copied()
            .collect();
        for id in &created {
            prop_assert!(stored.iter().any(|(d, _)| d == id), "server lacks {id}");
        }
        // What the server holds in memory is what it made durable.
        for (id, doc) in self.net.peer(self.server).hub.documents() {
            let saved = stored
                .iter()
                .find(|(d, _)| d == id)
                .map(|(_, s)| s.get_heads());
            prop_assert_eq!(
                saved,
                Some(doc.get_heads()),
                "{} held but not stored as is",
                id
            );
        }
        for (id, doc) in &stored {
            let heads = doc.get_heads();
            let record =
                Record::read(doc).map_err(|e| TestCaseError::fail(format!("{id}: {e}")))?;
            for &c in &self.clients {
                let peer = self.net.peer(c);
                let theirs = peer
                    .hub
                    .doc(id)
                    .ok_or_else(|| TestCaseError::fail(format!("{} lacks {id}", peer.name)))?;
                prop_assert_eq!(
                    &theirs.get_heads(),
                    &heads,
                    "{} heads differ on {}",
                    peer.name,
                    id
                );
                let derived = Record::read(theirs).ok();
                prop_assert_eq!(derived.as_ref(), Some(&record));
            }
        }
        prop_assert!(self.net.peer(self.server).quarantine.is_empty());
        Ok(())
    }
}

/// Found by the property: a client that fell back to bucket digests saved the cursor of the
/// later bucket listing, skipping documents that arrived on the server in between.
#[test]
fn bucket_fallback_saves_the_cursor_of_the_digests() {
    let ops = [
        Op::CreateHousehold { peer: 7 },
        Op::CreateHousehold { peer: 101 },
        Op::CreateIssue { peer: 53 },
        Op::Toggle { peer: 29 },
        Op::Toggle { peer: 45 },
        Op::Toggle { peer: 11 },
        Op::Deliver { steps: 22 },
        Op::Toggle { peer: 10 },
    ];
    let mut w = World::new(8_416_810_240_316_257_928, false);
    for k in 0..3 {
        w.connect(k);
    }
    for op in &ops {
        w.apply(op);
    }
    w.settle();
    w.check().expect("converged");
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_under_any_schedule(
        seed in any::<u64>(),
        duplicate in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let mut w = World::new(seed, duplicate);
        for k in 0..3 {
            w.connect(k);
        }
        for op in &ops {
            w.apply(op);
        }
        w.settle();
        w.check()?;
    }
}
