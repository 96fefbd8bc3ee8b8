//! Scenario tests over the in-memory network, written as the steps people take.

mod common;

use common::*;
use shared::model::household::edit;
use shared::model::issue::append_event;
use shared::model::{EventKind, Household, Issue, Level, Outcome, Record, Status, Visit};
use shared::sim::Network;
use shared::sync::Event;
use shared::time::Millis;

fn read_household(net: &Network, p: usize, id: shared::ids::DocumentId) -> Household {
    Household::read(net.peer(p).hub.doc(&id).expect("held")).expect("valid household")
}

#[test]
fn two_workers_edit_the_same_household_offline_and_both_edits_survive() {
    // 1. Li Wei and Wang Fang work grid g01; Li Wei registers a household and both sync.
    let (mut net, server, clients, links) = city(1, 2);
    let (li, wang) = (clients[0], clients[1]);
    let h = new_id(&mut net.rng);
    net.create(li, h, |tx| household("s01/c01/g01", "501").write(tx))
        .expect("create household");
    net.run_until_quiescent(10_000).expect("settles");
    assert!(
        net.peer(wang).hub.doc(&h).is_some(),
        "Wang Fang received it live"
    );

    // 2. Both walk into the basement: no network.
    net.disconnect(links[0]);
    net.disconnect(links[1]);

    // 3. Li Wei corrects the phone number and the room; Wang Fang updates the member count,
    //    adds a note and writes another room number.
    net.edit(li, h, |tx| {
        edit::set_contact(tx, "13900001111")?;
        edit::set_address(tx, "room", "502")
    })
    .expect("li edits");
    net.edit(wang, h, |tx| {
        edit::set_members(tx, 3)?;
        edit::set_notes(tx, "独居老人，女儿每周来")?;
        edit::set_address(tx, "room", "503")
    })
    .expect("wang edits");

    // 4. Both come back online.
    net.connect(li, server, Some(worker("w0", "s01/c01/g01")));
    net.connect(wang, server, Some(worker("w1", "s01/c01/g01")));
    net.run_until_quiescent(10_000).expect("settles");

    // 5. Everyone holds both edits; the room shows as a conflict with both values.
    let heads = net
        .peer(server)
        .hub
        .doc(&h)
        .expect("server holds it")
        .get_heads();
    for p in [server, li, wang] {
        let doc = net.peer(p).hub.doc(&h).expect("held");
        assert_eq!(doc.get_heads(), heads, "{} converged", net.peer(p).name);
        let hh = read_household(&net, p, h);
        assert_eq!(hh.contact.value, "13900001111");
        assert_eq!(hh.members.value, 3);
        assert_eq!(hh.notes, "独居老人，女儿每周来");
        assert!(hh.address.room.is_conflicted());
        let mut rooms: Vec<_> = hh
            .address
            .room
            .conflicts
            .iter()
            .map(|c| c.value.clone())
            .collect();
        rooms.sort();
        assert_eq!(rooms, vec!["502", "503"]);
    }

    // 6. A third client, a community supervisor, holds no household of its area (decision
    //    10) until it opens one: then it fetches the merged record on demand.
    let sup = net.add_peer("supervisor", "sec-c01", true, client_policy);
    net.connect(sup, server, Some(secretary("sec-c01")));
    net.run_until_quiescent(10_000).expect("settles");
    assert!(net.peer(sup).hub.doc(&h).is_none(), "not replicated");
    net.sync_now(sup, h);
    net.run_until_quiescent(10_000).expect("settles");
    assert_eq!(
        net.peer(sup).hub.doc(&h).expect("fetched").get_heads(),
        heads
    );

    // 7. The server made every change durable: a restart from its store has the same record.
    net.restart(server).expect("restart");
    assert_eq!(
        net.peer(server).hub.doc(&h).expect("reloaded").get_heads(),
        heads
    );
}

