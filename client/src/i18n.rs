//! The interface's two languages: Simplified Chinese first, English second. Every string is
//! written next to its translation at the place it is used (`lang.t("中文", "English")`), so a
//! screen cannot ship with one language missing.

use shared::model::Area;
use shared::model::issue::{EventKind, Level};
use shared::model::lifecycle::Status;
use shared::model::visit::Outcome;

/// A display language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文 (the default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Picks the string of this language.
    pub fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Zh => zh,
            Self::En => en,
        }
    }

    /// The stored code (`zh` / `en`).
    pub fn code(self) -> &'static str {
        self.t("zh", "en")
    }

    /// Reads a stored code; Chinese unless it says English.
    pub fn from_code(s: &str) -> Self {
        if s == "en" { Self::En } else { Self::Zh }
    }

    /// The other language.
    pub fn other(self) -> Self {
        match self {
            Self::Zh => Self::En,
            Self::En => Self::Zh,
        }
    }

    /// The name of one of the five areas.
    pub fn area(self, a: Area) -> &'static str {
        match a {
            Area::Needs => self.t("民需民盼", "Needs and wishes"),
            Area::Infrastructure => self.t("基础设施", "Infrastructure"),
            Area::Employment => self.t("就业创业", "Employment"),
            Area::Livelihood => self.t("民生实事", "Livelihood"),
            Area::Disputes => self.t("矛盾纠纷", "Disputes"),
        }
    }

    /// Where an issue came from.
    pub fn source(self, s: shared::model::IssueSource) -> &'static str {
        use shared::model::IssueSource;
        match s {
            IssueSource::Visit => self.t("走访发现", "Found on a visit"),
            IssueSource::Qr => self.t("居民扫码反映", "A resident's QR report"),
            IssueSource::Other => self.t("巡查或来电", "Patrol or phone call"),
        }
    }

    /// How a visit went.
    pub fn outcome(self, o: Outcome) -> &'static str {
        match o {
            Outcome::Met => self.t("见面", "Met"),
            Outcome::NotHome => self.t("未在家", "Not home"),
            Outcome::Declined => self.t("拒访", "Declined"),
        }
    }

    /// An issue's status.
    pub fn status(self, s: Status) -> &'static str {
        match s {
            Status::Reported => self.t("待受理", "Reported"),
            Status::Accepted => self.t("已受理", "Accepted"),
            Status::Dispatched => self.t("已派遣", "Dispatched"),
            Status::Handled => self.t("已处置", "Handled"),
            Status::Verified => self.t("已核查", "Verified"),
            Status::Closed => self.t("已结案", "Closed"),
        }
    }

    /// A level.
    pub fn level(self, l: Level) -> &'static str {
        match l {
            Level::Grid => self.t("网格", "Grid"),
            Level::Community => self.t("社区", "Community"),
            Level::Street => self.t("街道", "Street"),
            Level::City => self.t("市直部门", "City"),
        }
    }

    /// An issue action (the button) or event (the timeline).
    pub fn event(self, k: EventKind) -> &'static str {
        match k {
            EventKind::Report => self.t("上报", "Report"),
            EventKind::Accept => self.t("受理", "Accept"),
            EventKind::Dispatch => self.t("派遣", "Dispatch"),
            EventKind::Escalate => self.t("上报上级", "Escalate"),
            EventKind::Handle => self.t("处置", "Handle"),
            EventKind::Verify => self.t("核查", "Verify"),
            EventKind::Close => self.t("结案", "Close"),
            EventKind::Reopen => self.t("重新打开", "Reopen"),
            EventKind::Comment => self.t("备注", "Comment"),
            EventKind::FollowUp => self.t("回访", "Follow up"),
            EventKind::Rate => self.t("居民评价", "Resident's rating"),
        }
    }

    /// What a value rule says of a field that breaks it.
    pub fn rule(self, rule: &shared::model::Rule) -> String {
        use shared::model::Rule;
        match rule {
            Rule::TooLong { max } => format!(
                "{} {max} {}",
                self.t("超过", "longer than"),
                self.t("字", "characters")
            ),
            Rule::OutOfRange { min, max } => format!("{} {min}–{max}", self.t("应在", "must be")),
            Rule::NotOnEarth => self.t("坐标无效", "not a place on Earth").to_owned(),
            Rule::Implausible => self.t("时间不合理", "not a plausible time").to_owned(),
            Rule::BadDuration => self
                .t(
                    "结束早于开始或超过12小时",
                    "ends before it starts or lasts over 12 hours",
                )
                .to_owned(),
        }
    }

    /// A household tag (unknown tags show as written).
    pub fn tag(self, tag: &str) -> String {
        let known = match tag {
            "elderly-alone" => self.t("独居老人", "Elderly alone"),
            "disabled" => self.t("残疾人", "Disabled"),
            "low-income" => self.t("低保户", "Low income"),
            "party-member" => self.t("党员户", "Party member"),
            "veteran" => self.t("退役军人", "Veteran"),
            "rental" => self.t("租户", "Rental"),
            _ => return tag.to_owned(),
        };
        known.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_the_default_and_codes_round_trip() {
        assert_eq!(Lang::default(), Lang::Zh);
        for l in [Lang::Zh, Lang::En] {
            assert_eq!(Lang::from_code(l.code()), l);
        }
        assert_eq!(Lang::from_code("fr"), Lang::Zh);
        assert_eq!(Lang::En.area(Area::Disputes), "Disputes");
        assert_eq!(Lang::Zh.tag("elderly-alone"), "独居老人");
        assert_eq!(Lang::Zh.tag("custom"), "custom");
    }
}
