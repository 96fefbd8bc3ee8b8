//! The first sync in bulk, each side fed frames by hand: the server answers `gv-fetch-docs`
//! once per connection and batches what storage read; the client loads each document, counts
//! it acknowledged, and syncs on its own only what the batches did not carry.

use automerge::Automerge;

use super::Hub;
use super::tests::{C, NOW, config, cursor, household_doc, kinds, sent, serve, worker};
use crate::ids::DocumentId;
use crate::sync::effects::{Direction, Event, Input};
use crate::sync::feed::{BULK_BATCH_BYTES, FeedAnswer, FeedQuery, bucket_of, heads_digest};
use crate::sync::policy::{ScopePolicy, TrustServer};
use crate::wire::{DocDigest, ExtensionOffer, Kind, Message, PeerMetadata};

fn frame(hub: &mut Hub, msg: &Message) -> crate::sync::Effects {
    hub.handle(
        NOW,
        Input::Frame {
            conn: C,
            bytes: msg.encode(),
        },
    )
}

fn digest(id: DocumentId, doc: &Automerge) -> DocDigest {
    DocDigest {
        doc: id,
        heads: heads_digest(&doc.get_heads()),
    }
}

#[test]
fn the_server_answers_one_bulk_fetch_per_connection_in_batches_then_the_listing() {
    let mut hub = Hub::new(config("server"), Box::new(ScopePolicy));
    serve(&mut hub, C, Some(cursor(1)));
    let fx = frame(&mut hub, &Message::GvFetchDocs { buckets: vec![3] });
    assert!(
        matches!(&fx.queries[..], [(C, FeedQuery::Documents { buckets, holding })]
            if buckets == &[3] && holding.scope == worker().scope),
        "{:?}",
        fx.queries
    );
    // A second bulk fetch on the same connection gets the listing alone.
    let fx = frame(&mut hub, &Message::GvFetchDocs { buckets: vec![3] });
    assert!(matches!(&fx.queries[..], [(C, FeedQuery::Buckets { .. })]));
    let fx = frame(&mut hub, &Message::GvFetchDocs { buckets: vec![64] });
    assert!(fx.close.contains(&C), "a bucket that does not exist");

    // Storage's answer: three documents of 7 KB each go in two batches, then the listing.
    let mut hub = Hub::new(config("server"), Box::new(ScopePolicy));
    serve(&mut hub, C, Some(cursor(1)));
    let saved: Vec<(DocumentId, Vec<u8>)> = (1..=3u8)
        .map(|i| (DocumentId::from_bytes([i; 16]), vec![i; 7 * 1024]))
        .collect();
    let docs: Vec<DocDigest> = (saved.iter())
        .map(|(id, _)| DocDigest {
            doc: *id,
            heads: [0; 8],
        })
        .collect();
    let fx = hub.handle(
        NOW,
        Input::Answer {
            conn: C,
            answer: FeedAnswer::Documents {
                docs: docs.clone(),
                saved: saved.clone(),
                cursor: cursor(9),
            },
        },
    );
    assert_eq!(kinds(&fx), [Kind::GvDocs, Kind::GvDocs, Kind::GvChanges]);
    let mut carried = Vec::new();
    for m in sent(&fx) {
        match m {
            Message::GvDocs { docs, total } => {
                assert_eq!(total, 3);
                let size: usize = docs.iter().map(|(_, b)| b.len()).sum();
                assert!(size <= BULK_BATCH_BYTES, "{size} bytes in one batch");
                carried.extend(docs);
            }
            Message::GvChanges {
                docs: listed,
                cursor: c,
            } => {
                assert_eq!(listed, docs);
                assert_eq!(c, cursor(9));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(carried, saved, "every document, in order, byte for byte");
}

fn new_phone() -> Hub {
    let mut hub = Hub::new(config("phone"), Box::new(TrustServer));
    hub.handle(
        NOW,
        Input::Connected {
            conn: C,
            direction: Direction::Outbound,
            principal: None,
        },
    );
    hub
}

fn peer_v(version: u64) -> Message {
    Message::Peer {
        sender_id: super::tests::peer("server"),
        peer_metadata: Some(PeerMetadata {
            storage_id: None,
            is_ephemeral: false,
            gridvisit: Some(ExtensionOffer {
                version,
                cursor: None,
            }),
        }),
        selected_protocol_version: "1".into(),
        target_id: super::tests::peer("phone"),
    }
}

fn buckets_of_nothing() -> Message {
    Message::GvBuckets {
        digests: vec![1; crate::sync::feed::BUCKETS * 8],
        cursor: cursor(30),
    }
}

#[test]
fn a_new_phone_asks_in_bulk_loads_each_document_and_syncs_alone_only_what_did_not_come() {
    let mut hub = new_phone();
    frame(&mut hub, &peer_v(2));
    let fx = frame(&mut hub, &buckets_of_nothing());
    assert!(
        matches!(&sent(&fx)[..], [Message::GvFetchDocs { buckets }] if buckets.len() == 64),
        "{:?}",
        kinds(&fx)
    );
    let (a, b, c) = (
        DocumentId::from_bytes([1; 16]),
        DocumentId::from_bytes([2; 16]),
        DocumentId::from_bytes([3; 16]),
    );
    let (doc_a, doc_b, doc_c) = (
        household_doc("s01/c01/g01"),
        household_doc("s01/c01/g01"),
        household_doc("s01/c01/g01"),
    );
    // Two batches: a and b, then c's bytes garbled in transit.
    let fx = frame(
        &mut hub,
        &Message::GvDocs {
            docs: vec![(a, doc_a.save()), (b, doc_b.save())],
            total: 3,
        },
    );
    assert!(fx.send.is_empty(), "no per-document request");
    assert_eq!(fx.persist.len(), 2, "made durable");
    assert!(fx.events.contains(&Event::Received {
        received: 2,
        total: 3
    }));
    assert_eq!(
        hub.doc(&a).map(Automerge::get_heads),
        Some(doc_a.get_heads())
    );
    assert!(
        hub.is_acked(&a) && hub.is_acked(&b),
        "the server holds them as sent"
    );
    let fx = frame(
        &mut hub,
        &Message::GvDocs {
            docs: vec![(c, vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3])],
            total: 3,
        },
    );
    assert!(fx.persist.is_empty(), "garbage is not a document");
    assert!(fx.events.contains(&Event::Received {
        received: 3,
        total: 3
    }));
    // The listing: a and b are in sync, c is asked for on its own; the cursor waits for it.
    let fx = frame(
        &mut hub,
        &Message::GvChanges {
            docs: vec![digest(a, &doc_a), digest(b, &doc_b), digest(c, &doc_c)],
            cursor: cursor(30),
        },
    );
    let asked: Vec<DocumentId> = (sent(&fx).into_iter())
        .filter_map(|m| match m {
            Message::Request { document_id, .. } => Some(document_id),
            _ => None,
        })
        .collect();
    assert_eq!(asked, [c]);
    assert_eq!(hub.cursor(), None, "c is not in sync yet");
    assert!(bucket_of(&c) < 64);
}

#[test]
fn a_phone_that_holds_acknowledged_records_or_talks_to_an_older_server_fetches_listings() {
    // An older server (extension version 1) has no bulk.
    let mut hub = new_phone();
    frame(&mut hub, &peer_v(1));
    let fx = frame(&mut hub, &buckets_of_nothing());
    assert_eq!(kinds(&fx), [Kind::GvFetchBuckets]);
    // A phone that holds records the server acknowledged syncs what differs, per document.
    let id = DocumentId::from_bytes([7; 16]);
    let doc = household_doc("s01/c01/g01");
    let mut hub = new_phone();
    hub.restore_client_state(None, [(id, doc.get_heads())]);
    hub.insert_saved(id, &doc.save()).expect("insert");
    frame(&mut hub, &peer_v(2));
    let fx = frame(&mut hub, &buckets_of_nothing());
    assert_eq!(kinds(&fx), [Kind::GvFetchBuckets]);
    // Bulk turned off in the configuration.
    let mut cfg = config("phone");
    cfg.bulk_first_sync = false;
    let mut hub = Hub::new(cfg, Box::new(TrustServer));
    hub.handle(
        NOW,
        Input::Connected {
            conn: C,
            direction: Direction::Outbound,
            principal: None,
        },
    );
    frame(&mut hub, &peer_v(2));
    let fx = frame(&mut hub, &buckets_of_nothing());
    assert_eq!(kinds(&fx), [Kind::GvFetchBuckets]);
}

#[test]
fn a_document_the_phone_already_had_merges_and_its_own_changes_are_pushed() {
    let id = DocumentId::from_bytes([5; 16]);
    let server_doc = household_doc("s01/c01/g01");
    // The phone made the record offline with its own change on top of the same start.
    let mut ours = server_doc.fork();
    ours.transact::<_, _, automerge::AutomergeError>(|tx| {
        crate::model::household::edit::set_members(tx, 6)
    })
    .expect("edit");
    let mut hub = new_phone();
    hub.insert_saved(id, &ours.save()).expect("insert");
    let fx = frame(&mut hub, &peer_v(2));
    assert_eq!(
        kinds(&fx),
        [Kind::Sync],
        "unacknowledged: pushed on connect"
    );
    let fx = frame(&mut hub, &buckets_of_nothing());
    assert_eq!(kinds(&fx), [Kind::GvFetchDocs], "nothing acknowledged yet");
    let fx = frame(
        &mut hub,
        &Message::GvDocs {
            docs: vec![(id, server_doc.save())],
            total: 1,
        },
    );
    assert!(fx.persist.is_empty(), "nothing new to us");
    assert_eq!(
        hub.acked(&id),
        Some(&super::sorted(server_doc.get_heads())[..])
    );
    assert!(!hub.is_acked(&id), "our change is still ours alone");
    assert_eq!(
        hub.doc(&id).map(Automerge::get_heads),
        Some(ours.get_heads())
    );
    // The listing names it with the server's heads: it stays pending, the cursor waits.
    frame(
        &mut hub,
        &Message::GvChanges {
            docs: vec![digest(id, &server_doc)],
            cursor: cursor(30),
        },
    );
    assert_eq!(hub.cursor(), None);
}