#[test]
fn a_grid_escalates_while_another_worker_closes_offline() {
    // 1. A worker reports an issue; a second worker of the grid has it too, and the community
    //    secretary opens it (a grid-level issue is not in the secretary's queue).
    let (mut net, server, clients, links) = city(2, 2);
    let (w0, w1) = (clients[0], clients[1]);
    let sup = net.add_peer("secretary", "sec", true, client_policy);
    net.connect(sup, server, Some(secretary("sec")));
    let i = new_id(&mut net.rng);
    let t0 = net.now;
    net.create(w0, i, |tx| issue("s01/c01/g01", None, t0, "w0").write(tx))
        .expect("report");
    net.run_until_quiescent(10_000).expect("settles");
    assert!(net.peer(sup).hub.doc(&i).is_none(), "not in the queue");
    net.sync_now(sup, i);
    net.run_until_quiescent(10_000).expect("settles");
    assert!(net.peer(sup).hub.doc(&i).is_some());

    // 2. Both workers lose the network.
    net.disconnect(links[0]);
    net.disconnect(links[1]);

    // 3. w0 escalates it to the community (one level up) at t0+2m; w1, who fixed the door,
    //    asks the resident (回访: satisfied) and closes it at t0+1m.
    net.edit(w0, i, |tx| {
        append_event(
            tx,
            &shared::model::IssueEvent {
                level: Some(Level::Community),
                ..event("esc", EventKind::Escalate, t0.plus(2 * 60_000), "w0")
            },
        )
    })
    .expect("escalate");
    net.edit(w1, i, |tx| {
        append_event(
            tx,
            &shared::model::IssueEvent {
                satisfied: Some(true),
                ..event("follow", EventKind::FollowUp, t0.plus(50_000), "w1")
            },
        )?;
        append_event(tx, &event("close", EventKind::Close, t0.plus(60_000), "w1"))
    })
    .expect("close");

    // 4. Both reconnect in the opposite order.
    net.connect(w1, server, Some(worker("w1", "s01/c01/g01")));
    net.connect(w0, server, Some(worker("w0", "s01/c01/g01")));
    net.run_until_quiescent(10_000).expect("settles");

    // 5. Every replica derives the same state: closed at the grid first, the later escalation
    //    met a closed issue and is kept in the timeline but ignored.
    let states: Vec<Issue> = [server, w0, w1, sup]
        .iter()
        .map(|&p| Issue::read(net.peer(p).hub.doc(&i).expect("held")).expect("valid issue"))
        .collect();
    for s in &states {
        assert_eq!(s.state, states[0].state);
        assert_eq!(
            s.events.len(),
            4,
            "report, follow-up, close and escalate are all kept"
        );
    }
    assert_eq!(states[0].state.status, Status::Closed);
    assert_eq!(states[0].state.closed_level, Some(Level::Grid));
    assert_eq!(states[0].state.ignored, vec!["esc".to_string()]);
    assert!(
        net.peer(server).quarantine.is_empty(),
        "both were allowed when written"
    );
}

#[test]
fn two_concurrent_events_cannot_add_up_to_what_neither_writer_may_do() {
    // 1. A worker reports an issue; a second worker of the grid has it.
    let (mut net, server, clients, links) = city(6, 2);
    let (w0, w1) = (clients[0], clients[1]);
    let i = new_id(&mut net.rng);
    let t0 = net.now;
    net.create(w0, i, |tx| issue("s01/c01/g01", None, t0, "w0").write(tx))
        .expect("report");
    net.run_until_quiescent(10_000).expect("settles");
    net.disconnect(links[1]);

    // 2. w0 escalates it to the community at t0+1m; w1, offline, closes it at t0+2m: a close
    //    at grid level, allowed on what w1 saw.
    net.edit(w0, i, |tx| {
        append_event(
            tx,
            &shared::model::IssueEvent {
                level: Some(Level::Community),
                ..event("esc", EventKind::Escalate, t0.plus(60_000), "w0")
            },
        )
    })
    .expect("escalate");
    net.run_until_quiescent(10_000).expect("settles");
    net.edit(w1, i, |tx| {
        append_event(
            tx,
            &event("close", EventKind::Close, t0.plus(2 * 60_000), "w1"),
        )
    })
    .expect("close");
    net.connect(w1, server, Some(worker("w1", "s01/c01/g01")));
    net.run_until_quiescent(10_000).expect("settles");

    // 3. Both events are kept (each was allowed where its writer stood), but the close lands
    //    on a community-level issue, which a worker may not close: every replica ignores it.
    //    The headline figure cannot be gamed: the issue is open at community level.
    for p in [server, w0, w1] {
        let s = Issue::read(net.peer(p).hub.doc(&i).expect("held")).expect("valid issue");
        assert_eq!(s.events.len(), 3);
        assert_eq!(s.state.status, Status::Reported);
        assert_eq!(s.state.level, Level::Community);
        assert_eq!(s.state.forbidden, vec!["close".to_string()]);
        assert_eq!(s.state.closed_level, None);
    }
    assert!(net.peer(server).quarantine.is_empty());
}

