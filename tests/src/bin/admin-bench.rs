//! Administration at a city's scale (issue 14):
//! `cargo run --release -p gridvisit-tests --bin admin-bench -- [--households 100000] [--people 10000]`.
//!
//! Starts an empty server in-process, names an organisation of grids of 300 households, and
//! prints: the import of one `.xlsx` of `--households` rows (the file's size, seconds to the
//! report, rows per second) and a second import of the same file (all unchanged); then, with
//! `--people` accounts stored, the time of pages of the people list (first, deep, searched).

use std::time::{Duration, Instant};

use gridvisit_tests::harness::{ADMIN_PASSWORD, TestServer, get_json, login};
use serde_json::{Value, json};
use shared::ids::{Scope, UserId};
use shared::org::{Unit, UnitKind};
use shared::sync::{Principal, Role};

#[derive(clap::Parser)]
#[command(name = "admin-bench")]
struct Args {
    /// Rows of the household import.
    #[arg(long, default_value_t = 100_000)]
    households: usize,
    /// Accounts stored before the people list is timed.
    #[arg(long, default_value_t = 10_000)]
    people: usize,
}

const PER_GRID: usize = 300;

fn grid(i: usize) -> String {
    format!("s01/c{:02}/g{:02}", i / 20 + 1, i % 20 + 1)
}

async fn import(srv: &TestServer, token: &str, bytes: &[u8]) -> anyhow::Result<(Duration, Value)> {
    let t = Instant::now();
    let resp = reqwest::Client::new()
        .post(format!("{}/api/admin/import?wait=true", srv.http()))
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await?;
    anyhow::ensure!(resp.status().is_success(), "import: {}", resp.status());
    let v: Value = resp.json().await?;
    Ok((t.elapsed(), v["report"].clone()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Args = clap::Parser::parse();
    let srv = TestServer::start_empty(server::Settings::default()).await;
    let admin = login(&srv.http(), "admin", ADMIN_PASSWORD).await;
    let grids = args.households.div_ceil(PER_GRID);
    let mut units = vec![Unit {
        kind: UnitKind::Street,
        code: "s01".into(),
        name: "花洲街道".into(),
    }];
    for g in 0..grids {
        let code = grid(g);
        let community = code[..7].to_owned();
        if units.iter().all(|u| u.code != community) {
            units.push(Unit {
                kind: UnitKind::Community,
                code: community.clone(),
                name: format!("社区{}", &community[5..]),
            });
        }
        units.push(Unit {
            kind: UnitKind::Grid,
            code,
            name: format!("第{}网格", g % 20 + 1),
        });
    }
    srv.state.store.put_units(&units)?;

    let table = shared::export::Table {
        headers: [
            "网格",
            "楼栋",
            "单元",
            "房号",
            "户主",
            "联系电话",
            "人数",
            "标签",
            "备注",
        ]
        .map(String::from)
        .to_vec(),
        rows: (0..args.households)
            .map(|i| {
                let n = i % PER_GRID;
                vec![
                    grid(i / PER_GRID),
                    format!("{}号楼", n / 60 + 1),
                    format!("{}", n / 20 % 3 + 1),
                    format!("{}", 101 + n % 20),
                    format!("住户{i}"),
                    format!("139{i:08}"),
                    format!("{}", i % 5 + 1),
                    if i % 7 == 0 {
                        "elderly-alone".into()
                    } else {
                        String::new()
                    },
                    String::new(),
                ]
            })
            .collect(),
    };
    let xlsx = shared::export::xlsx(&table, "住户");
    let (first, report) = import(&srv, &admin, &xlsx).await?;
    anyhow::ensure!(
        report["imported"].as_u64() == Some(args.households as u64),
        "import: {report}"
    );
    println!(
        "import {} households from one .xlsx ({:.1} MB, {grids} grids): {:.1} s ({:.0} rows/s)",
        args.households,
        xlsx.len() as f64 / 1e6,
        first.as_secs_f64(),
        args.households as f64 / first.as_secs_f64()
    );
    let (again, report) = import(&srv, &admin, &xlsx).await?;
    anyhow::ensure!(
        report["unchanged"].as_u64() == Some(args.households as u64),
        "second import: {report}"
    );
    println!(
        "the same file again: {:.1} s, {} unchanged",
        again.as_secs_f64(),
        args.households
    );

    let hash = server::auth::hash_password("bench-password")?;
    let accounts: Vec<server::store::Account> = (0..args.people)
        .map(|i| {
            let g = grid(i % grids.max(1));
            server::store::Account::new(
                Principal {
                    user: UserId::new(format!("w{i:05}")).unwrap_or_else(|_| unreachable!()),
                    role: Role::Worker,
                    scope: Scope::Grids(vec![g.parse().unwrap_or_else(|_| unreachable!())]),
                },
                format!("网格员{i}"),
                hash.clone(),
            )
        })
        .collect();
    srv.state.store.put_accounts(&accounts)?;
    let mut times = Vec::new();
    for path in [
        "/api/admin/people?limit=50".to_owned(),
        format!("/api/admin/people?limit=50&after=w{:05}", args.people / 2),
        format!("/api/admin/people?limit=50&after=w{:05}", args.people - 60),
        "/api/admin/people?limit=50&q=网格员9999".to_owned(),
        "/api/admin/people?limit=50&q=nobody".to_owned(),
    ] {
        for _ in 0..5 {
            let t = Instant::now();
            let (status, body) = get_json(&srv.http(), &path, &admin).await;
            times.push((path.clone(), t.elapsed()));
            anyhow::ensure!(status == 200, "{path}: {body}");
        }
    }
    let worst = times.iter().map(|t| t.1).max().unwrap_or_default();
    let mut sorted: Vec<Duration> = times.iter().map(|t| t.1).collect();
    sorted.sort();
    println!(
        "people list with {} accounts, a page of 50 (first, deep, searched; {} requests): median {:.1} ms, worst {:.1} ms",
        args.people + 1,
        times.len(),
        sorted[sorted.len() / 2].as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3
    );
    let _ = json!(null);
    srv.stop().await;
    Ok(())
}
