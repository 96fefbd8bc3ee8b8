//! What every role sees: the bar (status, language, sign-out), banners, sign-in, issue lists
//! and screens, a record's conflicts and history, pinning records to the device, the
//! dispatch picker and signing a phone in by QR code.

mod assigned;
mod banners;
mod issue_list;
mod issue_view;
mod lang_switch;
mod new_issue;
mod person_picker;
mod photo;
mod pinned;
mod provision;
mod record_extras;
mod sign_in;
mod sign_out;
mod status;

pub(crate) use assigned::Assigned;
pub(crate) use banners::Banners;
pub(crate) use issue_list::issue_list;
pub(crate) use issue_view::IssueView;
pub(crate) use lang_switch::LangSwitch;
pub(crate) use new_issue::NewIssue;
pub(crate) use person_picker::PersonPicker;
pub(crate) use photo::{Photo, Photos};
pub(crate) use pinned::PinButton;
pub(crate) use provision::ProvisionSignIn;
pub(crate) use record_extras::RecordExtras;
pub(crate) use sign_in::SignIn;
pub(crate) use sign_out::SignOut;
pub(crate) use status::Status;

use shared::ids::DocumentId;
use yew::Properties;

/// A screen about one record.
#[derive(Properties, PartialEq)]
pub(crate) struct IdProps {
    pub(crate) id: DocumentId,
}