#[test]
fn a_worker_cannot_close_above_the_grid_backdate_or_postdate_an_event() {
    // 1. A worker's issue, escalated to the community.
    let (mut net, server, clients, _) = city(7, 1);
    let w = clients[0];
    let i = new_id(&mut net.rng);
    let t0 = net.now;
    net.create(w, i, |tx| issue("s01/c01/g01", None, t0, "w0").write(tx))
        .expect("report");
    net.edit(w, i, |tx| {
        append_event(
            tx,
            &shared::model::IssueEvent {
                level: Some(Level::Community),
                ..event("esc", EventKind::Escalate, t0.plus(60_000), "w0")
            },
        )
    })
    .expect("escalate");
    net.run_until_quiescent(10_000).expect("settles");
    let refused = |net: &Network| net.peer(server).quarantine.len();

    // 2. It closes the community-level issue: refused.
    // Each attempt is a buggy or hostile client's own change on the server's copy.
    let attempt = |net: &mut Network, id: &str, at: Millis| {
        let held = net.peer(server).hub.doc(&i).expect("held").save();
        let mut raw = automerge::Automerge::load(&held).expect("load");
        raw.transact::<_, _, automerge::AutomergeError>(|tx| {
            append_event(tx, &event(id, EventKind::Close, at, "w0"))
        })
        .expect("raw edit");
        net.peer_mut(w)
            .hub
            .insert_saved(i, &raw.save())
            .expect("insert");
        net.sync_now(w, i);
        net.run_until_quiescent(10_000).expect("settles");
    };
    attempt(&mut net, "c1", t0.plus(2 * 60_000));
    assert_eq!(refused(&net), 1);
    assert!(
        net.peer(server).quarantine[0]
            .reason
            .to_string()
            .contains("may not close an issue at community level")
    );
    // 3. A close dated 1970, before the escalation it follows: refused.
    attempt(&mut net, "c2", Millis(0));
    assert_eq!(refused(&net), 2);
    assert!(
        net.peer(server).quarantine[1]
            .reason
            .to_string()
            .contains("before an event")
    );
    // 4. A close dated in the year 2100: refused.
    attempt(&mut net, "c3", Millis(4_102_444_800_000));
    assert_eq!(refused(&net), 3);
    assert!(
        net.peer(server).quarantine[2]
            .reason
            .to_string()
            .contains("clock plus 10 minutes")
    );
    // 5. The server's record is untouched.
    let s = Issue::read(net.peer(server).hub.doc(&i).expect("held")).expect("valid issue");
    assert_eq!(s.events.len(), 2);
    assert_eq!(s.state.level, Level::Community);
}

