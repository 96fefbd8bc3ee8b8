//! Identifiers: document IDs in automerge-repo's format, peers, users, and the grid hierarchy.
//!
//! A [`DocumentId`] is the 16 bytes of a UUID, written as bs58check (what automerge-repo puts on
//! the wire) and as an `automerge:` URL (what users share). The grid hierarchy is a path
//! `street/community/grid`, so a [`Scope`] check is a prefix test and needs no lookup table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The text is not valid bs58check.
    #[error("document id is not valid bs58check: {0}")]
    NotBase58Check(String),
    /// The decoded bytes are not 16 long.
    #[error("document id must decode to 16 bytes, got {0}")]
    WrongLength(usize),
    /// An `automerge:` URL was expected.
    #[error("expected an automerge: url, got {0:?}")]
    NotAutomergeUrl(String),
    /// A grid path must have the form `street/community/grid`.
    #[error("grid id must be street/community/grid of [a-z0-9-], got {0:?}")]
    BadGridPath(String),
    /// A scope string did not parse.
    #[error("scope must be city, street:<s>, community:<s/c> or grids:<s/c/g>,...; got {0:?}")]
    BadScope(String),
    /// An empty identifier.
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

/// The ID of one record: 16 random bytes chosen by the device that created it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentId([u8; 16]);

impl DocumentId {
    /// Wraps 16 random bytes (the caller supplies the randomness: `shared` has none).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw UUID bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The `automerge:` URL of this document.
    pub fn url(&self) -> String {
        format!("automerge:{self}")
    }

    /// Parses either a bare bs58check ID or an `automerge:` URL.
    pub fn parse_any(s: &str) -> Result<Self, IdError> {
        match s.strip_prefix("automerge:") {
            Some(rest) => rest.split('#').next().unwrap_or_default().parse(),
            None => s.parse(),
        }
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

impl FromStr for DocumentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|_| IdError::NotBase58Check(s.chars().take(64).collect()))?;
        let array: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| IdError::WrongLength(bytes.len()))?;
        Ok(Self(array))
    }
}

impl Serialize for DocumentId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DocumentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_any(&s).map_err(serde::de::Error::custom)
    }
}

/// A string newtype with `Display`, `FromStr` (rejecting empty text) and serde.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string, which must not be empty.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                if s.is_empty() {
                    Err(IdError::Empty($what))
                } else {
                    Ok(Self(s))
                }
            }

            /// The text of this ID.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}

string_id!(
    /// The ephemeral ID of a connected peer (a browser tab, a server process).
    PeerId,
    "peer id"
);
string_id!(
    /// The persistent ID of a peer's storage (one IndexedDB, one server database).
    StorageId,
    "storage id"
);
string_id!(
    /// A user account (a login name such as `w-s01-c01-g001-1`).
    UserId,
    "user id"
);

/// A grid, written `street/community/grid`, e.g. `s03/c07/g12`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GridId(String);

fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl GridId {
    /// The street part of the path.
    pub fn street(&self) -> &str {
        self.0.split('/').next().unwrap_or_default()
    }

    /// The `street/community` part of the path.
    pub fn community(&self) -> &str {
        match self.0.rfind('/') {
            Some(i) => &self.0[..i],
            None => &self.0,
        }
    }

    /// The whole path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GridId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() == 3 && parts.iter().all(|p| is_segment(p)) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::BadGridPath(s.chars().take(100).collect()))
        }
    }
}

impl TryFrom<String> for GridId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<GridId> for String {
    fn from(g: GridId) -> String {
        g.0
    }
}

impl fmt::Display for GridId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The part of the city a user may see: some grids, a community, a street, or all of it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    /// The whole city.
    City,
    /// One street (`s03`).
    Street(String),
    /// One community (`s03/c07`).
    Community(String),
    /// A set of grids.
    Grids(Vec<GridId>),
}

