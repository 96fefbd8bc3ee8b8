//! Documents sharded across hubs: a server runs one [`super::Hub`] per engine thread, each
//! holding the documents of its shard and every connection. A frame about a document goes to
//! that document's hub; the handshake and the close go to every hub (only the first one's
//! answers are sent); everything else about the connection (the extension's feed queries, the
//! figures watched) goes to the first hub, which is the only one that asks storage.

use crate::ids::DocumentId;
use crate::wire::Message;

/// Which hubs handle a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Every hub: the first answers, the others only keep their state of the connection.
    All,
    /// This hub alone.
    One(usize),
}

/// The hub of `shards` that holds a document. Stable for as long as the count is: a document
/// ID is random, so its first byte spreads documents evenly.
pub fn shard_of(doc: &DocumentId, shards: usize) -> usize {
    usize::from(doc.as_bytes()[0]) % shards.max(1)
}

/// Which hubs of `shards` handle this message.
pub fn route(message: &Message, shards: usize) -> Route {
    match message {
        Message::Join { .. } | Message::Leave { .. } | Message::Error { .. } => Route::All,
        Message::Sync { document_id, .. }
        | Message::Request { document_id, .. }
        | Message::DocUnavailable { document_id, .. }
        | Message::Ephemeral { document_id, .. } => Route::One(shard_of(document_id, shards)),
        _ => Route::One(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::PeerId;
    use crate::wire::Cursor;

    #[test]
    fn a_document_s_messages_go_to_its_shard_and_the_connection_s_to_the_first_or_all() {
        let peer = PeerId::new("p").expect("peer");
        let docs: Vec<DocumentId> = (0..=255u8)
            .map(|b| DocumentId::from_bytes([b; 16]))
            .collect();
        let mut seen = [0usize; 2];
        for doc in &docs {
            let sync = Message::Sync {
                document_id: *doc,
                sender_id: peer.clone(),
                target_id: peer.clone(),
                data: vec![1],
            };
            let Route::One(i) = route(&sync, 2) else {
                panic!("a sync message goes to one hub");
            };
            assert_eq!(i, shard_of(doc, 2));
            seen[i] += 1;
            assert_eq!(route(&sync, 1), Route::One(0), "one hub holds everything");
        }
        assert_eq!(seen, [128, 128], "documents spread evenly");
        let join = Message::Join {
            sender_id: peer.clone(),
            peer_metadata: None,
            supported_protocol_versions: vec!["1".into()],
        };
        assert_eq!(route(&join, 2), Route::All);
        let poll = Message::GvPoll {
            cursor: Cursor {
                epoch: "e".into(),
                seq: 1,
            },
        };
        assert_eq!(route(&poll, 2), Route::One(0));
    }
}
