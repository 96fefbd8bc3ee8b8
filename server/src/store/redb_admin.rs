//! What administration stores in redb: the organisation, the audit log and the one-time
//! sign-in codes that provision a phone.

use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use shared::ids::DocumentId;
use shared::org::{Org, Unit};

use super::rows::{META, doc_id, json, parse};
use super::{Account, AuditEntry, ProvisionRow, Redeem, StoreError};

/// Unit code → unit.
pub(super) const ORG: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("org");
/// Sequence → audit entry.
pub(super) const AUDIT: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("audit");
/// SHA-256 of a one-time code → its row.
pub(super) const PROVISION: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("provision");

/// Creates the tables of this module.
pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(ORG)?;
    tx.open_table(AUDIT)?;
    tx.open_table(PROVISION)?;
    Ok(())
}

pub(super) fn org(tx: &ReadTransaction) -> Result<Org, StoreError> {
    let t = tx.open_table(ORG)?;
    let mut units = Vec::new();
    for item in t.iter()? {
        units.push(parse::<Unit>(item?.1.value())?);
    }
    Ok(Org::new(units))
}

pub(super) fn step_limits(
    tx: &ReadTransaction,
) -> Result<shared::model::lifecycle::StepLimits, StoreError> {
    let meta = tx.open_table(META)?;
    let stored = meta
        .get("step_limits")?
        .map(|v| parse(v.value()))
        .transpose()?;
    Ok(stored.unwrap_or_default())
}

pub(super) fn put_step_limits(
    tx: &WriteTransaction,
    limits: &shared::model::lifecycle::StepLimits,
) -> Result<(), StoreError> {
    tx.open_table(META)?
        .insert("step_limits", json(limits)?.as_slice())?;
    Ok(())
}

pub(super) fn put_units(tx: &WriteTransaction, units: &[Unit]) -> Result<(), StoreError> {
    let mut t = tx.open_table(ORG)?;
    for u in units {
        t.insert(u.code.as_str(), json(u)?.as_slice())?;
    }
    Ok(())
}

/// Appends entries, numbering them after the last.
pub(super) fn append_audit(
    tx: &WriteTransaction,
    entries: &[AuditEntry],
) -> Result<(), StoreError> {
    let mut t = tx.open_table(AUDIT)?;
    let mut seq = t.last()?.map_or(0, |(k, _)| k.value());
    for e in entries {
        seq += 1;
        let mut e = e.clone();
        e.seq = seq;
        t.insert(seq, json(&e)?.as_slice())?;
    }
    Ok(())
}

/// Entries before `before` (all when `None`), newest first.
pub(super) fn audit_log(
    tx: &ReadTransaction,
    before: Option<u64>,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let t = tx.open_table(AUDIT)?;
    let mut out = Vec::new();
    for item in t.range(..before.unwrap_or(u64::MAX))?.rev().take(limit) {
        out.push(parse(item?.1.value())?);
    }
    Ok(out)
}

/// Accounts after the user name `after`, in name order, that `keep` keeps: at most `limit`,
/// and where the next page starts.
pub(super) fn accounts_page(
    tx: &ReadTransaction,
    table: TableDefinition<'_, &str, &[u8]>,
    after: Option<&str>,
    keep: &dyn Fn(&Account) -> bool,
    limit: usize,
) -> Result<(Vec<Account>, Option<String>), StoreError> {
    use std::ops::Bound;
    let t = tx.open_table(table)?;
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut out = Vec::new();
    for item in t.range::<&str>((lower, Bound::Unbounded))? {
        let a: Account = parse(item?.1.value())?;
        if keep(&a) {
            if out.len() == limit {
                let next = out.last().map(|a: &Account| a.principal.user.to_string());
                return Ok((out, next));
            }
            out.push(a);
        }
    }
    Ok((out, None))
}

/// The households of one grid with their search text (address label first).
pub(super) fn household_texts(
    tx: &ReadTransaction,
    grid: &str,
) -> Result<Vec<(DocumentId, String)>, StoreError> {
    let t = tx.open_table(super::redb_feed::HOUSEHOLD_TEXT)?;
    let mut out = Vec::new();
    for item in t.range((grid, [0u8; 0].as_slice())..=(grid, [0xffu8; 17].as_slice()))? {
        let (k, v) = item?;
        out.push((doc_id(k.value().1)?, v.value().to_owned()));
    }
    Ok(out)
}

pub(super) fn put_provision(
    tx: &WriteTransaction,
    key: &str,
    row: &ProvisionRow,
) -> Result<(), StoreError> {
    let mut t = tx.open_table(PROVISION)?;
    t.insert(key, json(row)?.as_slice())?;
    // Codes expire within minutes: drop those long past, so the table stays small.
    let mut old = Vec::new();
    for item in t.iter()? {
        let (k, v) = item?;
        let r: ProvisionRow = parse(v.value())?;
        if r.expires_at < row.expires_at - 24 * 3_600_000 {
            old.push(k.value().to_owned());
        }
    }
    for k in old {
        t.remove(k.as_str())?;
    }
    Ok(())
}

/// Marks a code used, in the transaction that reads it: a code signs in once.
pub(super) fn redeem_provision(
    tx: &WriteTransaction,
    key: &str,
    now: i64,
) -> Result<Result<ProvisionRow, Redeem>, StoreError> {
    let mut t = tx.open_table(PROVISION)?;
    let row: Option<ProvisionRow> = t.get(key)?.map(|v| parse(v.value())).transpose()?;
    let Some(mut row) = row else {
        return Ok(Err(Redeem::Unknown));
    };
    if row.used {
        return Ok(Err(Redeem::Used));
    }
    if row.expires_at < now {
        return Ok(Err(Redeem::Expired));
    }
    row.used = true;
    t.insert(key, json(&row)?.as_slice())?;
    Ok(Ok(row))
}
