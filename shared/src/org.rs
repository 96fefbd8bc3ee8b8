//! The organisation of a city: streets, communities and grids with the names people read,
//! and the city departments issues can be routed to.
//!
//! A unit's code is its stable identity: a grid's code is its path (`s01/c02/g03`), which
//! records carry; a street's is `s01`, a community's `s01/c02`. Names can change at any time
//! and are never written into records, so renaming a grid rewrites nothing.

use serde::{Deserialize, Serialize};

use crate::ids::GridId;

/// What a unit of the organisation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    /// A street office (街道).
    Street,
    /// A community (社区).
    Community,
    /// A grid (网格).
    Grid,
    /// A city department (职能部门), a routing target above the street.
    Department,
}

impl UnitKind {
    /// The code stored and sent.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Street => "street",
            Self::Community => "community",
            Self::Grid => "grid",
            Self::Department => "department",
        }
    }

    /// How many `/`-separated segments a code of this kind has (departments: one, `d-…`).
    const fn segments(self) -> usize {
        match self {
            Self::Street | Self::Department => 1,
            Self::Community => 2,
            Self::Grid => 3,
        }
    }
}

/// One unit: its kind, code and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Street, community, grid or department.
    pub kind: UnitKind,
    /// Stable code (a path for the territorial units, `d-…` for departments).
    pub code: String,
    /// The name people read (`花洲街道`).
    pub name: String,
}

/// Why a unit was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// The code is not of the kind's shape.
    #[error(
        "code {code:?} is not a {kind} code (street s01, community s01/c01, grid s01/c01/g01, department d-name: lowercase letters, digits and '-')"
    )]
    Code {
        /// The code given.
        code: String,
        /// The kind asked for.
        kind: &'static str,
    },
    /// The unit it belongs to does not exist yet.
    #[error("{0} does not exist: create it first")]
    NoParent(String),
    /// An empty or overlong name.
    #[error("a name is 1 to 40 characters")]
    Name,
}

fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Unit {
    /// Checks a unit's code and name; `parent_exists` tells whether its street or community
    /// exists.
    pub fn check(&self, parent_exists: impl Fn(&str) -> bool) -> Result<(), UnitError> {
        let parts: Vec<&str> = self.code.split('/').collect();
        let shaped = parts.len() == self.kind.segments()
            && parts.iter().all(|p| is_segment(p))
            && (self.kind != UnitKind::Department || self.code.starts_with("d-"))
            && (self.kind == UnitKind::Department || !self.code.starts_with("d-"));
        if !shaped {
            return Err(UnitError::Code {
                code: self.code.chars().take(60).collect(),
                kind: self.kind.code(),
            });
        }
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 40 {
            return Err(UnitError::Name);
        }
        if let Some(parent) = self.parent()
            && !parent_exists(parent)
        {
            return Err(UnitError::NoParent(parent.to_owned()));
        }
        Ok(())
    }

    /// The code of the unit this one belongs to (a grid's community, a community's street).
    pub fn parent(&self) -> Option<&str> {
        match self.kind {
            UnitKind::Community | UnitKind::Grid => self.code.rfind('/').map(|i| &self.code[..i]),
            UnitKind::Street | UnitKind::Department => None,
        }
    }
}

/// The whole organisation, sorted by code, with the city's step deadlines (what every
/// device needs to show names and write events).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    /// Every unit.
    pub units: Vec<Unit>,
    /// The step deadlines in force.
    #[serde(default)]
    pub limits: crate::model::lifecycle::StepLimits,
}

impl Org {
    /// An organisation of these units (sorted by code), with the built-in step deadlines.
    pub fn new(mut units: Vec<Unit>) -> Self {
        units.sort_by(|a, b| a.code.cmp(&b.code));
        Self {
            units,
            limits: crate::model::lifecycle::StepLimits::default(),
        }
    }

    /// The unit with this code.
    pub fn get(&self, code: &str) -> Option<&Unit> {
        self.units
            .binary_search_by(|u| u.code.as_str().cmp(code))
            .ok()
            .map(|i| &self.units[i])
    }

    /// The name of a unit, or its code when it has none.
    pub fn name<'a>(&'a self, code: &'a str) -> &'a str {
        self.get(code).map_or(code, |u| u.name.as_str())
    }

    /// A grid as people read it, with its community: `东关社区 · 第一网格`.
    pub fn grid_label(&self, grid: &GridId) -> String {
        match (self.get(grid.community()), self.get(grid.as_str())) {
            (Some(c), Some(g)) => format!("{} · {}", c.name, g.name),
            (None, Some(g)) => g.name.clone(),
            (Some(c), None) => format!(
                "{} · {}",
                c.name,
                grid.as_str().rsplit('/').next().unwrap_or_default()
            ),
            (None, None) => grid.to_string(),
        }
    }

    /// An area (a street, community or grid path) as people read it, with the units above it.
    pub fn area_label(&self, path: &str) -> String {
        let mut parts = Vec::new();
        let mut end = 0;
        for (i, seg) in path.split('/').enumerate() {
            end += seg.len() + usize::from(i > 0);
            parts.push(self.name(&path[..end]).to_owned());
        }
        parts.join(" · ")
    }

    /// Units of one kind.
    pub fn of_kind(&self, kind: UnitKind) -> impl Iterator<Item = &Unit> {
        self.units.iter().filter(move |u| u.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(kind: UnitKind, code: &str, name: &str) -> Unit {
        Unit {
            kind,
            code: code.into(),
            name: name.into(),
        }
    }

    #[test]
    fn codes_have_their_kinds_shape_and_a_parent() {
        let exists = |p: &str| p == "s01" || p == "s01/c01";
        assert!(
            unit(UnitKind::Street, "s01", "花洲街道")
                .check(exists)
                .is_ok()
        );
        assert!(
            unit(UnitKind::Grid, "s01/c01/g01", "第一网格")
                .check(exists)
                .is_ok()
        );
        assert!(matches!(
            unit(UnitKind::Grid, "s01/c02/g01", "x").check(exists),
            Err(UnitError::NoParent(p)) if p == "s01/c02"
        ));
        assert!(matches!(
            unit(UnitKind::Community, "s01", "x").check(exists),
            Err(UnitError::Code { .. })
        ));
        assert!(matches!(
            unit(UnitKind::Street, "S 1", "x").check(exists),
            Err(UnitError::Code { .. })
        ));
        assert!(matches!(
            unit(UnitKind::Department, "housing", "住建局").check(exists),
            Err(UnitError::Code { .. })
        ));
        assert!(
            unit(UnitKind::Department, "d-housing", "住建局")
                .check(exists)
                .is_ok()
        );
        assert_eq!(
            unit(UnitKind::Street, "s02", " ").check(exists),
            Err(UnitError::Name)
        );
    }

    #[test]
    fn labels_use_names_and_fall_back_to_codes() {
        let org = Org::new(vec![
            unit(UnitKind::Grid, "s01/c01/g01", "第一网格"),
            unit(UnitKind::Street, "s01", "花洲街道"),
            unit(UnitKind::Community, "s01/c01", "东关社区"),
        ]);
        let g: GridId = "s01/c01/g01".parse().expect("a grid");
        assert_eq!(org.grid_label(&g), "东关社区 · 第一网格");
        assert_eq!(org.area_label("s01/c01"), "花洲街道 · 东关社区");
        assert_eq!(org.area_label("s01/c09"), "花洲街道 · s01/c09");
        let other: GridId = "s02/c01/g01".parse().expect("a grid");
        assert_eq!(org.grid_label(&other), "s02/c01/g01");
    }
}
