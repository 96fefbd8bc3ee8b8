//! The first sync in bulk (extension version 2): a client that holds nothing of its scope
//! asks for its buckets with `gv-fetch-docs`; the server answers with the saved documents in
//! `gv-docs` batches read from storage (no document is loaded into the server's memory and no
//! per-document sync runs), then the usual `gv-changes` listing. The client loads each
//! document as it comes and counts it acknowledged; the listing then finds nothing stale, and
//! syncs one by one only what the batches did not carry.

use automerge::Automerge;

use super::{Doc, Hub, Slot, sorted};
use crate::ids::DocumentId;
use crate::model::{Record, RecordMeta};
use crate::sync::effects::{ConnId, Effects, Event, Persist};
use crate::sync::feed::BULK_BATCH_BYTES;
use crate::sync::holding::Standing;
use crate::time::Calendar;
use crate::wire::Message;

impl Hub {
    /// Saved documents in `gv-docs` batches of about [`BULK_BATCH_BYTES`], each within the
    /// frame limit.
    pub(super) fn send_saved(
        &self,
        conn: ConnId,
        saved: Vec<(DocumentId, Vec<u8>)>,
        fx: &mut Effects,
    ) {
        let total = saved.len() as u64;
        // Room for the message's own fields and each entry's CBOR header.
        let room = self.config.max_frame.saturating_sub(1024);
        let mut batch: Vec<(DocumentId, Vec<u8>)> = Vec::new();
        let mut size = 0;
        for (id, bytes) in saved {
            let entry = bytes.len() + 24;
            if entry > room {
                // Too large for any frame: the listing has it, and it syncs on its own.
                continue;
            }
            if !batch.is_empty() && (size + entry > BULK_BATCH_BYTES || size + entry > room) {
                let docs = std::mem::take(&mut batch);
                self.send(conn, &Message::GvDocs { docs, total }, fx);
                size = 0;
            }
            size += entry;
            batch.push((id, bytes));
        }
        if !batch.is_empty() {
            self.send(conn, &Message::GvDocs { docs: batch, total }, fx);
        }
    }

    /// `gv-docs`: one batch of a first sync in bulk (client).
    pub(super) fn on_docs(
        &mut self,
        conn: ConnId,
        docs: Vec<(DocumentId, Vec<u8>)>,
        total: u64,
        fx: &mut Effects,
    ) {
        let Some(c) = self.conns.get_mut(&conn).and_then(|c| c.client_mut()) else {
            return;
        };
        c.received += docs.len() as u64;
        let received = c.received.min(total);
        for (id, bytes) in docs {
            self.take_saved(conn, id, &bytes, fx);
        }
        fx.events.push(Event::Received { received, total });
    }

    /// Loads one saved document from the server, or merges it into our copy: made durable,
    /// and acknowledged at the heads the server sent. A document that does not load is left to
    /// the listing, which syncs it on its own.
    fn take_saved(&mut self, conn: ConnId, id: DocumentId, bytes: &[u8], fx: &mut Effects) {
        let Ok(Ok(mut incoming)) = crate::sync::untrusted(|| Automerge::load(bytes)) else {
            return;
        };
        let theirs = sorted(incoming.get_heads());
        if theirs.is_empty() {
            return;
        }
        let empty = self.empty();
        let actor = self.config.actor.clone();
        let read_records = self.config.read_records;
        let slot = (self.docs)
            .entry(id)
            .or_insert_with(|| Slot::Ready(Doc::new(empty)));
        let Slot::Ready(d) = slot else {
            return;
        };
        let before = d.doc.get_heads();
        let chunk = if before.is_empty() {
            incoming.set_actor(actor);
            d.doc = incoming;
            bytes.to_vec()
        } else {
            let mut merged = d.doc.clone();
            if !matches!(
                crate::sync::untrusted(|| merged.merge(&mut incoming)),
                Ok(Ok(_))
            ) {
                return;
            }
            let chunk = merged.save_after(&before);
            d.doc = merged;
            chunk
        };
        let ours = sorted(d.doc.get_heads());
        if ours != sorted(before) {
            let record = if read_records {
                Record::read(&d.doc).ok()
            } else {
                None
            };
            let meta = RecordMeta::read(&d.doc).ok();
            d.meta = meta.clone();
            d.standing = record.as_ref().map(|r| Standing::of(r, &Calendar::CHINA));
            d.record = record.clone();
            fx.persist.push(Persist {
                doc: id,
                chunk,
                heads: ours.clone(),
                meta: meta.clone(),
                record: record.map(Box::new),
            });
            fx.events.push(Event::DocChanged { doc: id, meta });
        }
        if self.client.acked.get(&id) != Some(&theirs) {
            self.client.acked.insert(id, theirs.clone());
            fx.events.push(Event::Acked {
                doc: id,
                heads: theirs.clone(),
            });
        }
        if ours != theirs {
            // We had changes of our own: push them.
            if let Some(c) = self.conns.get_mut(&conn).and_then(|c| c.client_mut()) {
                c.track(id);
            }
            self.sync_doc(id, conn, fx);
        }
    }
}
