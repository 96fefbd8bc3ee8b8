//! The client side: what the server has acknowledged, the change cursor of the last complete
//! sync, and the listings (`gv-changes`, `gv-buckets`) that bring a reconnecting client up to
//! date in O(changed).

use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::{Automerge, ChangeHash};

use super::{Hub, Phase, Slot, sorted};
use crate::ids::DocumentId;
use crate::sync::effects::{ConnId, Effects, Event};
use crate::sync::feed::{bucket_digests, bucket_of, differing_buckets, heads_digest};
use crate::sync::holding::{Holding, Keeps, Standing};
use crate::time::{Calendar, Millis};
use crate::wire::{Cursor, DocDigest, Message};

/// What a client keeps across connections (and, through its driver, across restarts).
#[derive(Debug, Default)]
pub(super) struct ClientState {
    /// Heads the server is known to hold, per document.
    pub(super) acked: HashMap<DocumentId, Vec<ChangeHash>>,
    /// The cursor of the last complete sync.
    pub(super) cursor: Option<Cursor>,
    /// Documents whose change the server refused, at these heads.
    refused: HashMap<DocumentId, Vec<ChangeHash>>,
    /// What this device keeps of its scope (`None`: everything it has).
    keeps: Option<Keeps>,
    /// Documents kept besides (open on a screen or pinned), fetched on demand.
    kept: HashSet<DocumentId>,
    /// The area whose figures we watch, asked again on every connect.
    watching: Option<String>,
}

/// One connection to a server, with the extension's progress on it.
#[derive(Debug, Default)]
pub(super) struct ClientConn {
    /// Documents to bring in sync before saving `pending_cursor`.
    pending: BTreeSet<DocumentId>,
    pending_cursor: Option<Cursor>,
    /// Documents changed on this link since the last cursor.
    activity: bool,
    /// A `gv-poll` awaits its answer.
    polling: bool,
    /// The cursor of the bucket digests whose differing buckets we fetched. The listing that
    /// answers the fetch is complete only up to this cursor.
    bucket_cursor: Option<Cursor>,
    /// The buckets of that fetch.
    fetched_buckets: Vec<u64>,
    /// The server speaks extension version 2: a first sync may come in bulk.
    pub(super) bulk: bool,
    /// Documents a first sync in bulk brought so far.
    pub(super) received: u64,
}

impl ClientConn {
    /// A document changed on this link and must be in sync before the next cursor.
    pub(super) fn track(&mut self, doc: DocumentId) {
        self.pending.insert(doc);
        self.activity = true;
    }

    /// The link carried a change from the server.
    pub(super) fn touched(&mut self) {
        self.activity = true;
    }
}

impl Hub {
    /// Restores a client's sync bookkeeping after a restart (what [`Event::Acked`] and
    /// [`Event::CursorSaved`] reported before).
    pub fn restore_client_state(
        &mut self,
        cursor: Option<Cursor>,
        acked: impl IntoIterator<Item = (DocumentId, Vec<ChangeHash>)>,
    ) {
        self.client.cursor = cursor;
        self.client.acked = acked.into_iter().map(|(d, h)| (d, sorted(h))).collect();
    }

    /// What this device keeps of its scope ([`crate::sync::holding`]) and the window of days
    /// its server announced; `None` keeps all it has (client).
    pub fn set_keeps(&mut self, keeps: Option<Keeps>, window_days: i64) {
        self.client.keeps = keeps;
        self.config.window_days = window_days;
    }

    /// Keeps a document outside the holding while it is open or pinned, and syncs it on every
    /// connect; `false` lets it go again (client).
    pub fn keep(&mut self, id: DocumentId, on: bool) {
        if on {
            self.client.kept.insert(id);
        } else {
            self.client.kept.remove(&id);
        }
    }

