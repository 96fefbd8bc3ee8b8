//! Backup and restore (`gridvisit backup`, `gridvisit restore`).
//!
//! A backup is a consistent snapshot ([`Storage::snapshot`]: one read transaction) of every
//! document's saved bytes, every account and every login token, written as frames:
//!
//! ```text
//! "GRIDVISIT-BACKUP\n"  then frames of  [kind u8][length u32 big-endian][payload]
//!   1 header (JSON: format, created_at, epoch)   2 document (16-byte ID, saved bytes)
//!   3 account (JSON)   4 token (JSON: key, row)   255 end (SHA-256 of every byte before it)
//! ```
//!
//! A backup is taken while the server runs, through it (`POST /api/backup` with the key the
//! server writes into its data folder at start, or an admin's token), or straight from the
//! folder of a stopped server. A restore checks the whole file first, then writes a new
//! database (the old one is kept beside it, renamed): a new epoch, so every client's next sync
//! compares digests and sends what the restored server lacks. What no client still holds is
//! recovered as of the backup.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::ids::DocumentId;

use crate::store::redb_store::RedbStore;
use crate::store::{Account, ChunkWrite, Evidence, Snap, Storage, StoreError, TokenRow};

const MAGIC: &[u8] = b"GRIDVISIT-BACKUP\n";
const HEADER: u8 = 1;
const DOC: u8 = 2;
const ACCOUNT: u8 = 3;
const TOKEN: u8 = 4;
const UNIT: u8 = 5;
const AUDIT: u8 = 6;
/// A resident's report: `{key, row}` (the SHA-256 of its tracking code, and where it went).
const REPORT: u8 = 7;
/// A photo: its 64-character hash, the length of its row (u32 big-endian), the row, the bytes.
const PHOTO: u8 = 8;
/// The format this program writes (2 added reports and photos); it reads 1 and 2.
const FORMAT: u32 = 2;
const END: u8 = 255;
/// No frame is larger (a document's saved bytes are far smaller).
const MAX_FRAME: u32 = 256 * 1024 * 1024;

/// The file the running server writes into its data folder: where it listens and the key
/// that takes a backup through it.
pub const RUNNING: &str = "running.json";

/// What [`RUNNING`] holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Running {
    /// `http://addr`.
    pub url: String,
    /// The backup key (hex).
    pub key: String,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    created_at: i64,
    epoch: String,
}

#[derive(Serialize, Deserialize)]
struct Token {
    key: String,
    row: TokenRow,
}

/// What a backup or a restore holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Documents.
    pub docs: u64,
    /// Accounts.
    pub accounts: u64,
    /// Login tokens.
    pub tokens: u64,
    /// Photos.
    pub photos: u64,
}

/// Writes frames while hashing them.
struct Framer<W: Write> {
    out: W,
    hash: Sha256,
}

impl<W: Write> Framer<W> {
    fn frame(&mut self, kind: u8, parts: &[&[u8]]) -> std::io::Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(len).map_err(std::io::Error::other)?;
        let mut head = [0u8; 5];
        head[0] = kind;
        head[1..].copy_from_slice(&len.to_be_bytes());
        self.write(&head)?;
        for p in parts {
            self.write(p)?;
        }
        Ok(())
    }

    fn write(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.hash.update(b);
        self.out.write_all(b)
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Io(e)
}

/// Writes a backup of `store` (epoch `epoch`) to `out`.
pub fn write(
    store: &dyn Storage,
    epoch: &str,
    now: i64,
    out: impl Write,
) -> Result<Counts, StoreError> {
    let mut f = Framer {
        out,
        hash: Sha256::new(),
    };
    f.write(MAGIC).map_err(io)?;
    let header = serde_json::to_vec(&Header {
        format: FORMAT,
        created_at: now,
        epoch: epoch.to_owned(),
    })?;
    f.frame(HEADER, &[&header]).map_err(io)?;
    let mut counts = Counts::default();
    store.snapshot(&mut |item| {
        match item {
            Snap::Doc(id, bytes) => {
                counts.docs += 1;
                f.frame(DOC, &[id.as_bytes(), bytes])
            }
            Snap::Account(a) => {
                counts.accounts += 1;
                f.frame(ACCOUNT, &[&serde_json::to_vec(&a)?])
            }
            Snap::Unit(u) => f.frame(UNIT, &[&serde_json::to_vec(&u)?]),
            Snap::Report(key, row) => f.frame(
                REPORT,
                &[&serde_json::to_vec(
                    &serde_json::json!({ "key": key, "row": row }),
                )?],
            ),
            Snap::Photo(hash, meta, bytes) => {
                counts.photos += 1;
                let meta = serde_json::to_vec(&meta)?;
                let len = u32::try_from(meta.len()).unwrap_or(u32::MAX).to_be_bytes();
                f.frame(PHOTO, &[hash.as_bytes(), &len, &meta, bytes])
            }
            Snap::Audit(e) => f.frame(AUDIT, &[&serde_json::to_vec(&e)?]),
            Snap::Token(key, row) => {
                counts.tokens += 1;
                let t = serde_json::to_vec(&Token {
                    key: key.to_owned(),
                    row,
                })?;
                f.frame(TOKEN, &[&t])
            }
        }
        .map_err(io)
    })?;
    let digest = f.hash.clone().finalize();
    f.frame(END, &[&digest]).map_err(io)?;
    f.out.flush().map_err(io)?;
    Ok(counts)
}

