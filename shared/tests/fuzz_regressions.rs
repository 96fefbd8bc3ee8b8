//! Every input the fuzzers (`fuzz/`) ever crashed on, run again through the same target
//! bodies (`shared::fuzzing`): a fixed bug stays fixed. Inputs live in
//! `fuzz/regressions/<target>/`; the fuzzing campaign is written up in RELIABILITY.md.

use std::path::Path;

fn each(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let data = std::fs::read(&path).expect("read");
        run(&data);
        n += 1;
    }
    n
}

#[test]
fn the_wire_decoder_survives_every_kept_input() {
    each("wire", shared::fuzzing::wire);
    // And a few shapes by hand: empty, a lone map header, deep nesting.
    shared::fuzzing::wire(&[]);
    shared::fuzzing::wire(&[0xa1]);
    shared::fuzzing::wire(&[0x81; 4096]);
}

#[test]
fn the_serving_hub_survives_every_kept_input() {
    each("hub", shared::fuzzing::hub);
    shared::fuzzing::hub(&[0xff, 0xff, 0x00]);
}

#[test]
fn reading_a_record_survives_every_kept_document() {
    each("record", shared::fuzzing::record);
    shared::fuzzing::record(b"\x85\x6f\x4a\x83");
}

#[test]
fn the_issue_fold_survives_every_kept_event_list_and_ignores_arrival_order() {
    each("issue_fold", shared::fuzzing::issue_fold);
    // A report, an escalation by a worker, a close by the worker, a reopen by a secretary.
    shared::fuzzing::issue_fold(&[
        0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 1, 6, 2, 0, 0, 0, 0, 7, 3, 0, 1, 1, 1,
    ]);
}
