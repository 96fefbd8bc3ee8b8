//! A supervisor's figures, computed by the server and pushed over the sync connection
//! (`gv-figures`): what the overview shows, and how the last ones are kept in IndexedDB so the
//! dashboard opens offline with the time they are from.

use serde::{Deserialize, Serialize};
use shared::aggregate::Figures;
use shared::time::Millis;

/// The figures of one area as the server computed them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AreaFigures {
    /// The area's path (`""`: the whole scope).
    pub area: String,
    /// When the server computed them.
    pub at: Millis,
    /// The figures.
    pub figures: Figures,
    /// Pushed on the open connection (not read back from the cache).
    #[serde(skip)]
    pub live: bool,
}

impl AreaFigures {
    /// What a `gv-figures` message carries.
    pub fn pushed(area: String, at: Millis, json: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(Self {
            area,
            at,
            figures: serde_json::from_slice(json)?,
            live: true,
        })
    }

    /// The key the last figures of `area` are kept under.
    pub fn cache_key(area: &str) -> String {
        format!("figures:{area}")
    }

    /// The cached form.
    pub fn to_cache(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Figures read back from the cache: not live.
    pub fn from_cache(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }

    /// How the overview dates them: live, or "as of" a local time (China time).
    pub fn as_of(&self, lang: crate::i18n::Lang) -> String {
        if self.live {
            return lang.t("实时", "Live").to_owned();
        }
        let local = self.at.0 + 8 * Millis::HOUR;
        let day = local.div_euclid(Millis::DAY);
        let ms = local.rem_euclid(Millis::DAY);
        let (y, m, d) = shared::trends::civil(day);
        let (h, min) = (ms / Millis::HOUR, ms % Millis::HOUR / 60_000);
        format!(
            "{} {y}-{m:02}-{d:02} {h:02}:{min:02}",
            lang.t("离线，数据截至", "Offline, as of")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn pushed_figures_are_cached_and_read_back_dated() {
        let mut f = Figures::default();
        f.total.households = 300;
        f.streets.insert("s01".into(), f.total.clone());
        let json = serde_json::to_vec(&f).expect("json");
        // 2026-12-02 08:30 UTC is 16:30 in China.
        let at = Millis(1_796_200_200_000);
        let pushed = AreaFigures::pushed(String::new(), at, &json).expect("parses");
        assert!(pushed.live);
        assert_eq!(pushed.as_of(Lang::En), "Live");
        let back = AreaFigures::from_cache(&pushed.to_cache()).expect("cached");
        assert!(!back.live);
        assert_eq!(back.figures, f);
        assert_eq!(back.as_of(Lang::En), "Offline, as of 2026-12-02 16:30");
        assert_eq!(AreaFigures::cache_key("s01"), "figures:s01");
        assert!(AreaFigures::pushed(String::new(), at, b"{").is_err());
    }
}
