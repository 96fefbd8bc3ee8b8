//! What gridvisit encodes, the real automerge-repo JS packages decode: every message type we
//! send is written to a folder and checked by `tests/js/decode-check.mjs` with the packages'
//! own CBOR decoder and message type guards.

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use gridvisit_tests::{expectation, node};
use shared::ids::{DocumentId, PeerId, StorageId};
use shared::wire::{
    Cursor, ExtensionOffer, Message, PROTOCOL_VERSION, PeerMetadata, RemoteHeads, cbor,
};

fn peer(s: &str) -> PeerId {
    PeerId::new(s).expect("peer id")
}

#[test]
fn the_js_packages_decode_every_message_we_send() {
    let doc_id = DocumentId::from_bytes([42; 16]);
    let mut doc = automerge::AutoCommit::new();
    doc.put(automerge::ROOT, "title", "门牌 3-2-501")
        .expect("put");
    let mut state = automerge::sync::State::new();
    let data = doc
        .sync()
        .generate_sync_message(&mut state)
        .expect("a first sync message")
        .encode();
    let (server, client) = (peer("gridvisit-server"), peer("gridvisit-tab"));
    let messages = [
        (
            "join_with_extension_offer",
            Message::Join {
                sender_id: client.clone(),
                peer_metadata: Some(PeerMetadata {
                    storage_id: Some(StorageId::new("idb-1").expect("id")),
                    is_ephemeral: false,
                    gridvisit: Some(ExtensionOffer {
                        version: 1,
                        cursor: Some(Cursor {
                            epoch: "e1".into(),
                            seq: 7,
                        }),
                    }),
                }),
                supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
            },
        ),
        (
            "peer",
            Message::Peer {
                sender_id: server.clone(),
                peer_metadata: Some(PeerMetadata::default()),
                selected_protocol_version: PROTOCOL_VERSION.into(),
                target_id: client.clone(),
            },
        ),
        (
            "request",
            Message::Request {
                target_id: server.clone(),
                document_id: doc_id,
                data: data.clone(),
                sender_id: client.clone(),
            },
        ),
        (
            "sync",
            Message::Sync {
                target_id: client.clone(),
                document_id: doc_id,
                data,
                sender_id: server.clone(),
            },
        ),
        (
            "doc_unavailable",
            Message::DocUnavailable {
                document_id: doc_id,
                target_id: client.clone(),
                sender_id: server.clone(),
            },
        ),
        (
            "ephemeral",
            Message::Ephemeral {
                target_id: client.clone(),
                document_id: doc_id,
                data: vec![0xa0],
                count: 3,
                session_id: "s".into(),
                sender_id: server.clone(),
            },
        ),
        (
            "error",
            Message::Error {
                sender_id: Some(server.clone()),
                message: "change to x refused: invalid record".into(),
                target_id: Some(client.clone()),
                document_id: None,
            },
        ),
        (
            "remote_heads_changed",
            Message::RemoteHeadsChanged {
                target_id: client.clone(),
                document_id: doc_id,
                new_heads: vec![RemoteHeads {
                    storage_id: StorageId::new("s1").expect("id"),
                    heads: vec!["abc".into()],
                    timestamp: 1_700_000_000_000,
                }],
                sender_id: server,
            },
        ),
    ];
    let dir = std::env::temp_dir().join(format!("gridvisit-js-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, msg) in &messages {
        let bytes = msg.encode();
        let item = cbor::decode(&bytes).expect("our own frame decodes");
        std::fs::write(dir.join(format!("{name}.cbor")), &bytes).expect("write frame");
        std::fs::write(
            dir.join(format!("{name}.expect.json")),
            serde_json::to_string_pretty(&expectation(&item)).expect("json"),
        )
        .expect("write expectation");
    }
    let (ok, out) = node("decode-check.mjs", &[dir.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "decode-check failed:\n{out}");
    assert!(
        out.contains(&format!("{} passed, 0 failed", messages.len())),
        "{out}"
    );
}

#[test]
fn the_golden_frames_still_match_what_the_js_packages_decode() {
    let golden = gridvisit_tests::repo_root().join("shared/tests/golden");
    let (ok, out) = node("decode-check.mjs", &[golden.to_str().expect("utf-8 path")]);
    assert!(ok, "{out}");
}
