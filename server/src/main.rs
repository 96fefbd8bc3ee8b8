//! The gridvisit server binary. Issue 3 turns this into the operator's program.

fn main() {
    println!("gridvisit server: not built yet; see README.md");
}
