//! `gridvisit`: the sync server with an embedded database and, on first start, a demo city.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::cli::main().await
}
