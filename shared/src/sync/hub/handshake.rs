//! The handshake: a client's `join`, the server's `peer`, and the extension negotiated in them.

use super::{Conn, Hub, Phase, side_for};
use crate::sync::effects::{ConnId, Direction, Effects, Event};
use crate::sync::feed::FeedQuery;
use crate::sync::policy::Principal;
use crate::time::Millis;
use crate::wire::{EXTENSION_VERSION, ExtensionOffer, Message, PROTOCOL_VERSION};

impl Hub {
    pub(super) fn on_connected(
        &mut self,
        conn: ConnId,
        direction: Direction,
        principal: Option<Principal>,
        fx: &mut Effects,
    ) {
        let phase = match direction {
            Direction::Outbound => Phase::AwaitPeer,
            Direction::Inbound => Phase::AwaitJoin,
        };
        self.listeners.add(conn);
        self.conns.insert(
            conn,
            Box::new(Conn {
                phase,
                remote: None,
                extension: false,
                side: side_for(direction, principal),
            }),
        );
        if direction == Direction::Outbound {
            let offer = self.config.extension.then(|| ExtensionOffer {
                version: EXTENSION_VERSION,
                cursor: self.client.cursor.clone(),
            });
            let join = Message::Join {
                sender_id: self.config.peer_id.clone(),
                peer_metadata: Some(self.metadata(offer)),
                supported_protocol_versions: vec![PROTOCOL_VERSION.to_owned()],
            };
            self.send(conn, &join, fx);
        }
    }

    /// Server side: answers `join` with `peer`, then (with the extension) asks storage what
    /// changed since the client's cursor.
    pub(super) fn on_join(&mut self, now: Millis, conn: ConnId, join: Message, fx: &mut Effects) {
        let Message::Join {
            sender_id,
            peer_metadata,
            supported_protocol_versions,
        } = join
        else {
            return;
        };
        if !supported_protocol_versions
            .iter()
            .any(|v| v == PROTOCOL_VERSION)
        {
            return self.fail(conn, "unsupported protocol version".into(), fx);
        }
        let offered = peer_metadata.and_then(|m| m.gridvisit);
        let ext = self.config.extension && offered.as_ref().is_some_and(|o| o.version >= 1);
        let peer = Message::Peer {
            sender_id: self.config.peer_id.clone(),
            peer_metadata: Some(self.metadata(ext.then_some(ExtensionOffer {
                version: EXTENSION_VERSION,
                cursor: None,
            }))),
            selected_protocol_version: PROTOCOL_VERSION.to_owned(),
            target_id: sender_id.clone(),
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.remote = Some(sender_id.clone());
        c.extension = ext;
        c.phase = Phase::Ready;
        let holding = c.server().map(|s| s.holding(now, self.config.window_days));
        if ext && let Some(p) = super::principal_of(c) {
            self.listeners.narrow(conn, &p.scope);
        }
        self.send(conn, &peer, fx);
        fx.events.push(Event::PeerReady {
            conn,
            peer: sender_id,
            extension: ext,
        });
        if ext && let Some(holding) = holding {
            let cursor = offered.and_then(|o| o.cursor);
            fx.queries
                .push((conn, FeedQuery::Since { holding, cursor }));
        }
    }

    /// Client side: the server answered; push what it has not acknowledged (with the
    /// extension) or ask about everything held (plain automerge-repo).
    pub(super) fn on_peer(&mut self, conn: ConnId, peer: Message, fx: &mut Effects) {
        let Message::Peer {
            sender_id,
            peer_metadata,
            selected_protocol_version,
            ..
        } = peer
        else {
            return;
        };
        if selected_protocol_version != PROTOCOL_VERSION {
            return self.fail(conn, "unsupported protocol version".into(), fx);
        }
        let accepted = peer_metadata.and_then(|m| m.gridvisit);
        let ext = self.config.extension && accepted.is_some();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.remote = Some(sender_id.clone());
        c.extension = ext;
        if let Some(client) = c.client_mut() {
            client.bulk = self.config.bulk_first_sync && accepted.is_some_and(|o| o.version >= 2);
        }
        c.phase = Phase::Ready;
        fx.events.push(Event::PeerReady {
            conn,
            peer: sender_id,
            extension: ext,
        });
        self.push_on_connect(conn, ext, fx);
    }
}
