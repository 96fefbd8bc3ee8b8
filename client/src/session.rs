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
    /// Days of visits and closed issues this phone holds (the server's setting).
    #[serde(default = "default_window")]
    pub window_days: i64,
}

fn default_window() -> i64 {
    shared::sync::DEFAULT_WINDOW_DAYS
}

impl Session {
    /// What this device keeps of the scope ([`shared::sync::holding`]).
    pub fn keeps(&self) -> Option<shared::sync::Keeps> {
        self.role().map(shared::sync::Keeps::of)
    }

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
    #[serde(default = "default_window")]
    window_days: i64,
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
            window_days: r.user.window_days,
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

/// What a sign-in does with the records this device holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// They are this user's (or there are none): keep them.
    Keep,
    /// They are another user's and all synced: remove them first, so this user never sees
    /// them.
    Wipe,
}

/// The sign-in guard of a shared phone. `owner` is whose records the device holds (they stay
/// after a sign-out while changes wait). Another user cannot sign in over unsynced changes;
/// over synced ones they can, and the records go first. The same user signs in again freely
/// (an expired login).
pub fn may_sign_in(owner: Option<&str>, pending: usize, username: &str) -> Result<SignIn, Blocked> {
    match owner {
        Some(o) if o != username && pending > 0 => Err(Blocked {
            user: o.to_owned(),
            pending,
        }),
        Some(o) if o != username => Ok(SignIn::Wipe),
        _ => Ok(SignIn::Keep),
    }
}

/// Whether signing out keeps the user's records on the device: only while changes wait
/// (they sync when the user signs in again); otherwise the next user of the phone finds it
/// empty.
pub fn keeps_records_on_sign_out(pending: usize) -> bool {
    pending > 0
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
            window_days: 56,
        }
    }

    #[test]
    fn another_user_cannot_sign_in_over_unsynced_changes_and_never_sees_synced_ones() {
        let li = Some("li");
        assert_eq!(
            may_sign_in(li, 3, "wang"),
            Err(Blocked {
                user: "li".into(),
                pending: 3
            })
        );
        assert_eq!(may_sign_in(li, 3, "li"), Ok(SignIn::Keep), "the same user");
        assert_eq!(
            may_sign_in(li, 0, "wang"),
            Ok(SignIn::Wipe),
            "all synced: wiped"
        );
        assert_eq!(
            may_sign_in(None, 0, "wang"),
            Ok(SignIn::Keep),
            "a new phone"
        );
        assert!(keeps_records_on_sign_out(1) && !keeps_records_on_sign_out(0));
        let text = may_sign_in(li, 3, "wang").expect_err("blocked").to_string();
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
