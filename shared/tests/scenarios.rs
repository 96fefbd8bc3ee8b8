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

    // 6. A third client, a community supervisor, fetches the merged record.
    let sup = net.add_peer("supervisor", "sec-c01", true, client_policy);
    net.connect(sup, server, Some(secretary("sec-c01")));
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
fn a_supervisor_escalates_while_the_worker_closes_offline() {
    // 1. A worker reports an issue; the community secretary has it too.
    let (mut net, server, clients, links) = city(2, 1);
    let w = clients[0];
    let sup = net.add_peer("secretary", "sec", true, client_policy);
    let sup_link = net.connect(sup, server, Some(secretary("sec")));
    let i = new_id(&mut net.rng);
    let t0 = net.now;
    net.create(w, i, |tx| issue("s01/c01/g01", None, t0, "w0").write(tx))
        .expect("report");
    net.run_until_quiescent(10_000).expect("settles");
    assert!(net.peer(sup).hub.doc(&i).is_some());

    // 2. Both lose the network.
    net.disconnect(links[0]);
    net.disconnect(sup_link);

    // 3. The secretary escalates it to the street at t0+2h; the worker, who fixed the door,
    //    closes it at t0+1h.
    net.edit(sup, i, |tx| {
        append_event(
            tx,
            &shared::model::IssueEvent {
                level: Some(Level::Street),
                ..event("esc", EventKind::Escalate, t0.plus(2 * Millis::HOUR), "sec")
            },
        )
    })
    .expect("escalate");
    net.edit(w, i, |tx| {
        append_event(
            tx,
            &event("close", EventKind::Close, t0.plus(Millis::HOUR), "w0"),
        )
    })
    .expect("close");

    // 4. Both reconnect in the opposite order.
    net.connect(sup, server, Some(secretary("sec")));
    net.connect(w, server, Some(worker("w0", "s01/c01/g01")));
    net.run_until_quiescent(10_000).expect("settles");

    // 5. Every replica derives the same state: closed at the grid first, the later escalation
    //    met a closed issue and is kept in the timeline but ignored.
    let states: Vec<Issue> = [server, w, sup]
        .iter()
        .map(|&p| Issue::read(net.peer(p).hub.doc(&i).expect("held")).expect("valid issue"))
        .collect();
    for s in &states {
        assert_eq!(s.state, states[0].state);
        assert_eq!(s.events.len(), 3, "report, close and escalate are all kept");
    }
    assert_eq!(states[0].state.status, Status::Closed);
    assert_eq!(states[0].state.closed_level, Some(Level::Grid));
    assert_eq!(states[0].state.ignored, vec!["esc".to_string()]);
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

    // 4. The server and the supervisor hold every visit; nothing is left waiting.
    for id in &visits {
        for p in [server, sup] {
            let doc = net.peer(p).hub.doc(id).expect("visit arrived");
            assert!(matches!(Record::read(doc), Ok(Record::Visit(_))));
        }
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

    // 4. The app's own check refuses an invalid edit before it is saved.
    let ok = new_id(&mut net.rng);
    net.create(w, ok, |tx| household("s01/c01/g01", "1").write(tx))
        .expect("valid");
    net.run_until_quiescent(10_000).expect("settles");
    net.edit(w, ok, |tx| edit::set_members(tx, -5))
        .expect_err("refused locally");
    assert_eq!(
        read_household(&net, w, ok).members.value,
        2,
        "rolled back whole"
    );

    // 5. A buggy client that skips the check (its change is written outside the hub) is
    //    refused by the server, which keeps its own copy intact.
    let mut raw =
        automerge::Automerge::load(&net.peer(w).hub.doc(&ok).expect("held").save()).expect("load");
    raw.transact::<_, _, automerge::AutomergeError>(|tx| edit::set_members(tx, -5))
        .expect("raw edit");
    net.peer_mut(w)
        .hub
        .insert_saved(ok, &raw.save())
        .expect("insert");
    net.sync_now(w, ok);
    net.run_until_quiescent(10_000).expect("settles");
    assert_eq!(read_household(&net, server, ok).members.value, 2);
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
