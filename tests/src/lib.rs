//! Helpers for gridvisit's cross-crate and cross-language tests (the tests live in `tests/tests/`):
//! a server started on 127.0.0.1:0 in-process or as a process, a WebSocket client over the
//! shared engine, and the Node.js interop scripts.

pub mod client;
pub mod harness;
pub mod load;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};
use shared::wire::cbor::Cbor;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The folder of the Node.js interop scripts, checked to have its npm packages installed.
pub fn js_dir() -> PathBuf {
    let dir = repo_root().join("tests/js");
    assert!(
        dir.join("node_modules/@automerge/automerge-repo").exists(),
        "the JS interop packages are missing: run `npm ci --prefix tests/js` (.ci/run does)"
    );
    dir
}

/// Runs `node <script> <args>` in `tests/js` and returns (success, stdout + stderr).
pub fn node(script: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(js_dir())
        .output()
        .expect("node runs (Node.js 20 is on every machine here)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A CBOR item as the JSON expectation `decode-check.mjs` compares with: byte strings as
/// `{"$bytes": hex}`, `undefined` as `{"$undefined": true}`.
pub fn expectation(item: &Cbor) -> Value {
    match item {
        Cbor::Uint(n) => json!(n),
        Cbor::Nint(n) => json!(-1 - i128::from(*n)),
        Cbor::Bytes(b) => json!({ "$bytes": hex(b) }),
        Cbor::Text(s) => json!(s),
        Cbor::Array(items) => Value::Array(items.iter().map(expectation).collect()),
        Cbor::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                let key = match k {
                    Cbor::Text(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                m.insert(key, expectation(v));
            }
            Value::Object(m)
        }
        Cbor::Tag(_, inner) => expectation(inner),
        Cbor::Bool(b) => json!(b),
        Cbor::Null => Value::Null,
        Cbor::Undefined => json!({ "$undefined": true }),
        Cbor::Float(f) => json!(f),
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The columns of a household import, as an admin's spreadsheet heads them.
pub const HOUSEHOLD_COLUMNS: [&str; 9] = [
    "网格",
    "楼栋",
    "单元",
    "房号",
    "户主",
    "联系电话",
    "人数",
    "标签",
    "备注",
];

/// A households sheet of `n` rows in `grid` (building `i / 100 + 1`, unit 1, room `1001 + i`,
/// head `住户i`, contact `139` and `i`), with `members` each and `tags(i)`.
pub fn household_sheet(
    n: usize,
    grid: &str,
    members: usize,
    tags: impl Fn(usize) -> String,
) -> shared::export::Table {
    shared::export::Table {
        headers: HOUSEHOLD_COLUMNS.map(String::from).to_vec(),
        rows: (0..n)
            .map(|i| {
                vec![
                    grid.to_owned(),
                    format!("{}", i / 100 + 1),
                    "1".into(),
                    format!("{}", 1001 + i),
                    format!("住户{i}"),
                    format!("139{i:08}"),
                    members.to_string(),
                    tags(i),
                    String::new(),
                ]
            })
            .collect(),
    }
}
