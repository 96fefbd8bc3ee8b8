//! Storage behind one trait: documents as change chunks with a change feed, accounts, tokens
//! and the quarantine. [`redb_store::RedbStore`] is the embedded default.

mod evidence_tables;
mod migrate;
mod rebuild;
mod redb_admin;
mod redb_evidence;
mod redb_feed;
pub mod redb_store;
pub mod redb_trends;
mod rows;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use shared::aggregate::Contribution;
use shared::ids::{DocumentId, Scope};
use shared::model::RecordMeta;
use shared::month::Source;
use shared::sync::{FeedAnswer, FeedQuery, Principal, Quarantine};
use shared::trends::Trend;

/// Why storage failed. Always an internal error for clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database failed.
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    /// A stored row is not what this version wrote.
    #[error("stored row does not parse: {0}")]
    Row(#[from] serde_json::Error),
    /// A stored key is not a document ID.
    #[error("stored key is not a document id ({0} bytes)")]
    Key(usize),
    /// A stored document does not load.
    #[error("stored document does not load: {0}")]
    Document(#[from] automerge::AutomergeError),
    /// The data folder cannot be used.
    #[error("data folder: {0}")]
    Io(#[from] std::io::Error),
    /// The operating system gave no random bytes.
    #[error("no random bytes: {0}")]
    Random(#[from] getrandom::Error),
    /// A password could not be hashed.
    #[error("password hashing: {0}")]
    Password(argon2::password_hash::Error),
    /// An identifier in stored data does not parse.
    #[error(transparent)]
    Id(#[from] shared::ids::IdError),
}

/// redb reports each operation's failure as its own type; all are database errors here.
macro_rules! db_errors {
    ($($t:ident),*) => {
        $(impl From<redb::$t> for StoreError {
            fn from(e: redb::$t) -> Self {
                Self::Db(e.into())
            }
        })*
    };
}
db_errors!(
    DatabaseError,
    TransactionError,
    TableError,
    StorageError,
    CommitError
);

/// One document change to make durable.
#[derive(Clone, Debug)]
pub struct ChunkWrite {
    /// The document.
    pub doc: DocumentId,
    /// Incremental save bytes.
    pub chunk: Vec<u8>,
    /// Digest of the document's heads after it.
    pub heads: [u8; 8],
    /// Kind and grid, when the document is a valid record.
    pub meta: Option<RecordMeta>,
    /// What it contributes to the dashboard.
    pub contribution: Option<Contribution>,
    /// What a household search matches ([`shared::summary::search_text`]).
    pub text: Option<String>,
    /// What it adds to the figures over time.
    pub trend: Option<Trend>,
    /// The photos it refers to (indexed from photo to record).
    pub photos: Vec<String>,
}

impl ChunkWrite {
    /// The write of a change that leaves the document as `record` (when valid).
    pub fn of(
        doc: DocumentId,
        chunk: Vec<u8>,
        heads: [u8; 8],
        meta: Option<RecordMeta>,
        record: Option<&shared::model::Record>,
        dashboard: &shared::aggregate::Dashboard,
    ) -> Self {
        Self {
            doc,
            chunk,
            heads,
            meta,
            contribution: record.map(|r| dashboard.contribution(r)),
            text: record.and_then(shared::summary::search_text),
            trend: record.and_then(|r| Trend::of(r, &shared::time::Calendar::CHINA)),
            photos: match record {
                Some(shared::model::Record::Issue(i)) => i.detail.photos.clone(),
                Some(shared::model::Record::Visit(v)) => v.photos.clone(),
                _ => Vec::new(),
            },
        }
    }
}

/// What is stored about a document besides its chunks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocRow {
    /// Sequence number of its latest change.
    pub seq: u64,
    /// Record kind (`household`, `visit`, `issue`), once valid.
    pub kind: Option<String>,
    /// Grid path, once valid.
    pub grid: Option<String>,
    /// Heads digest.
    pub heads: [u8; 8],
    /// How many chunks are stored.
    pub chunks: u64,
    /// Dashboard contribution.
    pub contribution: Option<Contribution>,
    /// The supervisors' queues (levels, as bits) an issue has been open in.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub levels: u8,
    /// What it adds to the figures over time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<Trend>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(v: &u8) -> bool {
    *v == 0
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Who, with role and scope.
    pub principal: Principal,
    /// Display name.
    pub name: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// A disabled account signs in nowhere; its records stay.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// The households a volunteer looks after (党员联系户).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub households: Vec<DocumentId>,
}

impl Account {
    /// An enabled account with no linked households.
    pub fn new(principal: Principal, name: String, password_hash: String) -> Self {
        Self {
            principal,
            name,
            password_hash,
            disabled: false,
            households: Vec::new(),
        }
    }
}

/// One line of the audit log: who did what to what, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its number (given when stored).
    pub seq: u64,
    /// When, ms since the epoch.
    pub at: i64,
    /// Who.
    pub by: String,
    /// What (`org.create`, `person.edit`, `households.import`, …).
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// In words.
    pub detail: String,
}

/// A one-time code that signs a phone in, stored under its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionRow {
    /// Whom it signs in.
    pub user: String,
    /// Who issued it.
    pub by: String,
    /// When it stops working, ms since the epoch.
    pub expires_at: i64,
    /// Whether it signed a phone in already.
    pub used: bool,
}

/// Why a one-time code did not sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redeem {
    /// No such code.
    Unknown,
    /// It was used.
    Used,
    /// It expired.
    Expired,
}

