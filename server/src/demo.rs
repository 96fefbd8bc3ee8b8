//! The demo city seeded on first start: streets, communities and grids shaped like the seed's
//! (Dengzhou: 46 communities, 514 grids), households, some visits and issues, and users.

use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, AutomergeError};
use shared::aggregate::Dashboard;
use shared::ids::{DocumentId, GridId, IdError, Scope, UserId};
use shared::model::{
    Area, EventKind, HouseholdDraft, IssueDraft, IssueEvent, IssueSource, Outcome, Record,
    SchemaError, VisitDraft, VisitItem,
};
use shared::sync::{Principal, Role, heads_digest};
use shared::time::{Calendar, Millis};

use crate::auth::hash_password;
use crate::store::{Account, ChunkWrite, Storage, StoreError};

/// How big a city to seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// 2 streets, 4 communities, 12 grids.
    Small,
    /// The seed's size: 6 streets, 46 communities, 514 grids.
    Full,
}

/// The password every demo account (but the admin) shares.
pub const DEMO_PASSWORD: &str = "gridvisit-demo";

const STREETS: [&str; 6] = [
    "花洲街道",
    "古城街道",
    "三贤街道",
    "湍河街道",
    "团结街道",
    "龙堰街道",
];
const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: [&str; 10] = [
    "秀英", "建国", "桂兰", "志强", "玉兰", "国华", "淑珍", "海燕", "德明", "丽娟",
];

