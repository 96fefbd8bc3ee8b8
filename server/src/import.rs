//! Households imported from a spreadsheet (`.xlsx`, read with calamine, or UTF-8 CSV).
//!
//! Each row is checked alone: a valid row becomes one household (created, or its changed
//! fields written as one edit of the household with the same grid and address), an invalid
//! row is reported with its row number, field and reason, and none is written in part.
//! Importing the same file again finds every row unchanged. The writes go to the engine in
//! batches ([`crate::engine::Cmd::Write`]), one commit each, so 100,000 rows cost about a
//! hundred commits, not 100,000 round trips.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use shared::ids::{DocumentId, GridId, Scope};
use shared::model::{Household, HouseholdDraft};
use shared::org::{Org, UnitKind};

/// One row the report names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The spreadsheet's row number (the header is row 1).
    pub row: usize,
    /// The column, as its header names it.
    pub field: String,
    /// What is wrong, in Chinese and English.
    pub message: String,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// New households.
    pub imported: usize,
    /// Households whose fields the file changed.
    pub updated: usize,
    /// Rows that match their household already.
    pub unchanged: usize,
    /// Rows not imported.
    pub errors: Vec<RowError>,
}

/// A valid row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Its row number.
    pub row: usize,
    /// The household it describes.
    pub draft: HouseholdDraft,
}

/// The columns, each under its Chinese and English header.
const COLUMNS: [(&str, &str); 9] = [
    ("网格", "grid"),
    ("楼栋", "building"),
    ("单元", "unit"),
    ("房号", "room"),
    ("户主", "head"),
    ("联系电话", "contact"),
    ("人数", "members"),
    ("标签", "tags"),
    ("备注", "notes"),
];

/// Rows at most in one file.
pub const MAX_ROWS: usize = 200_000;

/// Reads a file's cells: the first sheet of an `.xlsx`, or UTF-8 CSV (with or without BOM).
pub fn cells(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    if bytes.starts_with(b"PK\x03\x04") {
        use calamine::Reader;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes))
            .map_err(|e| format!("not a readable .xlsx workbook / 无法读取 Excel 文件: {e}"))?;
        let range = book
            .worksheet_range_at(0)
            .ok_or("the workbook has no sheet / 工作簿没有工作表")?
            .map_err(|e| format!("the first sheet does not read / 无法读取第一个工作表: {e}"))?;
        Ok(range
            .rows()
            .map(|r| r.iter().map(cell_text).collect())
            .collect())
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            "the file is neither .xlsx nor UTF-8 CSV: save it as “CSV UTF-8” / 文件不是 .xlsx 或 UTF-8 编码的 CSV"
                .to_owned()
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut out = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| format!("CSV does not parse / CSV 格式错误: {e}"))?;
            out.push(record.iter().map(str::to_owned).collect());
        }
        Ok(out)
    }
}