/// The key a token is stored under: its SHA-256, hex. The database never holds a token
/// itself, so a copy of it (a backup, a stolen disk) signs nobody in.
pub fn token_key(token: &str) -> String {
    use sha2::Digest;
    shared::hex::encode(&sha2::Sha256::digest(token.as_bytes()))
}

/// One item of a [`Storage::snapshot`].
#[derive(Debug)]
pub enum Snap<'a> {
    /// A document and its saved bytes.
    Doc(DocumentId, &'a [u8]),
    /// An account.
    Account(Account),
    /// A unit of the organisation.
    Unit(shared::org::Unit),
    /// An entry of the audit log.
    Audit(AuditEntry),
    /// A login token's key ([`token_key`]) and row.
    Token(&'a str, TokenRow),
    /// A resident's report: the SHA-256 of its tracking code, and its row.
    Report(&'a str, ReportRow),
    /// A photo: its hash, row and bytes.
    Photo(&'a str, PhotoMeta, &'a [u8]),
}

/// What [`Storage::page`] lists.
#[derive(Clone, Debug)]
pub struct PageQuery<'a> {
    /// Whose documents.
    pub scope: &'a Scope,
    /// Only documents of this kind (`household`, `visit`, `issue`).
    pub kind: Option<&'a str>,
    /// Only documents of this grid (empty when it lies outside the scope).
    pub grid: Option<&'a str>,
    /// Only the visits of this household.
    pub household: Option<DocumentId>,
    /// Only documents in this state.
    pub status: Option<Wanted>,
    /// Only documents last changed before this feed position (the previous page's `next`).
    pub before: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

/// A state a listing can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// Open issues.
    Open,
    /// Open issues past their step deadline at this time.
    Overdue(i64),
    /// Closed issues.
    Closed,
    /// Records that need correcting.
    Corrections,
    /// Visits of this local week.
    Week(i64),
    /// Reviews held on these local days.
    Days(i64, i64),
}

impl Wanted {
    /// Whether a stored contribution is in this state.
    pub fn matches(self, c: Option<&Contribution>) -> bool {
        match (self, c) {
            (Self::Open, Some(Contribution::Issue { open, .. })) => *open,
            (Self::Closed, Some(Contribution::Issue { open, .. })) => !*open,
            (
                Self::Overdue(now),
                Some(Contribution::Issue {
                    open: true,
                    deadline: Some(d),
                    ..
                }),
            ) => d.0 < now,
            (Self::Corrections, Some(c)) => c.needs_correction(),
            (Self::Week(w), Some(Contribution::Visit { week, .. })) => *week == w,
            (Self::Days(lo, hi), Some(Contribution::Review { day, .. })) => (lo..=hi).contains(day),
            _ => false,
        }
    }
}

/// A page of documents.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The documents with their rows, newest change first.
    pub rows: Vec<(DocumentId, DocRow)>,
    /// Where the next page starts (`before`), when there may be one.
    pub next: Option<u64>,
}

