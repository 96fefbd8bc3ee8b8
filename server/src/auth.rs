//! Passwords (argon2) and login tokens (random, expiring, revocable).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::store::{Account, Storage, StoreError, TokenRow};
use shared::sync::Principal;

/// Hashes a password into a PHC string.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(StoreError::from_any)?;
    let salt = SaltString::encode_b64(&bytes).map_err(StoreError::from_any)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(StoreError::from_any)
}

/// Whether `password` matches the PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A new random token (256 bits, hex).
pub fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(StoreError::from_any)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
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

/// Checks a token and returns its user's account.
pub fn check_token(
    store: &dyn Storage,
    token: Option<&str>,
    now: i64,
) -> Result<Result<Account, TokenError>, StoreError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(Err(TokenError::Missing));
    };
    let Some(row) = store.token(token)? else {
        return Ok(Err(TokenError::Invalid));
    };
    if row.revoked {
        return Ok(Err(TokenError::Invalid));
    }
    if row.expires_at <= now {
        return Ok(Err(TokenError::Expired));
    }
    Ok(store.account(&row.user)?.ok_or(TokenError::Invalid))
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
        &token,
        &TokenRow {
            user: principal.user.to_string(),
            expires_at,
            revoked: false,
        },
    )?;
    Ok((token, expires_at))
}

/// Revokes a token.
pub fn revoke(store: &dyn Storage, token: &str) -> Result<(), StoreError> {
    if let Some(mut row) = store.token(token)? {
        row.revoked = true;
        store.put_token(token, &row)?;
    }
    Ok(())
}
