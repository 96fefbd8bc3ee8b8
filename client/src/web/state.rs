//! The app's state as the screens see it: one `Reducible` value and the [`Action`]s that
//! change it. The engine task dispatches what happened; screens dispatch where to go.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use shared::aggregate::Figures;
use shared::ids::DocumentId;
use shared::model::Record;
use shared::model::history::HistoryEntry;
use yew::Reducible;

use crate::figures::AreaFigures;
use crate::i18n::Lang;
use crate::link::Link;
use crate::session::Session;
use crate::view::Summary;

/// Where the user is in the app.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Route {
    /// The overview for a supervisor, the household list for a worker.
    Home,
    /// The household list.
    Households,
    /// A supervisor's overview of an area (`""`, a street, a community or a grid).
    Area(String),
    /// A supervisor's month view of an area.
    Month(String),
    /// A supervisor's issue queue.
    Queue,
    /// One visit.
    Visit(DocumentId),
    /// One household.
    Household(DocumentId),
    /// The household form.
    EditHousehold(DocumentId),
    /// The visit form for a household.
    RecordVisit(DocumentId),
    /// A worker's issues.
    Issues,
    /// One issue.
    Issue(DocumentId),
    /// Reporting an issue with no household (a patrol, a phone call).
    NewIssue,
    /// One monthly review.
    #[cfg_attr(not(feature = "desk"), allow(dead_code))]
    Review(DocumentId),
    /// A supervisor's workers and volunteers, with their sign-in codes.
    Team,
    /// The admin's screens.
    Admin(AdminTab),
}

/// The parts of the admin's screen.
#[cfg_attr(not(feature = "desk"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AdminTab {
    /// What is set up, and the next step.
    Guide,
    /// Streets, communities, grids, departments.
    Org,
    /// Accounts.
    People,
    /// Households from a spreadsheet.
    Import,
    /// Who did what.
    Audit,
    /// The city's step deadlines.
    Limits,
}

impl AdminTab {
    /// A short code (test hooks).
    #[cfg_attr(not(feature = "desk"), allow(dead_code))]
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Guide => "guide",
            Self::Org => "org",
            Self::People => "people",
            Self::Import => "import",
            Self::Audit => "audit",
            Self::Limits => "limits",
        }
    }
}

/// A record a screen has open: read once per change, not once per redraw.
#[derive(Debug, PartialEq)]
pub(crate) struct Opened {
    /// The record.
    pub(crate) record: Record,
    /// Who changed what, when.
    pub(crate) history: Vec<HistoryEntry>,
    /// Actor hex → user.
    pub(crate) users: BTreeMap<String, String>,
}

impl Opened {
    /// A record as an open screen shows it, if the hub holds it and it is valid.
    pub(crate) fn of(hub: &shared::sync::Hub, id: &DocumentId) -> Option<Self> {
        let doc = hub.doc(id)?;
        Some(Self {
            record: Record::read(doc).ok()?,
            history: shared::model::history::history(doc),
            users: shared::model::history::users_by_actor(doc),
        })
    }
}

/// Everything the screens show. Not `PartialEq`: screens compare [`AppState::version`], as a
/// deep comparison of every summary would cost more than a redraw.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) session: Option<Session>,
    /// Whose records this device holds (they stay after a sign-out while changes wait).
    pub(crate) owner: Option<String>,
    pub(crate) lang: Lang,
    pub(crate) link: Link,
    /// Changes waiting for the server.
    pub(crate) pending: usize,
    /// A first sync in bulk: records received of the total, while it runs.
    pub(crate) progress: Option<(u64, u64)>,
    /// Every saved document is loaded into the engine.
    pub(crate) ready: bool,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) summaries: Rc<BTreeMap<DocumentId, Summary>>,
    pub(crate) figures: Rc<Figures>,
    /// A supervisor's figures of the area it watches, from the server (or its cache).
    pub(crate) area: Option<Rc<AreaFigures>>,
    pub(crate) records: Rc<HashMap<DocumentId, Rc<Opened>>>,
    /// Records pinned to this device: kept, and fetched when not held, while pinned.
    pub(crate) pinned: Rc<BTreeSet<DocumentId>>,
    /// The organisation's names (from the server, kept for offline use).
    pub(crate) org: Rc<shared::org::Org>,
    pub(crate) route: Route,
    /// Bumped by every change: screens compare it to know whether anything changed.
    pub(crate) version: u64,
}

impl AppState {
    /// The state before the engine reported anything.
    pub(crate) fn new(
        session: Option<Session>,
        owner: Option<String>,
        lang: Lang,
        summaries: Rc<BTreeMap<DocumentId, Summary>>,
        figures: Rc<Figures>,
    ) -> Self {
        Self {
            link: if session.is_some() {
                Link::Offline
            } else {
                Link::SignIn
            },
            session,
            owner,
            lang,
            pending: 0,
            progress: None,
            ready: false,
            notice: None,
            error: None,
            summaries,
            figures,
            area: None,
            pinned: Rc::default(),
            org: Rc::new(crate::web::load_org()),
            records: Rc::default(),
            route: Route::Home,
            version: 0,
        }
    }

    /// Whether the signed-in user supervises.
    pub(crate) fn supervisor(&self) -> bool {
        self.session.as_ref().is_some_and(Session::is_supervisor)
    }

    /// The signed-in user's account.
    pub(crate) fn user(&self) -> String {
        self.session
            .as_ref()
            .map(|s| s.user.clone())
            .unwrap_or_default()
    }

    /// An open record.
    pub(crate) fn record(&self, id: &DocumentId) -> Option<Rc<Opened>> {
        self.records.get(id).cloned()
    }
}

/// What changes the state.
#[derive(Debug)]
pub(crate) enum Action {
    /// The connection's status, what waits, and a first sync's progress.
    Link(Link, usize, Option<(u64, u64)>),
    /// Every saved document is loaded.
    Ready,
    /// Someone signed in or out.
    Session(Option<Session>),
    Lang(Lang),
    Notice(Option<String>),
    Error(Option<String>),
    /// The lists and figures after a batch.
    Records {
        summaries: Rc<BTreeMap<DocumentId, Summary>>,
        figures: Rc<Figures>,
    },
    /// The open records after a batch.
    Opened(Rc<HashMap<DocumentId, Rc<Opened>>>),
    /// The server's figures of the watched area.
    Area(Rc<AreaFigures>),
    /// The records pinned to this device.
    Pinned(Rc<BTreeSet<DocumentId>>),
    /// The organisation's names.
    Org(Rc<shared::org::Org>),
    Navigate(Route),
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Link(link, pending, progress) => {
                if (next.link, next.pending, next.progress) == (link, pending, progress) {
                    return self;
                }
                next.link = link;
                next.pending = pending;
                next.progress = progress;
            }
            Action::Ready => next.ready = true,
            Action::Session(s) => {
                if let Some(s) = &s {
                    next.owner = Some(s.user.clone());
                }
                next.session = s;
            }
            Action::Lang(l) => next.lang = l,
            Action::Notice(n) => next.notice = n,
            Action::Error(e) => next.error = e,
            Action::Records { summaries, figures } => {
                next.summaries = summaries;
                next.figures = figures;
            }
            Action::Opened(records) => next.records = records,
            Action::Area(a) => next.area = Some(a),
            Action::Pinned(p) => next.pinned = p,
            Action::Org(o) => next.org = o,
            Action::Navigate(route) => next.route = route,
        }
        next.version += 1;
        Rc::new(next)
    }
}