/// Reads the frames of a backup, checking its end digest; `f` hears each frame before the
/// end is checked, so [`check`] reads a file once before [`restore`] reads it again.
fn read(
    mut input: impl Read,
    f: &mut dyn FnMut(u8, &[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut hash = Sha256::new();
    let mut magic = vec![0u8; MAGIC.len()];
    input
        .read_exact(&mut magic)
        .context("reading the backup's first bytes")?;
    ensure!(magic == MAGIC, "not a gridvisit backup");
    hash.update(&magic);
    let mut payload = Vec::new();
    loop {
        let mut head = [0u8; 5];
        input
            .read_exact(&mut head)
            .context("the backup ends early: it is incomplete or damaged")?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        ensure!(
            len <= MAX_FRAME,
            "a frame of {len} bytes: the backup is damaged"
        );
        payload.resize(len as usize, 0);
        input
            .read_exact(&mut payload)
            .context("the backup ends early: it is incomplete or damaged")?;
        if head[0] == END {
            let digest = hash.finalize();
            ensure!(
                payload.as_slice() == digest.as_slice(),
                "the backup's checksum does not match: it is damaged"
            );
            return Ok(());
        }
        hash.update(head);
        hash.update(&payload);
        f(head[0], &payload)?;
    }
}

/// Checks a whole backup file and counts what it holds.
pub fn check(path: &Path) -> anyhow::Result<Counts> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut counts = Counts::default();
    let mut header = false;
    read(std::io::BufReader::new(file), &mut |kind, payload| {
        match kind {
            HEADER => {
                let h: Header = serde_json::from_slice(payload)?;
                ensure!(
                    (1..=FORMAT).contains(&h.format),
                    "backup format {} is newer than this program",
                    h.format
                );
                header = true;
            }
            DOC => {
                ensure!(payload.len() >= 16, "a document frame without its ID");
                counts.docs += 1;
            }
            ACCOUNT => counts.accounts += 1,
            TOKEN => counts.tokens += 1,
            UNIT | AUDIT | REPORT => {}
            PHOTO => {
                ensure!(payload.len() >= 68, "a photo frame without its hash");
                counts.photos += 1;
            }
            other => bail!("unknown frame kind {other}: the backup is damaged"),
        }
        Ok(())
    })?;
    ensure!(header, "the backup has no header");
    Ok(counts)
}

/// Restores `from` into the data folder `data` of a stopped server: checks the file, keeps
/// any database there as `gridvisit.redb.replaced-<time>`, and writes a new one (a new epoch).
pub fn restore(data: &Path, from: &Path, now: i64) -> anyhow::Result<(Counts, Option<PathBuf>)> {
    let counts = check(from)?;
    let db = data.join("gridvisit.redb");
    let kept = if db.exists() {
        // Opening it proves no server holds it.
        drop(RedbStore::open(data).with_context(|| {
            format!(
                "{} is in use: stop the server before restoring",
                db.display()
            )
        })?);
        let aside = data.join(format!("gridvisit.redb.replaced-{now}"));
        std::fs::rename(&db, &aside).with_context(|| format!("moving {} aside", db.display()))?;
        Some(aside)
    } else {
        None
    };
    let store = RedbStore::open(data)?;
    let dashboard = shared::aggregate::Dashboard::new(shared::time::Calendar::CHINA);
    let mut batch: Vec<ChunkWrite> = Vec::new();
    let mut accounts: Vec<Account> = Vec::new();
    let mut units = Vec::new();
    let mut audit = Vec::new();
    let file = std::fs::File::open(from)?;
    read(std::io::BufReader::new(file), &mut |kind, payload| {
        match kind {
            DOC => {
                let mut id = [0u8; 16];
                id.copy_from_slice(&payload[..16]);
                let bytes = payload[16..].to_vec();
                let doc = automerge::Automerge::load(&bytes)
                    .with_context(|| format!("document {}", DocumentId::from_bytes(id)))?;
                let record = shared::model::Record::read(&doc).ok();
                batch.push(ChunkWrite::of(
                    DocumentId::from_bytes(id),
                    bytes,
                    shared::sync::heads_digest(&doc.get_heads()),
                    record.as_ref().map(shared::model::Record::meta),
                    record.as_ref(),
                    &dashboard,
                ));
                if batch.len() >= 2_000 {
                    store.commit(&std::mem::take(&mut batch), &[], now)?;
                }
            }
            ACCOUNT => accounts.push(serde_json::from_slice(payload)?),
            UNIT => units.push(serde_json::from_slice(payload)?),
            AUDIT => audit.push(serde_json::from_slice(payload)?),
            REPORT => {
                let v: serde_json::Value = serde_json::from_slice(payload)?;
                let key = v["key"]
                    .as_str()
                    .context("a report frame without its key")?;
                let row: crate::store::ReportRow = serde_json::from_value(v["row"].clone())?;
                store.put_reports(&[(key.to_owned(), row)])?;
            }
            PHOTO => {
                let hash = std::str::from_utf8(&payload[..64])?;
                let len = u32::from_be_bytes(payload[64..68].try_into()?) as usize;
                ensure!(payload.len() >= 68 + len, "a photo frame cut short");
                let meta: crate::store::PhotoMeta = serde_json::from_slice(&payload[68..68 + len])?;
                store.put_photo(hash, &payload[68 + len..], &meta, (u64::MAX, u64::MAX))?;
            }
            TOKEN => {
                let t: Token = serde_json::from_slice(payload)?;
                store.put_token(&t.key, &t.row)?;
            }
            _ => {}
        }
        Ok(())
    })?;
    store.commit(&batch, &[], now)?;
    store.put_accounts(&accounts)?;
    store.put_units(&units)?;
    store.append_audit(&audit)?;
    Ok((counts, kept))
}

/// Takes a backup of the data folder `data` into `out`: straight from the folder when no
/// server holds it, else through the running server (its [`RUNNING`] file). Written to
/// `out.partial` and checked before it is renamed, so `out` is never a torn file.
pub fn take(data: &Path, out: &Path, now: i64) -> anyhow::Result<Counts> {
    let partial = out.with_extension("partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut file = std::io::BufWriter::new(file);
    match RedbStore::open(data) {
        Ok(store) => {
            write(&store, store.epoch(), now, &mut file)?;
        }
        Err(held) => {
            let path = data.join(RUNNING);
            let running: Running = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .with_context(|| {
                    format!(
                        "{} cannot be opened ({held}) and no server says it holds it",
                        data.display()
                    )
                })?;
            fetch(&running, &mut file)?;
        }
    }
    file.flush()?;
    drop(file);
    let counts = check(&partial)?;
    std::fs::rename(&partial, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(counts)
}

/// `POST /api/backup` on the running server, its body (chunked) copied to `out`.
fn fetch(running: &Running, out: &mut impl Write) -> anyhow::Result<()> {
    use std::io::BufRead;
    let addr = running
        .url
        .strip_prefix("http://")
        .context("the running server's address is not http://")?;
    let stream = std::net::TcpStream::connect(addr)
        .with_context(|| format!("connecting to the running server at {addr}"))?;
    let mut w = stream.try_clone()?;
    write!(
        w,
        "POST /api/backup HTTP/1.1\r\nHost: {addr}\r\nX-Backup-Key: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        running.key
    )?;
    let mut r = std::io::BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line)?;
    ensure!(
        line.split_whitespace().nth(1) == Some("200"),
        "the server refused the backup: {}",
        line.trim()
    );
    let mut chunked = false;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim();
        if l.is_empty() {
            break;
        }
        chunked |= l.eq_ignore_ascii_case("transfer-encoding: chunked");
    }
    if !chunked {
        std::io::copy(&mut r, out)?;
        return Ok(());
    }
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            .context("a damaged chunk from the server")?;
        if size == 0 {
            return Ok(());
        }
        std::io::copy(&mut (&mut r).take(size as u64), out)?;
        line.clear();
        r.read_line(&mut line)?;
    }
}
