//! Per-document sync: automerge's sync protocol for each document on each connection, the
//! validation and quarantine of changes from peers we serve, live fan-out, and documents
//! loaded from storage.

use automerge::sync::{self, SyncDoc};

use super::{Doc, Hub, Slot};
use crate::ids::DocumentId;
use crate::model::{Record, RecordMeta};
use crate::sync::effects::{ConnId, Effects, Event, Persist, Quarantine};
use crate::sync::holding::Standing;
use crate::sync::policy::{Refusal, Write};
use crate::time::{Calendar, Millis};
use crate::wire::Message;

impl Hub {
    /// A `request` or `sync` about `id`.
    pub(super) fn on_sync(
        &mut self,
        now: Millis,
        conn: ConnId,
        id: DocumentId,
        data: Vec<u8>,
        is_request: bool,
        fx: &mut Effects,
    ) {
        let msg = match sync::Message::decode(&data) {
            Ok(m) => m,
            Err(e) => {
                return self.fail(
                    conn,
                    format!("invalid automerge sync message for {id}: {e}"),
                    fx,
                );
            }
        };
        let Some(serving) = self.conns.get(&conn).map(|c| !c.is_client()) else {
            return;
        };
        let waiting = || Message::Sync {
            target_id: self.config.peer_id.clone(),
            document_id: id,
            data: data.clone(),
            sender_id: self.config.peer_id.clone(),
        };
        match self.docs.get(&id) {
            Some(Slot::Loading(_)) => {
                let m = waiting();
                if let Some(Slot::Loading(queue)) = self.docs.get_mut(&id) {
                    queue.push((conn, m));
                }
                return;
            }
            // A server does not hold every document in memory: ask storage.
            None if serving => {
                let m = waiting();
                self.docs.insert(id, Slot::Loading(vec![(conn, m)]));
                fx.load.push(id);
                return;
            }
            None => {
                let empty = self.empty();
                self.docs.insert(id, Slot::Ready(Doc::new(empty)));
            }
            Some(Slot::Ready(_)) => {}
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(Slot::Ready(d)) = self.docs.get(&id) else {
            return;
        };
        let exists = !d.doc.get_heads().is_empty();
        if let Some(s) = c.server()
            && exists
            && !s.can_read(self.policy.as_ref(), d.meta.as_ref())
        {
            // Out of scope looks exactly like missing: answered from an empty document.
            self.answer_as_missing(conn, id, msg, fx);
            return;
        }
        if !exists && msg.heads.is_empty() && (serving || is_request) {
            // A missing document with nothing to offer is unavailable. The requester stays
            // subscribed, so it hears of the document if it appears later (as JS servers do).
            if d.syncs.is_empty() {
                self.docs.remove(&id);
            }
            // Past its share of unknown documents a peer is answered but no longer subscribed:
            // asking for random IDs cannot grow what the hub keeps for it.
            let max = self.config.limits.max_unknown_docs;
            if let Some(s) = self.conns.get_mut(&conn).and_then(|c| c.server_mut())
                && !s.subscribed.contains(&id)
                && s.unknown < max
            {
                s.unknown += 1;
                s.subscribed.insert(id);
            }
            self.unavailable(conn, id, fx);
            return;
        }
        let principal = super::principal_of(c).cloned();
        let user = principal.as_ref().map(|p| p.user.to_string());
        if let Some(s) = self.conns.get_mut(&conn).and_then(|c| c.server_mut()) {
            s.subscribed.insert(id);
        }
        let read_records = self.config.read_records;
        let limits = self.config.limits;
        let incoming: usize = msg.changes.iter().map(<[u8]>::len).sum();
        self.clock += 1;
        let tick = self.clock;
        let Some(Slot::Ready(d)) = self.docs.get_mut(&id) else {
            return;
        };
        d.touched = tick;
        let before = d.doc.get_heads();
        let mut before_standing = Standing::Other;
        let mut state = d.syncs.get(&conn).cloned().unwrap_or_default();
        if msg.changes.is_empty() {
            if let Err(e) = d.doc.receive_sync_message(&mut state, msg) {
                return self.fail(conn, format!("cannot apply sync message for {id}: {e}"), fx);
            }
            d.syncs.insert(conn, state);
        } else {
            // Inflated with a limit first: automerge's loader has none. (The browser build
            // serves no one and has no inflater.)
            #[cfg(not(target_arch = "wasm32"))]
            if serving {
                let mut budget = limits.max_inflated_bytes;
                let screened = msg
                    .changes
                    .iter()
                    .try_for_each(|c| crate::sync::inflate::check(c, &mut budget));
                if let Err(unaccepted) = screened {
                    let chunk: Vec<u8> = msg.changes.iter().flatten().copied().collect();
                    let refusal = match unaccepted {
                        crate::sync::inflate::Unaccepted::TooLarge => Refusal::Inflates {
                            max: limits.max_inflated_bytes,
                        },
                        crate::sync::inflate::Unaccepted::Bundle => Refusal::Bundle,
                    };
                    if !exists && d.syncs.is_empty() {
                        self.docs.remove(&id);
                    }
                    return self.refuse(conn, id, user, refusal, chunk, fx);
                }
            }
            // A refused change must leave no trace. A server applies it in place and, when it
            // refuses it (or automerge fails on it), takes it back ([`Hub::take_back`]):
            // copying every document for every change cost a twentieth of the server's time
            // (issue 16), a refusal is rare. A client applies to a copy.
            let previous = if serving && exists {
                d.record.clone().or_else(|| Record::read(&d.doc).ok())
            } else {
                None
            };
            let mut copy = (!serving).then(|| d.doc.clone());
            let applied = {
                let target = copy.as_mut().unwrap_or(&mut d.doc);
                crate::sync::untrusted(|| target.receive_sync_message(&mut state, msg))
            };
            let failed = match applied {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(e) = failed {
                if serving {
                    self.take_back(id, &before, exists);
                }
                return self.fail(conn, format!("cannot apply sync message for {id}: {e}"), fx);
            }
            let trial = copy.as_ref().unwrap_or(&d.doc);
            if trial.get_heads() == before {
                // Nothing new is visible (changes may wait in the queue for missing
                // dependencies, which the sync protocol asks for next). Those waiting bytes
                // are bounded per document.
                if serving && d.orphan_bytes + incoming > limits.max_orphan_bytes {
                    let max = limits.max_orphan_bytes;
                    self.take_back(id, &before, exists);
                    return self.fail(
                        conn,
                        format!(
                            "{id}: more than {max} bytes of changes wait for missing dependencies"
                        ),
                        fx,
                    );
                }
                d.orphan_bytes += incoming;
                if let Some(copy) = copy {
                    d.doc = copy;
                }
                d.syncs.insert(conn, state);
            } else {
                let added_ops = if serving {
                    trial.get_changes(&before).iter().map(|c| c.len()).sum()
                } else {
                    0
                };
                let verdict = if added_ops > limits.max_ops_per_message {
                    Err(Refusal::TooLarge {
                        ops: added_ops,
                        max: limits.max_ops_per_message,
                    })
                } else if serving {
                    before_standing = previous
                        .as_ref()
                        .map_or(Standing::Other, |r| Standing::of(r, &Calendar::CHINA));
                    Record::read(trial).map_err(Refusal::from).and_then(|r| {
                        self.policy.check_write(&Write {
                            now,
                            who: principal.as_ref(),
                            before: previous.as_ref(),
                            after: &r,
                            doc: trial,
                            before_heads: &before,
                        })?;
                        Ok((Some(r.meta()), Some(r)))
                    })
                } else if read_records {
                    let record = Record::read(trial).ok();
                    Ok((RecordMeta::read(trial).ok(), record))
                } else {
                    Ok((RecordMeta::read(trial).ok(), None))
                };
                let chunk = trial.save_after(&before);
                match verdict {
                    Err(refusal) => {
                        if serving {
                            self.take_back(id, &before, exists);
                        } else if !exists && d.syncs.is_empty() {
                            self.docs.remove(&id);
                        }
                        return self.refuse(conn, id, user, refusal, chunk, fx);
                    }
                    Ok((meta, record)) => {
                        if let Some(copy) = copy {
                            d.doc = copy;
                        }
                        d.orphan_bytes = 0;
                        d.meta = meta.clone();
                        d.standing = record.as_ref().map(|r| Standing::of(r, &Calendar::CHINA));
                        d.record = record.clone();
                        d.syncs.insert(conn, state);
                        fx.persist.push(Persist {
                            doc: id,
                            chunk,
                            heads: d.doc.get_heads(),
                            meta: meta.clone(),
                            record: record.map(Box::new),
                        });
                        fx.events.push(Event::DocChanged { doc: id, meta });
                        if let Some(c) = self.conns.get_mut(&conn).and_then(|c| c.client_mut()) {
                            c.touched();
                        }
                        self.fan_out(now, id, Some(conn), before_standing, fx);
                    }
                }
            }
        }
        self.sync_doc(id, conn, fx);
        self.settle(conn, id, false, fx);
    }

    /// Takes back what a message applied in place to a served document and must not keep (a
    /// refused change, one automerge failed or panicked on, changes past the orphan limit):
    /// the document is rebuilt from its own changes up to `before`, with its actor, and its
    /// queue of changes waiting for dependencies goes. A document that did not exist before and
    /// that no one syncs is dropped; so is one that cannot be rebuilt, and the next message
    /// about it reloads it from storage.
    fn take_back(&mut self, id: DocumentId, before: &[automerge::ChangeHash], existed: bool) {
        let Some(Slot::Ready(d)) = self.docs.get_mut(&id) else {
            return;
        };
        if !existed && d.syncs.is_empty() {
            self.docs.remove(&id);
            return;
        }
        let actor = d.doc.get_actor().clone();
        match crate::sync::untrusted(|| d.doc.fork_at(before)) {
            Ok(Ok(doc)) => {
                d.doc = doc.with_actor(actor);
                d.orphan_bytes = 0;
            }
            _ => {
                self.docs.remove(&id);
            }
        }
    }

    /// Refuses a change: keeps it in quarantine, reports it, and tells the sender why (naming
    /// the document only to peers that negotiated the extension). The connection stays open.
    fn refuse(
        &mut self,
        conn: ConnId,
        doc: DocumentId,
        user: Option<String>,
        reason: Refusal,
        chunk: Vec<u8>,
        fx: &mut Effects,
    ) {
        let (ext, target_id) = match self.conns.get(&conn) {
            Some(c) => (c.extension, c.remote.clone()),
            None => (false, None),
        };
        let message = format!("change to {doc} refused: {reason}");
        fx.quarantine.push(Quarantine {
            conn,
            user,
            doc,
            reason: reason.clone(),
            chunk,
        });
        fx.events.push(Event::Refused { conn, doc, reason });
        self.send(
            conn,
            &Message::Error {
                sender_id: Some(self.config.peer_id.clone()),
                message,
                target_id,
                document_id: ext.then_some(doc),
            },
            fx,
        );
    }

    /// Answers a sync about a document the peer may not see exactly as for a missing one:
    /// `doc-unavailable` when it offers nothing, else a reply from an empty document; any
    /// changes it sends are refused and kept aside.
    fn answer_as_missing(
        &mut self,
        conn: ConnId,
        id: DocumentId,
        msg: sync::Message,
        fx: &mut Effects,
    ) {
        if msg.heads.is_empty() {
            return self.unavailable(conn, id, fx);
        }
        let has_changes = !msg.changes.is_empty();
        let mut empty = self.empty();
        let mut state = sync::State::new();
        if !matches!(
            crate::sync::untrusted(|| empty.receive_sync_message(&mut state, msg)),
            Ok(Ok(()))
        ) {
            return self.fail(conn, format!("invalid automerge sync message for {id}"), fx);
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let target_id = c.remote.clone();
        let user = super::principal_of(c).map(|p| p.user.to_string());
        if has_changes {
            self.refuse(conn, id, user, Refusal::NotPermitted, empty.save(), fx);
        } else if let (Some(m), Some(target_id)) =
            (empty.generate_sync_message(&mut state), target_id)
        {
            let reply = Message::Sync {
                target_id,
                document_id: id,
                data: m.encode(),
                sender_id: self.config.peer_id.clone(),
            };
            self.send(conn, &reply, fx);
        }
    }

    /// Tells a peer a document is unavailable (missing, or out of its scope).
    pub(super) fn unavailable(&self, conn: ConnId, doc: DocumentId, fx: &mut Effects) {
        let Some(target_id) = self.conns.get(&conn).and_then(|c| c.remote.clone()) else {
            return;
        };
        self.send(
            conn,
            &Message::DocUnavailable {
                document_id: doc,
                target_id,
                sender_id: self.config.peer_id.clone(),
            },
            fx,
        );
    }

    /// Starts (or continues) syncing `id` with `conn`.
    pub(super) fn sync_doc(&mut self, id: DocumentId, conn: ConnId, fx: &mut Effects) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(target_id) = c.remote.clone() else {
            return;
        };
        let client = c.is_client();
        if client && !matches!(self.docs.get(&id), Some(Slot::Ready(_))) {
            // We do not have it: ask our server for it.
            let empty = self.empty();
            self.docs.insert(id, Slot::Ready(Doc::new(empty)));
        }
        let Some(Slot::Ready(d)) = self.docs.get_mut(&id) else {
            return;
        };
        let fresh = !d.syncs.contains_key(&conn);
        let state = d.syncs.entry(conn).or_default();
        if let Some(m) = d.doc.generate_sync_message(state) {
            let data = m.encode();
            let sender_id = self.config.peer_id.clone();
            let msg = if fresh && client && d.doc.get_heads().is_empty() {
                Message::Request {
                    target_id,
                    document_id: id,
                    data,
                    sender_id,
                }
            } else {
                Message::Sync {
                    target_id,
                    document_id: id,
                    data,
                    sender_id,
                }
            };
            self.send(conn, &msg, fx);
        }
    }

    /// Pushes a changed document to every connection that should hear about it: our servers,
    /// and the peers we serve that may see it and either asked about it or hold it, now or
    /// before the change (`before`: where it stood then), by their holding (the extension).
    pub(super) fn fan_out(
        &mut self,
        now: Millis,
        id: DocumentId,
        origin: Option<ConnId>,
        before: Standing,
        fx: &mut Effects,
    ) {
        let (meta, standing) = match self.docs.get(&id) {
            Some(Slot::Ready(d)) => (
                d.meta.clone(),
                d.record
                    .as_ref()
                    .map_or(Standing::Other, |r| Standing::of(r, &Calendar::CHINA)),
            ),
            _ => return,
        };
        let policy = self.policy.as_ref();
        let window = self.config.window_days;
        let candidates = self.listeners.candidates(meta.as_ref().map(|m| &m.grid));
        let targets: Vec<ConnId> = (candidates.iter())
            .filter_map(|cid| self.conns.get(cid).map(|c| (cid, c)))
            .filter(|(cid, c)| Some(**cid) != origin && c.phase == super::Phase::Ready)
            .filter(|(_, c)| match c.server() {
                None => true,
                Some(s) => {
                    (s.subscribed.contains(&id)
                        // Held now, or held before: its copy there is stale.
                        || (c.extension
                            && (s.holds(now, window, standing) || s.holds(now, window, before))))
                        && s.can_read(policy, meta.as_ref())
                }
            })
            .map(|(cid, _)| *cid)
            .collect();
        for conn in targets {
            if let Some(c) = self.conns.get_mut(&conn) {
                let extension = c.extension;
                match &mut c.side {
                    super::Side::Server(s) => {
                        s.subscribed.insert(id);
                    }
                    super::Side::Client(c) if extension => c.track(id),
                    super::Side::Client(_) => {}
                }
            }
            self.sync_doc(id, conn, fx);
        }
    }

    /// Storage answered a load: the waiting messages about the document go through now.
    pub(super) fn on_loaded(
        &mut self,
        now: Millis,
        id: DocumentId,
        bytes: Option<Vec<u8>>,
        fx: &mut Effects,
    ) {
        let Some(Slot::Loading(waiting)) = self.docs.remove(&id) else {
            return;
        };
        let mut doc = match bytes.as_deref().map(automerge::Automerge::load) {
            Some(Ok(doc)) => doc,
            // A corrupt stored document is treated as absent rather than crashing the hub; the
            // driver logs it.
            Some(Err(_)) | None => automerge::Automerge::new(),
        };
        doc.set_actor(self.config.actor.clone());
        self.docs.insert(id, Slot::Ready(Doc::new(doc)));
        for (conn, msg) in waiting {
            match msg {
                Message::Request { data, .. } => self.on_sync(now, conn, id, data, true, fx),
                Message::Sync { data, .. } => self.on_sync(now, conn, id, data, false, fx),
                _ => {}
            }
        }
    }
}
