//! The server binary, built inside the tests package so tests can start it as a process (and
//! kill it with SIGKILL).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::cli::main().await
}
