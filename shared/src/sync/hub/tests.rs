//! Each half of the hub on its own, fed frames by hand: the server side (handshake, feed
//! queries, loading, scope, refusals) and the client side (join offer, pushing what is
//! unacknowledged, saving cursors, refusals).

use automerge::{ActorId, Automerge, ChangeHash};

use super::{Hub, HubConfig};
use crate::ids::{DocumentId, PeerId, Scope, UserId};
use crate::model::HouseholdDraft;
use crate::sync::effects::{ConnId, Direction, Effects, Event, Input};
use crate::sync::feed::{FeedAnswer, FeedQuery, bucket_digests, heads_digest};
use crate::sync::policy::{Principal, Role, ScopePolicy, TrustServer};
use crate::time::Millis;
use crate::wire::{Cursor, DocDigest, ExtensionOffer, Kind, Message, PeerMetadata};

pub(super) const C: ConnId = ConnId(7);
pub(super) const NOW: Millis = Millis(1_795_363_200_000);

pub(super) fn peer(s: &str) -> PeerId {
    PeerId::new(s).expect("peer id")
}

pub(super) fn config(name: &str) -> HubConfig {
    HubConfig::new(peer(name), None, ActorId::from(&[9u8; 16][..]))
}

pub(super) fn worker() -> Principal {
    Principal {
        user: UserId::new("w1").expect("user"),
        role: Role::Worker,
        scope: "grids:s01/c01/g01".parse().expect("scope"),
    }
}

pub(super) fn sent(fx: &Effects) -> Vec<Message> {
    fx.send
        .iter()
        .map(|(_, b)| Message::decode(b, usize::MAX).expect("our frames decode"))
        .collect()
}

pub(super) fn kinds(fx: &Effects) -> Vec<Kind> {
    sent(fx).iter().map(Message::kind).collect()
}

pub(super) fn join(ext: Option<Cursor>) -> Vec<u8> {
    Message::Join {
        sender_id: peer("phone"),
        peer_metadata: Some(PeerMetadata {
            storage_id: None,
            is_ephemeral: true,
            gridvisit: ext.map(|c| ExtensionOffer {
                version: 1,
                cursor: Some(c),
            }),
        }),
        supported_protocol_versions: vec!["1".into()],
    }
    .encode()
}

/// Connects a grid worker to a serving hub on `conn` and answers their `join` (with the
/// extension when `ext` is given).
pub(super) fn serve(hub: &mut Hub, conn: ConnId, ext: Option<Cursor>) -> Effects {
    hub.handle(
        NOW,
        Input::Connected {
            conn,
            direction: Direction::Inbound,
            principal: Some(worker()),
        },
    );
    hub.handle(
        NOW,
        Input::Frame {
            conn,
            bytes: join(ext),
        },
    )
}

pub(super) fn cursor(seq: u64) -> Cursor {
    Cursor {
        epoch: "e1".into(),
        seq,
    }
}

pub(super) fn household_doc(grid: &str) -> Automerge {
    let draft = HouseholdDraft::sample(grid);
    let mut doc = Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| draft.write(tx))
        .expect("write");
    doc
}

