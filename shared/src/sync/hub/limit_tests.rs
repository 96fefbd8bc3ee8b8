//! The limits a serving hub puts on one peer: operations per message, bytes waiting for
//! missing dependencies, unknown documents it stays subscribed to, and bucket fetches.

use automerge::Automerge;

use super::tests::{C, NOW, config, cursor, household_doc, kinds, peer, sent, serve, sync_frame};
use super::{Hub, HubConfig, HubLimits};
use crate::ids::DocumentId;
use crate::sync::effects::{ConnId, Effects, Input};
use crate::sync::policy::ScopePolicy;
use crate::wire::{Kind, Message};

fn limited(limits: HubLimits) -> Hub {
    let cfg = HubConfig {
        limits,
        ..config("server")
    };
    let mut hub = Hub::new(cfg, Box::new(ScopePolicy));
    for conn in [C, ConnId(8)] {
        serve(&mut hub, conn, None);
    }
    hub
}

fn frame(hub: &mut Hub, conn: ConnId, bytes: Vec<u8>) -> Effects {
    hub.handle(NOW, Input::Frame { conn, bytes })
}

/// Sends a frame about a document storage does not hold yet, and answers its load.
fn fresh(hub: &mut Hub, conn: ConnId, id: DocumentId, bytes: Vec<u8>) -> Effects {
    let fx = frame(hub, conn, bytes);
    assert_eq!(fx.load, vec![id]);
    hub.handle(
        NOW,
        Input::Loaded {
            doc: id,
            bytes: None,
        },
    )
}

/// A `sync` frame about `id` carrying `chunks` as its changes (heads that the server lacks,
/// so it applies them).
fn sync_with_chunks(id: DocumentId, chunks: Vec<Vec<u8>>) -> Vec<u8> {
    let data = automerge::sync::Message {
        heads: vec![automerge::ChangeHash([7; 32])],
        need: vec![],
        have: vec![],
        changes: chunks.into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode();
    Message::Sync {
        target_id: peer("server"),
        document_id: id,
        data,
        sender_id: peer("phone"),
    }
    .encode()
}

fn errors(fx: &Effects) -> Vec<String> {
    sent(fx)
        .into_iter()
        .filter_map(|m| match m {
            Message::Error { message, .. } => Some(message),
            _ => None,
        })
        .collect()
}

#[test]
fn a_message_that_adds_too_many_operations_is_refused_and_quarantined() {
    let mut hub = limited(HubLimits {
        max_ops_per_message: 5,
        ..HubLimits::default()
    });
    let id = DocumentId::from_bytes([1; 16]);
    let doc = household_doc("s01/c01/g01");
    let fx = fresh(&mut hub, C, id, sync_frame(&doc, id, false));
    assert!(
        errors(&fx).iter().any(|e| e.contains("operations")),
        "{:?}",
        errors(&fx)
    );
    assert_eq!(fx.quarantine.len(), 1);
    assert!(fx.persist.is_empty());
    // Under the default limit the same record is taken.
    let mut hub = limited(HubLimits::default());
    let fx = fresh(&mut hub, C, id, sync_frame(&doc, id, false));
    assert_eq!(fx.persist.len(), 1);
}

#[test]
fn changes_waiting_for_missing_dependencies_are_bounded_per_document() {
    let mut hub = limited(HubLimits {
        max_orphan_bytes: 64,
        ..HubLimits::default()
    });
    let id = DocumentId::from_bytes([2; 16]);
    let mut doc = household_doc("s01/c01/g01");
    let base = doc.get_heads();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        automerge::transaction::Transactable::put(tx, automerge::ROOT, "notes", "x".repeat(200))
    })
    .expect("edit");
    // Only the second change: its dependency never comes.
    let orphan = automerge::sync::Message {
        heads: doc.get_heads(),
        need: vec![],
        have: vec![],
        changes: doc
            .get_changes(&base)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect::<Vec<_>>()
            .into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    };
    let bytes = Message::Sync {
        target_id: peer("server"),
        document_id: id,
        data: orphan.encode(),
        sender_id: peer("phone"),
    }
    .encode();
    let fx = fresh(&mut hub, C, id, bytes);
    assert!(
        errors(&fx)
            .iter()
            .any(|e| e.contains("missing dependencies")),
        "{:?}",
        errors(&fx)
    );
    assert_eq!(fx.close, vec![C]);
}

fn empty_request(id: DocumentId) -> Vec<u8> {
    use automerge::sync::SyncDoc;
    Message::Request {
        target_id: peer("server"),
        document_id: id,
        data: Automerge::new()
            .generate_sync_message(&mut automerge::sync::State::new())
            .expect("an empty document says it has nothing")
            .encode(),
        sender_id: peer("phone"),
    }
    .encode()
}

