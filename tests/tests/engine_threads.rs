//! The engine at more than one thread: one recorded stream of phones registering and editing
//! households, replayed in-process over the real database at 1 and at 2 engine threads,
//! commits the same changes and leaves every document at the heads of the recording.

use gridvisit_tests::harness::TempDir;
use gridvisit_tests::load::replay::replay;

#[test]
fn a_recorded_stream_replayed_at_two_engine_threads_commits_what_one_thread_does() {
    let tape = shared::sim::record_tape(40, 4, 6, 11).expect("recorded");
    assert_eq!(tape.heads.len(), 160, "every household reached the server");
    let one = replay(&tape, 1, &TempDir::new("replay-1").0).expect("one thread");
    let two = replay(&tape, 2, &TempDir::new("replay-2").0).expect("two threads");
    assert!(one.changes >= 40 * 6, "the edits were committed: {one:?}");
    assert_eq!(one.changes, two.changes, "the same changes at both counts");
}
