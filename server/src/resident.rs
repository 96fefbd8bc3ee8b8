//! Residents' reports (大家管、码上办, DESIGN decision 11): what a report must hold, the
//! tracking code that is its only key, the limits that keep a burst from one address out
//! without tripping a carrier NAT, the link from a repeated report to the first, and what a
//! resident's status page shows of the issue their report became.
//!
//! A report becomes an issue document the server writes (source `qr`, a report event with no
//! role and actor [`RESIDENT`]); the tracking code is stored only as its SHA-256.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use shared::ids::{DocumentId, GridId};
use shared::model::issue::{Detail, IssueKind};
use shared::model::{Area, EventKind, Issue, Level, Location, Status};
use shared::time::Millis;

use crate::limits::Windows;
use crate::settings::Settings;

/// The actor of what residents write (through the server).
pub const RESIDENT: &str = "resident";

/// Where a report with no grid goes: the city's dispatch queue, acted on at city level.
pub const DISPATCH_GRID: &str = "city/dispatch/queue";

/// The longest description a resident may write.
pub const MAX_TEXT: usize = 2_000;

/// Crockford's base32 alphabet (no I, L, O, U: read aloud and typed without confusion).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new tracking code: 13 symbols of base32 (65 random bits), as `XXXX-XXXX-XXXXX`.
pub fn new_code() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 13];
    getrandom::fill(&mut bytes)?;
    let mut out = String::with_capacity(15);
    for (i, b) in bytes.iter().enumerate() {
        if i == 4 || i == 8 {
            out.push('-');
        }
        out.push(ALPHABET[usize::from(b & 31)] as char);
    }
    Ok(out)
}

/// A code as a resident typed it, in its one canonical form (`None`: not a code).
pub fn canonical_code(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(15);
    let mut n = 0;
    for c in typed.chars().filter(|c| !matches!(c, '-' | ' ')) {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !ALPHABET.contains(&(c as u8)) || !c.is_ascii() {
            return None;
        }
        if n == 4 || n == 8 {
            out.push('-');
        }
        out.push(c);
        n += 1;
    }
    (n == 13).then_some(out)
}

/// What a resident sends.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The grid whose QR code they scanned (`None`: the city's dispatch queue).
    pub grid: Option<String>,
    /// The area (`service_code`).
    pub area: String,
    /// Problem or suggestion.
    pub kind: String,
    /// What they saw.
    pub description: String,
    /// Their position, if they allowed it.
    pub lat: Option<String>,
    /// Their position, if they allowed it.
    pub lon: Option<String>,
    /// A phone number, optional.
    pub phone: String,
    /// Photos' bytes.
    pub photos: Vec<Vec<u8>>,
}

/// A report, checked.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The grid the issue is filed in.
    pub grid: GridId,
    /// The level it starts at (the city, with no grid).
    pub level: Level,
    /// The area.
    pub area: Area,
    /// The text.
    pub description: String,
    /// Kind, position, call-back number (photos are added once stored).
    pub detail: Detail,
}

/// Checks a report; the error is what the resident reads.
pub fn check(r: &Report, known_grid: impl Fn(&GridId) -> bool) -> Result<Checked, String> {
    let (grid, level) = match r.grid.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
        None => (dispatch_grid(), Level::City),
        Some(g) => {
            let grid: GridId = g
                .parse()
                .map_err(|_| format!("unknown grid {g:?} / 网格编码无效"))?;
            if !known_grid(&grid) {
                return Err(format!("unknown grid {g:?} / 网格编码无效"));
            }
            (grid, Level::Grid)
        }
    };
    let area: Area = r
        .area
        .trim()
        .parse()
        .map_err(|_| format!("unknown service_code {:?} / 类别无效", r.area))?;
    let description = r.description.trim().to_owned();
    if description.is_empty() {
        return Err("description is required / 请描述问题".into());
    }
    if description.chars().count() > MAX_TEXT {
        return Err(format!(
            "description is longer than {MAX_TEXT} characters / 描述过长"
        ));
    }
    let kind = match r.kind.trim() {
        "" | "problem" => IssueKind::Problem,
        "suggestion" => IssueKind::Suggestion,
        other => return Err(format!("unknown kind {other:?} / 类型无效")),
    };
    let geo = match (r.lat.as_deref(), r.lon.as_deref()) {
        (Some(a), Some(b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
            let (lat, lon) = (a.trim().parse::<f64>(), b.trim().parse::<f64>());
            match (lat, lon) {
                (Ok(lat), Ok(lon))
                    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
                {
                    Some(Location {
                        lat,
                        lon,
                        accuracy: 0.0,
                    })
                }
                _ => return Err("lat/long are not a place on Earth / 位置无效".into()),
            }
        }
        _ => None,
    };
    let phone: String = r
        .phone
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if !phone.is_empty()
        && (phone.len() > 20
            || !phone
                .chars()
                .all(|c| c.is_ascii_digit() || "+-()".contains(c)))
    {
        return Err("phone is not a phone number / 电话号码无效".into());
    }
    Ok(Checked {
        grid,
        level,
        area,
        description,
        detail: Detail {
            kind,
            geo,
            photos: Vec::new(),
            contact: phone,
        },
    })
}