/// The grid layout: `(street, communities per street, grids per community)`.
pub fn layout(size: Size) -> Vec<GridId> {
    let mut grids = Vec::new();
    let (streets, communities, total_grids) = match size {
        Size::Small => (2usize, 4usize, 12usize),
        Size::Full => (6, 46, 514),
    };
    for c in 0..communities {
        let street = c % streets + 1;
        let community = c / streets + 1;
        let per = total_grids / communities + usize::from(c < total_grids % communities);
        for g in 1..=per {
            if let Ok(grid) = format!("s{street:02}/c{community:02}/g{g:02}").parse() {
                grids.push(grid);
            }
        }
    }
    grids
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A demo record did not come out valid (a bug in this file).
    #[error("demo record is invalid: {0}")]
    Record(#[from] SchemaError),
    /// Automerge refused a demo edit.
    #[error("demo record: {0}")]
    Automerge(#[from] AutomergeError),
    /// A thread building records stopped.
    #[error("a thread building records stopped")]
    Stopped,
    /// A demo identifier is invalid.
    #[error(transparent)]
    Id(#[from] IdError),
}

fn random16() -> Result<[u8; 16], StoreError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    Ok(b)
}

/// What was seeded, for the start banner.
#[derive(Debug)]
pub struct Seeded {
    /// Grids.
    pub grids: usize,
    /// Records written.
    pub records: usize,
    /// Example logins `(user, role)`.
    pub logins: Vec<(String, String)>,
}

fn principal(user: &str, role: Role, scope: Scope) -> Result<Principal, SeedError> {
    Ok(Principal {
        user: UserId::new(user)?,
        role,
        scope,
    })
}

/// Creates the admin and the demo users of a city of `size` (workers per grid, secretaries per
/// community, street and city supervisors), all but the admin with `demo_password` (the
/// published [`DEMO_PASSWORD`] on loopback, a random one elsewhere).
pub fn seed_accounts(
    store: &dyn Storage,
    size: Size,
    admin_password: &str,
    demo_password: &str,
) -> Result<(), SeedError> {
    let grids = layout(size);
    let demo_hash = hash_password(demo_password)?;
    let mut accounts = vec![Account::new(
        principal("admin", Role::Admin, Scope::City)?,
        "系统管理员".into(),
        hash_password(admin_password)?,
    )];
    let mut push =
        |user: String, role: Role, scope: Scope, name: String| -> Result<(), SeedError> {
            accounts.push(Account::new(
                principal(&user, role, scope)?,
                name,
                demo_hash.clone(),
            ));
            Ok(())
        };
    push(
        "city".into(),
        Role::CitySupervisor,
        Scope::City,
        "市网格中心".into(),
    )?;
    let mut streets: Vec<&str> = grids.iter().map(GridId::street).collect();
    streets.dedup();
    streets.sort_unstable();
    streets.dedup();
    for s in &streets {
        let idx = s
            .trim_start_matches('s')
            .parse::<usize>()
            .unwrap_or(1)
            .saturating_sub(1)
            % STREETS.len();
        push(
            format!("street-{s}"),
            Role::StreetSupervisor,
            Scope::Street((*s).to_owned()),
            STREETS[idx].to_owned(),
        )?;
    }
    let mut communities: Vec<&str> = grids.iter().map(GridId::community).collect();
    communities.sort_unstable();
    communities.dedup();
    for c in &communities {
        push(
            format!("sec-{}", c.replace('/', "-")),
            Role::CommunitySupervisor,
            Scope::Community((*c).to_owned()),
            format!("{c} 社区书记"),
        )?;
    }
    for (i, g) in grids.iter().enumerate() {
        let name = format!("{}{}", SURNAMES[i % 10], GIVEN[(i / 10) % 10]);
        push(
            format!("w-{}", g.as_str().replace('/', "-")),
            Role::Worker,
            Scope::Grids(vec![g.clone()]),
            format!("网格员 {name}"),
        )?;
        // A party-member volunteer in every grid: two people visit the same households.
        push(
            format!("v-{}", g.as_str().replace('/', "-")),
            Role::Volunteer,
            Scope::Grids(vec![g.clone()]),
            format!(
                "志愿者 {}{}",
                SURNAMES[(i + 3) % 10],
                GIVEN[(i / 10 + 5) % 10]
            ),
        )?;
    }
    store.put_accounts(&accounts)?;
    store.put_units(&organisation(&grids))?;
    Ok(())
}

const COMMUNITY_NAMES: [&str; 12] = [
    "东关", "西关", "南街", "北街", "花园", "古城", "新华", "人民", "建设", "文化", "和平", "团结",
];
const NUMBERS: [&str; 12] = [
    "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二",
];

/// The demo city's streets, communities and grids with Chinese names.
pub fn organisation(grids: &[GridId]) -> Vec<shared::org::Unit> {
    use shared::org::{Unit, UnitKind};
    let number = |code: &str| {
        code.trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .parse::<usize>()
            .unwrap_or(1)
            .max(1)
    };
    let mut units: Vec<Unit> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for g in grids {
        let street = g.street();
        if seen.insert(street.to_owned()) {
            units.push(Unit {
                kind: UnitKind::Street,
                code: street.to_owned(),
                name: STREETS[(number(street) - 1) % STREETS.len()].to_owned(),
            });
        }
        let community = g.community();
        if seen.insert(community.to_owned()) {
            let (s, c) = (number(street), number(&community[street.len() + 1..]));
            let base = COMMUNITY_NAMES[(s * 7 + c - 1) % COMMUNITY_NAMES.len()];
            units.push(Unit {
                kind: UnitKind::Community,
                code: community.to_owned(),
                name: if c > COMMUNITY_NAMES.len() {
                    format!("{base}{c}社区")
                } else {
                    format!("{base}社区")
                },
            });
        }
        let n = number(&g.as_str()[community.len() + 1..]);
        units.push(Unit {
            kind: UnitKind::Grid,
            code: g.to_string(),
            name: match NUMBERS.get(n - 1) {
                Some(zh) => format!("第{zh}网格"),
                None => format!("第{n}网格"),
            },
        });
    }
    units
}

/// Seeds accounts and records. `now` places this week's visits.
pub fn seed(
    store: &dyn Storage,
    size: Size,
    admin_password: &str,
    demo_password: &str,
    now: Millis,
) -> Result<Seeded, SeedError> {
    let grids = layout(size);
    seed_accounts(store, size, admin_password, demo_password)?;

    let dashboard = Dashboard::new(Calendar::CHINA);
    let actor = ActorId::from(&random16()?[..]);
    let mut batch = Vec::new();
    let mut records = 0;
    let week_start = Calendar::CHINA.week_start(now);
    let mut n = 0usize;
    let make = |write: &dyn Fn(&mut Transaction<'_>) -> Result<(), AutomergeError>,
                user: &str,
                at: Millis|
     -> Result<ChunkWrite, SeedError> {
        let mut doc = Automerge::new().with_actor(actor.clone());
        doc.transact_with::<_, _, AutomergeError, _>(
            |_| {
                CommitOptions::default()
                    .with_message(user.to_owned())
                    .with_time(at.0 / 1000)
            },
            |tx| write(tx),
        )
        .map_err(|f| f.error)?;
        let record = Record::read(&doc)?;
        Ok(ChunkWrite::of(
            DocumentId::from_bytes(random16()?),
            doc.save(),
            heads_digest(&doc.get_heads()),
            Some(record.meta()),
            Some(&record),
            &dashboard,
        ))
    };
    let per_grid = match size {
        Size::Small => 20,
        Size::Full => 30,
    };
    for (gi, g) in grids.iter().enumerate() {
        let worker = format!("w-{}", g.as_str().replace('/', "-"));
        for h in 0..per_grid {
            n += 1;
            let draft = HouseholdDraft {
                grid: g.clone(),
                building: format!("{}", h / 8 + 1),
                unit: format!("{}", (h / 4) % 2 + 1),
                room: format!("{}0{}", (h % 4) / 2 + 1, h % 2 + 1),
                head: format!("{}{}", SURNAMES[n % 10], GIVEN[(n / 7) % 10]),
                contact: format!("138{:08}", n * 7919 % 100_000_000),
                members: (n % 5 + 1) as i64,
                tags: match n % 7 {
                    0 => vec!["elderly-alone".into()],
                    3 => vec!["low-income".into()],
                    5 => vec!["party-member".into()],
                    _ => Vec::new(),
                },
                notes: String::new(),
            };
            let hw = make(&|tx| draft.write(tx), &worker, week_start)?;
            let household = hw.doc;
            batch.push(hw);
            // About half the households were visited this week, a few not at home.
            if (h + gi) % 2 == 0 {
                let at = week_start.plus(((h % 5) as i64) * Millis::HOUR * 20 + 9 * Millis::HOUR);
                let at = if at > now {
                    now.plus(-Millis::HOUR)
                } else {
                    at
                };
                let outcome = if h % 6 == 0 {
                    Outcome::NotHome
                } else {
                    Outcome::Met
                };
                let v = VisitDraft {
                    grid: g.clone(),
                    household,
                    visitors: vec![worker.clone()],
                    started_at: at,
                    ended_at: Some(at.plus(20 * 60_000)),
                    location: None,
                    outcome,
                    items: vec![VisitItem {
                        area: Area::ALL[h % 5],
                        description: "了解家庭近况".into(),
                        solved: true,
                        issue: None,
                    }],
                    notes: String::new(),
                    household_tags: Vec::new(),
                };
                batch.push(make(&|tx| v.write(tx), &worker, at)?);
            }
            if h % 10 == 3 {
                let at = now.plus(-((h % 4) as i64) * Millis::DAY - Millis::HOUR);
                let draft = IssueDraft {
                    grid: g.clone(),
                    source: IssueSource::Visit,
                    area: Area::ALL[(h + gi) % 5],
                    description: [
                        "楼道灯不亮",
                        "下水道堵塞",
                        "邻里噪音纠纷",
                        "申请低保咨询",
                        "求职登记",
                    ][h % 5]
                        .into(),
                    household: Some(household),
                    location: String::new(),
                    detail: Default::default(),
                    report: IssueEvent {
                        id: format!("r{n}"),
                        kind: EventKind::Report,
                        at,
                        actor: worker.clone(),
                        role: Some(Role::Worker),
                        note: String::new(),
                        level: None,
                        assignee: None,
                        limit: None,
                        satisfied: None,
                        score: None,
                    },
                };
                batch.push(make(&|tx| draft.write(tx), &worker, at)?);
            }
            if batch.len() >= 1000 {
                records += batch.len();
                store.commit(&batch, &[], now.0)?;
                batch.clear();
            }
        }
    }
    records += batch.len();
    store.commit(&batch, &[], now.0)?;
    let first = &grids[0];
    let logins = vec![
        ("admin".into(), "管理员 admin".into()),
        ("city".into(), "市级督导 city supervisor".into()),
        (
            format!("street-{}", first.street()),
            "街道督导 street supervisor".into(),
        ),
        (
            format!("sec-{}", first.community().replace('/', "-")),
            "社区书记 community supervisor".into(),
        ),
        (
            format!("w-{}", first.as_str().replace('/', "-")),
            "网格员 grid worker".into(),
        ),
        (
            format!("v-{}", first.as_str().replace('/', "-")),
            "志愿者 volunteer (same grid)".into(),
        ),
    ];
    Ok(Seeded {
        grids: grids.len(),
        records,
        logins,
    })
}

/// Creates only the admin account.
pub fn seed_admin(store: &dyn Storage, admin_password: &str) -> Result<(), SeedError> {
    Ok(store.put_accounts(&[Account::new(
        principal("admin", Role::Admin, Scope::City)?,
        "系统管理员".into(),
        hash_password(admin_password)?,
    )])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_city_has_the_seeds_shape() {
        let grids = layout(Size::Full);
        assert_eq!(grids.len(), 514);
        let mut communities: Vec<&str> = grids.iter().map(GridId::community).collect();
        communities.sort_unstable();
        communities.dedup();
        assert_eq!(communities.len(), 46);
    }
}
