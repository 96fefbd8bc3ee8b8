//! The load generator's smoke run, as CI runs it: 60 phones with patchy links record visits and
//! edit households against the real server process for 12 s, street supervisors watch, and the
//! audit checks that the server holds every change and every replica converged. `loadgen`
//! exits non-zero on any loss or divergence, and so does this test.

use std::process::Command;

#[test]
fn smoke_run_loses_nothing_and_converges() {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["smoke", "--against", "gridvisit"])
        .output()
        .expect("run loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "loadgen smoke failed:\n{stdout}\n{stderr}"
    );
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| gridvisit |"))
        .unwrap_or_else(|| panic!("no gridvisit row in:\n{stdout}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // | server | changes | … | lost | diverged |
    let changes: u64 = cells[2].parse().expect("changes");
    assert!(changes > 100, "the smoke run made too few changes: {row}");
    assert_eq!(cells[cells.len() - 3], "0", "lost changes: {row}");
    assert_eq!(cells[cells.len() - 2], "0", "diverged replicas: {row}");
}
