//! Tests of the redb store: compaction, the feed, tokens at rest.

use super::*;
use shared::ids::GridId;
use shared::model::{Level, RecordKind, RecordMeta, Role};
use shared::sync::{DEFAULT_WINDOW_DAYS, Holding};
use shared::time::{Calendar, Millis};
use shared::wire::Cursor;

fn household(grid: &GridId) -> Contribution {
    Contribution::Household {
        grid: grid.clone(),
        needs_correction: false,
    }
}

const NOW: Millis = Millis(1_780_000_000_000);

fn holding(role: Role, scope: Scope) -> Holding {
    Holding::new(role, scope, NOW, DEFAULT_WINDOW_DAYS, &Calendar::CHINA)
}

fn field(scope: Scope) -> Holding {
    holding(Role::Worker, scope)
}

#[test]
fn chunks_compact_and_the_feed_lists_only_newer_changes() {
    let dir = std::env::temp_dir().join(format!("gv-redb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = RedbStore::open(&dir).expect("open");
    let grid: GridId = "s01/c01/g01".parse().expect("grid");
    let mut doc = Automerge::new();
    let id = DocumentId::from_bytes([3; 16]);
    for i in 0..40i64 {
        let before = doc.get_heads();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            automerge::transaction::Transactable::put(tx, automerge::ROOT, "n", i)
        })
        .expect("edit");
        let w = ChunkWrite {
            doc: id,
            chunk: doc.save_after(&before),
            heads: shared::sync::heads_digest(&doc.get_heads()),
            meta: Some(RecordMeta {
                kind: RecordKind::Household,
                grid: grid.clone(),
            }),
            contribution: Some(household(&grid)),
            text: None,
            trend: None,
            photos: Vec::new(),
        };
        store.commit(&[w], &[], 0).expect("commit");
    }
    let row = store.row(&id).expect("row").expect("present");
    assert!(row.chunks <= COMPACT_AFTER, "compacted: {}", row.chunks);
    let loaded = Automerge::load(&store.load(&id).expect("load").expect("present")).expect("valid");
    assert_eq!(loaded.get_heads(), doc.get_heads());
    let cursor = Cursor {
        epoch: store.epoch().to_owned(),
        seq: 40,
    };
    let since = |c: &Cursor| {
        store
            .answer(&FeedQuery::Since {
                holding: field(Scope::City),
                cursor: Some(c.clone()),
            })
            .expect("answer")
    };
    assert!(matches!(since(&cursor), FeedAnswer::Changes { docs, .. } if docs.is_empty()));
    let earlier = Cursor {
        seq: 39,
        ..cursor.clone()
    };
    assert!(matches!(since(&earlier), FeedAnswer::Changes { docs, .. } if docs.len() == 1));
    let other = Cursor {
        epoch: "other".into(),
        seq: 1,
    };
    assert!(matches!(since(&other), FeedAnswer::Buckets { .. }));
    drop(store);
    let reopened = RedbStore::open(&dir).expect("reopen");
    assert_eq!(reopened.seq().expect("seq"), 40);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn area_feeds_list_exactly_the_documents_changed_after_the_cursor() {
    let dir = std::env::temp_dir().join(format!("gv-redb-area-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = RedbStore::open(&dir).expect("open");
    let grids: Vec<GridId> = ["s01/c01/g01", "s01/c01/g02", "s01/c02/g01", "s02/c01/g01"]
        .iter()
        .map(|g| g.parse().expect("grid"))
        .collect();
    // Twelve documents, three per grid, each changed at several times: (doc, seq) log.
    let mut docs: Vec<(DocumentId, Automerge)> = (0..12u8)
        .map(|i| (DocumentId::from_bytes([i + 1; 16]), Automerge::new()))
        .collect();
    let mut last_seq = std::collections::HashMap::new();
    for round in 0..30u64 {
        let i = ((round * 7 + 3) % 12) as usize;
        let (id, doc) = &mut docs[i];
        let before = doc.get_heads();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            automerge::transaction::Transactable::put(tx, automerge::ROOT, "n", round as i64)
        })
        .expect("edit");
        let w = ChunkWrite {
            doc: *id,
            chunk: doc.save_after(&before),
            heads: shared::sync::heads_digest(&doc.get_heads()),
            meta: Some(RecordMeta {
                kind: RecordKind::Household,
                grid: grids[i % 4].clone(),
            }),
            contribution: Some(household(&grids[i % 4])),
            text: None,
            trend: None,
            photos: Vec::new(),
        };
        store.commit(&[w], &[], 0).expect("commit");
        last_seq.insert(i, round + 1);
    }
    let scopes: Vec<Scope> = [
        "street:s01",
        "community:s01/c01",
        "grids:s01/c02/g01",
        "city",
    ]
    .iter()
    .map(|s| s.parse().expect("scope"))
    .collect();
    for scope in &scopes {
        for at in [0u64, 5, 17, 29, 30] {
            let answer = store
                .answer(&FeedQuery::Since {
                    holding: field(scope.clone()),
                    cursor: Some(Cursor {
                        epoch: store.epoch().to_owned(),
                        seq: at,
                    }),
                })
                .expect("answer");
            let FeedAnswer::Changes { docs: got, .. } = answer else {
                panic!("a listing for {scope} at {at}");
            };
            let mut got: Vec<DocumentId> = got.iter().map(|d| d.doc).collect();
            got.sort();
            let mut want: Vec<DocumentId> = last_seq
                .iter()
                .filter(|(i, seq)| **seq > at && scope.contains(&grids[**i % 4]))
                .map(|(i, _)| docs[*i].0)
                .collect();
            want.sort();
            assert_eq!(got, want, "{scope} since {at}");
        }
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes one change of an empty document with this contribution.
fn put(store: &RedbStore, id: DocumentId, grid: &GridId, c: Contribution) {
    let mut doc = Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        automerge::transaction::Transactable::put(tx, automerge::ROOT, "n", 1)
    })
    .expect("edit");
    let kind = match c {
        Contribution::Household { .. } => RecordKind::Household,
        Contribution::Visit { .. } => RecordKind::Visit,
        Contribution::Issue { .. } => RecordKind::Issue,
        Contribution::Review { .. } => RecordKind::Review,
    };
    let w = ChunkWrite {
        doc: id,
        chunk: doc.save(),
        heads: shared::sync::heads_digest(&doc.get_heads()),
        meta: Some(RecordMeta {
            kind,
            grid: grid.clone(),
        }),
        contribution: Some(c),
        text: None,
        trend: None,
        photos: Vec::new(),
    };
    store.commit(&[w], &[], 0).expect("commit");
}

fn issue(grid: &GridId, open: bool, level: Level, closed_at: Option<Millis>) -> Contribution {
    Contribution::Issue {
        grid: grid.clone(),
        level,
        open,
        deadline: None,
        closed_level: (!open).then_some(level),
        closed_at,
        needs_correction: false,
        satisfied: None,
        rating: None,
    }
}

fn listed(store: &RedbStore, holding: Holding, cursor: Option<u64>) -> Vec<DocumentId> {
    let query = match cursor {
        Some(seq) => FeedQuery::Since {
            holding,
            cursor: Some(Cursor {
                epoch: store.epoch().to_owned(),
                seq,
            }),
        },
        None => FeedQuery::Buckets {
            holding,
            buckets: (0..shared::sync::BUCKETS as u64).collect(),
        },
    };
    let FeedAnswer::Changes { docs, .. } = store.answer(&query).expect("answer") else {
        panic!("a listing");
    };
    let mut ids: Vec<DocumentId> = docs.iter().map(|d| d.doc).collect();
    ids.sort();
    ids
}

#[test]
fn each_device_is_listed_what_it_holds_and_a_queue_hears_of_an_issue_that_left_it() {
    let dir = std::env::temp_dir().join(format!("gv-redb-hold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = RedbStore::open(&dir).expect("open");
    let g: GridId = "s01/c01/g01".parse().expect("grid");
    let other: GridId = "s02/c01/g01".parse().expect("grid");
    let today = Calendar::CHINA.day(NOW);
    let id = |n: u8| DocumentId::from_bytes([n; 16]);
    let visit = |day: i64| Contribution::Visit {
        grid: g.clone(),
        household: id(1),
        week: 0,
        day,
        met: true,
        needs_correction: false,
    };
    put(&store, id(1), &g, household(&g));
    put(&store, id(2), &g, visit(today));
    put(&store, id(3), &g, visit(today - 100));
    put(&store, id(4), &g, issue(&g, true, Level::Grid, None));
    put(
        &store,
        id(5),
        &g,
        issue(&g, false, Level::Grid, Some(NOW.plus(-3 * Millis::DAY))),
    );
    put(
        &store,
        id(6),
        &g,
        issue(&g, false, Level::Grid, Some(NOW.plus(-90 * Millis::DAY))),
    );
    put(&store, id(7), &g, issue(&g, true, Level::Community, None));
    put(
        &store,
        id(8),
        &other,
        issue(&other, true, Level::Community, None),
    );
    let phone = field(Scope::Grids(vec![g.clone()]));
    assert_eq!(
        listed(&store, phone.clone(), None),
        vec![id(1), id(2), id(4), id(5), id(7)]
    );
    // A first sync in bulk: the same listing, with each listed document's saved bytes.
    let bulk = FeedQuery::Documents {
        holding: phone.clone(),
        buckets: (0..shared::sync::BUCKETS as u64).collect(),
    };
    let FeedAnswer::Documents { docs, saved, .. } = store.answer(&bulk).expect("answer") else {
        panic!("documents");
    };
    assert_eq!(docs.len(), 5);
    assert_eq!(
        saved.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        docs.iter().map(|d| d.doc).collect::<Vec<_>>()
    );
    for (doc, bytes) in &saved {
        assert_eq!(Some(bytes), store.load(doc).expect("load").as_ref());
    }
    let community = || {
        holding(
            Role::CommunitySupervisor,
            "community:s01/c01".parse().expect("scope"),
        )
    };
    let city = holding(Role::CitySupervisor, Scope::City);
    assert_eq!(listed(&store, community(), None), vec![id(7)]);
    assert_eq!(listed(&store, city.clone(), None), Vec::<DocumentId>::new());
    // The community escalates issue 7 to the street: the community's copy is stale, so it is
    // listed to the community after its cursor; the phone still holds it; the city does not.
    let seq = store.seq().expect("seq");
    put(&store, id(7), &g, issue(&g, true, Level::Street, None));
    assert_eq!(listed(&store, community(), Some(seq)), vec![id(7)]);
    assert_eq!(listed(&store, phone, Some(seq)), vec![id(7)]);
    assert_eq!(listed(&store, city, Some(seq)), Vec::<DocumentId>::new());
    // Its full listing is the queue alone again.
    assert_eq!(listed(&store, community(), None), Vec::<DocumentId>::new());
    let street = holding(Role::StreetSupervisor, Scope::Street("s01".into()));
    assert_eq!(listed(&store, street, None), vec![id(7)]);
    drop(store);
    // The index of open issues is rebuilt for a database written before it.
    let reopened = RedbStore::open(&dir).expect("reopen");
    {
        let tx = reopened.db.begin_write().expect("tx");
        tx.delete_table(OPEN).expect("drop index");
        tx.open_table(META)
            .expect("meta")
            .remove("open_index")
            .expect("marker");
        tx.commit().expect("commit");
    }
    drop(reopened);
    let rebuilt = RedbStore::open(&dir).expect("reopen");
    let street = holding(Role::StreetSupervisor, Scope::Street("s01".into()));
    assert_eq!(listed(&rebuilt, street, None), vec![id(7)]);
    drop(rebuilt);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tokens_stored_as_themselves_by_an_older_release_are_rehashed_on_open() {
    let dir = std::env::temp_dir().join(format!("gv-redb-tokens-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let row = TokenRow {
        user: "w1".into(),
        expires_at: 1,
        revoked: false,
    };
    {
        let store = RedbStore::open(&dir).expect("open");
        // What the previous release wrote: the token as the key, and no migration flag.
        let tx = store.db.begin_write().expect("tx");
        tx.open_table(TOKENS)
            .expect("tokens")
            .insert("raw-token", json(&row).expect("json").as_slice())
            .expect("insert");
        tx.open_table(META)
            .expect("meta")
            .remove("tokens")
            .expect("remove");
        tx.commit().expect("commit");
    }
    let store = RedbStore::open(&dir).expect("reopen");
    assert_eq!(store.token("raw-token").expect("read"), None);
    assert_eq!(
        store
            .token(&super::super::token_key("raw-token"))
            .expect("read"),
        Some(row)
    );
    // Opening again changes nothing.
    drop(store);
    let store = RedbStore::open(&dir).expect("reopen");
    assert!(
        store
            .token(&super::super::token_key("raw-token"))
            .expect("read")
            .is_some()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
