//! `gridvisit`: the sync server with an embedded database and, on first start, a demo city.

#[global_allocator]
static ALLOCATOR: server::Allocator = server::Allocator;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::cli::main().await
}
