//! What the screens show, computed from records: plain Rust, tested natively.
//!
//! Lists are drawn from a [`Summary`] per document, kept next to the document in IndexedDB, so
//! a cold start renders the household list without loading a single Automerge document.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{AutomergeError, ReadDoc};
use shared::ids::DocumentId;
use shared::model::Record;
use shared::model::issue::Level;
use shared::model::lifecycle::Status;
use shared::model::visit::Outcome;
use shared::time::{Calendar, Millis};

pub use shared::summary::{HouseholdSummary, IssueSummary, Summary, VisitSummary};

/// Where a household stands for this week's visit (每周一次走访入户).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Due {
    /// Not visited this week: due.
    Due,
    /// Visited this week but nobody was home (or the visit was declined): go again.
    NotHome,
    /// Met this week.
    Visited,
}

/// One row of the household list.
#[derive(Clone, Debug, PartialEq)]
pub struct HouseholdRow {
    /// The household.
    pub id: DocumentId,
    /// Its summary.
    pub household: HouseholdSummary,
    /// This week's visit status.
    pub due: Due,
    /// The last visit, any week.
    pub last_visit: Option<Millis>,
    /// Open issues about it.
    pub open_issues: usize,
}

/// The households of `grid` (all grids when `None`), those due first, then by address.
pub fn household_rows(
    records: &BTreeMap<DocumentId, Summary>,
    grid: Option<&str>,
    now: Millis,
    calendar: Calendar,
) -> Vec<HouseholdRow> {
    let week = calendar.week(now);
    let mut rows: BTreeMap<DocumentId, HouseholdRow> = records
        .iter()
        .filter_map(|(id, s)| match s {
            Summary::Household(h) if grid.is_none_or(|g| h.grid == g) => Some((
                *id,
                HouseholdRow {
                    id: *id,
                    household: h.clone(),
                    due: Due::Due,
                    last_visit: None,
                    open_issues: 0,
                },
            )),
            _ => None,
        })
        .collect();
    for s in records.values() {
        match s {
            Summary::Visit(v) => {
                if let Some(row) = rows.get_mut(&v.household) {
                    row.last_visit = row.last_visit.max(Some(v.at));
                    if calendar.week(v.at) == week {
                        let this = match v.outcome {
                            Outcome::Met => Due::Visited,
                            Outcome::NotHome | Outcome::Declined => Due::NotHome,
                        };
                        row.due = row.due.max(this);
                    }
                }
            }
            Summary::Issue(i) if i.status != Status::Closed => {
                if let Some(row) = i.household.and_then(|h| rows.get_mut(&h)) {
                    row.open_issues += 1;
                }
            }
            _ => {}
        }
    }
    let mut rows: Vec<HouseholdRow> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        (a.due, natural_key(&a.household.label)).cmp(&(b.due, natural_key(&b.household.label)))
    });
    rows
}

/// Sorts "3-1-201" before "12-1-101": numbers compare as numbers.
fn natural_key(s: &str) -> Vec<(u64, String)> {
    s.split('-')
        .map(|p| (p.parse().unwrap_or(u64::MAX), p.to_owned()))
        .collect()
}

/// The visits of a household, newest first.
pub fn visits_of(
    records: &BTreeMap<DocumentId, Summary>,
    household: DocumentId,
) -> Vec<(DocumentId, VisitSummary)> {
    let mut v: Vec<_> = records
        .iter()
        .filter_map(|(id, s)| match s {
            Summary::Visit(v) if v.household == household => Some((*id, v.clone())),
            _ => None,
        })
        .collect();
    v.sort_by(|a, b| b.1.at.cmp(&a.1.at).then(a.0.cmp(&b.0)));
    v
}

/// Issues matching `keep`, open ones first (overdue, then by deadline), then closed ones,
/// newest first.
pub fn issues_where(
    records: &BTreeMap<DocumentId, Summary>,
    now: Millis,
    keep: impl Fn(&IssueSummary) -> bool,
) -> Vec<(DocumentId, IssueSummary)> {
    let mut v: Vec<_> = records
        .iter()
        .filter_map(|(id, s)| match s {
            Summary::Issue(i) if keep(i) => Some((*id, i.clone())),
            _ => None,
        })
        .collect();
    v.sort_by_key(|(id, i)| {
        let open = i.status != Status::Closed;
        let overdue = open && i.deadline.is_some_and(|d| now > d);
        (
            !open,
            !overdue,
            i.deadline.unwrap_or(Millis(i64::MAX)),
            std::cmp::Reverse(i.reported_at),
            *id,
        )
    });
    v
}