#[test]
fn a_worker_back_after_a_week_offline_with_200_visits_syncs_them_all() {
    // 1. A worker holds a household and is in sync; a supervisor watches.
    let (mut net, server, clients, links) = city(3, 1);
    let w = clients[0];
    let sup = net.add_peer("secretary", "sec", true, client_policy);
    net.connect(sup, server, Some(secretary("sec")));
    let h = new_id(&mut net.rng);
    net.create(w, h, |tx| household("s01/c01/g01", "101").write(tx))
        .expect("household");
    net.run_until_quiescent(10_000).expect("settles");

    // 2. A week without network: 200 visits recorded on the phone, which restarts mid-week.
    net.disconnect(links[0]);
    let mut visits = Vec::new();
    for day in 0..200i64 {
        let id = new_id(&mut net.rng);
        let at = net.now.plus(day * Millis::HOUR);
        net.create(w, id, |tx| {
            visit("s01/c01/g01", h, at, Outcome::Met).write(tx)
        })
        .expect("visit");
        visits.push(id);
    }
    net.restart(w).expect("phone restarts");
    assert_eq!(
        net.peer(w).hub.unsynced().len(),
        200,
        "200 visits wait to sync"
    );

    // 3. Back online.
    let link = net.connect(w, server, Some(worker("w0", "s01/c01/g01")));
    net.run_until_quiescent(100_000).expect("settles");

    // 4. The server holds every visit; the supervisor none (its figures come from the
    //    server); nothing is left waiting.
    for id in &visits {
        let doc = net.peer(server).hub.doc(id).expect("visit arrived");
        assert!(matches!(Record::read(doc), Ok(Record::Visit(_))));
        assert!(net.peer(sup).hub.doc(id).is_none(), "not replicated");
    }
    assert!(net.peer(w).hub.unsynced().is_empty());
    assert!(
        net.peer(w).cursor.is_some(),
        "a complete sync saved the cursor"
    );
    // Pushing 200 new records is one request each, not a listing of everything.
    let stats = net.stats(link);
    assert!(
        stats.frames_up < 2 * 200 + 10,
        "frames up: {}",
        stats.frames_up
    );
    let _ = Visit::read(net.peer(server).hub.doc(&visits[0]).expect("held")).expect("valid");
}

#[test]
fn out_of_scope_documents_are_unavailable_exactly_like_missing_ones() {
    // 1. A worker of g02 creates a household.
    let mut net = Network::new(4);
    let server = net.add_peer("server", "server", true, server_policy);
    let a = net.add_peer("a", "wa", true, client_policy);
    let b = net.add_peer("b", "wb", false, client_policy);
    net.connect(a, server, Some(worker("wa", "s01/c01/g02")));
    let h = new_id(&mut net.rng);
    net.create(a, h, |tx| household("s01/c01/g02", "1").write(tx))
        .expect("create");
    net.run_until_quiescent(10_000).expect("settles");

    // 2. A plain automerge-repo peer signed in for g01 asks for it by ID, and for an unknown ID.
    let missing = new_id(&mut net.rng);
    let link = net.connect(b, server, Some(worker("wb", "s01/c01/g01")));
    net.run_until_quiescent(10_000).expect("settles");
    net.sync_now(b, h);
    net.sync_now(b, missing);
    net.run_until_quiescent(10_000).expect("settles");

    // 3. Both answers are doc-unavailable; b never sees the household; the plain peer never
    //    received an extension message.
    let unavailable: Vec<_> = net
        .peer(b)
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Unavailable { doc, .. } => Some(*doc),
            _ => None,
        })
        .collect();
    assert!(
        unavailable.contains(&h) && unavailable.contains(&missing),
        "{unavailable:?}"
    );
    assert!(net.peer(b).hub.doc(&h).is_none());
    assert!(net.is_up(link));
    assert!(net.peer(b).events.iter().any(|e| matches!(
        e,
        Event::PeerReady {
            extension: false,
            ..
        }
    )));
}