#[test]
fn past_its_share_of_unknown_documents_a_peer_is_answered_but_not_subscribed() {
    let mut hub = limited(HubLimits {
        max_unknown_docs: 2,
        ..HubLimits::default()
    });
    let ids: Vec<DocumentId> = (10..13).map(|n| DocumentId::from_bytes([n; 16])).collect();
    for id in &ids {
        let fx = fresh(&mut hub, C, *id, empty_request(*id));
        assert_eq!(kinds(&fx), vec![Kind::DocUnavailable]);
    }
    // Another phone creates the first and the third: C hears of the first only.
    let doc = household_doc("s01/c01/g01");
    let first = fresh(&mut hub, ConnId(8), ids[0], sync_frame(&doc, ids[0], false));
    assert!(first.send.iter().any(|(conn, _)| *conn == C));
    let third = fresh(&mut hub, ConnId(8), ids[2], sync_frame(&doc, ids[2], false));
    assert!(!third.send.iter().any(|(conn, _)| *conn == C));
}

#[test]
fn a_bucket_fetch_names_each_existing_bucket_at_most_once() {
    // A peer with the extension (only it may fetch buckets).
    let mut hub = Hub::new(config("server"), Box::new(ScopePolicy));
    serve(&mut hub, C, Some(cursor(1)));
    let fx = frame(
        &mut hub,
        C,
        Message::GvFetchBuckets {
            buckets: vec![3; 10_000],
        }
        .encode(),
    );
    assert_eq!(fx.queries.len(), 1, "duplicates collapse to one bucket");
    let fx = frame(
        &mut hub,
        C,
        Message::GvFetchBuckets { buckets: vec![64] }.encode(),
    );
    assert!(errors(&fx).iter().any(|e| e.contains("buckets")));
    assert_eq!(fx.close, vec![C]);
}

#[test]
fn a_compressed_change_that_would_inflate_past_the_limit_is_refused_before_it_is_loaded() {
    let mut hub = limited(HubLimits {
        max_inflated_bytes: 1024 * 1024,
        ..HubLimits::default()
    });
    let id = DocumentId::from_bytes([3; 16]);
    // A compressed-change chunk (type 2) of 64 MiB of zeros: about 64 KB on the wire.
    let bomb = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 64 * 1024 * 1024], 10);
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut n = bomb.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            chunk.push(b);
            break;
        }
        chunk.push(b | 0x80);
    }
    chunk.extend_from_slice(&bomb);
    let bytes = sync_with_chunks(id, vec![chunk]);
    let fx = fresh(&mut hub, C, id, bytes);
    assert!(
        errors(&fx).iter().any(|e| e.contains("inflate")),
        "{:?}",
        errors(&fx)
    );
    assert_eq!(fx.quarantine.len(), 1);
    assert!(fx.close.is_empty(), "a refused change keeps the connection");
}

#[test]
fn a_change_on_which_automerge_panics_is_refused_and_the_hub_goes_on() {
    // Found by the `record` fuzzer: automerge 0.12 unwraps an actor lookup on this change.
    let crash = include_bytes!("../../../../fuzz/regressions/record/automerge-load-panic-749aa0e1");
    let mut hub = limited(HubLimits::default());
    let id = DocumentId::from_bytes([4; 16]);
    let bytes = sync_with_chunks(id, vec![crash.to_vec()]);
    let fx = fresh(&mut hub, C, id, bytes);
    assert!(
        errors(&fx).iter().any(|e| e.contains("cannot apply")),
        "{:?}",
        errors(&fx)
    );
    assert!(fx.persist.is_empty());
    // The other phone's connection still works.
    let doc = household_doc("s01/c01/g01");
    let other = DocumentId::from_bytes([5; 16]);
    let fx = fresh(&mut hub, ConnId(8), other, sync_frame(&doc, other, false));
    assert_eq!(fx.persist.len(), 1);
}

#[test]
fn a_bundle_that_automerge_would_expand_into_gigabytes_is_refused_before_it_is_loaded() {
    // Found by the `record` fuzzer: 211 bytes that made automerge 0.12 allocate 2.3 GB.
    let bomb = include_bytes!("../../../../fuzz/regressions/record/automerge-load-oom-217893ca");
    let mut hub = limited(HubLimits::default());
    let id = DocumentId::from_bytes([6; 16]);
    let bytes = sync_with_chunks(id, vec![bomb.to_vec()]);
    let fx = fresh(&mut hub, C, id, bytes);
    assert!(
        errors(&fx).iter().any(|e| e.contains("bundle")),
        "{:?}",
        errors(&fx)
    );
    assert_eq!(fx.quarantine.len(), 1);
}
