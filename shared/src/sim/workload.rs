//! The workloads of the sync benchmarks (and of their tests): a reconnect, a first sync, a
//! recorded stream to replay.

use super::{LinkStats, Network};
use crate::ids::{DocumentId, GridId, Scope, UserId};
use crate::model::HouseholdDraft;
use crate::sync::{Input, Principal, Role};
use automerge::ChangeHash;

/// The reconnect workload of the benchmark and of its test: a worker holds `held` records, in
/// sync with the server, goes offline while another worker changes `changed` of them, then
/// reconnects. Returns the traffic of the reconnect alone, until everything is in sync.
pub fn reconnect_cost(
    held: usize,
    changed: usize,
    extension: bool,
    seed: u64,
) -> Result<LinkStats, String> {
    use crate::model::household::edit;
    use crate::sync::TrustServer;

    let (mut net, server, grid, principal) = grid_network(seed);
    let worker = net.add_peer("worker", "w1", extension, || Box::new(TrustServer));
    let other = net.add_peer("other", "w2", true, || Box::new(TrustServer));
    let link = net.connect(worker, server, Some(principal("w1")));
    let other_link = net.connect(other, server, Some(principal("w2")));
    let ids = households(&mut net, worker, &grid, held)?;
    net.run_until_quiescent(10_000_000)
        .map_err(|e| e.to_string())?;
    // The other worker looks at the records it will change, so it holds them.
    for id in ids.iter().take(changed) {
        net.sync_now(other, *id);
    }
    net.run_until_quiescent(10_000_000)
        .map_err(|e| e.to_string())?;
    net.disconnect(link);
    for (i, id) in ids.iter().take(changed).enumerate() {
        net.edit(other, *id, |tx| edit::set_members(tx, 4 + (i % 3) as i64))
            .map_err(|e| e.to_string())?;
    }
    net.run_until_quiescent(10_000_000)
        .map_err(|e| e.to_string())?;
    net.disconnect(other_link);
    let link = net.connect(worker, server, Some(principal("w1")));
    net.run_until_quiescent(10_000_000)
        .map_err(|e| e.to_string())?;
    let server_heads = |id: &DocumentId| net.peer(server).hub.doc(id).map(|d| d.get_heads());
    for id in &ids {
        if net.peer(worker).hub.doc(id).map(|d| d.get_heads()) != server_heads(id) {
            return Err(format!("worker did not converge on {id}"));
        }
    }
    Ok(net.stats(link))
}

/// What a first sync cost: its traffic, and what the documents it brought weigh saved.
#[derive(Clone, Copy, Debug)]
pub struct FirstSync {
    /// The link's traffic from `join` until every record is in sync.
    pub stats: LinkStats,
    /// The saved size of the documents it brought, as the server stores them.
    pub saved: u64,
    /// How many documents.
    pub docs: usize,
}

/// The first-sync workload: a worker's grid holds `held` households, each edited once after it
/// was registered; a second worker's new phone (holding nothing) connects and syncs. `bulk`
/// lets the phone ask for its documents in bulk; without it every document syncs on its own.
pub fn first_sync_cost(held: usize, bulk: bool, seed: u64) -> Result<FirstSync, String> {
    use crate::model::household::edit;
    use crate::sync::TrustServer;

    let (mut net, server, grid, principal) = grid_network(seed);
    let worker = net.add_peer("worker", "w1", true, || Box::new(TrustServer));
    let phone = net.add_peer("phone", "w2", true, || Box::new(TrustServer));
    net.configure(phone, |c| c.bulk_first_sync = bulk);
    net.connect(worker, server, Some(principal("w1")));
    let ids = households(&mut net, worker, &grid, held)?;
    for (i, id) in ids.iter().enumerate() {
        net.edit(worker, *id, |tx| edit::set_members(tx, 1 + (i % 5) as i64))
            .map_err(|e| e.to_string())?;
    }
    net.run_until_quiescent(10_000_000)
        .map_err(|e| e.to_string())?;
    let link = net.connect(phone, server, Some(principal("w2")));
    net.run_until_quiescent(10_000_000)
        .map_err(|e| e.to_string())?;
    let mut saved = 0;
    for id in &ids {
        let heads = |p: usize| net.peer(p).hub.doc(id).map(|d| d.get_heads());
        if heads(phone) != heads(server) {
            return Err(format!("the phone did not converge on {id}"));
        }
        saved += net
            .peer(server)
            .store
            .load(id)
            .map_or(0, |b| b.len() as u64);
    }
    if net.peer(phone).cursor.is_none() {
        return Err("the phone saved no cursor".into());
    }
    Ok(FirstSync {
        stats: net.stats(link),
        saved,
        docs: ids.len(),
    })
}

