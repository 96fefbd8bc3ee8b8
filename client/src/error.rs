//! What can go wrong for the app's user, each with the words (Chinese first) the app shows.

use std::sync::Arc;

use shared::sync::EditError;

use crate::session::Blocked;

/// An error the app reports to its user.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not reach the server.
    #[error("网络不可用 · No network")]
    Offline,
    /// The login was refused.
    #[error("用户名或密码错误 · Wrong username or password")]
    WrongPassword,
    /// The server answered a login with something else.
    #[error("登录失败 · Sign-in failed ({status}): {body}")]
    SignInFailed {
        /// HTTP status.
        status: u16,
        /// What it said.
        body: String,
    },
    /// Another user's changes still wait on this device.
    #[error(transparent)]
    Blocked(#[from] Blocked),
    /// The device's storage is full: nothing was saved.
    #[error("手机存储空间不足，未能保存 · Storage is full, nothing was saved ({0})")]
    StorageFull(String),
    /// The device's storage failed otherwise.
    #[error("本机存储出错 · Local storage failed: {0}")]
    Storage(String),
    /// The edit was refused on this device (an invalid record): nothing was saved.
    #[error("未能保存 · Not saved: {0}")]
    Edit(#[source] Arc<EditError>),
    /// The app's engine is gone (the page is shutting down).
    #[error("应用已停止，请刷新页面 · The app stopped: reload the page")]
    Stopped,
    /// The server answered with something this app does not understand.
    #[error("服务器回答无法识别 · Unexpected answer from the server: {0}")]
    BadReply(String),
}

impl From<EditError> for ClientError {
    fn from(e: EditError) -> Self {
        Self::Edit(Arc::new(e))
    }
}

impl ClientError {
    /// A storage failure, in words a worker can act on (`raw` is what the browser said).
    pub fn storage(raw: String) -> Self {
        if raw.contains("Quota") {
            Self::StorageFull(raw)
        } else {
            Self::Storage(raw)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_says_so() {
        assert!(matches!(
            ClientError::storage("QuotaExceededError".into()),
            ClientError::StorageFull(_)
        ));
        let text = ClientError::storage("boom".into()).to_string();
        assert!(text.contains("本机存储出错") && text.contains("boom"));
    }
}