#[test]
fn invalid_and_out_of_scope_changes_are_refused_quarantined_and_reported() {
    // 1. A worker of g01 is connected.
    let mut net = Network::new(5);
    let server = net.add_peer("server", "server", true, server_policy);
    let w = net.add_peer("w", "w", true, client_policy);
    let link = net.connect(w, server, Some(worker("w", "s01/c01/g01")));
    net.run_until_quiescent(10_000).expect("settles");

    // 2. It creates a household in another grid (its hub checks the record, not the scope).
    let h = new_id(&mut net.rng);
    net.create(w, h, |tx| household("s02/c01/g01", "9").write(tx))
        .expect("locally valid");
    net.run_until_quiescent(10_000).expect("settles");

    // 3. The server refused it, kept it aside and told the worker why; the link stays up.
    assert!(net.peer(server).hub.doc(&h).is_none());
    assert_eq!(net.peer(server).quarantine.len(), 1);
    assert!(
        net.peer(server).quarantine[0]
            .reason
            .to_string()
            .contains("outside the scope")
    );
    assert!(net.peer(w).events.iter().any(|e| matches!(e,
        Event::RemoteError { message, doc: Some(d), .. } if *d == h && message.contains("refused"))));
    assert!(net.is_up(link));

    // 4. A member count out of range is a value rule, not a structural one: two valid edits
    //    cannot break the structure, but a buggy client can write -5. The server takes it
    //    (refusing would strand the record's later edits) and the record needs correcting.
    let ok = new_id(&mut net.rng);
    net.create(w, ok, |tx| household("s01/c01/g01", "1").write(tx))
        .expect("valid");
    net.run_until_quiescent(10_000).expect("settles");
    net.edit(w, ok, |tx| edit::set_members(tx, -5))
        .expect("structurally fine");
    net.run_until_quiescent(10_000).expect("settles");
    assert_eq!(read_household(&net, server, ok).members.value, -5);
    assert_eq!(net.peer(server).quarantine.len(), 1, "not refused");
    let record = Record::read(net.peer(server).hub.doc(&ok).expect("held")).expect("read");
    let problems = shared::model::problems(&record);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field, "members");

    // 5. A change that breaks the structure (a member count that is text) is refused, and the
    //    server keeps its own copy intact.
    let mut raw =
        automerge::Automerge::load(&net.peer(w).hub.doc(&ok).expect("held").save()).expect("load");
    raw.transact::<_, _, automerge::AutomergeError>(|tx| {
        automerge::transaction::Transactable::put(tx, automerge::ROOT, "members", "many")
    })
    .expect("raw edit");
    net.peer_mut(w)
        .hub
        .insert_saved(ok, &raw.save())
        .expect("insert");
    net.sync_now(w, ok);
    net.run_until_quiescent(10_000).expect("settles");
    assert_eq!(read_household(&net, server, ok).members.value, -5);
    assert_eq!(net.peer(server).quarantine.len(), 2);
    assert!(
        net.peer(server).quarantine[1]
            .reason
            .to_string()
            .contains("members")
    );
}

#[test]
fn a_worker_holding_3000_records_reconnects_in_under_2kb_when_nothing_changed() {
    // 1. A worker holds 3,000 records in sync, goes offline and comes back; nothing changed.
    let stats = shared::sim::reconnect_cost(3000, 0, true, 11).expect("converges");
    // 2. Both directions together stay under 2 KB, in one round trip.
    assert!(stats.bytes() <= 2048, "{stats:?}");
    assert_eq!(stats.round_trips(), 1, "{stats:?}");
    // 3. With 50 records changed elsewhere the cost follows the 50, not the 3,000.
    let changed = shared::sim::reconnect_cost(3000, 50, true, 11).expect("converges");
    assert!(changed.bytes() < 50 * 1200, "{changed:?}");
}

