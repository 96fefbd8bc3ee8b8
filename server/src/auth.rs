//! Passwords (argon2) and login tokens (random, expiring, revocable).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::store::{Account, Storage, StoreError, TokenRow};
use shared::sync::Principal;

/// Hashes a password into a PHC string.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    let salt = SaltString::encode_b64(&bytes).map_err(StoreError::Password)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(StoreError::Password)
}

thread_local! {
    /// Argon2's working memory, kept for the life of a hashing thread: allocating ~19 MiB per
    /// login and freeing it makes the allocator's heap grow login after login.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `password` matches the PHC string (argon2), in constant time.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(params), Some(expected)) = (argon2::Params::try_from(&hash), hash.hash) else {
        return Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok();
    };
    let mut salt_buf = [0u8; 64];
    let Some(Ok(salt)) = hash.salt.map(|s| s.decode_b64(&mut salt_buf)) else {
        return false;
    };
    let Ok(params) = argon2::Params::new(
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        Some(expected.len()),
    ) else {
        return false;
    };
    let algorithm = argon2::Algorithm::try_from(hash.algorithm).unwrap_or_default();
    let version = hash
        .version
        .and_then(|v| argon2::Version::try_from(v).ok())
        .unwrap_or_default();
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let n = params.block_count();
    let ok = BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.len() < n {
            blocks.resize(n, argon2::Block::default());
        }
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..n])
            .is_ok()
    });
    ok && out
        .iter()
        .zip(expected.as_bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// A new random token (256 bits, hex).
pub fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(shared::hex::encode(&bytes))
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// No token was given.
    #[error("sign in first: no token")]
    Missing,
    /// The token is unknown or revoked.
    #[error("invalid token: sign in again")]
    Invalid,
    /// The token expired.
    #[error("token expired: sign in again")]
    Expired,
}

pub use crate::store::token_key;

/// A token that checked out.
#[derive(Clone, Debug)]
pub struct Checked {
    /// Its user.
    pub account: Account,
    /// Its row (expiry).
    pub row: TokenRow,
    /// The key it is stored under (what a logout announces).
    pub key: String,
}

/// Checks a token and returns its user's account.
pub fn check_token(
    store: &dyn Storage,
    token: Option<&str>,
    now: i64,
) -> Result<Result<Checked, TokenError>, StoreError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(Err(TokenError::Missing));
    };
    let key = token_key(token);
    let Some(row) = store.token(&key)? else {
        return Ok(Err(TokenError::Invalid));
    };
    if row.revoked {
        return Ok(Err(TokenError::Invalid));
    }
    if row.expires_at <= now {
        return Ok(Err(TokenError::Expired));
    }
    let Some(account) = store.account(&row.user)?.filter(|a| !a.disabled) else {
        return Ok(Err(TokenError::Invalid));
    };
    Ok(Ok(Checked { account, row, key }))
}

/// Issues a token for `principal` valid for `ttl_ms`.
pub fn issue_token(
    store: &dyn Storage,
    principal: &Principal,
    now: i64,
    ttl_ms: i64,
) -> Result<(String, i64), StoreError> {
    let token = new_token()?;
    let expires_at = now + ttl_ms;
    store.put_token(
        &token_key(&token),
        &TokenRow {
            user: principal.user.to_string(),
            expires_at,
            revoked: false,
        },
    )?;
    Ok((token, expires_at))
}

/// Revokes a token; returns the key it was stored under.
pub fn revoke(store: &dyn Storage, token: &str) -> Result<String, StoreError> {
    let key = token_key(token);
    if let Some(mut row) = store.token(&key)? {
        row.revoked = true;
        store.put_token(&key, &row)?;
    }
    Ok(key)
}

type Job = Box<dyn FnOnce() + Send>;

/// A small pool of threads for password hashing.
#[derive(Clone)]
pub struct Hasher {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Hasher {
    /// Starts `threads` hashing threads.
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("gridvisit-hasher-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on a hashing thread and awaits its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .ok()?;
        rx.await.ok()
    }
}
