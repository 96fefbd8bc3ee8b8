//! The figures over time of [`super::redb_store::RedbStore`] ([`shared::trends`]): counts per
//! grid and day, the overdue count's changes per grid and day, and distinct households visited
//! per grid and week or month. Written in the same transaction as the changes they come from;
//! read by the month view through [`shared::month::Source`].

use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use shared::ids::GridId;
use shared::month::Source;
use shared::trends::{DayCounts, Delta};

use super::StoreError;

/// (grid, local day) → [`DayCounts`] as JSON.
pub(super) const DAYS: TableDefinition<'_, (&str, i64), &[u8]> = TableDefinition::new("days");
/// (grid, local day) → change of the overdue count at that day's end and after.
pub(super) const OVERDUE: TableDefinition<'_, (&str, i64), i64> = TableDefinition::new("overdue");
/// (grid, period, household) → visits.
pub(super) const VISITED: TableDefinition<'_, (&str, i64, &[u8]), i64> =
    TableDefinition::new("visited");
/// (grid, period) → distinct households visited.
pub(super) const VISITED_N: TableDefinition<'_, (&str, i64), i64> =
    TableDefinition::new("visited_n");

/// Creates the tables.
pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(DAYS)?;
    tx.open_table(OVERDUE)?;
    tx.open_table(VISITED)?;
    tx.open_table(VISITED_N)?;
    Ok(())
}

/// Empties the tables (before a rebuild).
pub(super) fn clear(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.delete_table(DAYS)?;
    tx.delete_table(OVERDUE)?;
    tx.delete_table(VISITED)?;
    tx.delete_table(VISITED_N)?;
    create(tx)
}

/// Applies a batch's changes of figures.
pub(super) fn apply(tx: &WriteTransaction, delta: &Delta) -> Result<(), StoreError> {
    let mut days = tx.open_table(DAYS)?;
    for ((grid, day), c) in &delta.days {
        if c.is_zero() {
            continue;
        }
        let key = (grid.as_str(), *day);
        let mut now: DayCounts = match days.get(key)? {
            Some(v) => serde_json::from_slice(v.value())?,
            None => DayCounts::default(),
        };
        now.add(c, 1);
        if now.is_zero() {
            days.remove(key)?;
        } else {
            days.insert(key, serde_json::to_vec(&now)?.as_slice())?;
        }
    }
    let mut overdue = tx.open_table(OVERDUE)?;
    for ((grid, day), n) in &delta.overdue {
        let key = (grid.as_str(), *day);
        let v = overdue.get(key)?.map_or(0, |v| v.value()) + n;
        if v == 0 {
            overdue.remove(key)?;
        } else {
            overdue.insert(key, v)?;
        }
    }
    let mut visited = tx.open_table(VISITED)?;
    let mut distinct = tx.open_table(VISITED_N)?;
    for ((grid, period, household), n) in &delta.visited {
        if *n == 0 {
            continue;
        }
        let key = (grid.as_str(), *period, household.as_bytes().as_slice());
        let before = visited.get(key)?.map_or(0, |v| v.value());
        let after = before + n;
        if after <= 0 {
            visited.remove(key)?;
        } else {
            visited.insert(key, after)?;
        }
        let change = i64::from(after > 0) - i64::from(before > 0);
        if change != 0 {
            let k = (grid.as_str(), *period);
            let v = distinct.get(k)?.map_or(0, |v| v.value()) + change;
            if v <= 0 {
                distinct.remove(k)?;
            } else {
                distinct.insert(k, v)?;
            }
        }
    }
    Ok(())
}

/// The stored figures as the month view reads them, from one read transaction.
pub struct Reader<'a> {
    pub(super) tx: &'a ReadTransaction,
    /// The first read error, if any (the view then fails).
    pub error: Option<StoreError>,
}

impl Reader<'_> {
    fn keep<T: Default>(&mut self, r: Result<T, StoreError>) -> T {
        r.unwrap_or_else(|e| {
            self.error.get_or_insert(e);
            T::default()
        })
    }
}

impl Source for Reader<'_> {
    fn days(&mut self, grid: &GridId, lo: i64, hi: i64) -> Vec<(i64, DayCounts)> {
        let tx = self.tx;
        let r = (|| {
            let t = tx.open_table(DAYS)?;
            let mut out = Vec::new();
            for item in t.range((grid.as_str(), lo)..=(grid.as_str(), hi))? {
                let (k, v) = item?;
                out.push((k.value().1, serde_json::from_slice(v.value())?));
            }
            Ok(out)
        })();
        self.keep(r)
    }

    fn overdue_at(&mut self, grid: &GridId, day: i64) -> i64 {
        let tx = self.tx;
        let r = (|| {
            let t = tx.open_table(OVERDUE)?;
            let mut n = 0;
            for item in t.range((grid.as_str(), i64::MIN)..=(grid.as_str(), day))? {
                n += item?.1.value();
            }
            Ok(n)
        })();
        self.keep(r)
    }

    fn distinct(&mut self, grid: &GridId, period: i64) -> i64 {
        let tx = self.tx;
        let r = (|| {
            let t = tx.open_table(VISITED_N)?;
            Ok(t.get((grid.as_str(), period))?.map_or(0, |v| v.value()))
        })();
        self.keep(r)
    }
}