/// The grid of the city's dispatch queue.
pub fn dispatch_grid() -> GridId {
    GridId::try_from(DISPATCH_GRID.to_owned()).unwrap_or_else(|_| unreachable!("a valid grid"))
}

/// What a report says, for spotting a repeat: its area and its letters and digits.
fn fingerprint(area: Area, text: &str) -> String {
    let mut f = area.code().to_owned();
    f.push(':');
    f.extend(
        text.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase),
    );
    f
}

/// A recent report: when, what it said ([`fingerprint`]), which issue it became.
type Recent = (Instant, String, DocumentId);

/// The front desk of residents' reports: rate limits and recent reports per grid.
#[derive(Debug, Default)]
pub struct Desk {
    windows: Windows,
    recent: Mutex<HashMap<GridId, VecDeque<Recent>>>,
}

/// How long a report counts as recent, for linking repeats.
const REPEAT_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl Desk {
    /// Counts a report from `ip` to `grid`; `Err(wait)` past a limit. One address may send a
    /// few reports to one grid and more across grids (a carrier NAT puts a district behind
    /// one address); a grid takes a bounded number from everyone.
    pub fn admit(
        &self,
        s: &Settings,
        ip: &str,
        grid: &GridId,
        now: Instant,
    ) -> Result<(), Duration> {
        let w = &self.windows;
        w.hit(
            &format!("ipg:{ip}:{grid}"),
            s.reports_per_ip_grid,
            s.report_window,
            now,
        )?;
        w.hit(&format!("ip:{ip}"), s.reports_per_ip, s.report_window, now)?;
        w.hit(
            &format!("g:{grid}"),
            s.reports_per_grid,
            s.report_window,
            now,
        )
    }

    /// The recent report in the same grid this one repeats, if any; then remembers this one.
    pub fn repeat_of(&self, c: &Checked, doc: DocumentId, now: Instant) -> Option<DocumentId> {
        let f = fingerprint(c.area, &c.description);
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let list = recent.entry(c.grid.clone()).or_default();
        while list
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) > REPEAT_WINDOW)
        {
            list.pop_front();
        }
        let first = list.iter().find(|(_, g, _)| *g == f).map(|(_, _, d)| *d);
        if list.len() >= 1_000 {
            list.pop_front();
        }
        list.push_back((now, f, doc));
        first
    }
}

/// One step of an issue as a resident sees it.
#[derive(Clone, Debug, Serialize)]
pub struct StatusStep {
    /// `received`, `accepted`, `dispatched`, `handled`, `followup` or `closed`.
    pub step: &'static str,
    /// When.
    pub at: i64,
    /// What the handler wrote (the result note), if anything.
    pub note: String,
}

/// What the holder of a tracking code sees.
#[derive(Clone, Debug, Serialize)]
pub struct StatusView {
    /// The code.
    pub code: String,
    /// `received`, `accepted`, `dispatched`, `handled`, `verified` or `closed`.
    pub status: &'static str,
    /// The area.
    pub area: Area,
    /// Problem or suggestion.
    pub kind: IssueKind,
    /// Their own text.
    pub description: String,
    /// Their own phone number.
    pub phone: String,
    /// Photos, by hash.
    pub photos: Vec<String>,
    /// The steps so far.
    pub steps: Vec<StatusStep>,
    /// The follow-up's answer, once asked.
    pub satisfied: Option<bool>,
    /// Their rating, once given.
    pub rating: Option<u8>,
    /// Whether they may rate now (closed, not yet rated).
    pub can_rate: bool,
    /// When it was received.
    pub received_at: i64,
}