/// A recorded stream of a server's inputs, and where it left the server's documents.
#[derive(Clone, Debug)]
pub struct Tape {
    /// What the server was fed, in order: connections (with their principals), frames,
    /// closes.
    pub inputs: Vec<Input>,
    /// The heads of every document the server held at the end.
    pub heads: Vec<(DocumentId, Vec<ChangeHash>)>,
    /// Changes the phones made (the server may store several of one document in one chunk, so
    /// its count of durable changes, one per chunk, can be lower).
    pub changes: usize,
}

/// The replay workload: `phones` workers, each in a grid of its own, register `households`
/// households each, then edit one of them per round for `rounds` rounds, all phones in each
/// round before the network settles (so their frames interleave). Records what the server
/// was fed.
pub fn record_tape(
    phones: usize,
    households_each: usize,
    rounds: usize,
    seed: u64,
) -> Result<Tape, String> {
    use crate::model::household::edit;
    use crate::sync::{ScopePolicy, TrustServer};

    let mut net = Network::new(seed);
    let server = net.add_peer("server", "server", true, || Box::new(ScopePolicy));
    net.record(server);
    let mut phone_docs = Vec::with_capacity(phones);
    for i in 0..phones {
        let grid: GridId = format!("s01/c{:02}/g{:02}", i / 10 + 1, i % 10 + 1)
            .parse()
            .map_err(|e| format!("grid {i}: {e:?}"))?;
        let user = format!("w{i}");
        let phone = net.add_peer(&format!("phone-{i}"), &user, true, || Box::new(TrustServer));
        let principal = Principal {
            user: UserId::new(&user).map_err(|e| format!("{e:?}"))?,
            role: Role::Worker,
            scope: Scope::Grids(vec![grid.clone()]),
        };
        net.connect(phone, server, Some(principal));
        let ids = households(&mut net, phone, &grid, households_each)?;
        phone_docs.push((phone, ids));
    }
    net.run_until_quiescent(100_000_000)
        .map_err(|e| e.to_string())?;
    for round in 0..rounds {
        for (phone, ids) in &phone_docs {
            let Some(id) = ids.get(round % ids.len().max(1)) else {
                continue;
            };
            net.edit(*phone, *id, |tx| {
                edit::set_members(tx, 1 + (round % 7) as i64)
            })
            .map_err(|e| e.to_string())?;
        }
        net.run_until_quiescent(100_000_000)
            .map_err(|e| e.to_string())?;
    }
    let heads = (net.peer(server).hub.documents())
        .map(|(id, doc)| (*id, doc.get_heads()))
        .collect();
    let changes = phones * (households_each + rounds);
    Ok(Tape {
        inputs: net.take_tape(),
        heads,
        changes,
    })
}

/// A network with a server, the grid its workers work, and a worker's principal.
fn grid_network(seed: u64) -> (Network, usize, GridId, impl Fn(&str) -> Principal) {
    use crate::sync::ScopePolicy;

    let grid: GridId = "s01/c01/g01"
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid grid path"));
    let scope = Scope::Grids(vec![grid.clone()]);
    let principal = move |user: &str| Principal {
        user: UserId::new(user).unwrap_or_else(|_| unreachable!("not empty")),
        role: Role::Worker,
        scope: scope.clone(),
    };
    let mut net = Network::new(seed);
    let server = net.add_peer("server", "server", true, || Box::new(ScopePolicy));
    (net, server, grid, principal)
}

/// `count` households registered by peer `p`, and settled.
fn households(
    net: &mut Network,
    p: usize,
    grid: &GridId,
    count: usize,
) -> Result<Vec<DocumentId>, String> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let id = DocumentId::from_bytes(net.rng.bytes16());
        let draft = HouseholdDraft {
            grid: grid.clone(),
            building: format!("{}", i / 100),
            unit: format!("{}", (i / 10) % 10),
            room: format!("{}", i % 10),
            head: "王建国".into(),
            contact: "13800000000".into(),
            members: 3,
            tags: Vec::new(),
            notes: String::new(),
        };
        net.create(p, id, |tx| draft.write(tx))
            .map_err(|e| e.to_string())?;
        ids.push(id);
    }
    Ok(ids)
}
