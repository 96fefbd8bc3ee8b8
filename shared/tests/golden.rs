//! Golden frames captured from the real JS packages (see `tests/js/gen-golden.mjs`) decode into
//! typed messages, and encoding those messages gives back the very same bytes.

use std::path::Path;

use shared::wire::{DEFAULT_MAX_FRAME, Message, WireError};

fn golden() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cbor"))
        .map(|p| {
            let name = p.file_stem().expect("stem").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read golden"))
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 10,
        "expected the golden frames, found {}",
        out.len()
    );
    out
}

#[test]
fn every_golden_frame_round_trips_byte_for_byte() {
    let mut identical = 0;
    for (name, bytes) in golden() {
        let msg =
            Message::decode(&bytes, DEFAULT_MAX_FRAME).unwrap_or_else(|e| panic!("{name}: {e}"));
        let again = msg.encode();
        assert_eq!(
            Message::decode(&again, DEFAULT_MAX_FRAME).as_ref(),
            Ok(&msg),
            "{name} does not survive a round trip"
        );
        assert_eq!(again, bytes, "{name} re-encodes to other bytes");
        identical += 1;
    }
    assert!(identical >= 10, "only {identical} frames were checked");
}

#[test]
fn golden_frames_have_the_expected_types_and_fields() {
    let frames = golden();
    let get = |n: &str| {
        let (_, b) = frames.iter().find(|(k, _)| k == n).expect(n);
        Message::decode(b, DEFAULT_MAX_FRAME).expect(n)
    };
    match get("join") {
        Message::Join {
            supported_protocol_versions,
            peer_metadata,
            ..
        } => {
            assert_eq!(supported_protocol_versions, vec!["1".to_string()]);
            assert!(peer_metadata.expect("metadata").gridvisit.is_none());
        }
        other => panic!("join decoded as {other:?}"),
    }
    assert!(
        matches!(get("peer"), Message::Peer { selected_protocol_version, .. } if selected_protocol_version == "1")
    );
    assert!(matches!(get("request"), Message::Request { data, .. } if !data.is_empty()));
    assert!(matches!(get("sync_from_server"), Message::Sync { .. }));
    assert!(matches!(
        get("doc_unavailable"),
        Message::DocUnavailable { .. }
    ));
    assert!(matches!(
        get("ephemeral"),
        Message::Ephemeral { count: 1, .. }
    ));
    assert!(matches!(get("error"), Message::Error { message, .. } if message.contains("protocol")));
    // The sync payloads are real automerge sync messages.
    for name in ["sync_from_server", "sync_from_client", "request"] {
        let (Message::Sync { data, .. } | Message::Request { data, .. }) = get(name) else {
            panic!("{name} is not a sync message");
        };
        automerge::sync::Message::decode(&data).expect("automerge sync message");
    }
}

#[test]
fn every_truncation_of_every_golden_frame_is_an_error() {
    for (name, bytes) in golden() {
        for cut in 0..bytes.len() {
            assert!(
                Message::decode(&bytes[..cut], DEFAULT_MAX_FRAME).is_err(),
                "{name} truncated to {cut} bytes decoded"
            );
        }
    }
}

#[test]
fn oversize_frames_are_refused_before_parsing() {
    let (_, bytes) = &golden()[0];
    assert_eq!(
        Message::decode(bytes, 4),
        Err(WireError::TooLarge {
            size: bytes.len(),
            limit: 4
        })
    );
}

mod garbage {
    use proptest::prelude::*;
    use shared::ids::PeerId;
    use shared::sync::{ConnId, Direction, Hub, HubConfig, Input, ScopePolicy};
    use shared::time::Millis;
    use shared::wire::{DEFAULT_MAX_FRAME, Message};

    fn frames() -> Vec<Vec<u8>> {
        super::golden().into_iter().map(|(_, b)| b).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Random bytes never panic the decoder.
        #[test]
        fn random_bytes_are_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Message::decode(&bytes, DEFAULT_MAX_FRAME);
        }

        /// Golden frames with bytes flipped either decode or fail cleanly, and a server hub fed
        /// them answers with an error and closes, or carries on; it never panics.
        #[test]
        fn mutated_frames_never_panic_the_hub(which in any::<usize>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
            let all = frames();
            let mut frame = all[which % all.len()].clone();
            for (at, x) in flips {
                let n = frame.len();
                frame[at % n] ^= x;
            }
            let _ = Message::decode(&frame, DEFAULT_MAX_FRAME);
            let mut hub = Hub::new(
                HubConfig::new(PeerId::new("server").expect("id"), None, automerge::ActorId::from(&[9u8; 16][..])),
                Box::new(ScopePolicy),
            );
            let conn = ConnId(1);
            hub.handle(Millis(0), Input::Connected { conn, direction: Direction::Inbound, principal: None });
            let join = all.iter().find(|f| matches!(Message::decode(f, DEFAULT_MAX_FRAME), Ok(Message::Join { .. }))).expect("join").clone();
            hub.handle(Millis(0), Input::Frame { conn, bytes: join });
            let fx = hub.handle(Millis(0), Input::Frame { conn, bytes: frame.clone() });
            if Message::decode(&frame, DEFAULT_MAX_FRAME).is_err() {
                prop_assert!(fx.close.contains(&conn), "a malformed frame closes the connection");
                let reply = Message::decode(&fx.send[0].1, DEFAULT_MAX_FRAME);
                prop_assert!(matches!(reply, Ok(Message::Error { .. })), "{:?}", reply);
            }
        }
    }
}
