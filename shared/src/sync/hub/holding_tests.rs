//! A client's holding ([`crate::sync::holding`]): what it lets go once the server holds it,
//! what it keeps while open, and what its digests cover.

use automerge::{Automerge, ChangeHash};

use super::Hub;
use super::tests::{C, NOW, config, sent};
use crate::ids::{DocumentId, GridId};
use crate::model::{HouseholdDraft, Level, Outcome, VisitDraft};
use crate::sync::effects::{Direction, Event, Input};
use crate::sync::feed::{bucket_digests, heads_digest};
use crate::sync::holding::{DEFAULT_WINDOW_DAYS, Keeps};
use crate::sync::policy::TrustServer;
use crate::time::Millis;
use crate::wire::{Cursor, Kind, Message};

const G: &str = "s01/c01/g01";

fn visit_doc(at: Millis) -> Automerge {
    let draft = VisitDraft {
        grid: G.parse::<GridId>().expect("grid"),
        household: DocumentId::from_bytes([1; 16]),
        visitors: vec!["w1".into()],
        started_at: at,
        ended_at: None,
        location: None,
        outcome: Outcome::Met,
        items: vec![],
        notes: String::new(),
        household_tags: Vec::new(),
    };
    let mut doc = Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| draft.write(tx))
        .expect("write");
    doc
}

fn household_doc() -> Automerge {
    let mut doc = Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| HouseholdDraft::sample(G).write(tx))
        .expect("write");
    doc
}

/// A phone holding a household, a visit of today and one of 100 days ago, all acknowledged
/// unless `unacked`.
fn phone(keeps: Keeps, unacked: &[DocumentId]) -> (Hub, [DocumentId; 3]) {
    let ids = [1, 2, 3].map(|n| DocumentId::from_bytes([n; 16]));
    let docs = [
        household_doc(),
        visit_doc(NOW),
        visit_doc(NOW.plus(-100 * Millis::DAY)),
    ];
    let mut hub = Hub::new(config("phone"), Box::new(TrustServer));
    hub.set_keeps(Some(keeps), DEFAULT_WINDOW_DAYS);
    let acked: Vec<(DocumentId, Vec<ChangeHash>)> = ids
        .iter()
        .zip(&docs)
        .filter(|(id, _)| !unacked.contains(id))
        .map(|(id, d)| (*id, d.get_heads()))
        .collect();
    for (id, d) in ids.iter().zip(&docs) {
        hub.insert_saved(*id, &d.save()).expect("insert");
    }
    hub.restore_client_state(None, acked);
    (hub, ids)
}

#[test]
fn a_phone_lets_an_old_visit_go_once_the_server_holds_it_and_not_while_it_is_open() {
    let (mut hub, [_, _, old]) = phone(Keeps::Field, &[]);
    assert_eq!(hub.prunable(NOW), vec![old]);
    hub.keep(old, true);
    assert!(hub.prunable(NOW).is_empty(), "kept while open");
    hub.keep(old, false);
    assert_eq!(hub.prunable(NOW), vec![old]);
    hub.forget(&old);
    assert!(hub.doc(&old).is_none());
    assert!(hub.prunable(NOW).is_empty());
    // Not acknowledged: it stays until the server holds it.
    let (hub, [_, _, old]) = phone(Keeps::Field, &[DocumentId::from_bytes([3; 16])]);
    assert!(hub.prunable(NOW).is_empty());
    assert_eq!(hub.unsynced(), vec![old]);
    // Without a holding (the tests' clients, the sim) nothing goes.
    let mut all = Hub::new(config("phone"), Box::new(TrustServer));
    all.insert_saved(old, &visit_doc(NOW.plus(-100 * Millis::DAY)).save())
        .expect("insert");
    assert!(all.prunable(NOW).is_empty());
}

#[test]
fn a_supervisor_lets_go_of_everything_but_its_queue() {
    let (hub, ids) = phone(Keeps::Queue(Level::Community), &[]);
    let mut gone = hub.prunable(NOW);
    gone.sort();
    assert_eq!(gone, ids.to_vec());
}

#[test]
fn digests_cover_what_the_phone_should_hold_so_a_left_visit_is_no_difference() {
    let (mut hub, [h, recent, _]) = phone(Keeps::Field, &[]);
    hub.handle(
        NOW,
        Input::Connected {
            conn: C,
            direction: Direction::Outbound,
            principal: None,
        },
    );
    hub.handle(
        NOW,
        Input::Frame {
            conn: C,
            bytes: super::tests::client_side::peer_with_extension(),
        },
    );
    // The server's digests cover the household and today's visit only (its holding).
    let digests = bucket_digests(
        [h, recent]
            .iter()
            .map(|id| (id, heads_digest(&hub.doc(id).expect("held").get_heads()))),
    );
    let cursor = Cursor {
        epoch: "e1".into(),
        seq: 9,
    };
    let fx = hub.handle(
        NOW,
        Input::Frame {
            conn: C,
            bytes: Message::GvBuckets {
                digests,
                cursor: cursor.clone(),
            }
            .encode(),
        },
    );
    assert!(
        !sent(&fx).iter().any(|m| m.kind() == Kind::GvFetchBuckets),
        "no bucket differs: {:?}",
        sent(&fx)
    );
    assert!(
        fx.events
            .iter()
            .any(|e| matches!(e, Event::CursorSaved { cursor: c } if *c == cursor))
    );
}
