//! Who may hear of a changed document: the index behind fan-out, so that a change costs the
//! connections of its area, not every connection of the hub.
//!
//! A peer we serve with the extension hears of a document only inside its scope (every
//! [`AccessPolicy`](crate::sync::AccessPolicy) a server runs reads by scope), so it is kept
//! under the areas of its scope: `""` for the city, a street, a community, or each of its
//! grids. Every other connection (our servers, plain automerge-repo peers, peers without a
//! principal) is a candidate for every document and is judged one by one, as before.

use std::collections::HashMap;

use crate::ids::{GridId, Scope};
use crate::sync::effects::ConnId;

#[derive(Debug, Default)]
pub(super) struct Listeners {
    by_area: HashMap<String, Vec<ConnId>>,
    rest: Vec<ConnId>,
}

/// The area keys of a scope.
fn areas(scope: &Scope) -> Vec<String> {
    match scope {
        Scope::City => vec![String::new()],
        Scope::Street(a) | Scope::Community(a) => vec![a.clone()],
        Scope::Grids(gs) => gs.iter().map(ToString::to_string).collect(),
    }
}

impl Listeners {
    /// A connection opened: a candidate for everything until [`Listeners::narrow`].
    pub(super) fn add(&mut self, conn: ConnId) {
        self.rest.push(conn);
    }

    /// A peer we serve negotiated the extension: from now on a candidate inside `scope` only.
    pub(super) fn narrow(&mut self, conn: ConnId, scope: &Scope) {
        self.rest.retain(|c| *c != conn);
        for area in areas(scope) {
            let conns = self.by_area.entry(area).or_default();
            if !conns.contains(&conn) {
                conns.push(conn);
            }
        }
    }

    /// A connection closed (`scope`: what it was narrowed to, if it was).
    pub(super) fn remove(&mut self, conn: ConnId, scope: Option<&Scope>) {
        self.rest.retain(|c| *c != conn);
        for area in scope.map(areas).unwrap_or_default() {
            if let Some(conns) = self.by_area.get_mut(&area) {
                conns.retain(|c| *c != conn);
                if conns.is_empty() {
                    self.by_area.remove(&area);
                }
            }
        }
    }

    /// The connections that may hear of a document of `grid` (of no grid: not a valid record,
    /// which no narrowed peer may see), in order, each once.
    pub(super) fn candidates(&self, grid: Option<&GridId>) -> Vec<ConnId> {
        let mut out = self.rest.clone();
        if let Some(g) = grid {
            for area in ["", g.street(), g.community(), g.as_str()] {
                if let Some(conns) = self.by_area.get(area) {
                    out.extend_from_slice(conns);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrowed_peer_is_a_candidate_inside_its_scope_only_and_the_rest_for_everything() {
        let mut l = Listeners::default();
        let g = |s: &str| s.parse::<GridId>().expect("grid");
        for c in 1..=5 {
            l.add(ConnId(c));
        }
        l.narrow(
            ConnId(1),
            &Scope::Grids(vec![g("s01/c01/g01"), g("s01/c01/g02")]),
        );
        l.narrow(ConnId(2), &Scope::Community("s01/c01".into()));
        l.narrow(ConnId(3), &Scope::Street("s02".into()));
        l.narrow(ConnId(4), &Scope::City);
        let ids = |v: Vec<ConnId>| v.into_iter().map(|c| c.0).collect::<Vec<_>>();
        assert_eq!(ids(l.candidates(Some(&g("s01/c01/g02")))), [1, 2, 4, 5]);
        assert_eq!(ids(l.candidates(Some(&g("s01/c02/g01")))), [4, 5]);
        assert_eq!(ids(l.candidates(Some(&g("s02/c09/g01")))), [3, 4, 5]);
        assert_eq!(ids(l.candidates(None)), [5]);
        l.remove(
            ConnId(1),
            Some(&Scope::Grids(vec![g("s01/c01/g01"), g("s01/c01/g02")])),
        );
        l.remove(ConnId(5), None);
        assert_eq!(ids(l.candidates(Some(&g("s01/c01/g01")))), [2, 4]);
        assert!(!l.by_area.contains_key("s01/c01/g01"), "empty areas go");
    }
}