/// A login token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenRow {
    /// Whose.
    pub user: String,
    /// Expiry, ms since the epoch.
    pub expires_at: i64,
    /// Revoked by logout or an admin.
    pub revoked: bool,
}

/// A quarantined change as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRow {
    /// Its number.
    pub id: u64,
    /// When, ms since the epoch.
    pub at: i64,
    /// Who sent it.
    pub user: Option<String>,
    /// The document.
    pub doc: DocumentId,
    /// Why it was refused.
    pub reason: String,
    /// Size of the refused changes.
    pub bytes: usize,
    /// The refused changes, hex.
    pub chunk_hex: String,
}

/// A resident's report, found by the SHA-256 of its tracking code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// The issue document it became.
    pub doc: DocumentId,
    /// Its grid (`None`: the city's dispatch queue).
    pub grid: String,
    /// When it was received (ms).
    pub at: i64,
}

/// Who put a photo, for which grid, when, and how big it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhotoMeta {
    /// The uploader (`resident` for reports).
    pub user: String,
    /// The grid its quota is counted in.
    pub grid: String,
    /// When it was uploaded (ms).
    pub at: i64,
    /// Bytes.
    pub size: u64,
}

/// What storing a photo did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoPut {
    /// Stored now.
    Stored,
    /// It was already stored (photos are stored once).
    Exists,
    /// The uploader's (`user`) or the grid's (`grid`) quota would be exceeded.
    OverQuota(&'static str),
}

/// Residents' reports and photos. Each call commits atomically and durably.
pub trait Evidence {
    /// Stores reports' rows, each under the SHA-256 of its tracking code, in one transaction.
    fn put_reports(&self, rows: &[(String, ReportRow)]) -> Result<(), StoreError>;
    /// A report, by the SHA-256 of its tracking code.
    fn report(&self, key: &str) -> Result<Option<ReportRow>, StoreError>;
    /// Stores a photo once, within `quota` (bytes per uploader, per grid).
    fn put_photo(
        &self,
        hash: &str,
        bytes: &[u8],
        meta: &PhotoMeta,
        quota: (u64, u64),
    ) -> Result<PhotoPut, StoreError>;
    /// A photo's bytes and row.
    fn photo(&self, hash: &str) -> Result<Option<(Vec<u8>, PhotoMeta)>, StoreError>;
    /// The records that refer to a photo.
    fn photo_records(&self, hash: &str) -> Result<Vec<DocumentId>, StoreError>;
    /// Bytes of photos held by `u:<user>` or `g:<grid>`.
    fn photo_usage(&self, key: &str) -> Result<u64, StoreError>;
    /// Removes the photos uploaded before `uploaded_before` that no record refers to; returns
    /// how many.
    fn collect_photos(&self, uploaded_before: i64) -> Result<usize, StoreError>;
}

