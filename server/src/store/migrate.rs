//! Data migrations, run at start in the transaction that opens the database.
//!
//! The database records the schema version it is at (`meta["schema"]`); each step takes it
//! one version further and none runs twice. A database written by the previous release
//! (`tests/fixtures/release-*.redb.zlib`) is opened by the upgrade test, which checks that
//! nothing of it is lost.
//!
//! Versions:
//! - 1: everything up to the first release with administration (tokens hashed, open-issue
//!   index, household text and figures, each marked by its own meta key).
//! - 2: the organisation. A database from before it names grids only in its records and
//!   accounts: each street, community and grid they name becomes a unit, named by its code
//!   until an admin names it.

use std::collections::BTreeSet;

use redb::{ReadableTable, WriteTransaction};
use shared::ids::{GridId, Scope};
use shared::org::{Unit, UnitKind};

use super::rows::{ACCOUNTS, META, TOKENS, parse};
use super::{Account, DocRow, StoreError};

/// The schema version this release writes.
pub(super) const SCHEMA: u32 = 2;

/// The version the database is at (1 when it predates the mark).
fn version(tx: &WriteTransaction) -> Result<u32, StoreError> {
    let meta = tx.open_table(META)?;
    let v = meta
        .get("schema")?
        .and_then(|v| std::str::from_utf8(v.value()).ok()?.parse().ok());
    Ok(v.unwrap_or(1))
}

/// The first release's one-off steps, each marked by its own meta key (version 1 is all of
/// them): tokens stored as their SHA-256, the open-issue index, the household search text.
pub(super) fn marks(tx: &WriteTransaction) -> Result<(), StoreError> {
    // Tokens were once stored as themselves: store each under its hash instead, once.
    if tx.open_table(META)?.get("tokens")?.is_none() {
        let mut t = tx.open_table(TOKENS)?;
        let mut old = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            old.push((k.value().to_owned(), v.value().to_vec()));
        }
        for (token, row) in old {
            t.remove(token.as_str())?;
            t.insert(super::token_key(&token).as_str(), row.as_slice())?;
        }
        drop(t);
        tx.open_table(META)?
            .insert("tokens", b"sha256".as_slice())?;
    }
    // The index of open issues came later: build it once from the rows.
    if tx.open_table(META)?.get("open_index")?.is_none() {
        super::redb_feed::build_open_index(tx)?;
        tx.open_table(META)?.insert("open_index", b"1".as_slice())?;
    }
    // So did the household search text.
    if tx.open_table(META)?.get("household_text")?.is_none() {
        super::redb_feed::build_household_text(tx)?;
        tx.open_table(META)?
            .insert("household_text", b"1".as_slice())?;
    }
    Ok(())
}

/// Brings the database to [`SCHEMA`].
pub(super) fn run(tx: &WriteTransaction) -> Result<(), StoreError> {
    let from = version(tx)?;
    if from > SCHEMA {
        tracing::warn!(
            from,
            to = SCHEMA,
            "the database was written by a newer release: opening it as it is"
        );
        return Ok(());
    }
    for v in from..SCHEMA {
        if v == 1 {
            organisation_from_records(tx)?;
        }
        tracing::info!(from = v, to = v + 1, "database migrated");
        tx.open_table(META)?
            .insert("schema", (v + 1).to_string().as_bytes())?;
    }
    Ok(())
}

/// 1 → 2: a unit for each street, community and grid the records and accounts name.
fn organisation_from_records(tx: &WriteTransaction) -> Result<(), StoreError> {
    let mut grids: BTreeSet<GridId> = BTreeSet::new();
    let mut areas: BTreeSet<String> = BTreeSet::new();
    {
        let docs = tx.open_table(super::redb_feed::DOCS)?;
        for item in docs.iter()? {
            let row: DocRow = parse(item?.1.value())?;
            if let Some(g) = row.grid.and_then(|g| g.parse().ok()) {
                grids.insert(g);
            }
        }
        let accounts = tx.open_table(ACCOUNTS)?;
        for item in accounts.iter()? {
            let a: Account = parse(item?.1.value())?;
            match a.principal.scope {
                Scope::City => {}
                Scope::Street(s) | Scope::Community(s) => {
                    areas.insert(s);
                }
                Scope::Grids(gs) => grids.extend(gs),
            }
        }
    }
    for g in &grids {
        areas.insert(g.street().to_owned());
        areas.insert(g.community().to_owned());
    }
    let unit = |code: &str, kind| Unit {
        kind,
        code: code.to_owned(),
        name: code.rsplit('/').next().unwrap_or(code).to_owned(),
    };
    let mut units: Vec<Unit> = areas
        .iter()
        .map(|a| {
            let kind = if a.contains('/') {
                UnitKind::Community
            } else {
                UnitKind::Street
            };
            unit(a, kind)
        })
        .collect();
    units.extend(grids.iter().map(|g| unit(g.as_str(), UnitKind::Grid)));
    tracing::info!(
        units = units.len(),
        "organisation derived from the stored records"
    );
    super::redb_admin::put_units(tx, &units)
}