impl Scope {
    /// Whether a record of `grid` lies inside this scope.
    pub fn contains(&self, grid: &GridId) -> bool {
        match self {
            Self::City => true,
            Self::Street(s) => grid.street() == s,
            Self::Community(c) => grid.community() == c,
            Self::Grids(gs) => gs.contains(grid),
        }
    }
}

impl Scope {
    /// Whether every grid `other` may see lies in this scope (an admin hands out only
    /// scopes inside their own; a supervisor provisions only phones of their own area).
    pub fn covers(&self, other: &Self) -> bool {
        let under =
            |outer: &str, inner: &str| inner == outer || inner.starts_with(&format!("{outer}/"));
        match (self, other) {
            (Self::City, _) => true,
            (_, Self::City) => false,
            (Self::Street(s), Self::Street(o) | Self::Community(o)) => under(s, o),
            (Self::Community(c), Self::Community(o)) => c == o,
            (Self::Community(_), Self::Street(_)) => false,
            (Self::Grids(gs), Self::Grids(os)) => os.iter().all(|g| gs.contains(g)),
            (Self::Grids(_), _) => false,
            (_, Self::Grids(os)) => os.iter().all(|g| self.contains(g)),
        }
    }

    /// What of an area this scope sees: `""` is this scope itself; a street, community or
    /// grid path names that area, cut down to this scope (a community secretary looking at
    /// its street sees its community). `None` when they do not meet or the path is no area.
    pub fn area(&self, path: &str) -> Option<Self> {
        if path.is_empty() {
            return Some(self.clone());
        }
        let parts: Vec<&str> = path.split('/').collect();
        if !parts.iter().all(|p| is_segment(p)) {
            return None;
        }
        let area = match parts.len() {
            1 => Self::Street(path.to_owned()),
            2 => Self::Community(path.to_owned()),
            3 => Self::Grids(vec![path.parse().ok()?]),
            _ => return None,
        };
        // The narrower of two nested areas; `None` when they are apart.
        let within =
            |outer: &str, inner: &str| inner == outer || inner.starts_with(&format!("{outer}/"));
        let path_of = |s: &Self| match s {
            Self::Street(x) | Self::Community(x) => Some(x.clone()),
            Self::Grids(gs) if gs.len() == 1 => Some(gs[0].to_string()),
            _ => None,
        };
        match (self, &area) {
            (Self::City, _) => Some(area),
            (Self::Grids(gs), _) => {
                let inside: Vec<GridId> = gs
                    .iter()
                    .filter(|g| within(path, g.as_str()))
                    .cloned()
                    .collect();
                (!inside.is_empty()).then_some(Self::Grids(inside))
            }
            _ => {
                let mine = path_of(self)?;
                if within(&mine, path) {
                    Some(area)
                } else if within(path, &mine) {
                    Some(self.clone())
                } else {
                    None
                }
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::City => f.write_str("city"),
            Self::Street(s) => write!(f, "street:{s}"),
            Self::Community(c) => write!(f, "community:{c}"),
            Self::Grids(gs) => {
                f.write_str("grids:")?;
                for (i, g) in gs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(g.as_str())?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Scope {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IdError::BadScope(s.chars().take(100).collect());
        if s == "city" {
            return Ok(Self::City);
        }
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "street" if is_segment(rest) => Ok(Self::Street(rest.to_owned())),
            "community" => match rest.split_once('/') {
                Some((a, b)) if is_segment(a) && is_segment(b) => {
                    Ok(Self::Community(rest.to_owned()))
                }
                _ => Err(bad()),
            },
            "grids" => rest
                .split(',')
                .map(str::parse)
                .collect::<Result<Vec<GridId>, _>>()
                .map(Self::Grids)
                .map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl TryFrom<String> for Scope {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_scope_covers_only_scopes_inside_it() {
        let s = |x: &str| x.parse::<Scope>().expect("a scope");
        assert!(s("city").covers(&s("street:s01")));
        assert!(s("street:s01").covers(&s("community:s01/c02")));
        assert!(s("street:s01").covers(&s("grids:s01/c02/g01,s01/c03/g01")));
        assert!(!s("street:s01").covers(&s("grids:s01/c02/g01,s02/c03/g01")));
        assert!(!s("street:s01").covers(&s("street:s02")));
        assert!(!s("street:s01").covers(&s("city")));
        assert!(!s("community:s01/c01").covers(&s("street:s01")));
        assert!(s("community:s01/c01").covers(&s("grids:s01/c01/g09")));
        assert!(!s("grids:s01/c01/g01").covers(&s("community:s01/c01")));
        assert!(s("grids:s01/c01/g01,s01/c01/g02").covers(&s("grids:s01/c01/g02")));
    }

    use super::*;

    #[test]
    fn document_id_round_trips_through_bs58check_and_url() {
        let id = DocumentId::from_bytes([7; 16]);
        let text = id.to_string();
        assert_eq!(text.parse::<DocumentId>(), Ok(id));
        assert_eq!(DocumentId::parse_any(&id.url()), Ok(id));
        assert!(id.url().starts_with("automerge:"));
    }

    #[test]
    fn document_id_rejects_bad_checksum_and_length() {
        let mut text = DocumentId::from_bytes([1; 16]).to_string();
        let last = text.pop().map(|c| if c == '2' { '3' } else { '2' });
        text.extend(last);
        assert!(matches!(
            text.parse::<DocumentId>(),
            Err(IdError::NotBase58Check(_))
        ));
        let short = bs58::encode([1u8; 8]).with_check().into_string();
        assert_eq!(short.parse::<DocumentId>(), Err(IdError::WrongLength(8)));
    }

    #[test]
    fn scope_contains_follows_the_grid_path() {
        let g: GridId = "s01/c02/g03".parse().expect("valid grid");
        assert!(Scope::City.contains(&g));
        assert!("street:s01".parse::<Scope>().expect("scope").contains(&g));
        assert!(!"street:s02".parse::<Scope>().expect("scope").contains(&g));
        assert!(
            "community:s01/c02"
                .parse::<Scope>()
                .expect("scope")
                .contains(&g)
        );
        assert!(
            "grids:s01/c02/g03,s01/c02/g04"
                .parse::<Scope>()
                .expect("scope")
                .contains(&g)
        );
        assert!(
            !"grids:s01/c02/g04"
                .parse::<Scope>()
                .expect("scope")
                .contains(&g)
        );
        assert!("grids:S01".parse::<Scope>().is_err());
        let street: Scope = "street:s01".parse().expect("scope");
        assert_eq!(street.area(""), Some(street.clone()));
        assert_eq!(
            street.area("s01/c02"),
            Some(Scope::Community("s01/c02".into()))
        );
        assert_eq!(
            street.area("s01/c02/g03"),
            Some(Scope::Grids(vec![g.clone()]))
        );
        assert_eq!(street.area("s02"), None);
        assert_eq!(street.area("s02/c02"), None);
        assert_eq!(street.area("s01/c02/g03/x"), None);
        assert_eq!(street.area("s01/../c"), None);
        assert_eq!(Scope::City.area("s09"), Some(Scope::Street("s09".into())));
        let community: Scope = "community:s01/c02".parse().expect("scope");
        assert_eq!(
            community.area("s01"),
            Some(community.clone()),
            "its part of the street"
        );
        assert_eq!(community.area("s01/c03/g01"), None);
        assert_eq!(community.area("s01/c0"), None);
        let grids: Scope = "grids:s01/c02/g03,s02/c01/g01".parse().expect("scope");
        assert_eq!(grids.area("s01"), Some(Scope::Grids(vec![g.clone()])));
        assert_eq!(grids.area("s03"), None);
        assert!("s01/c02".parse::<GridId>().is_err());
    }
}