/// Records that break a value rule and need correcting, households first, then by ID.
pub fn needing_correction(records: &BTreeMap<DocumentId, Summary>) -> Vec<(DocumentId, &Summary)> {
    let mut v: Vec<(DocumentId, &Summary)> = records
        .iter()
        .filter(|(_, s)| s.problems() > 0)
        .map(|(id, s)| (*id, s))
        .collect();
    v.sort_by_key(|(id, s)| (!matches!(s, Summary::Household(_)), *id));
    v
}

/// A worker's issues: those they hold or reported, and any open issue at grid level in their
/// grids.
pub fn my_issues(
    records: &BTreeMap<DocumentId, Summary>,
    user: &str,
    now: Millis,
) -> Vec<(DocumentId, IssueSummary)> {
    issues_where(records, now, |i| {
        i.assignee.as_deref() == Some(user)
            || i.reporter == user
            || (i.level == Level::Grid && i.status != Status::Closed)
    })
}

/// What one change of a record's history did, in `lang`'s words: each field set with its
/// label, "old → new" (masked as the record is), then the other edits as the history read them.
pub fn history_words(
    entry: &shared::model::history::HistoryEntry,
    lang: crate::i18n::Lang,
) -> Vec<String> {
    let mut out: Vec<String> = entry
        .fields
        .iter()
        .map(|f| {
            let name = shared::model::history::label(&f.field)
                .map_or(f.field.as_str(), |(zh, en)| lang.t(zh, en));
            match &f.old {
                Some(old) if *old != f.new => format!("{name} {old} → {}", f.new),
                _ => format!("{name} {}", f.new),
            }
        })
        .collect();
    out.extend(
        entry
            .what
            .iter()
            .filter(|w| {
                !entry.fields.iter().any(|f| {
                    w.strip_prefix(f.field.as_str())
                        .is_some_and(|rest| rest.starts_with(' '))
                })
            })
            .cloned(),
    );
    out
}

/// One field holding several concurrent values.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// The field's path (`members`, `address.room`, `outcome`).
    pub field: &'static str,
    /// Each value with the actor that wrote it.
    pub candidates: Vec<(String, String)>,
}

fn conflict_of<T: ToString>(
    field: &'static str,
    f: &shared::model::Field<T>,
    out: &mut Vec<Conflict>,
) {
    if f.is_conflicted() {
        out.push(Conflict {
            field,
            candidates: f
                .conflicts
                .iter()
                .map(|c| (c.value.to_string(), c.actor.clone()))
                .collect(),
        });
    }
}

/// The fields of a record where concurrent edits left several values.
pub fn conflicts(record: &Record) -> Vec<Conflict> {
    let mut out = Vec::new();
    match record {
        Record::Household(h) => {
            conflict_of("address.building", &h.address.building, &mut out);
            conflict_of("address.unit", &h.address.unit, &mut out);
            conflict_of("address.room", &h.address.room, &mut out);
            conflict_of("contact", &h.contact, &mut out);
            conflict_of("members", &h.members, &mut out);
        }
        Record::Visit(v) => {
            if v.outcome.is_conflicted() {
                out.push(Conflict {
                    field: "outcome",
                    candidates: v
                        .outcome
                        .conflicts
                        .iter()
                        .map(|c| (c.value.code().to_owned(), c.actor.clone()))
                        .collect(),
                });
            }
        }
        Record::Issue(_) | Record::Review(_) => {}
    }
    out
}

/// Resolves a conflict by writing the chosen value once more: the new write supersedes every
/// concurrent one on every replica.
pub fn resolve<T: Transactable + ReadDoc>(
    tx: &mut T,
    field: &str,
    value: &str,
) -> Result<(), AutomergeError> {
    use shared::model::household::edit;
    match field {
        "members" => edit::set_members(tx, value.parse().unwrap_or_default()),
        "contact" => edit::set_contact(tx, value),
        "address.building" => edit::set_address(tx, "building", value),
        "address.unit" => edit::set_address(tx, "unit", value),
        "address.room" => edit::set_address(tx, "room", value),
        "outcome" => tx.put(automerge::ROOT, "outcome", value),
        _ => Err(AutomergeError::InvalidOp(automerge::ObjType::Map)),
    }
}

