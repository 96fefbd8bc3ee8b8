//! Property: the dashboard fold gives the same figures whatever order records arrive in and
//! however often a changed record is re-applied, as recomputing from scratch does; and the
//! figures mean what they say.

mod common;

use automerge::Automerge;
use common::*;
use proptest::prelude::*;
use shared::aggregate::Dashboard;
use shared::ids::{DocumentId, Scope};
use shared::model::issue::append_event;
use shared::model::{EventKind, IssueEvent, Level, Outcome, Record};
use shared::sim::Rng;
use shared::time::{Calendar, Millis};

const GRIDS: [&str; 4] = ["s01/c01/g01", "s01/c01/g02", "s01/c02/g01", "s02/c01/g01"];
const NOW: Millis = Millis(1_795_363_200_000 + 3 * Millis::DAY + 5 * Millis::HOUR);

fn build(
    write: impl FnOnce(
        &mut automerge::transaction::Transaction<'_>,
    ) -> Result<(), automerge::AutomergeError>,
) -> Automerge {
    let mut doc = Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| write(tx))
        .expect("write");
    doc
}

/// Random records, each as a list of successive versions.
fn history(seed: u64, n: usize) -> Vec<(DocumentId, Vec<Option<Record>>)> {
    let mut rng = Rng::new(seed);
    let mut households = Vec::new();
    let mut out = Vec::new();
    for _ in 0..n {
        let id = new_id(&mut rng);
        let g = GRIDS[rng.below(4)];
        let mut versions = Vec::new();
        match rng.below(3) {
            0 => {
                let doc = build(|tx| household(g, "1").write(tx));
                versions.push(Record::read(&doc).ok());
                households.push((id, g));
            }
            1 if !households.is_empty() => {
                let (h, hg) = households[rng.below(households.len())];
                let at = NOW.plus((rng.below(20) as i64 - 10) * Millis::DAY);
                let outcome = [Outcome::Met, Outcome::NotHome, Outcome::Declined][rng.below(3)];
                let mut doc = build(|tx| visit(hg, h, at, outcome).write(tx));
                versions.push(Record::read(&doc).ok());
                // A correction: the outcome is changed afterwards.
                doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                    automerge::transaction::Transactable::put(tx, automerge::ROOT, "outcome", "met")
                })
                .expect("edit");
                versions.push(Record::read(&doc).ok());
            }
            _ => {
                let at = NOW.plus(-(rng.below(10) as i64) * Millis::DAY);
                let mut doc = build(|tx| issue(g, None, at, "w").write(tx));
                versions.push(Record::read(&doc).ok());
                for k in 0..rng.below(4) {
                    let kind = EventKind::ALL[rng.below(EventKind::ALL.len())];
                    let e = IssueEvent {
                        level: Some(Level::ALL[rng.below(4)]),
                        assignee: Some("w".into()),
                        ..event(
                            &format!("{k}"),
                            kind,
                            at.plus(k as i64 * Millis::HOUR + 1),
                            "w",
                        )
                    };
                    doc.transact::<_, _, automerge::AutomergeError>(|tx| append_event(tx, &e))
                        .expect("event");
                    versions.push(Record::read(&doc).ok());
                }
            }
        }
        if rng.chance(0.1) {
            // The record disappears from view (e.g. refused), then comes back.
            let last = versions.last().cloned().flatten();
            versions.push(None);
            versions.push(last);
        }
        out.push((id, versions));
    }
    out
}

fn scratch(history: &[(DocumentId, Vec<Option<Record>>)]) -> Dashboard {
    let mut d = Dashboard::new(Calendar::CHINA);
    for (id, versions) in history {
        d.apply(*id, versions.last().cloned().flatten().as_ref());
    }
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn incremental_equals_scratch_in_any_order(seed in any::<u64>(), n in 1usize..40, order_seed in any::<u64>()) {
        let h = history(seed, n);
        // Every version of every record, in a random interleaving that keeps each record's
        // versions in order, with random repeats of versions already applied.
        let mut rng = Rng::new(order_seed);
        let mut next = vec![0usize; h.len()];
        let mut d = Dashboard::new(Calendar::CHINA);
        loop {
            let open: Vec<usize> = (0..h.len()).filter(|&i| next[i] < h[i].1.len()).collect();
            if open.is_empty() { break; }
            let i = open[rng.below(open.len())];
            let v = &h[i].1[next[i]];
            d.apply(h[i].0, v.as_ref());
            if rng.chance(0.3) { d.apply(h[i].0, v.as_ref()); }
            next[i] += 1;
        }
        let fresh = scratch(&h);
        for scope in [Scope::City, "street:s01".parse().expect("scope"), "community:s01/c02".parse().expect("scope")] {
            prop_assert_eq!(d.figures(NOW, &scope), fresh.figures(NOW, &scope));
        }
    }
}

#[test]
fn figures_count_what_they_say() {
    let mut rng = Rng::new(9);
    let mut d = Dashboard::new(Calendar::CHINA);
    let g = "s01/c01/g01";
    let (h1, h2) = (new_id(&mut rng), new_id(&mut rng));
    for h in [h1, h2] {
        d.apply(
            h,
            Record::read(&build(|tx| household(g, "1").write(tx)))
                .ok()
                .as_ref(),
        );
    }
    // One visit today (met), one last week.
    let v1 = build(|tx| visit(g, h1, NOW.plus(-Millis::HOUR), Outcome::Met).write(tx));
    let v2 = build(|tx| visit(g, h2, NOW.plus(-8 * Millis::DAY), Outcome::Met).write(tx));
    d.apply(new_id(&mut rng), Record::read(&v1).ok().as_ref());
    d.apply(new_id(&mut rng), Record::read(&v2).ok().as_ref());
    // One issue reported three days ago and never accepted (overdue), one closed at the grid.
    let old = build(|tx| issue(g, None, NOW.plus(-3 * Millis::DAY), "w").write(tx));
    let mut closed = build(|tx| issue(g, None, NOW.plus(-Millis::HOUR), "w").write(tx));
    closed
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            // A visit's issue closes after the resident says it is solved (回访).
            let mut follow = event("f", EventKind::FollowUp, NOW.plus(-90_000), "w");
            follow.satisfied = Some(true);
            append_event(tx, &follow)?;
            append_event(tx, &event("c", EventKind::Close, NOW.plus(-60_000), "w"))
        })
        .expect("close");
    d.apply(new_id(&mut rng), Record::read(&old).ok().as_ref());
    d.apply(new_id(&mut rng), Record::read(&closed).ok().as_ref());

    let f = d.figures(NOW, &Scope::City);
    assert_eq!(f.total.households, 2);
    assert_eq!(f.total.visited_this_week, 1);
    assert_eq!(f.total.visits_today, 1);
    assert!((f.total.coverage() - 0.5).abs() < 1e-9);
    assert_eq!(f.total.open_by_level, [1, 0, 0, 0]);
    assert_eq!(f.total.overdue, 1);
    assert_eq!(f.total.closed_by_level, [1, 0, 0, 0]);
    assert!((f.total.closed_at_grid_share() - 1.0).abs() < 1e-9);
    assert_eq!((f.total.followed_up, f.total.satisfied), (1, 1));
    assert!((f.total.satisfaction() - 1.0).abs() < 1e-9);
    assert_eq!(f.grids.len(), 1);
    assert_eq!(f.communities["s01/c01"], f.total);
    assert_eq!(f.streets["s01"], f.total);
    assert_eq!(
        d.figures(NOW, &"street:s02".parse().expect("scope"))
            .total
            .households,
        0
    );
}
