//! Edits the server refused. Each edit of an existing record is kept as an [`Intent`] until the
//! server holds it. When the server refuses a change to a record, the document goes back to
//! what the server holds and the edits still wanted are applied again, as new changes, one at
//! a time: the one the server refuses again is the culprit, and the user is told which edit
//! it was and why; every other edit reaches the server.

use std::collections::VecDeque;

use shared::ids::DocumentId;

use super::Engine;
use crate::error::ClientError;
use crate::intent::Intent;
use crate::view::Summary;
use crate::web::now;

/// A document whose edits are being applied again.
#[derive(Debug, Default)]
pub(super) struct Replay {
    /// The edit sent and not yet acknowledged.
    in_flight: Option<Intent>,
    /// The edits after it.
    queue: VecDeque<Intent>,
}

fn key(id: &DocumentId) -> String {
    format!("intents:{id}")
}

impl Engine {
    /// The intents saved before a reload.
    pub(super) async fn load_intents(&mut self) {
        for (k, v) in self.db.with_prefix("intents:").await.unwrap_or_default() {
            let (Some(id), Ok(list)) = (
                k.strip_prefix("intents:")
                    .and_then(|i| i.parse::<DocumentId>().ok()),
                serde_json::from_str::<Vec<Intent>>(&v),
            ) else {
                continue;
            };
            self.intents.insert(id, list);
        }
    }

    /// The pending intents of `id` go into the next batch's transaction.
    fn stage(&mut self, id: DocumentId) {
        let value = self
            .intents
            .get(&id)
            .filter(|l| !l.is_empty())
            .and_then(|l| serde_json::to_string(l).ok());
        self.kv.push((key(&id), value));
    }

    /// An edit from a screen: applied now, or after the edits being applied again.
    pub(super) async fn change(
        &mut self,
        id: DocumentId,
        intent: Intent,
    ) -> Result<(), ClientError> {
        self.intents.entry(id).or_default().push(intent.clone());
        self.stage(id);
        if let Some(r) = self.replay.get_mut(&id) {
            r.queue.push_back(intent);
            // Durable with the next batch; saved now so a reload keeps it.
            let kv = std::mem::take(&mut self.kv);
            for (k, v) in kv {
                self.db.put(&k, v.as_deref()).await?;
            }
            return Ok(());
        }
        self.write(id, &intent).await
    }

    async fn write(&mut self, id: DocumentId, intent: &Intent) -> Result<(), ClientError> {
        let user = self.user();
        let fx = self.hub.edit(now(), &user, id, |tx| intent.write(tx))?;
        self.perform(|batch, hub, driver, t| batch.add(hub, driver, t, fx))
            .await
    }

    /// What the last batches' acknowledgements and refusals call for, until nothing does.
    pub(super) async fn follow_up(&mut self) {
        loop {
            let refusals = std::mem::take(&mut self.refusals);
            let settled = std::mem::take(&mut self.settled);
            if refusals.is_empty() && settled.is_empty() {
                return;
            }
            for id in settled {
                if self.hub.is_acked(&id) {
                    self.acknowledged(id).await;
                }
            }
            for (id, reason) in refusals {
                self.recover(id, &reason).await;
            }
        }
    }

    /// The server holds the document as it is here: its pending edits are done, or the next
    /// edit being applied again goes.
    async fn acknowledged(&mut self, id: DocumentId) {
        let Some(r) = self.replay.get_mut(&id) else {
            if self.intents.remove(&id).is_some() {
                self.stage(id);
            }
            return;
        };
        if let Some(done) = r.in_flight.take()
            && let Some(list) = self.intents.get_mut(&id)
            && let Some(at) = list.iter().position(|i| *i == done)
        {
            list.remove(at);
        }
        match r.queue.pop_front() {
            Some(next) => {
                r.in_flight = Some(next.clone());
                self.stage(id);
                let _ = self.write(id, &next).await;
            }
            None => {
                self.replay.remove(&id);
                self.intents.remove(&id);
                self.stage(id);
            }
        }
    }

    /// The server refused our change to `id`.
    async fn recover(&mut self, id: DocumentId, reason: &str) {
        let label = match self.summaries.get(&id) {
            Some(Summary::Household(h)) => h.label.clone(),
            Some(Summary::Issue(i)) => i.title.clone(),
            _ => id.to_string(),
        };
        if self.hub.acked(&id).is_none() {
            // A new record the server never took: nothing to go back to.
            return self.show_error(&format!(
                "服务器拒绝了新记录 {label}：{reason} · The server refused the new record {label}: {reason}"
            ));
        }
        let (culprit, rest): (Option<Intent>, VecDeque<Intent>) = match self.replay.remove(&id) {
            Some(r) => (r.in_flight, r.queue),
            None => {
                let mut pending: VecDeque<Intent> =
                    self.intents.get(&id).cloned().unwrap_or_default().into();
                // One edit waiting: it is the one refused.
                if pending.len() == 1 {
                    (pending.pop_front(), pending)
                } else {
                    (None, pending)
                }
            }
        };
        match &culprit {
            Some(c) => self.show_error(&format!(
                "服务器拒绝了您对 {label} 的修改「{}」：{reason}。该修改已撤回，其余修改已重新发送 · The server refused your edit “{}” to {label}: {reason}. It was withdrawn; your other edits were sent again.",
                c.describe(crate::i18n::Lang::Zh),
                c.describe(crate::i18n::Lang::En),
            )),
            None => self.show_error(&format!(
                "服务器拒绝了 {label} 的修改：{reason}；正在逐条重新发送 · The server refused changes to {label}: {reason}; sending your edits again one by one"
            )),
        }
        if let Err(e) = self.hub.rewind(&id) {
            return self.show_error(&e);
        }
        if let Some(save) = self.hub.doc(&id).map(automerge::Automerge::save) {
            match self.db.compact(&id, &save).await {
                Ok(()) => {
                    self.chunks.insert(id, 0);
                }
                Err(e) => self.show_error(&e),
            }
        }
        self.intents.insert(id, rest.iter().cloned().collect());
        self.stage(id);
        self.replay.insert(
            id,
            Replay {
                in_flight: None,
                queue: rest,
            },
        );
        // The rewound record as the lists show it; then the first edit goes again.
        if let Some(record) = self
            .hub
            .doc(&id)
            .and_then(|d| shared::model::Record::read(d).ok())
        {
            let meta = crate::local::MetaRow {
                id,
                summary: Some(Summary::of(&record)),
                contribution: Some(self.dashboard.contribution(&record)),
            };
            self.apply_metas(&[meta]);
        }
        self.reopen(&[id]);
        self.acknowledged(id).await;
    }
}