fn cell_text(d: &calamine::Data) -> String {
    match d {
        calamine::Data::Empty => String::new(),
        // Phone numbers and rooms typed as numbers: whole numbers without ".0".
        calamine::Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// Checks every row of a sheet against the organisation and the importer's scope.
/// Returns the valid rows and the errors of the others.
pub fn check(
    cells: &[Vec<String>],
    org: &Org,
    scope: &Scope,
) -> Result<(Vec<Row>, Vec<RowError>), String> {
    let Some((header, body)) = cells.split_first() else {
        return Err("the file is empty / 文件为空".into());
    };
    if body.len() > MAX_ROWS {
        return Err(format!(
            "at most {MAX_ROWS} rows per file / 每个文件最多 {MAX_ROWS} 行"
        ));
    }
    let mut at = [usize::MAX; 9];
    for (i, h) in header.iter().enumerate() {
        let h = h.trim().to_lowercase();
        if let Some(c) = COLUMNS.iter().position(|(zh, en)| h == *zh || h == *en) {
            at[c] = i;
        }
    }
    let missing: Vec<&str> = COLUMNS[..7]
        .iter()
        .zip(at)
        .filter(|(_, i)| *i == usize::MAX)
        .map(|((zh, _), _)| *zh)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the header row lacks columns / 表头缺少列: {} (columns: {})",
            missing.join("、"),
            COLUMNS
                .iter()
                .map(|(zh, en)| format!("{zh}/{en}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let has_grids = org.of_kind(UnitKind::Grid).next().is_some();
    let mut rows = Vec::with_capacity(body.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (i, cells) in body.iter().enumerate() {
        let row = i + 2;
        let get = |c: usize| cells.get(at[c]).map_or("", |s| s.trim());
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let err = |c: usize, message: &str| RowError {
            row,
            field: COLUMNS[c].0.to_owned(),
            message: message.to_owned(),
        };
        let grid = match get(0).parse::<GridId>() {
            Err(_) => {
                errors.push(err(0, "not a grid code such as s01/c01/g01 / 不是网格编码"));
                continue;
            }
            Ok(g) if has_grids && org.get(g.as_str()).is_none() => {
                errors.push(err(0, "no such grid: create it first / 网格不存在"));
                continue;
            }
            Ok(g) if !scope.contains(&g) => {
                errors.push(err(0, "outside your scope / 不在您的管辖范围"));
                continue;
            }
            Ok(g) => g,
        };
        let mut bad = None;
        for c in 1..=4 {
            if get(c).is_empty() {
                bad = Some(err(c, "required / 必填"));
                break;
            }
            if get(c).chars().count() > 60 {
                bad = Some(err(c, "at most 60 characters / 最多 60 个字"));
                break;
            }
        }
        let contact = get(5);
        if bad.is_none()
            && !(contact.is_empty()
                || (contact.len() <= 20
                    && contact
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b' ')))
        {
            bad = Some(err(
                5,
                "a phone number has digits only / 电话号码只能含数字",
            ));
        }
        let members = get(6).parse::<i64>();
        if bad.is_none() && !matches!(members, Ok(1..=50)) {
            bad = Some(err(6, "a whole number from 1 to 50 / 应为 1 到 50 的整数"));
        }
        if let Some(e) = bad {
            errors.push(e);
            continue;
        }
        let tags: Vec<String> = {
            let mut t: Vec<String> = get(7)
                .split([';', '；', '、', ','])
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            t.sort();
            t.dedup();
            t
        };
        let draft = HouseholdDraft {
            grid,
            building: get(1).to_owned(),
            unit: get(2).to_owned(),
            room: get(3).to_owned(),
            head: get(4).to_owned(),
            contact: contact.to_owned(),
            members: members.unwrap_or(1),
            tags,
            notes: get(8).to_owned(),
        };
        let key = (draft.grid.to_string(), label(&draft));
        if let Some(first) = seen.get(&key) {
            errors.push(RowError {
                row,
                field: COLUMNS[3].0.to_owned(),
                message: format!("the same address as row {first} / 与第 {first} 行地址重复"),
            });
            continue;
        }
        seen.insert(key, row);
        rows.push(Row { row, draft });
    }
    Ok((rows, errors))
}

/// A draft's address as [`shared::model::Address::label`] writes it, lowercased as the
/// search text is.
pub fn label(d: &HouseholdDraft) -> String {
    format!("{}-{}-{}", d.building, d.unit, d.room).to_lowercase()
}

/// The household of each grid and address, from the search text (`label head contact`).
pub fn match_existing(
    rows: &[Row],
    mut texts: impl FnMut(&str) -> Vec<(DocumentId, String)>,
) -> HashMap<usize, DocumentId> {
    let grids: HashSet<&str> = rows.iter().map(|r| r.draft.grid.as_str()).collect();
    let mut by_grid: HashMap<&str, Vec<(DocumentId, String)>> = HashMap::new();
    for g in grids {
        by_grid.insert(g, texts(g));
    }
    let mut out = HashMap::new();
    for r in rows {
        let prefix = format!("{} ", label(&r.draft));
        if let Some((doc, _)) = by_grid
            .get(r.draft.grid.as_str())
            .and_then(|hs| hs.iter().find(|(_, t)| t.starts_with(&prefix)))
        {
            out.insert(r.row, *doc);
        }
    }
    out
}

/// The edits that make `h` what `d` says, or none when they agree.
pub fn differences(h: &Household, d: &HouseholdDraft) -> Vec<Change> {
    let mut out = Vec::new();
    if h.head.value != d.head {
        out.push(Change::Head(d.head.clone()));
    }
    if h.contact.value != d.contact {
        out.push(Change::Contact(d.contact.clone()));
    }
    if h.members.value != d.members {
        out.push(Change::Members(d.members));
    }
    for t in &d.tags {
        if !h.tags.contains(t) {
            out.push(Change::Tag(t.clone(), true));
        }
    }
    if !d.notes.is_empty() && h.notes != d.notes {
        out.push(Change::Notes(d.notes.clone()));
    }
    out
}

/// One field an import changes.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Head of household.
    Head(String),
    /// Contact phone.
    Contact(String),
    /// Members.
    Members(i64),
    /// A tag on or off.
    Tag(String, bool),
    /// Notes.
    Notes(String),
}

impl Change {
    /// Writes it.
    pub fn write<T>(&self, tx: &mut T) -> Result<(), automerge::AutomergeError>
    where
        T: automerge::transaction::Transactable + automerge::ReadDoc,
    {
        use shared::model::household::edit;
        match self {
            Self::Head(v) => edit::set_head(tx, v),
            Self::Contact(v) => edit::set_contact(tx, v),
            Self::Members(v) => edit::set_members(tx, *v),
            Self::Tag(t, on) => edit::set_tag(tx, t, *on),
            Self::Notes(v) => edit::set_notes(tx, v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::org::Unit;

    fn org() -> Org {
        Org::new(
            ["s01", "s01/c01", "s01/c01/g01"]
                .iter()
                .zip([UnitKind::Street, UnitKind::Community, UnitKind::Grid])
                .map(|(c, kind)| Unit {
                    kind,
                    code: (*c).into(),
                    name: "x".into(),
                })
                .collect(),
        )
    }

    fn sheet(rows: &[&str]) -> Vec<Vec<String>> {
        std::iter::once("网格,楼栋,单元,房号,户主,联系电话,人数,标签,备注")
            .chain(rows.iter().copied())
            .map(|r| r.split(',').map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn each_bad_row_is_named_with_its_field_and_good_rows_pass() {
        let cells = sheet(&[
            "s01/c01/g01,1,1,101,王秀英,13800000001,3,elderly-alone,",
            "s01/c01/g02,1,1,102,李建国,13800000002,2,,",
            "s01/c01/g01,1,1,103,,13800000003,2,,",
            "s01/c01/g01,1,1,104,张桂兰,1380000x,2,,",
            "s01/c01/g01,1,1,105,刘志强,13800000005,0,,",
            "s01/c01/g01,1,1,101,陈玉兰,13800000006,1,,",
            ",,,,,,,,",
        ]);
        let (rows, errors) = check(&cells, &org(), &Scope::City).expect("reads");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].row, 2);
        assert_eq!(rows[0].draft.tags, vec!["elderly-alone"]);
        let named: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(
            named,
            vec![
                (3, "网格"),
                (4, "户主"),
                (5, "联系电话"),
                (6, "人数"),
                (7, "房号")
            ]
        );
    }

    #[test]
    fn rows_outside_the_scope_are_refused_and_missing_columns_are_named() {
        let cells = sheet(&["s01/c01/g01,1,1,101,王秀英,13800000001,3,,"]);
        let scope = Scope::Street("s02".into());
        let (rows, errors) = check(&cells, &org(), &scope).expect("reads");
        assert!(rows.is_empty());
        assert_eq!(errors[0].field, "网格");
        let bad = vec![vec!["grid".to_owned(), "building".to_owned()]];
        let e = check(&bad, &org(), &Scope::City).expect_err("refused");
        assert!(e.contains("单元") && e.contains("户主"), "{e}");
    }

    #[test]
    fn english_headers_and_an_xlsx_written_by_the_export_read_alike() {
        let table = shared::export::Table {
            headers: [
                "grid", "building", "unit", "room", "head", "contact", "members",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![
                [
                    "s01/c01/g01",
                    "3",
                    "2",
                    "1201",
                    "赵德明",
                    "13912345678",
                    "4",
                ]
                .map(String::from)
                .to_vec(),
            ],
        };
        let bytes = shared::export::xlsx(&table, "households");
        let cells = cells(&bytes).expect("reads");
        let (rows, errors) = check(&cells, &org(), &Scope::City).expect("reads");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows[0].draft.room, "1201");
        assert_eq!(rows[0].draft.members, 4);
        let csv = shared::export::csv(&table);
        assert_eq!(super::cells(csv.as_bytes()).expect("reads"), cells);
    }
}
