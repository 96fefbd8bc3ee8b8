//! The browser's [`Driver`] of `shared`'s hub: a batch is written to IndexedDB in one
//! transaction before its frames go to the socket.

use std::collections::HashMap;

use shared::aggregate::Dashboard;
use shared::ids::DocumentId;
use shared::sync::{ConnId, Driver, Durable, Event, FeedAnswer, FeedQuery};

use super::idb::Db;
use super::socket::Socket;
use crate::error::ClientError;
use crate::local::LocalWrite;

/// One batch's driver: borrows the engine's database, socket and chunk counts.
pub(super) struct WebDriver<'a> {
    pub(super) db: &'a Db,
    pub(super) socket: Option<&'a Socket>,
    /// Chunks saved per document since its last compaction.
    pub(super) chunks: &'a mut HashMap<DocumentId, u32>,
    /// Contributions follow this dashboard's calendar.
    pub(super) dashboard: &'a Dashboard,
    /// What the batch wrote (the engine updates its lists from it afterwards).
    pub(super) written: Vec<LocalWrite>,
    /// What the hub reported.
    pub(super) events: Vec<Event>,
    /// Key-value rows to write with the batch (the pending intents).
    pub(super) kv: Vec<(String, Option<String>)>,
}

impl Driver for WebDriver<'_> {
    type Error = ClientError;

    /// Every saved document is in the hub: one it asks to load is not on this device.
    fn load(&mut self, _: &DocumentId) -> Option<Vec<u8>> {
        None
    }

    /// A client answers no feed queries.
    fn answer(&mut self, _: &FeedQuery) -> Option<FeedAnswer> {
        None
    }

    async fn commit(&mut self, batch: Durable<'_>) -> Result<(), ClientError> {
        let write = LocalWrite::of(batch, self.dashboard);
        let chunks = &mut *self.chunks;
        self.db
            .write(&write, &std::mem::take(&mut self.kv), |doc| {
                let n = chunks.entry(*doc).or_default();
                let this = *n;
                *n += 1;
                this
            })
            .await?;
        self.written.push(write);
        self.events.extend(batch.events.iter().cloned());
        Ok(())
    }

    fn send(&mut self, conn: ConnId, frame: Vec<u8>) {
        if let Some(s) = self.socket.filter(|s| s.conn == conn) {
            s.send(&frame);
        }
    }

    fn close(&mut self, conn: ConnId) {
        if let Some(s) = self.socket.filter(|s| s.conn == conn) {
            s.close();
        }
    }
}
