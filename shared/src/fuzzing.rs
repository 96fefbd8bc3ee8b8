//! The bodies of the fuzz targets (`fuzz/`), here so the regression tests run every crasher the
//! fuzzer ever found with the same code (`shared/tests/fuzz_regressions.rs`). Each takes
//! arbitrary bytes and must not panic; the fold target also checks that the order events
//! arrive in does not change where an issue stands.

use automerge::{ActorId, Automerge};

use crate::ids::{PeerId, UserId};
use crate::model::lifecycle::{fold, sort_events};
use crate::model::{EventKind, IssueEvent, Level, Record, Role, checks};
use crate::sync::{ConnId, Direction, Hub, HubConfig, Input, Principal, ScopePolicy};
use crate::time::Millis;
use crate::wire::{DEFAULT_MAX_FRAME, Message, PeerMetadata};

/// The wire decoder: decode, and encode what decoded.
pub fn wire(data: &[u8]) {
    if let Ok(m) = Message::decode(data, DEFAULT_MAX_FRAME) {
        let again = Message::decode(&m.encode(), usize::MAX);
        assert!(again.is_ok(), "what we encode decodes: {m:?}");
    }
}

/// A serving hub under [`ScopePolicy`], signed in as a grid worker, fed frames cut from
/// `data` (each: two bytes of length, then the frame), after a valid `join`. Loads are
/// answered with nothing, as for a new document.
pub fn hub(data: &[u8]) {
    let config = HubConfig::new(
        PeerId::new("server").expect("peer"),
        None,
        ActorId::from(&[1u8; 16][..]),
    );
    let mut hub = Hub::new(config, Box::new(ScopePolicy));
    let conn = ConnId(1);
    let now = Millis(1_795_363_200_000);
    hub.handle(
        now,
        Input::Connected {
            conn,
            direction: Direction::Inbound,
            principal: Some(Principal {
                user: UserId::new("w1").expect("user"),
                role: Role::Worker,
                scope: "grids:s01/c01/g01".parse().expect("scope"),
            }),
        },
    );
    let join = Message::Join {
        sender_id: PeerId::new("phone").expect("peer"),
        peer_metadata: Some(PeerMetadata::default()),
        supported_protocol_versions: vec!["1".into()],
    };
    hub.handle(
        now,
        Input::Frame {
            conn,
            bytes: join.encode(),
        },
    );
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let frame = rest[2..2 + n].to_vec();
        rest = &rest[2 + n..];
        let fx = hub.handle(now, Input::Frame { conn, bytes: frame });
        for doc in fx.load {
            hub.handle(now, Input::Loaded { doc, bytes: None });
        }
    }
}

/// A record read from an arbitrary document, and its value rules.
pub fn record(data: &[u8]) {
    // automerge itself panics on some documents, and expands crafted bundles into gigabytes
    // (both kept in fuzz/regressions/record/): screened and loaded as the hub treats a peer's
    // bytes.
    if crate::sync::inflate::check(data, &mut (64 * 1024 * 1024)).is_err() {
        return;
    }
    if let Ok(Ok(doc)) = crate::sync::untrusted(|| Automerge::load(data))
        && let Ok(record) = Record::read(&doc)
    {
        let _ = checks::problems(&record);
    }
}

/// The issue fold over events made from `data` (six bytes each): it never panics, and the
/// order events arrive in does not change the result once they are sorted as every replica
/// sorts them.
pub fn issue_fold(data: &[u8]) {
    let mut events: Vec<IssueEvent> = data
        .chunks_exact(6)
        .enumerate()
        .map(|(i, c)| IssueEvent {
            id: format!("e{i}"),
            kind: EventKind::ALL[usize::from(c[0]) % EventKind::ALL.len()],
            at: Millis(i64::from(u16::from_le_bytes([c[1], c[2]])) * 60_000),
            actor: format!("u{}", c[3] % 4),
            role: (c[4] < 240).then(|| Role::ALL[usize::from(c[4]) % Role::ALL.len()]),
            note: String::new(),
            level: Some(Level::ALL[usize::from(c[5]) % Level::ALL.len()]),
            assignee: (c[5] & 0x80 != 0).then(|| "u1".to_owned()),
            limit: None,
            satisfied: None,
            score: None,
        })
        .collect();
    let mut reversed: Vec<IssueEvent> = events.iter().rev().cloned().collect();
    sort_events(&mut events);
    sort_events(&mut reversed);
    assert_eq!(
        fold(&events).ok(),
        fold(&reversed).ok(),
        "the arrival order changed the fold"
    );
}
