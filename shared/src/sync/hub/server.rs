//! The server side: who is connected and what they asked about, the feed queries of the
//! extension, ephemeral messages, and dropping idle documents to keep memory flat.

use std::collections::HashSet;

use super::{Doc, Hub, Slot, sorted};
use crate::ids::{DocumentId, PeerId, Scope};
use crate::model::RecordMeta;
use crate::model::Role;
use crate::sync::effects::{ConnId, Effects};
use crate::sync::feed::{FeedAnswer, FeedQuery};
use crate::sync::holding::{Holding, Standing};
use crate::sync::policy::{AccessPolicy, Principal};
use crate::time::{Calendar, Millis};
use crate::wire::{Cursor, Message};

/// A peer we serve.
#[derive(Debug)]
pub(super) struct ServerConn {
    /// The authenticated user.
    pub(super) principal: Option<Principal>,
    /// Documents the peer asked about (plain automerge-repo subscription): changes to them
    /// are pushed. A peer with the extension hears of every change in its scope.
    pub(super) subscribed: HashSet<DocumentId>,
    /// How many documents that did not exist it asked about.
    pub(super) unknown: usize,
    /// Whether it had its first sync in bulk (once per connection; a second `gv-fetch-docs`
    /// is answered with the listing alone).
    pub(super) bulk: bool,
}

impl ServerConn {
    pub(super) fn new(principal: Option<Principal>) -> Self {
        Self {
            principal,
            subscribed: HashSet::new(),
            unknown: 0,
            bulk: false,
        }
    }

    /// Whether this peer may see a document with this meta (a document that is not a valid
    /// record is seen by no one).
    pub(super) fn can_read(&self, policy: &dyn AccessPolicy, meta: Option<&RecordMeta>) -> bool {
        meta.is_some_and(|m| policy.can_read(self.principal.as_ref(), m))
    }

    /// Whether this peer's device holds a record standing so (inside its scope, which the
    /// caller checks) at `now`.
    pub(super) fn holds(&self, now: Millis, window_days: i64, standing: Standing) -> bool {
        let role = self.principal.as_ref().map_or(Role::Worker, |p| p.role);
        Holding::new(role, Scope::City, now, window_days, &Calendar::CHINA).holds(standing)
    }

    /// What this peer's device should hold at `now` (an anonymous peer: nothing).
    pub(super) fn holding(&self, now: Millis, window_days: i64) -> Holding {
        match &self.principal {
            Some(p) => Holding::new(p.role, p.scope.clone(), now, window_days, &Calendar::CHINA),
            None => Holding::new(
                Role::Worker,
                Scope::Grids(Vec::new()),
                now,
                window_days,
                &Calendar::CHINA,
            ),
        }
    }
}

impl Hub {
    /// `gv-poll`: what changed in the peer's scope since its cursor.
    pub(super) fn on_poll(&mut self, now: Millis, conn: ConnId, cursor: Cursor, fx: &mut Effects) {
        let Some(s) = self.conns.get(&conn).and_then(|c| c.server()) else {
            return;
        };
        let holding = s.holding(now, self.config.window_days);
        fx.queries.push((
            conn,
            FeedQuery::Since {
                holding,
                cursor: Some(cursor),
            },
        ));
    }

    /// `gv-fetch-buckets`: list the peer's documents in these buckets; `gv-fetch-docs`
    /// (`documents`): send their saved bytes first, once per connection.
    pub(super) fn on_fetch_buckets(
        &mut self,
        now: Millis,
        conn: ConnId,
        mut buckets: Vec<u64>,
        documents: bool,
        fx: &mut Effects,
    ) {
        let Some(s) = self.conns.get_mut(&conn).and_then(|c| c.server_mut()) else {
            return;
        };
        let bulk = documents && !std::mem::replace(&mut s.bulk, true);
        let name = if documents {
            "gv-fetch-docs"
        } else {
            "gv-fetch-buckets"
        };
        // Each bucket at most once, and only buckets that exist: one message cannot ask for
        // the same listing a million times.
        let max = self.config.limits.max_fetch_buckets;
        let count = crate::sync::feed::BUCKETS as u64;
        buckets.sort_unstable();
        buckets.dedup();
        if buckets.len() > max || buckets.iter().any(|b| *b >= count) {
            return self.fail(
                conn,
                format!("{name} names at most {max} distinct buckets below {count}"),
                fx,
            );
        }
        let holding = s.holding(now, self.config.window_days);
        let query = if bulk {
            FeedQuery::Documents { holding, buckets }
        } else {
            FeedQuery::Buckets { holding, buckets }
        };
        fx.queries.push((conn, query));
    }