    /// Asks our servers to push the figures of an area (`""`: the whole scope) from now on and
    /// after every reconnect (client; a server without the extension is not asked).
    pub fn watch(&mut self, area: &str) -> Effects {
        self.client.watching = Some(area.to_owned());
        let mut fx = Effects::default();
        let servers: Vec<ConnId> = (self.conns.iter())
            .filter(|(_, c)| c.is_client() && c.extension && c.phase == Phase::Ready)
            .map(|(id, _)| *id)
            .collect();
        for conn in servers {
            let msg = Message::GvWatch {
                area: area.to_owned(),
            };
            self.send(conn, &msg, &mut fx);
        }
        fx
    }

    /// Notes where a document loaded from local storage stands, so the hub need not read it
    /// (client).
    pub fn note_standing(&mut self, id: &DocumentId, standing: Standing) {
        if let Some(Slot::Ready(d)) = self.docs.get_mut(id) {
            d.standing = Some(standing);
        }
    }

    /// Whether this device should hold a document at `now` by its holding alone (client).
    fn should_hold(&self, now: Millis, d: &super::Doc) -> bool {
        let Some(keeps) = self.client.keeps else {
            return true;
        };
        let holding = Holding {
            keeps,
            ..Holding::new(
                crate::model::Role::Worker,
                crate::ids::Scope::City,
                now,
                self.config.window_days,
                &Calendar::CHINA,
            )
        };
        holding.holds(d.standing())
    }

