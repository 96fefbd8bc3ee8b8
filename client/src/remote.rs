//! Records the server lists but this device does not hold: a supervisor's drill-down into a
//! grid, a phone's older visits of a household. Pages of `GET /api/records?view=summary`.

use std::collections::BTreeMap;

use serde::Deserialize;
use shared::ids::DocumentId;
use shared::summary::Summary;

/// What a screen shows while it asks the server.
#[derive(Clone, Debug, PartialEq)]
pub enum Fetched {
    /// Asking.
    Loading,
    /// No network: these records are not on this device.
    Offline,
    /// The server answered with an error.
    Failed(String),
    /// The records, by ID.
    Got(BTreeMap<DocumentId, Summary>),
}

#[derive(Deserialize)]
struct Page {
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    id: DocumentId,
    summary: Option<Summary>,
}

/// The query of a page of summaries with these filters (`kind`, `grid`, `household`,
/// `status`: see `GET /api/records`).
pub fn query(filters: &[(&str, &str)]) -> String {
    let mut q = String::from("/api/records?view=summary");
    if !filters.iter().any(|(k, _)| *k == "limit") {
        q.push_str("&limit=1000");
    }
    for (k, v) in filters {
        q.push_str(&format!("&{k}={}", encode(v)));
    }
    q
}

/// The query of a household search on the server (address, head or phone).
pub fn search(q: &str) -> String {
    format!("/api/households?limit=100&q={}", encode(q.trim()))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Adds a page's records to `into`; invalid records (no summary) are left out.
pub fn add_page(body: &str, into: &mut BTreeMap<DocumentId, Summary>) -> Result<(), String> {
    let page: Page = serde_json::from_str(body).map_err(|e| e.to_string())?;
    for item in page.items {
        if let Some(s) = item.summary {
            into.insert(item.id, s);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_summaries_are_read_and_queries_escape_the_grid() {
        let id = DocumentId::from_bytes([5; 16]);
        let body = format!(
            r#"{{"items":[{{"id":"{id}","summary":{{"kind":"household","grid":"s01/c01/g01","label":"1-1-101","head":"王","members":2,"tags":[],"conflicted":false}}}},{{"id":"{}","invalid":"bad"}}],"next":null}}"#,
            DocumentId::from_bytes([6; 16])
        );
        let mut got = BTreeMap::new();
        add_page(&body, &mut got).expect("parses");
        assert_eq!(got.len(), 1);
        assert!(matches!(&got[&id], Summary::Household(h) if h.label == "1-1-101"));
        assert!(add_page("{", &mut got).is_err());
        assert_eq!(search(" 3-1 "), "/api/households?limit=100&q=3-1");
        let h = id.to_string();
        assert_eq!(
            query(&[
                ("kind", "visit"),
                ("grid", "s01/c01/g01"),
                ("household", &h)
            ]),
            format!(
                "/api/records?view=summary&limit=1000&kind=visit&grid=s01%2Fc01%2Fg01&household={id}"
            )
        );
    }
}
