//! The shape ARCHITECTURE.md promises, checked: no source file of `shared`, `server` or
//! `client` is over 600 lines, and no two files import each other in a cycle (a module's own
//! submodules reaching back to it with `super::` are its parts, not a cycle).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gridvisit_tests::repo_root;

const MAX_LINES: usize = 600;

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// `prefix::{a, b::{c, d}}` → `prefix::a`, `prefix::b::c`, `prefix::b::d`.
fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    match tree.find('{') {
        None => {
            let path = tree.split(" as ").next().unwrap_or_default().trim();
            if !path.is_empty() {
                out.push(format!("{prefix}{path}"));
            }
        }
        Some(open) => {
            let head = &tree[..open];
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&inner[start..i], &format!("{prefix}{head}"), out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(&inner[start..], &format!("{prefix}{head}"), out);
        }
    }
}

/// Every path a file names through `crate::`, `super::` or `self::`, resolved to modules.
fn imports(text: &str, here: &[String], is_mod_file: bool) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for stmt in text.split(';') {
        let s = stmt.trim_start();
        let s = s
            .strip_prefix("pub(crate) ")
            .or(s.strip_prefix("pub "))
            .unwrap_or(s);
        if let Some(rest) = s.strip_prefix("use ") {
            expand(rest, "", &mut paths);
        }
    }
    // Paths written inline (`crate::web::now()`).
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
        if word.starts_with("crate::") || word.starts_with("super::") {
            paths.push(word.to_owned());
        }
    }
    paths
        .into_iter()
        .filter_map(|p| {
            let mut segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
            let mut base: Vec<String> = match segs.first()? {
                &"crate" => Vec::new(),
                &"super" | &"self" => {
                    // In `a/b.rs` (module a::b) `super` is `a`; in `a/b/mod.rs` it is also `a`.
                    let mut m = here.to_vec();
                    if is_mod_file || !m.is_empty() {
                        m.pop();
                    }
                    if segs[0] == "self" {
                        m = here.to_vec();
                    }
                    m
                }
                _ => return None,
            };
            segs.remove(0);
            while segs.first() == Some(&"super") {
                base.pop();
                segs.remove(0);
            }
            base.extend(segs.iter().map(|s| (*s).to_owned()));
            Some(base)
        })
        .collect()
}

fn check_crate(name: &str, problems: &mut Vec<String>) {
    let src = repo_root().join(name).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let modules: BTreeMap<Vec<String>, PathBuf> = all
        .iter()
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &all {
        let text = std::fs::read_to_string(file).expect("read");
        let lines = text.lines().count();
        // Comments (doc links included) name things without importing them.
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        if lines > MAX_LINES {
            problems.push(format!("{} has {lines} lines", file.display()));
        }
        let here = module_of(&src, file);
        let is_mod = file.file_name().is_some_and(|n| n == "mod.rs");
        for mut path in imports(&code, &here, is_mod) {
            // The longest prefix that is a file of this crate.
            while !path.is_empty() && !modules.contains_key(&path) {
                path.pop();
            }
            // Reaching an ancestor (the crate root included) is a part naming its whole.
            if path == here || here.starts_with(&path) {
                continue;
            }
            edges.entry(here.clone()).or_default().insert(path);
        }
    }
    // Depth-first search for a cycle.
    fn visit(
        m: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        match state.get(m) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|s| s == m).unwrap_or(0);
                let mut cycle = stack[at..].to_vec();
                cycle.push(m.clone());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, edges, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in modules.keys() {
        if let Some(cycle) = visit(m, &edges, &mut state, &mut Vec::new()) {
            let names: Vec<String> = cycle
                .iter()
                .map(|m| format!("{name}::{}", m.join("::")))
                .collect();
            problems.push(format!("import cycle: {}", names.join(" → ")));
            break;
        }
    }
}

#[test]
fn no_source_file_is_over_600_lines_and_no_files_import_each_other_in_a_cycle() {
    let mut problems = Vec::new();
    for krate in ["shared", "server", "client"] {
        check_crate(krate, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_finds_a_cycle_and_resolves_use_trees() {
    let mut out = Vec::new();
    expand("crate::{a::X, b::{c, d as e}}", "", &mut out);
    assert_eq!(out, vec!["crate::a::X", "crate::b::c", "crate::b::d"]);
    let here = vec!["web".to_owned(), "engine".to_owned()];
    let found = imports(
        "use super::handle::Cmd;\nfn f() { crate::view::x(); }",
        &here,
        false,
    );
    assert!(found.contains(&vec![
        "web".to_owned(),
        "handle".to_owned(),
        "Cmd".to_owned()
    ]));
    assert!(found.contains(&vec!["view".to_owned(), "x".to_owned()]));
}