#[test]
fn a_new_phone_gets_its_grid_in_bulk_then_syncs_live_like_any_other() {
    // 1. Li Wei's grid holds 60 households, each edited once.
    let (mut net, server, clients, _) = city(21, 1);
    let li = clients[0];
    let mut ids = Vec::new();
    for i in 0..60 {
        let h = new_id(&mut net.rng);
        net.create(li, h, |tx| {
            household("s01/c01/g01", &format!("{i}")).write(tx)
        })
        .expect("create");
        net.edit(li, h, |tx| edit::set_members(tx, 2))
            .expect("edit");
        ids.push(h);
    }
    net.run_until_quiescent(100_000).expect("settles");

    // 2. Wang Fang signs in on a new phone: it asks once, sends no per-document request,
    //    hears how far it is, and ends in sync with a cursor.
    let wang = net.add_peer("new-phone", "w9", true, client_policy);
    let link = net.connect(wang, server, Some(worker("w9", "s01/c01/g01")));
    net.run_until_quiescent(100_000).expect("settles");
    let stats = net.stats(link);
    assert_eq!(stats.frames_up, 2, "join and gv-fetch-docs only: {stats:?}");
    assert!(stats.frames_down <= 5, "{stats:?}");
    let saved: usize = (ids.iter())
        .map(|id| net.peer(server).store.load(id).expect("stored").len())
        .sum();
    assert!(
        stats.bytes() as f64 <= 1.2 * saved as f64,
        "{stats:?} for {saved} B saved"
    );
    for id in &ids {
        assert_eq!(
            net.peer(wang).hub.doc(id).map(|d| d.get_heads()),
            net.peer(server)
                .hub
                .doc(id)
                .map(|d| d.get_heads())
                .or_else(|| { net.peer(li).hub.doc(id).map(|d| d.get_heads()) }),
            "{id}"
        );
        assert!(net.peer(wang).hub.is_acked(id));
        assert!(net.peer(wang).store.load(id).is_some(), "made durable");
    }
    let events = &net.peer(wang).events;
    assert!(events.contains(&Event::Received {
        received: 60,
        total: 60
    }));
    assert!(net.peer(wang).cursor.is_some(), "a complete sync");

    // 3. Li Wei edits a household: it reaches the new phone live; Wang Fang's own edit
    //    reaches Li Wei.
    net.edit(li, ids[0], |tx| edit::set_members(tx, 7))
        .expect("edit");
    net.edit(wang, ids[1], |tx| edit::set_members(tx, 8))
        .expect("edit");
    net.run_until_quiescent(100_000).expect("settles");
    assert_eq!(read_household(&net, wang, ids[0]).members.value, 7);
    assert_eq!(read_household(&net, li, ids[1]).members.value, 8);

    // 4. The next connect is an ordinary reconnect from the cursor: nothing comes in bulk.
    net.disconnect(link);
    let before = net.peer(wang).events.len();
    let link = net.connect(wang, server, Some(worker("w9", "s01/c01/g01")));
    net.run_until_quiescent(100_000).expect("settles");
    assert!(net.stats(link).bytes() < 2048, "{:?}", net.stats(link));
    assert!(
        !net.peer(wang).events[before..]
            .iter()
            .any(|e| matches!(e, Event::Received { .. }))
    );
}

#[test]
fn a_record_in_sync_everywhere_leaves_the_servers_memory_and_comes_back_for_the_next_edit() {
    // 1. A worker registers a household; once the server's acknowledgement is the last word,
    //    the server may let it go: memory follows what is being synced, not what ever was.
    let (mut net, server, clients, _) = city(3, 2);
    let h = new_id(&mut net.rng);
    net.create(clients[0], h, |tx| household("s01/c01/g01", "1").write(tx))
        .expect("create");
    net.run_until_quiescent(10_000).expect("settles");
    assert_eq!(net.evict(server), 1, "in sync with both phones");
    assert!(net.peer(server).hub.doc(&h).is_none());
    // 2. The next edit reloads it from storage and reaches the other phone.
    net.edit(clients[0], h, |tx| edit::set_members(tx, 7))
        .expect("edit");
    net.run_until_quiescent(10_000).expect("settles");
    assert_eq!(read_household(&net, clients[1], h).members.value, 7);
    assert_eq!(net.evict(server), 1);
}

#[test]
fn the_households_a_phone_keeps_editing_stay_loaded_while_the_rest_leave_memory() {
    // 1. A worker registers three households, all in sync with the server.
    let (mut net, server, clients, _) = city(3, 2);
    let ids: Vec<_> = (1..=3)
        .map(|n| {
            let h = new_id(&mut net.rng);
            net.create(clients[0], h, |tx| {
                household("s01/c01/g01", &n.to_string()).write(tx)
            })
            .expect("create");
            h
        })
        .collect();
    net.run_until_quiescent(10_000).expect("settles");
    // 2. It edits the first one again: the most recently synced.
    net.edit(clients[0], ids[0], |tx| edit::set_members(tx, 5))
        .expect("edit");
    net.run_until_quiescent(10_000).expect("settles");
    // 3. Down to one loaded document, the server lets the other two go and keeps that one.
    let hub = &mut net.peer_mut(server).hub;
    assert_eq!(hub.evict_idle(1), 2);
    assert!(
        hub.doc(&ids[0]).is_some(),
        "the household being edited stays"
    );
    assert!(hub.doc(&ids[1]).is_none() && hub.doc(&ids[2]).is_none());
    assert_eq!(hub.evict_idle(1), 0, "at the cache size nothing more goes");
}