/// Everything the server stores. Implementations commit each call atomically and durably.
pub trait Storage: Evidence + Send + Sync + 'static {
    /// Makes a batch of chunks and quarantined changes durable in one transaction; returns, per
    /// chunk, the document's dashboard contribution before it.
    fn commit(
        &self,
        chunks: &[ChunkWrite],
        quarantine: &[Quarantine],
        now: i64,
    ) -> Result<Vec<Option<Contribution>>, StoreError>;
    /// Calls `f` with every document row, without holding them all in memory.
    fn for_each_row(&self, f: &mut dyn FnMut(DocumentId, DocRow)) -> Result<(), StoreError>;
    /// The saved bytes of a document.
    fn load(&self, doc: &DocumentId) -> Result<Option<Vec<u8>>, StoreError>;
    /// A document's row.
    fn row(&self, doc: &DocumentId) -> Result<Option<DocRow>, StoreError>;
    /// Answers a change-feed query from committed state only.
    fn answer(&self, query: &FeedQuery) -> Result<FeedAnswer, StoreError>;
    /// Every document row (for rebuilding the dashboard, listings and exports).
    fn rows(
        &self,
        scope: &Scope,
        kind: Option<&str>,
    ) -> Result<Vec<(DocumentId, DocRow)>, StoreError>;
    /// One page of the documents of a scope, newest change first, through the scope's
    /// per-grid index (a city-wide page reads the feed itself).
    fn page(&self, query: &PageQuery<'_>) -> Result<Page, StoreError>;
    /// How many documents are stored.
    fn doc_count(&self) -> Result<u64, StoreError>;
    /// An account.
    fn account(&self, user: &str) -> Result<Option<Account>, StoreError>;
    /// Creates or replaces accounts.
    fn put_accounts(&self, accounts: &[Account]) -> Result<(), StoreError>;
    /// Stores a token under its key ([`token_key`]).
    fn put_token(&self, key: &str, row: &TokenRow) -> Result<(), StoreError>;
    /// A token, by its key.
    fn token(&self, key: &str) -> Result<Option<TokenRow>, StoreError>;
    /// Revokes every token of `user`; returns how many were live.
    fn revoke_user_tokens(&self, user: &str) -> Result<usize, StoreError>;
    /// Quarantined changes stored per user (`None`: no user).
    fn quarantine_counts(&self) -> Result<HashMap<Option<String>, usize>, StoreError>;
    /// Removes one quarantined change; returns it.
    fn discard_quarantine(&self, id: u64) -> Result<Option<QuarantineRow>, StoreError>;
    /// The quarantine, newest first.
    fn quarantine(&self, limit: usize) -> Result<Vec<QuarantineRow>, StoreError>;
    /// Every account.
    fn accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Calls `f` with the stored figures over time, as of one committed state.
    fn with_figures(&self, f: &mut dyn FnMut(&mut dyn Source)) -> Result<(), StoreError>;
    /// Calls `f` with every document's saved bytes, every account and every token, all as of
    /// one committed state (a consistent backup while the server runs).
    fn snapshot(
        &self,
        f: &mut dyn FnMut(Snap<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// The monthly reviews covering grids of `scope` held on local days `lo..=hi`.
    fn reviews(&self, scope: &Scope, lo: i64, hi: i64) -> Result<Vec<DocumentId>, StoreError>;
    /// The organisation.
    fn org(&self) -> Result<shared::org::Org, StoreError>;
    /// Creates or renames units.
    fn put_units(&self, units: &[shared::org::Unit]) -> Result<(), StoreError>;
    /// The city's step deadlines (the built-in rule until an admin sets one).
    fn step_limits(&self) -> Result<shared::model::lifecycle::StepLimits, StoreError>;
    /// Sets the city's step deadlines.
    fn put_step_limits(
        &self,
        limits: &shared::model::lifecycle::StepLimits,
    ) -> Result<(), StoreError>;
    /// Appends to the audit log (each entry numbered after the last).
    fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError>;
    /// The audit log before entry `before`, newest first.
    fn audit_log(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
    /// Accounts after user name `after` that `keep` keeps, in user-name order, at most
    /// `limit`; and the user name the next page starts after.
    fn accounts_page(
        &self,
        after: Option<&str>,
        keep: &dyn Fn(&Account) -> bool,
        limit: usize,
    ) -> Result<(Vec<Account>, Option<String>), StoreError>;
    /// The households of a grid with their search text (address label first).
    fn household_texts(&self, grid: &str) -> Result<Vec<(DocumentId, String)>, StoreError>;
    /// Stores a one-time sign-in code under its key ([`token_key`]).
    fn put_provision(&self, key: &str, row: &ProvisionRow) -> Result<(), StoreError>;
    /// Uses a one-time code: marks it used in the same transaction, so it signs in once.
    fn redeem_provision(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Result<ProvisionRow, Redeem>, StoreError>;
    /// Households of a scope whose address, head or contact contains `q` (lowercase), at
    /// most `limit`.
    fn search_households(
        &self,
        scope: &Scope,
        q: &str,
        limit: usize,
    ) -> Result<Vec<DocumentId>, StoreError>;
}
