//! The signed-in user, and who may sign in on this device.

use serde::{Deserialize, Serialize};
use shared::model::Role;

/// A signed-in user, as the login answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The login token.
    pub token: String,
    /// When it expires (ms since the epoch).
    pub expires_at: i64,
    /// The account.
    pub user: String,
    /// Display name.
    pub name: String,
    /// Role code (`worker`, `community_supervisor`, …).
    pub role: String,
    /// Scope (`grids:s01/c01/g01`, `community:s01/c01`, …).
    pub scope: String,
}

impl Session {
    /// The role, if it is one this app knows.
    pub fn role(&self) -> Option<Role> {
        self.role.parse().ok()
    }

    /// Whether this user supervises (overview and issue queue instead of the field screens).
    pub fn is_supervisor(&self) -> bool {
        self.role().is_some_and(Role::is_supervisor)
    }

    /// The grids of a worker's scope, as the banner shows them.
    pub fn grids_label(&self) -> String {
        self.scope.trim_start_matches("grids:").replace(',', " · ")
    }
}

/// What `POST /api/login` answers.
#[derive(Deserialize)]
struct LoginReply {
    token: String,
    expires_at: i64,
    user: UserView,
}

#[derive(Deserialize)]
struct UserView {
    user: String,
    name: String,
    role: String,
    scope: String,
}

impl Session {
    /// The session a login answer describes.
    pub fn from_login(body: &str) -> Result<Self, serde_json::Error> {
        let r: LoginReply = serde_json::from_str(body)?;
        Ok(Self {
            token: r.token,
            expires_at: r.expires_at,
            user: r.user.user,
            name: r.user.name,
            role: r.user.role,
            scope: r.user.scope,
        })
    }
}

/// Why someone may not sign in here now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "本机还有 {pending} 条 {user} 的修改未同步，请由其本人登录 · {pending} changes by {user} are still waiting to sync: they must sign in"
)]
pub struct Blocked {
    /// Whose changes wait.
    pub user: String,
    /// How many.
    pub pending: usize,
}

/// The sign-in guard: a phone keeps one user's unsynced changes until they sync, so another
/// user cannot sign in over them (the same user can, to refresh an expired login).
pub fn may_sign_in(
    current: Option<&Session>,
    pending: usize,
    username: &str,
) -> Result<(), Blocked> {
    match current {
        Some(s) if s.user != username && pending > 0 => Err(Blocked {
            user: s.user.clone(),
            pending,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user: &str) -> Session {
        Session {
            token: "t".into(),
            expires_at: 0,
            user: user.into(),
            name: String::new(),
            role: "worker".into(),
            scope: "grids:s01/c01/g01".into(),
        }
    }

    #[test]
    fn another_user_cannot_sign_in_over_unsynced_changes() {
        let li = session("li");
        assert_eq!(
            may_sign_in(Some(&li), 3, "wang"),
            Err(Blocked {
                user: "li".into(),
                pending: 3
            })
        );
        assert_eq!(may_sign_in(Some(&li), 3, "li"), Ok(()), "the same user");
        assert_eq!(may_sign_in(Some(&li), 0, "wang"), Ok(()), "all synced");
        assert_eq!(may_sign_in(None, 3, "wang"), Ok(()), "nobody signed in");
        let text = may_sign_in(Some(&li), 3, "wang")
            .expect_err("blocked")
            .to_string();
        assert!(text.contains("未同步") && text.contains("waiting to sync"));
    }

    #[test]
    fn a_login_answer_becomes_a_session() {
        let body = r#"{"token":"abc","expires_at":5,"user":{"user":"sec-s01-c01","name":"书记","role":"community_supervisor","scope":"community:s01/c01"}}"#;
        let s = Session::from_login(body).expect("parses");
        assert_eq!(s.user, "sec-s01-c01");
        assert!(s.is_supervisor());
        assert!(!session("w").is_supervisor());
        assert_eq!(session("w").grids_label(), "s01/c01/g01");
        assert!(Session::from_login("{}").is_err());
    }
}