/// A scope as people read it: `东关社区 · 第一网格`, `花洲街道`, `全市`.
pub fn scope_label(org: &shared::org::Org, lang: crate::i18n::Lang, scope: &str) -> String {
    match scope.split_once(':') {
        _ if scope == "city" => lang.t("全市", "The whole city").to_owned(),
        Some(("grids", gs)) => gs
            .split(',')
            .map(|g| match g.parse::<shared::ids::GridId>() {
                Ok(g) => org.grid_label(&g),
                Err(_) => g.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("、"),
        Some(("street" | "community", path)) => org.area_label(path),
        _ => scope.to_owned(),
    }
}

/// A role code as people read it.
pub fn role_label(lang: crate::i18n::Lang, code: &str) -> String {
    let (zh, en) = match code {
        "worker" => ("网格员", "Grid worker"),
        "volunteer" => ("志愿者", "Volunteer"),
        "community_supervisor" => ("社区书记", "Community secretary"),
        "street_supervisor" => ("街道负责人", "Street supervisor"),
        "city_supervisor" => ("市级指挥中心", "City supervisor"),
        "admin" => ("系统管理员", "Admin"),
        "department" => ("职能部门", "Department"),
        _ => return code.to_owned(),
    };
    lang.t(zh, en).to_owned()
}

/// An audit-log action as people read it.
pub fn audit_action(lang: crate::i18n::Lang, code: &str) -> String {
    let (zh, en) = match code {
        "org.create" => ("新建组织单元", "Unit created"),
        "org.rename" => ("组织单元改名", "Unit renamed"),
        "person.create" => ("新建账号", "Account created"),
        "person.edit" => ("修改账号", "Account changed"),
        "person.password" => ("重置密码", "Password reset"),
        "person.provision" => ("发放登录码", "Sign-in code issued"),
        "person.provisioned" => ("扫码登录", "Signed in by code"),
        "households.import" => ("导入住户", "Households imported"),
        "settings.step_limits" => ("修改办理时限", "Step deadlines changed"),
        _ => return code.to_owned(),
    };
    lang.t(zh, en).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> DocumentId {
        DocumentId::from_bytes([n; 16])
    }

    #[test]
    fn scopes_read_as_names_and_fall_back_to_codes() {
        use shared::org::{Org, Unit, UnitKind};
        let unit = |kind, code: &str, name: &str| Unit {
            kind,
            code: code.into(),
            name: name.into(),
        };
        let org = Org::new(vec![
            unit(UnitKind::Street, "s01", "花洲街道"),
            unit(UnitKind::Community, "s01/c01", "东关社区"),
            unit(UnitKind::Grid, "s01/c01/g01", "第一网格"),
        ]);
        let zh = crate::i18n::Lang::Zh;
        assert_eq!(
            scope_label(&org, zh, "grids:s01/c01/g01,s01/c01/g02"),
            "东关社区 · 第一网格、东关社区 · g02"
        );
        assert_eq!(
            scope_label(&org, zh, "community:s01/c01"),
            "花洲街道 · 东关社区"
        );
        assert_eq!(scope_label(&org, zh, "city"), "全市");
        assert_eq!(role_label(zh, "community_supervisor"), "社区书记");
        assert_eq!(
            audit_action(crate::i18n::Lang::En, "households.import"),
            "Households imported"
        );
    }

    fn household(label: &str) -> Summary {
        Summary::Household(HouseholdSummary {
            grid: "s/c/g".into(),
            label: label.into(),
            head: "王".into(),
            members: 2,
            tags: vec![],
            conflicted: false,
            problems: 0,
        })
    }

    fn visit(h: u8, at: i64, outcome: Outcome) -> Summary {
        Summary::Visit(VisitSummary {
            grid: "s/c/g".into(),
            household: id(h),
            at: Millis(at),
            outcome,
            visitors: vec!["w".into()],
            items: 0,
            problems: 0,
        })
    }

    #[test]
    fn households_due_this_week_come_first_and_not_home_counts_as_due_again() {
        let now = Millis(1_800_000_000_000);
        let mut r = BTreeMap::new();
        r.insert(id(1), household("12-1-101"));
        r.insert(id(2), household("3-1-201"));
        r.insert(id(3), household("3-1-101"));
        r.insert(id(10), visit(1, now.0 - 1000, Outcome::Met));
        r.insert(id(11), visit(2, now.0 - 2000, Outcome::NotHome));
        // Last week's visit does not count for this week.
        r.insert(id(12), visit(3, now.0 - 8 * Millis::DAY, Outcome::Met));
        let rows = household_rows(&r, Some("s/c/g"), now, Calendar::CHINA);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.household.label.as_str(), r.due))
            .collect();
        assert_eq!(
            got,
            vec![
                ("3-1-101", Due::Due),
                ("3-1-201", Due::NotHome),
                ("12-1-101", Due::Visited)
            ]
        );
        assert_eq!(rows[0].last_visit, Some(Millis(now.0 - 8 * Millis::DAY)));
        assert!(household_rows(&r, Some("other/c/g"), now, Calendar::CHINA).is_empty());
    }

    #[test]
    fn a_met_visit_wins_over_not_home_in_the_same_week() {
        let now = Millis(1_800_000_000_000);
        let mut r = BTreeMap::new();
        r.insert(id(1), household("1-1-1"));
        r.insert(id(10), visit(1, now.0 - 1000, Outcome::Met));
        r.insert(id(11), visit(1, now.0 - 500, Outcome::NotHome));
        let rows = household_rows(&r, None, now, Calendar::CHINA);
        assert_eq!(rows[0].due, Due::Visited);
        assert_eq!(visits_of(&r, id(1)).first().map(|v| v.0), Some(id(11)));
    }

    #[test]
    fn a_conflict_shows_both_values_with_their_users_and_resolving_it_ends_it() {
        use automerge::transaction::Transactable as _;
        let draft = shared::model::HouseholdDraft {
            grid: "s/c/g".parse().expect("grid"),
            building: "1".into(),
            unit: "1".into(),
            room: "101".into(),
            head: "王".into(),
            contact: String::new(),
            members: 2,
            tags: vec![],
            notes: String::new(),
        };
        let commit = |user: &str| {
            automerge::transaction::CommitOptions::default().with_message(user.to_owned())
        };
        let mut a =
            automerge::Automerge::new().with_actor(automerge::ActorId::from(&[1u8; 16][..]));
        a.transact_with::<_, _, AutomergeError, _>(|_| commit("w1"), |tx| draft.write(tx))
            .expect("create");
        let mut b = a
            .fork()
            .with_actor(automerge::ActorId::from(&[2u8; 16][..]));
        a.transact_with::<_, _, AutomergeError, _>(
            |_| commit("w1"),
            |tx| tx.put(automerge::ROOT, "members", 4),
        )
        .expect("a");
        b.transact_with::<_, _, AutomergeError, _>(
            |_| commit("v1"),
            |tx| tx.put(automerge::ROOT, "members", 6),
        )
        .expect("b");
        a.merge(&mut b).expect("merge");
        let record = Record::read(&a).expect("read");
        let found = conflicts(&record);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "members");
        let users = shared::model::history::users_by_actor(&a);
        let mut who: Vec<(String, String)> = found[0]
            .candidates
            .iter()
            .map(|(v, actor)| (v.clone(), users[actor].clone()))
            .collect();
        who.sort();
        assert_eq!(
            who,
            vec![("4".into(), "w1".into()), ("6".into(), "v1".into())]
        );

        let h = shared::model::history::history(&a);
        assert_eq!(h.len(), 3);
        let v1 = h.iter().find(|e| e.user == "v1").expect("v1's change");
        assert_eq!(
            history_words(v1, crate::i18n::Lang::Zh),
            vec!["成员数 2 → 6".to_owned()]
        );
        assert_eq!(
            history_words(v1, crate::i18n::Lang::En),
            vec!["members 2 → 6".to_owned()]
        );
        assert!(
            h.iter()
                .any(|e| e.user == "v1" && e.what == vec!["members 2 → 6".to_string()])
        );

        a.transact_with::<_, _, AutomergeError, _>(
            |_| commit("sec"),
            |tx| resolve(tx, "members", "6"),
        )
        .expect("resolve");
        b.merge(&mut a).expect("merge back");
        for doc in [&a, &b] {
            let r = Record::read(doc).expect("read");
            assert!(conflicts(&r).is_empty());
            let Record::Household(h) = r else {
                panic!("household")
            };
            assert_eq!(h.members.value, 6);
        }
    }

    #[test]
    fn summaries_round_trip_through_json() {
        let s = visit(1, 5, Outcome::NotHome);
        let text = serde_json::to_string(&s).expect("json");
        assert_eq!(serde_json::from_str::<Summary>(&text).expect("back"), s);
    }
}