/// The status page's view of an issue.
pub fn status_of(code: &str, issue: &Issue) -> StatusView {
    let ignored = &issue.state.ignored;
    let steps = issue
        .events
        .iter()
        .filter(|e| !ignored.contains(&e.id))
        .filter_map(|e| {
            let step = match e.kind {
                EventKind::Report => "received",
                EventKind::Accept => "accepted",
                EventKind::Dispatch => "dispatched",
                EventKind::Handle => "handled",
                EventKind::FollowUp => "followup",
                EventKind::Close => "closed",
                EventKind::Reopen => "reopened",
                _ => return None,
            };
            let note = match e.kind {
                // A resident's own words are shown from the description, not twice.
                EventKind::Report => String::new(),
                _ => e.note.clone(),
            };
            Some(StatusStep {
                step,
                at: e.at.0,
                note,
            })
        })
        .collect();
    let status = match issue.state.status {
        Status::Reported => "received",
        Status::Accepted => "accepted",
        Status::Dispatched => "dispatched",
        Status::Handled => "handled",
        Status::Verified => "verified",
        Status::Closed => "closed",
    };
    StatusView {
        code: code.to_owned(),
        status,
        area: issue.area,
        kind: issue.detail.kind,
        description: issue.description.clone(),
        phone: issue.detail.contact.clone(),
        photos: issue.detail.photos.clone(),
        steps,
        satisfied: issue.state.satisfied,
        rating: issue.state.rating,
        can_rate: issue.state.status == Status::Closed && issue.state.rating.is_none(),
        received_at: issue.state.reported_at.0,
    }
}

/// The server's clock as the events it writes for residents carry it.
pub fn event_id(now: Millis) -> Result<String, getrandom::Error> {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b)?;
    Ok(format!("res-{}-{}", now.0, shared::hex::encode(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_65_bits_and_read_back_however_typed() {
        let code = new_code().expect("random");
        assert_eq!(code.len(), 15);
        assert_eq!(canonical_code(&code).as_deref(), Some(code.as_str()));
        let sloppy = code.to_lowercase().replace('-', " ");
        assert_eq!(canonical_code(&sloppy).as_deref(), Some(code.as_str()));
        assert_eq!(canonical_code("0000-0000-000"), None, "too short");
        assert_eq!(canonical_code("<script>alert"), None);
        assert_ne!(new_code().expect("random"), code);
    }

    #[test]
    fn a_report_is_checked_and_one_with_no_grid_goes_to_the_city() {
        let ok = Report {
            area: "infrastructure".into(),
            description: " 路灯坏了 ".into(),
            lat: Some("31.2".into()),
            lon: Some("121.5".into()),
            ..Report::default()
        };
        let c = check(&ok, |_| true).expect("valid");
        assert_eq!((c.grid.as_str(), c.level), (DISPATCH_GRID, Level::City));
        assert_eq!(c.description, "路灯坏了");
        assert!(c.detail.geo.is_some());
        let bad_area = Report {
            area: "x".into(),
            ..ok.clone()
        };
        assert!(check(&bad_area, |_| true).is_err());
        let far = Report {
            lat: Some("91".into()),
            ..ok.clone()
        };
        assert!(check(&far, |_| true).is_err());
        let unknown = Report {
            grid: Some("s01/c01/g99".into()),
            ..ok
        };
        assert!(check(&unknown, |_| false).is_err());
    }

    #[test]
    fn a_repeat_in_the_same_grid_is_linked_to_the_first() {
        let desk = Desk::default();
        let r = Report {
            grid: Some("s01/c01/g01".into()),
            area: "disputes".into(),
            description: "3号楼 电梯坏了!".into(),
            ..Report::default()
        };
        let c = check(&r, |_| true).expect("valid");
        let now = Instant::now();
        let (a, b) = (
            DocumentId::from_bytes([1; 16]),
            DocumentId::from_bytes([2; 16]),
        );
        assert_eq!(desk.repeat_of(&c, a, now), None);
        let again = Checked {
            description: "3号楼电梯坏了".into(),
            ..c.clone()
        };
        assert_eq!(desk.repeat_of(&again, b, now), Some(a));
    }
}