pub(super) fn sync_frame(doc: &Automerge, id: DocumentId, request: bool) -> Vec<u8> {
    // What a peer sends once it knows the other side has nothing: every change.
    let data = automerge::sync::Message {
        heads: doc.get_heads(),
        need: vec![],
        have: vec![],
        changes: doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect::<Vec<_>>()
            .into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode();
    let (target_id, sender_id) = (peer("server"), peer("phone"));
    if request {
        Message::Request {
            target_id,
            document_id: id,
            data,
            sender_id,
        }
    } else {
        Message::Sync {
            target_id,
            document_id: id,
            data,
            sender_id,
        }
    }
    .encode()
}

mod server_side {
    use super::*;

    fn server(ext_cursor: Option<Cursor>) -> (Hub, Effects) {
        let mut hub = Hub::new(config("server"), Box::new(ScopePolicy));
        let fx = serve(&mut hub, C, ext_cursor);
        (hub, fx)
    }

    fn worker_holding() -> crate::sync::Holding {
        let w = worker();
        crate::sync::Holding::new(
            w.role,
            w.scope,
            NOW,
            crate::sync::DEFAULT_WINDOW_DAYS,
            &crate::time::Calendar::CHINA,
        )
    }

    #[test]
    fn a_join_with_the_extension_is_answered_and_asks_the_feed_about_the_scope() {
        let (_, fx) = server(Some(cursor(5)));
        let msgs = sent(&fx);
        let Message::Peer { peer_metadata, .. } = &msgs[0] else {
            panic!("peer first: {msgs:?}");
        };
        assert!(
            peer_metadata
                .as_ref()
                .is_some_and(|m| m.gridvisit.is_some())
        );
        assert_eq!(
            fx.queries,
            vec![(
                C,
                FeedQuery::Since {
                    holding: worker_holding(),
                    cursor: Some(cursor(5)),
                }
            )]
        );
        assert!(fx.events.iter().any(|e| matches!(
            e,
            Event::PeerReady {
                extension: true,
                ..
            }
        )));
    }

    #[test]
    fn polls_and_bucket_fetches_become_queries_and_answers_become_listings() {
        let (mut hub, _) = server(Some(cursor(1)));
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: Message::GvPoll { cursor: cursor(3) }.encode(),
            },
        );
        assert!(
            matches!(&fx.queries[..], [(C, FeedQuery::Since { cursor: Some(c), .. })] if c.seq == 3)
        );
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: Message::GvFetchBuckets {
                    buckets: vec![2, 9],
                }
                .encode(),
            },
        );
        assert_eq!(
            fx.queries,
            vec![(
                C,
                FeedQuery::Buckets {
                    holding: worker_holding(),
                    buckets: vec![2, 9]
                }
            )]
        );
        let fx = hub.handle(
            NOW,
            Input::Answer {
                conn: C,
                answer: FeedAnswer::Changes {
                    docs: vec![],
                    cursor: cursor(4),
                },
            },
        );
        assert_eq!(kinds(&fx), vec![Kind::GvChanges]);
    }

    #[test]
    fn an_unknown_document_is_loaded_and_a_missing_or_out_of_scope_one_is_unavailable() {
        let (mut hub, _) = server(None);
        let id = DocumentId::from_bytes([1; 16]);
        let empty = Message::Request {
            target_id: peer("server"),
            document_id: id,
            data: {
                use automerge::sync::SyncDoc;
                Automerge::new()
                    .generate_sync_message(&mut automerge::sync::State::new())
                    .expect("an empty document says it has nothing")
            }
            .encode(),
            sender_id: peer("phone"),
        };
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: empty.encode(),
            },
        );
        assert_eq!(fx.load, vec![id], "a server asks storage first");
        let fx = hub.handle(
            NOW,
            Input::Loaded {
                doc: id,
                bytes: None,
            },
        );
        assert_eq!(kinds(&fx), vec![Kind::DocUnavailable]);
        // A document of another grid that storage does hold looks exactly the same.
        let other = household_doc("s02/c01/g01");
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: empty.encode(),
            },
        );
        assert_eq!(fx.load, vec![id]);
        let fx = hub.handle(
            NOW,
            Input::Loaded {
                doc: id,
                bytes: Some(other.save()),
            },
        );
        assert_eq!(kinds(&fx), vec![Kind::DocUnavailable]);
    }

    #[test]
    fn a_change_outside_the_scope_is_refused_quarantined_and_named_to_an_extension_peer() {
        let (mut hub, _) = server(Some(cursor(0)));
        let id = DocumentId::from_bytes([2; 16]);
        let doc = household_doc("s02/c01/g01");
        hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: sync_frame(&doc, id, true),
            },
        );
        let fx = hub.handle(
            NOW,
            Input::Loaded {
                doc: id,
                bytes: None,
            },
        );
        assert!(fx.persist.is_empty());
        assert_eq!(fx.quarantine.len(), 1);
        assert!(
            fx.quarantine[0]
                .reason
                .to_string()
                .contains("outside the scope")
        );
        assert!(
            matches!(&sent(&fx)[..], [Message::Error { document_id: Some(d), .. }] if *d == id)
        );
        assert!(fx.close.is_empty(), "the connection stays open");
        // The same change in the worker's grid is taken, made durable and validated.
        let id = DocumentId::from_bytes([3; 16]);
        let doc = household_doc("s01/c01/g01");
        hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: sync_frame(&doc, id, true),
            },
        );
        let fx = hub.handle(
            NOW,
            Input::Loaded {
                doc: id,
                bytes: None,
            },
        );
        assert_eq!(fx.persist.len(), 1);
        assert!(fx.persist[0].record.is_some());
        assert_eq!(
            hub.doc(&id).map(Automerge::get_heads),
            Some(doc.get_heads())
        );
    }

    #[test]
    fn extension_messages_without_the_extension_end_the_connection() {
        let mut hub = Hub::new(config("server"), Box::new(ScopePolicy));
        let fx = serve(&mut hub, C, None);
        assert!(fx.queries.is_empty(), "a plain peer gets no listing");
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: Message::GvPoll { cursor: cursor(1) }.encode(),
            },
        );
        assert!(
            matches!(&sent(&fx)[..], [Message::Error { message, .. }] if message.contains("not negotiated"))
        );
        assert_eq!(fx.close, vec![C]);
    }
}

pub(super) mod client_side {
    use super::*;

    fn client(acked: &[(DocumentId, Vec<ChangeHash>)]) -> (Hub, Effects) {
        let mut hub = Hub::new(config("phone"), Box::new(TrustServer));
        hub.restore_client_state(Some(cursor(8)), acked.to_vec());
        let fx = hub.handle(
            NOW,
            Input::Connected {
                conn: C,
                direction: Direction::Outbound,
                principal: None,
            },
        );
        (hub, fx)
    }

    pub(in crate::sync::hub) fn peer_with_extension() -> Vec<u8> {
        Message::Peer {
            sender_id: peer("server"),
            peer_metadata: Some(PeerMetadata {
                storage_id: None,
                is_ephemeral: false,
                gridvisit: Some(ExtensionOffer {
                    version: 1,
                    cursor: None,
                }),
            }),
            selected_protocol_version: "1".into(),
            target_id: peer("phone"),
        }
        .encode()
    }