    /// Documents held here that this device no longer needs: outside its holding at `now`,
    /// held by the server exactly as here, not kept, and not in the middle of a sync (client).
    /// The driver deletes them from local storage, then calls [`Hub::forget`].
    pub fn prunable(&self, now: Millis) -> Vec<DocumentId> {
        if self.client.keeps.is_none() {
            return Vec::new();
        }
        self.docs
            .iter()
            .filter_map(|(id, s)| match s {
                Slot::Ready(d) if !d.doc.get_heads().is_empty() => Some((id, d)),
                _ => None,
            })
            .filter(|(id, d)| {
                !self.client.kept.contains(id)
                    && self.client.acked.get(*id) == Some(&sorted(d.doc.get_heads()))
                    && d.syncs.values().all(|st| !st.in_flight)
                    && !self.should_hold(now, d)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Drops a document from the hub and its bookkeeping (client; after [`Hub::prunable`]).
    pub fn forget(&mut self, id: &DocumentId) {
        self.docs.remove(id);
        self.client.acked.remove(id);
        self.client.refused.remove(id);
        for c in self.conns.values_mut() {
            if let Some(c) = c.client_mut() {
                c.pending.remove(id);
            }
        }
    }

    /// The cursor of the last complete sync (client).
    pub fn cursor(&self) -> Option<&Cursor> {
        self.client.cursor.as_ref()
    }

    /// Documents whose local changes the server has not acknowledged yet (client).
    pub fn unsynced(&self) -> Vec<DocumentId> {
        self.documents()
            .filter(|(id, d)| {
                let heads = sorted(d.get_heads());
                self.client.acked.get(*id) != Some(&heads)
                    && self.client.refused.get(*id) != Some(&heads)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// The heads the server is known to hold of a document (client).
    pub fn acked(&self, id: &DocumentId) -> Option<&[ChangeHash]> {
        self.client.acked.get(id).map(Vec::as_slice)
    }

    /// Whether the server holds a document exactly as it is here (client).
    pub fn is_acked(&self, id: &DocumentId) -> bool {
        self.doc(id)
            .is_some_and(|d| self.client.acked.get(id) == Some(&sorted(d.get_heads())))
    }

    /// Drops a document's changes the server has not taken: it goes back to the heads the
    /// server acknowledged, and its sync with every connection starts over (client). The app
    /// then re-applies the edits it still wants, as new changes.
    pub fn rewind(&mut self, id: &DocumentId) -> Result<(), super::EditError> {
        let acked = self.client.acked.get(id).cloned().unwrap_or_default();
        let actor = self.config.actor.clone();
        let Some(Slot::Ready(d)) = self.docs.get_mut(id) else {
            return Err(super::EditError::NotLoaded(*id));
        };
        let mut doc = d.doc.fork_at(&acked)?;
        doc.set_actor(actor);
        d.meta = crate::model::RecordMeta::read(&doc).ok();
        d.record = None;
        d.standing = None;
        d.doc = doc;
        d.syncs.clear();
        self.client.refused.remove(id);
        Ok(())
    }

    /// Right after the handshake: with the extension, push only what the server has not
    /// acknowledged (the server lists the rest); plain automerge-repo asks about everything.
    pub(super) fn push_on_connect(&mut self, conn: ConnId, ext: bool, fx: &mut Effects) {
        if ext && let Some(area) = self.client.watching.clone() {
            self.send(conn, &Message::GvWatch { area }, fx);
        }
        let docs: Vec<DocumentId> = if ext {
            // Kept documents outside the holding are not in the server's listings: ask.
            let mut docs = self.unsynced();
            let extra: Vec<DocumentId> = (self.client.kept.iter())
                .filter(|id| !docs.contains(id))
                .copied()
                .collect();
            docs.extend(extra);
            docs
        } else {
            self.documents().map(|(id, _)| *id).collect()
        };
        for id in docs {
            if ext && let Some(c) = self.conns.get_mut(&conn).and_then(|c| c.client_mut()) {
                c.track(id);
            }
            self.sync_doc(id, conn, fx);
        }
    }

    /// An `error` from the remote. Before the handshake it ends the connection; a server's
    /// refusal of our change to a document stops pushing that document until it changes
    /// again, and does not hold the cursor back.
    pub(super) fn on_remote_error(
        &mut self,
        conn: ConnId,
        message: String,
        doc: Option<DocumentId>,
        fx: &mut Effects,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        fx.events.push(Event::RemoteError { conn, message, doc });
        if c.phase != Phase::Ready {
            fx.close.push(conn);
            self.on_disconnected(conn);
        } else if let Some(doc) = doc
            && c.is_client()
        {
            if let Some(heads) = self.doc(&doc).map(Automerge::get_heads) {
                self.client.refused.insert(doc, sorted(heads));
            }
            if let Some(c) = self.conns.get_mut(&conn).and_then(|c| c.client_mut()) {
                c.pending.remove(&doc);
            }
            self.maybe_save_cursor(conn, fx);
        }
    }

    /// `gv-changes`: sync every listed document whose heads differ from ours.
    pub(super) fn on_changes(
        &mut self,
        now: Millis,
        conn: ConnId,
        docs: Vec<DocDigest>,
        cursor: Cursor,
        fx: &mut Effects,
    ) {
        let mut stale: Vec<DocumentId> = docs
            .iter()
            .filter(|d| {
                self.doc(&d.doc)
                    .is_none_or(|a| heads_digest(&a.get_heads()) != d.heads)
            })
            .map(|d| d.doc)
            .collect();
        let Some(c) = self.conns.get_mut(&conn).and_then(|c| c.client_mut()) else {
            return;
        };
        // Answering a bucket fetch: documents we should hold in those buckets that the server
        // did not list are documents it lacks (say, restored from a backup): push them.
        let fetched = std::mem::take(&mut c.fetched_buckets);
        if !fetched.is_empty() {
            let listed: HashSet<DocumentId> = docs.iter().map(|d| d.doc).collect();
            stale.extend(
                self.held(now)
                    .map(|(id, _)| *id)
                    .filter(|id| fetched.contains(&(bucket_of(id) as u64)) && !listed.contains(id)),
            );
        }
        if let Some(c) = self.conns.get_mut(&conn).and_then(|c| c.client_mut()) {
            c.pending.extend(stale.iter().copied());
            c.pending_cursor = Some(c.bucket_cursor.take().unwrap_or(cursor));
            c.polling = false;
        }
        for id in stale {
            self.sync_doc(id, conn, fx);
        }
        self.maybe_save_cursor(conn, fx);
    }

    /// `gv-buckets`: our cursor could not be used; fetch the buckets whose digests differ.
    pub(super) fn on_buckets(
        &mut self,
        now: Millis,
        conn: ConnId,
        digests: Vec<u8>,
        cursor: Cursor,
        fx: &mut Effects,
    ) {
        let ours = bucket_digests(
            self.held(now)
                .map(|(id, d)| (id, heads_digest(&d.doc.get_heads()))),
        );
        let buckets = differing_buckets(&ours, &digests);
        let Some(c) = self.conns.get_mut(&conn).and_then(|c| c.client_mut()) else {
            return;
        };
        if buckets.is_empty() {
            c.pending_cursor = Some(cursor);
            self.maybe_save_cursor(conn, fx);
        } else {
            c.bucket_cursor = Some(cursor);
            c.fetched_buckets.clone_from(&buckets);
            // Holding nothing the server acknowledged (a new device): the documents
            // themselves, in bulk.
            let msg = if c.bulk && self.client.acked.is_empty() {
                Message::GvFetchDocs { buckets }
            } else {
                Message::GvFetchBuckets { buckets }
            };
            self.send(conn, &msg, fx);
        }
    }

    /// The documents this device should hold at `now`, with content: what its digests cover.
    fn held(&self, now: Millis) -> impl Iterator<Item = (&DocumentId, &super::Doc)> {
        self.docs.iter().filter_map(move |(id, s)| match s {
            Slot::Ready(d) if !d.doc.get_heads().is_empty() && self.should_hold(now, d) => {
                Some((id, d.as_ref()))
            }
            _ => None,
        })
    }

    /// Bookkeeping after a message about `id` on a client side: acknowledgements and cursor
    /// progress.
    pub(super) fn settle(
        &mut self,
        conn: ConnId,
        id: DocumentId,
        unavailable: bool,
        fx: &mut Effects,
    ) {
        if !self.conns.get(&conn).is_some_and(|c| c.is_client()) {
            return;
        }
        let mut in_sync = unavailable;
        if let Some(Slot::Ready(d)) = self.docs.get(&id)
            && let Some(state) = d.syncs.get(&conn)
        {
            let ours = sorted(d.doc.get_heads());
            let shared = sorted(state.shared_heads.clone());
            if !shared.is_empty() && self.client.acked.get(&id) != Some(&shared) {
                self.client.acked.insert(id, shared.clone());
                fx.events.push(Event::Acked {
                    doc: id,
                    heads: shared,
                });
            }
            in_sync |= state
                .their_heads
                .as_ref()
                .is_some_and(|t| sorted(t.clone()) == ours);
        }
        if in_sync && let Some(c) = self.conns.get_mut(&conn).and_then(|c| c.client_mut()) {
            c.pending.remove(&id);
        }
        self.maybe_save_cursor(conn, fx);
    }

    /// Once every pending document is in sync: saves the cursor the server gave, then, if
    /// documents changed on the link since, asks for a newer one (`gv-poll`), so the next
    /// reconnect lists only what changes from now on.
    fn maybe_save_cursor(&mut self, conn: ConnId, fx: &mut Effects) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let extension = c.extension;
        let Some(c) = c.client_mut() else {
            return;
        };
        if !extension || !c.pending.is_empty() {
            return;
        }
        if let Some(cursor) = c.pending_cursor.take() {
            self.client.cursor = Some(cursor.clone());
            fx.events.push(Event::CursorSaved { cursor });
        }
        if c.activity
            && !c.polling
            && let Some(cursor) = self.client.cursor.clone()
        {
            c.activity = false;
            c.polling = true;
            self.send(conn, &Message::GvPoll { cursor }, fx);
        }
    }
}
