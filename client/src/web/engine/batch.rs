//! Performing a batch, and what the screens hear of it: lists, figures, open records and
//! the status bar.

use std::rc::Rc;

use shared::ids::{DocumentId, Scope};
use shared::sync::{Batch, Event, Hub};

use super::Engine;
use crate::error::ClientError;
use crate::local::MetaRow;
use crate::web::driver::WebDriver;
use crate::web::handle::Cmd;
use crate::web::idb::COMPACT_AFTER;
use crate::web::state::{Action, Opened};
use crate::web::{now, sleep};

impl Engine {
    /// Performs one batch through the IndexedDB driver, then updates lists, open records,
    /// the connection and what the bar shows.
    pub(super) async fn perform(
        &mut self,
        gather: impl FnOnce(&mut Batch, &mut Hub, &mut WebDriver<'_>, shared::time::Millis),
    ) -> Result<(), ClientError> {
        let t = now();
        let mut driver = WebDriver {
            db: &self.db,
            socket: self.socket.as_ref(),
            chunks: &mut self.chunks,
            dashboard: &self.dashboard,
            written: Vec::new(),
            events: Vec::new(),
            kv: std::mem::take(&mut self.kv),
        };
        let mut batch = Batch::new();
        gather(&mut batch, &mut self.hub, &mut driver, t);
        let result = batch.perform(&mut self.hub, &mut driver, t).await;
        let (written, events) = (driver.written, driver.events);
        if let Err(e) = &result {
            // Nothing of the batch left the device.
            self.show_error(e);
        }
        let mut changed = Vec::new();
        for w in &written {
            self.apply_metas(&w.metas);
            changed.extend(w.metas.iter().map(|m| m.id));
        }
        for event in &events {
            match event {
                Event::CursorSaved { .. } => self.conn.caught_up(),
                Event::Received { received, total } => self.conn.received(*received, *total),
                Event::PeerReady { .. } => self.conn.peer_ready(),
                Event::Refused { reason, doc, .. } => {
                    self.show_error(&format!("服务器拒绝了 {doc} 的修改 · Refused: {reason}"));
                }
                // A refusal of one of our changes: the edits are applied again (refusals.rs).
                Event::RemoteError {
                    doc: Some(doc),
                    message,
                    ..
                } => self.refusals.push((*doc, message.clone())),
                Event::RemoteError { message, .. } => {
                    self.show_error(&format!("服务器 · Server: {message}"));
                }
                Event::Acked { doc, .. } => self.settled.push(*doc),
                _ => {}
            }
        }
        self.compact(&changed).await;
        self.reopen(&changed);
        self.on_figures(&events).await;
        if events
            .iter()
            .any(|e| matches!(e, Event::CursorSaved { .. }))
        {
            // In sync with the server: what left this device's holding can go.
            self.prune().await;
        }
        self.report();
        result
    }

    /// Documents past [`COMPACT_AFTER`] chunks get one new save instead.
    async fn compact(&mut self, changed: &[DocumentId]) {
        for id in changed {
            if self.chunks.get(id).copied().unwrap_or(0) <= COMPACT_AFTER {
                continue;
            }
            let Some(save) = self.hub.doc(id).map(automerge::Automerge::save) else {
                continue;
            };
            match self.db.compact(id, &save).await {
                Ok(()) => {
                    self.chunks.insert(*id, 0);
                }
                Err(e) => self.show_error(&e),
            }
        }
    }

    pub(super) fn apply_metas(&mut self, metas: &[MetaRow]) {
        if metas.is_empty() {
            return;
        }
        let summaries = Rc::make_mut(&mut self.summaries);
        for m in metas {
            match &m.summary {
                Some(s) => summaries.insert(m.id, s.clone()),
                None => summaries.remove(&m.id),
            };
            self.dashboard
                .apply_contribution(m.id, m.contribution.clone());
        }
        self.dirty = true;
    }

    /// Re-reads the open records among `changed`.
    pub(super) fn reopen(&mut self, changed: &[DocumentId]) {
        let ids: Vec<DocumentId> = changed
            .iter()
            .filter(|id| self.watched.contains_key(id))
            .copied()
            .collect();
        if ids.is_empty() {
            return;
        }
        let opened = Rc::make_mut(&mut self.opened);
        for id in ids {
            match Opened::of(&self.hub, &id) {
                Some(o) => opened.insert(id, Rc::new(o)),
                None => opened.remove(&id),
            };
        }
        self.dispatch(Action::Opened(self.opened.clone()));
    }

    pub(super) fn watch(&mut self, id: DocumentId, on: bool) {
        let count = self.watched.entry(id).or_default();
        if on {
            *count += 1;
            if *count == 1 {
                self.reopen(&[id]);
            }
        } else {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.watched.remove(&id);
                Rc::make_mut(&mut self.opened).remove(&id);
                self.dispatch(Action::Opened(self.opened.clone()));
            }
        }
    }

    pub(super) fn figures(&self) -> shared::aggregate::Figures {
        let scope = self
            .session
            .as_ref()
            .and_then(|s| s.scope.parse::<Scope>().ok())
            .unwrap_or(Scope::City);
        self.dashboard.figures(now(), &scope)
    }

    /// The bar at once; the lists and figures within 50 ms, once for a burst.
    pub(super) fn report(&mut self) {
        let pending = if self.ready {
            self.hub.unsynced().len()
        } else {
            0
        };
        let (link, progress) = (self.conn.status(pending), self.conn.progress());
        self.dispatch(Action::Link(link, pending, progress));
        if self.dirty && !self.publishing {
            self.publishing = true;
            let q = self.queue.clone();
            wasm_bindgen_futures::spawn_local(async move {
                sleep(50).await;
                let _ = q.unbounded_send(Cmd::Publish);
            });
        }
    }

    pub(super) fn publish(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.dispatch(Action::Records {
            summaries: self.summaries.clone(),
            figures: Rc::new(self.figures()),
        });
    }
}