    /// `gv-watch`: the peer wants the figures of an area of its scope pushed; the driver, which
    /// keeps the figures, does the pushing.
    pub(super) fn on_watch(&mut self, conn: ConnId, area: String, fx: &mut Effects) {
        let Some(s) = self.conns.get(&conn).and_then(|c| c.server()) else {
            return;
        };
        let Some(scope) = s.principal.as_ref().and_then(|p| p.scope.area(&area)) else {
            return self.fail(
                conn,
                format!("gv-watch: {area:?} is not an area of your scope"),
                fx,
            );
        };
        fx.events
            .push(crate::sync::Event::Watch { conn, area, scope });
    }

    /// Storage answered a feed query: pass the listing on.
    pub(super) fn on_answer(&mut self, conn: ConnId, answer: FeedAnswer, fx: &mut Effects) {
        if !self.conns.get(&conn).is_some_and(|c| c.extension) {
            return;
        }
        let msg = match answer {
            FeedAnswer::Changes { docs, cursor } => Message::GvChanges { docs, cursor },
            FeedAnswer::Buckets { digests, cursor } => Message::GvBuckets { digests, cursor },
            FeedAnswer::Documents {
                docs,
                saved,
                cursor,
            } => {
                self.send_saved(conn, saved, fx);
                Message::GvChanges { docs, cursor }
            }
        };
        self.send(conn, &msg, fx);
    }

    /// Forwards an ephemeral message to the other peers subscribed to its document who may see
    /// it; never stored.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_ephemeral(
        &mut self,
        from: ConnId,
        id: DocumentId,
        data: Vec<u8>,
        count: u64,
        session_id: String,
        sender_id: PeerId,
        fx: &mut Effects,
    ) {
        let meta = match self.docs.get(&id) {
            Some(Slot::Ready(d)) => d.meta.clone(),
            _ => return,
        };
        let Some(origin) = self.conns.get(&from) else {
            return;
        };
        let policy = self.policy.as_ref();
        if let Some(s) = origin.server()
            && !s.can_read(policy, meta.as_ref())
        {
            return;
        }
        let targets: Vec<(ConnId, PeerId)> = self
            .conns
            .iter()
            .filter(|(cid, _)| **cid != from)
            .filter(|(_, c)| {
                c.server().is_some_and(|s| {
                    s.subscribed.contains(&id) && s.can_read(policy, meta.as_ref())
                })
            })
            .filter_map(|(cid, c)| c.remote.clone().map(|r| (*cid, r)))
            .collect();
        for (conn, target_id) in targets {
            let msg = Message::Ephemeral {
                target_id,
                document_id: id,
                data: data.clone(),
                count,
                session_id: session_id.clone(),
                sender_id: sender_id.clone(),
            };
            self.send(conn, &msg, fx);
        }
    }

    /// Drops documents that no connection is syncing or that every connection holds in full,
    /// the least recently synced first, until at most `keep` are held (or no more can go): a
    /// server's memory stays flat while the documents its phones keep editing stay loaded.
    /// Returns how many went.
    pub fn evict_idle(&mut self, keep: usize) -> usize {
        let Some(excess) = self.docs.len().checked_sub(keep).filter(|n| *n > 0) else {
            return 0;
        };
        let mut idle: Vec<(u64, DocumentId)> = (self.docs.iter())
            .filter_map(|(id, s)| match s {
                Slot::Ready(d) if d.syncs.is_empty() || settled(d) => Some((d.touched, *id)),
                _ => None,
            })
            .collect();
        if idle.len() > excess {
            idle.select_nth_unstable(excess - 1);
            idle.truncate(excess);
        }
        for (_, id) in &idle {
            self.docs.remove(id);
        }
        idle.len()
    }
}

/// Whether every connection syncing this document holds exactly our heads (as it last told
/// us): dropping the document (and those sync states) then loses nothing. A message of ours
/// may still be in flight (our last acknowledgement usually is: the peer, in sync, does not
/// answer it), but it can carry nothing the peer lacks. A later change reloads the document
/// from storage and syncs from a fresh state; subscriptions stay on the connection.
fn settled(d: &Doc) -> bool {
    let heads = sorted(d.doc.get_heads());
    d.syncs.values().all(|st| {
        st.their_heads
            .as_ref()
            .is_some_and(|t| sorted(t.clone()) == heads)
    })
}
