//! The generator writes what the rules accept, and the stored month figures it leaves equal a
//! count over its records, also after a rebuild.

use super::*;
use shared::model::Status;
use shared::trends::Month;

#[test]
fn a_generated_city_is_what_the_app_would_write_and_the_rules_accept() {
    let dir = std::env::temp_dir().join(format!("gv-generate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = crate::store::redb_store::RedbStore::open(&dir).expect("open");
    let now = Millis(1_796_200_200_000);
    let plan = Plan {
        grids: 3,
        households: 40,
        weeks: 4,
        now,
        seed: 7,
    };
    let made = generate(&store, &plan, |_| {}).expect("generates");
    assert_eq!(made.households, 120);
    assert!(made.visits > 120 * 3 && made.visits <= 120 * 4, "{made:?}");
    assert!(made.issues > 0 && made.open < made.issues, "{made:?}");
    let mut counted = Generated::default();
    let mut escalated = 0;
    store
        .for_each_row(&mut |id, row| {
            let doc =
                Automerge::load(&store.load(&id).expect("load").expect("stored")).expect("loads");
            let record = Record::read(&doc).expect("a valid record");
            assert_eq!(row.grid.as_deref(), Some(record.meta().grid.as_str()));
            match record {
                Record::Household(_) => counted.households += 1,
                Record::Visit(v) => {
                    assert!(v.started_at <= now);
                    counted.visits += 1;
                }
                Record::Issue(i) => {
                    assert!(i.state.forbidden.is_empty(), "{id}: {:?}", i.state);
                    assert!(i.state.ignored.is_empty(), "{id}: {:?}", i.state);
                    assert!(i.events.iter().all(|e| e.at <= now && e.role.is_some()));
                    counted.issues += 1;
                    counted.open += u64::from(i.state.status != Status::Closed);
                    escalated += u64::from(i.state.closed_level == Some(Level::Community));
                }
                Record::Review(r) => {
                    assert!(r.held_at <= now && r.grids.contains(&r.grid));
                    counted.reviews += 1;
                }
            }
        })
        .expect("rows");
    assert_eq!(counted, made);
    assert!(escalated > 0, "some issues were closed by the community");
    assert!(made.reviews > 0, "{made:?}");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Counts a month straight from the records: what the stored figures must equal.
fn brute_force(
    store: &dyn Storage,
    month: Month,
    today: i64,
) -> (i64, i64, i64, i64, i64, i64, i64) {
    let (first, last) = month.days();
    let end = last.min(today);
    let cal = Calendar::CHINA;
    // The instant the last counted day ends.
    let end_at = Millis((end + 1) * Millis::DAY - 8 * Millis::HOUR);
    let (mut visits, mut met, mut opened, mut closed, mut overdue) = (0, 0, 0, 0, 0);
    let mut households = std::collections::HashSet::new();
    let mut reviewed = std::collections::HashSet::new();
    store
        .for_each_row(&mut |id, _| {
            let doc =
                Automerge::load(&store.load(&id).expect("load").expect("stored")).expect("loads");
            match Record::read(&doc).expect("valid") {
                Record::Visit(v) => {
                    let d = cal.day(v.started_at);
                    if (first..=end).contains(&d) {
                        visits += 1;
                        met += i64::from(v.outcome.value == Outcome::Met);
                        households.insert(v.household);
                    }
                }
                Record::Issue(i) => {
                    opened += i64::from((first..=end).contains(&cal.day(i.state.reported_at)));
                    closed += i64::from(
                        i.state
                            .closed_at
                            .is_some_and(|t| (first..=end).contains(&cal.day(t))),
                    );
                    overdue += i64::from(
                        i.state
                            .overdue_spans()
                            .iter()
                            .any(|(a, b)| *a < end_at && b.is_none_or(|b| end_at < b)),
                    );
                }
                Record::Review(r) => {
                    if (first..=end).contains(&cal.day(r.held_at)) {
                        reviewed.extend(r.grids);
                    }
                }
                Record::Household(_) => {}
            }
        })
        .expect("rows");
    (
        visits,
        met,
        households.len() as i64,
        opened,
        closed,
        overdue,
        reviewed.len() as i64,
    )
}

#[test]
fn the_stored_month_figures_equal_a_count_over_the_records_and_survive_a_rebuild() {
    let dir = std::env::temp_dir().join(format!("gv-month-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = crate::store::redb_store::RedbStore::open(&dir).expect("open");
    let now = Millis(1_796_200_200_000);
    let plan = Plan {
        grids: 2,
        households: 30,
        weeks: 9,
        now,
        seed: 3,
    };
    generate(&store, &plan, |_| {}).expect("generates");
    let mut dashboard = Dashboard::new(Calendar::CHINA);
    store
        .for_each_row(&mut |id, row| dashboard.apply_contribution(id, row.contribution))
        .expect("rows");
    let grids: Vec<(GridId, i64)> = dashboard
        .households(&shared::ids::Scope::City)
        .into_iter()
        .map(|(g, n)| (g, n as i64))
        .collect();
    let today = Calendar::CHINA.day(now);
    let view = |store: &crate::store::redb_store::RedbStore, month: Month| {
        let mut v = None;
        store
            .with_figures(&mut |src| {
                v = Some(shared::month::month_view("", 0, &grids, month, today, src));
            })
            .expect("figures");
        let v = v.expect("a view");
        let t = &v.total;
        (
            t.counts.visits,
            t.counts.met,
            t.visited,
            t.counts.opened,
            t.counts.closed.iter().sum::<i64>(),
            t.overdue,
            t.reviewed,
        )
    };
    let months = [
        Month::of_day(today),
        Month::of_day(today - 31),
        Month::of_day(today - 62),
    ];
    for m in months {
        let want = brute_force(&store, m, today);
        assert!(want.0 > 0, "{m} has visits");
        assert_eq!(view(&store, m), want, "{m}");
    }
    let n = store.rebuild_figures(|_| {}).expect("rebuild");
    assert!(n > 0);
    for m in months {
        assert_eq!(
            view(&store, m),
            brute_force(&store, m, today),
            "{m} after a rebuild"
        );
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