    #[test]
    fn join_offers_the_extension_with_the_saved_cursor() {
        let (_, fx) = client(&[]);
        let Message::Join { peer_metadata, .. } = &sent(&fx)[0] else {
            panic!("join first");
        };
        let offer = peer_metadata.as_ref().and_then(|m| m.gridvisit.clone());
        assert_eq!(offer.and_then(|o| o.cursor), Some(cursor(8)));
    }

    #[test]
    fn after_the_handshake_only_unacknowledged_documents_are_pushed() {
        let (synced, waiting) = (
            DocumentId::from_bytes([4; 16]),
            DocumentId::from_bytes([5; 16]),
        );
        let doc = household_doc("s01/c01/g01");
        let (mut hub, _) = client(&[(synced, doc.get_heads())]);
        hub.insert_saved(synced, &doc.save()).expect("insert");
        hub.insert_saved(waiting, &doc.save()).expect("insert");
        assert_eq!(hub.unsynced(), vec![waiting]);
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: peer_with_extension(),
            },
        );
        let pushed: Vec<DocumentId> = sent(&fx)
            .iter()
            .filter_map(|m| match m {
                Message::Sync { document_id, .. } | Message::Request { document_id, .. } => {
                    Some(*document_id)
                }
                _ => None,
            })
            .collect();
        assert_eq!(pushed, vec![waiting]);
    }

    #[test]
    fn a_listing_of_what_is_already_held_saves_the_cursor_at_once() {
        let id = DocumentId::from_bytes([6; 16]);
        let doc = household_doc("s01/c01/g01");
        let (mut hub, _) = client(&[(id, doc.get_heads())]);
        hub.insert_saved(id, &doc.save()).expect("insert");
        hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: peer_with_extension(),
            },
        );
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: Message::GvChanges {
                    docs: vec![DocDigest {
                        doc: id,
                        heads: heads_digest(&doc.get_heads()),
                    }],
                    cursor: cursor(12),
                }
                .encode(),
            },
        );
        assert!(
            fx.events
                .contains(&Event::CursorSaved { cursor: cursor(12) })
        );
        assert_eq!(hub.cursor(), Some(&cursor(12)));
        assert!(fx.send.is_empty(), "nothing to sync");
    }

    #[test]
    fn bucket_digests_that_differ_are_fetched_and_equal_ones_save_the_cursor() {
        let id = DocumentId::from_bytes([7; 16]);
        let doc = household_doc("s01/c01/g01");
        let (mut hub, _) = client(&[(id, doc.get_heads())]);
        hub.insert_saved(id, &doc.save()).expect("insert");
        hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: peer_with_extension(),
            },
        );
        let ours = bucket_digests([(&id, heads_digest(&doc.get_heads()))]);
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: Message::GvBuckets {
                    digests: vec![0; ours.len()],
                    cursor: cursor(20),
                }
                .encode(),
            },
        );
        assert!(
            matches!(&sent(&fx)[..], [Message::GvFetchBuckets { buckets }] if buckets.len() == 1)
        );
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: Message::GvBuckets {
                    digests: ours,
                    cursor: cursor(21),
                }
                .encode(),
            },
        );
        assert!(
            fx.events
                .contains(&Event::CursorSaved { cursor: cursor(21) })
        );
    }

    #[test]
    fn a_refused_document_stops_waiting_until_it_changes_again() {
        let id = DocumentId::from_bytes([8; 16]);
        let doc = household_doc("s01/c01/g01");
        let (mut hub, _) = client(&[]);
        hub.insert_saved(id, &doc.save()).expect("insert");
        hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: peer_with_extension(),
            },
        );
        assert_eq!(hub.unsynced(), vec![id]);
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: Message::Error {
                    sender_id: Some(peer("server")),
                    message: "change refused".into(),
                    target_id: None,
                    document_id: Some(id),
                }
                .encode(),
            },
        );
        assert!(
            fx.events
                .iter()
                .any(|e| matches!(e, Event::RemoteError { doc: Some(d), .. } if *d == id))
        );
        assert!(hub.unsynced().is_empty());
        hub.edit(NOW, "w1", id, |tx| {
            crate::model::household::edit::set_members(tx, 3)
        })
        .expect("edit");
        assert_eq!(hub.unsynced(), vec![id], "a new edit waits again");
    }

    #[test]
    fn a_scope_is_never_consulted_for_what_our_server_sends() {
        // A client hub's policy judges no one: changes from its server are applied as is.
        let id = DocumentId::from_bytes([9; 16]);
        let (mut hub, _) = client(&[]);
        hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: peer_with_extension(),
            },
        );
        let doc = household_doc("s09/c09/g09");
        let fx = hub.handle(
            NOW,
            Input::Frame {
                conn: C,
                bytes: sync_frame(&doc, id, false),
            },
        );
        assert_eq!(fx.persist.len(), 1);
        assert!(fx.quarantine.is_empty());
        let _ = Scope::City;
    }
}
