//! Reading the fields of a decoded CBOR map, with errors that name the message and the field,
//! and writing the field values both protocols share (peers, documents, metadata, cursors).

use super::WireError;
use super::cbor::Cbor;
use super::message::{Cursor, ExtensionOffer, Kind, PeerMetadata};
use crate::ids::{DocumentId, PeerId, StorageId};

/// The fields of one message (or of a map inside it).
pub(super) struct Reader<'a> {
    pub(super) kind: Kind,
    pub(super) map: &'a Cbor,
}

impl<'a> Reader<'a> {
    /// A reader over a nested map of the same message.
    pub(super) fn nested(&self, map: &'a Cbor) -> Self {
        Self {
            kind: self.kind,
            map,
        }
    }

    pub(super) fn opt(&self, field: &'static str) -> Option<&'a Cbor> {
        match self.map.get(field) {
            None | Some(Cbor::Undefined | Cbor::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub(super) fn req(&self, field: &'static str) -> Result<&'a Cbor, WireError> {
        self.opt(field).ok_or(WireError::Missing {
            kind: self.kind.as_str(),
            field,
        })
    }

    pub(super) fn wrong(&self, field: &'static str) -> WireError {
        WireError::WrongType {
            kind: self.kind.as_str(),
            field,
        }
    }

    pub(super) fn text(&self, field: &'static str) -> Result<&'a str, WireError> {
        match self.req(field)? {
            Cbor::Text(s) => Ok(s),
            _ => Err(self.wrong(field)),
        }
    }

    pub(super) fn opt_text(&self, field: &'static str) -> Result<Option<&'a str>, WireError> {
        match self.opt(field) {
            None => Ok(None),
            Some(Cbor::Text(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong(field)),
        }
    }

    pub(super) fn peer(&self, field: &'static str) -> Result<PeerId, WireError> {
        Ok(PeerId::new(self.text(field)?)?)
    }

    pub(super) fn opt_peer(&self, field: &'static str) -> Result<Option<PeerId>, WireError> {
        Ok(self.opt_text(field)?.map(PeerId::new).transpose()?)
    }

    pub(super) fn doc(&self, field: &'static str) -> Result<DocumentId, WireError> {
        Ok(self.text(field)?.parse()?)
    }

    pub(super) fn bytes(&self, field: &'static str) -> Result<Vec<u8>, WireError> {
        match self.req(field)? {
            Cbor::Bytes(b) => Ok(b.clone()),
            _ => Err(self.wrong(field)),
        }
    }

    pub(super) fn uint(&self, field: &'static str) -> Result<u64, WireError> {
        match self.req(field)? {
            Cbor::Uint(n) => Ok(*n),
            Cbor::Float(f) if *f >= 0.0 && f.fract() == 0.0 => Ok(*f as u64),
            _ => Err(self.wrong(field)),
        }
    }

    /// An array whose items `item` converts, or the field's wrong-type error.
    pub(super) fn list<T>(
        &self,
        field: &'static str,
        item: impl Fn(&'a Cbor) -> Option<T>,
    ) -> Result<Vec<T>, WireError> {
        match self.req(field)? {
            Cbor::Array(items) => items
                .iter()
                .map(|i| item(i).ok_or_else(|| self.wrong(field)))
                .collect(),
            _ => Err(self.wrong(field)),
        }
    }

    pub(super) fn storage_ids(
        &self,
        field: &'static str,
    ) -> Result<Option<Vec<StorageId>>, WireError> {
        match self.opt(field) {
            None => Ok(None),
            Some(Cbor::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Cbor::Text(s) => Ok(StorageId::new(s.as_str())?),
                    _ => Err(self.wrong(field)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.wrong(field)),
        }
    }

    pub(super) fn cursor(&self, field: &'static str) -> Result<Cursor, WireError> {
        cursor_at(&self.nested(self.req(field)?))
    }

    pub(super) fn metadata(&self) -> Result<Option<PeerMetadata>, WireError> {
        let Some(meta) = self.opt("peerMetadata") else {
            return Ok(None);
        };
        if !matches!(meta, Cbor::Map(_)) {
            return Err(self.wrong("peerMetadata"));
        }
        let r = self.nested(meta);
        let gridvisit = match r.opt("gridvisit") {
            None => None,
            Some(ext @ Cbor::Map(_)) => {
                let e = self.nested(ext);
                Some(ExtensionOffer {
                    version: e.uint("v")?,
                    cursor: e
                        .opt("cursor")
                        .map(|c| cursor_at(&e.nested(c)))
                        .transpose()?,
                })
            }
            Some(_) => return Err(self.wrong("gridvisit")),
        };
        Ok(Some(PeerMetadata {
            storage_id: r.opt_text("storageId")?.map(StorageId::new).transpose()?,
            is_ephemeral: matches!(r.opt("isEphemeral"), Some(Cbor::Bool(true))),
            gridvisit,
        }))
    }
}

fn cursor_at(c: &Reader<'_>) -> Result<Cursor, WireError> {
    Ok(Cursor {
        epoch: c.text("epoch")?.to_owned(),
        seq: c.uint("seq")?,
    })
}

/// The fields of a message being written, in wire order.
pub(super) type Fields = Vec<(Cbor, Cbor)>;

/// A field of a message being written.
pub(super) fn field(key: &str, value: Cbor) -> (Cbor, Cbor) {
    (Cbor::text(key), value)
}

pub(super) fn cursor_cbor(c: &Cursor) -> Cbor {
    Cbor::map([
        ("epoch", Cbor::text(c.epoch.as_str())),
        ("seq", Cbor::Uint(c.seq)),
    ])
}

pub(super) fn metadata_cbor(m: &PeerMetadata) -> Cbor {
    let mut fields: Fields = vec![
        field(
            "storageId",
            m.storage_id
                .as_ref()
                .map_or(Cbor::Undefined, |s| Cbor::text(s.as_str())),
        ),
        field("isEphemeral", Cbor::Bool(m.is_ephemeral)),
    ];
    if let Some(ext) = &m.gridvisit {
        let mut e = vec![field("v", Cbor::Uint(ext.version))];
        if let Some(c) = &ext.cursor {
            e.push(field("cursor", cursor_cbor(c)));
        }
        fields.push(field("gridvisit", Cbor::Map(e)));
    }
    Cbor::Map(fields)
}

pub(super) fn peer_cbor(p: &PeerId) -> Cbor {
    Cbor::text(p.as_str())
}

pub(super) fn doc_cbor(d: &DocumentId) -> Cbor {
    Cbor::Text(d.to_string())
}

/// A text item, for [`Reader::list`].
pub(super) fn as_text(item: &Cbor) -> Option<String> {
    match item {
        Cbor::Text(s) => Some(s.clone()),
        _ => None,
    }
}
