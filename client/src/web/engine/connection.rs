//! The socket: connecting, reconnecting with backoff, and the token check after a close.

use shared::sync::ConnId;

use super::Engine;
use crate::web::handle::Cmd;
use crate::web::socket::Socket;
use crate::web::{http, random, sleep};

impl Engine {
    pub(super) fn is_current(&self, conn: ConnId) -> bool {
        self.socket.as_ref().is_some_and(|s| s.conn == conn)
    }

    pub(super) fn connect(&mut self) {
        if !self.ready || !self.conn.may_connect() {
            return;
        }
        let Some(token) = self.session.as_ref().map(|s| s.token.clone()) else {
            return;
        };
        self.next_conn += 1;
        match Socket::open(ConnId(self.next_conn), &token, &self.queue) {
            Some(socket) => {
                self.socket = Some(socket);
                self.conn.connecting();
            }
            None => self.schedule_retry(),
        }
        self.report();
    }

    pub(super) fn reconnect_now(&mut self) {
        self.conn.reconnect_now();
        self.connect();
    }

    pub(super) fn schedule_retry(&mut self) {
        let Some((delay, generation)) = self.conn.schedule_retry(random()) else {
            return;
        };
        let q = self.queue.clone();
        wasm_bindgen_futures::spawn_local(async move {
            sleep(delay as i32).await;
            let _ = q.unbounded_send(Cmd::Retry(generation));
        });
    }

    /// After a close: is the login still good? (A rejected token means "sign in again".)
    pub(super) fn check_token(&self) {
        let Some(token) = self.session.as_ref().map(|s| s.token.clone()) else {
            return;
        };
        let q = self.queue.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let rejected = matches!(
                http::request("GET", "/api/me", Some(&token), None).await,
                Ok((401, _))
            );
            let _ = q.unbounded_send(Cmd::TokenChecked(rejected));
        });
    }
}
