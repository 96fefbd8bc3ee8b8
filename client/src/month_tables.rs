//! The month view's tables (week by week, per part, per worker) as the screen shows them and
//! the CSV and Excel exports write them: one [`Table`] each.

use shared::export::Table;
use shared::month::{MonthView, PeriodFigures, WorkerRow};
use shared::trends::civil;

use crate::i18n::Lang;

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// `11-03`.
pub fn md(day: i64) -> String {
    let (_, m, d) = civil(day);
    format!("{m:02}-{d:02}")
}

fn figure_headers(lang: Lang) -> Vec<String> {
    [
        lang.t("走访", "Visits"),
        lang.t("见面", "Met"),
        lang.t("走访户数", "Households visited"),
        lang.t("覆盖率", "Coverage"),
        lang.t("新增事件", "Issues reported"),
        lang.t("结案", "Closed"),
        lang.t("按时结案率", "Closed on time"),
        lang.t("当场解决率", "Solved on the spot"),
        lang.t("期末超时", "Overdue at the end"),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn figure_cells(f: &PeriodFigures) -> Vec<String> {
    vec![
        f.counts.visits.to_string(),
        f.counts.met.to_string(),
        f.visited.to_string(),
        pct(f.coverage()),
        f.counts.opened.to_string(),
        f.counts.closed.iter().sum::<i64>().to_string(),
        pct(f.on_time()),
        pct(f.on_the_spot()),
        f.overdue.to_string(),
    ]
}

/// Week by week.
pub fn weeks(lang: Lang, v: &MonthView) -> Table {
    let mut headers = vec![lang.t("周", "Week").to_owned()];
    headers.extend(figure_headers(lang));
    Table {
        headers,
        rows: v
            .weeks
            .iter()
            .map(|w| {
                let mut row = vec![format!("{} – {}", md(w.first_day), md(w.last_day))];
                row.extend(figure_cells(&w.figures));
                row
            })
            .collect(),
    }
}

/// Per part of the area (by name, with its code), then the whole area.
pub fn parts(lang: Lang, v: &MonthView, org: &shared::org::Org) -> Table {
    let mut headers = vec![lang.t("区域", "Area").to_owned()];
    headers.extend(figure_headers(lang));
    let mut rows: Vec<Vec<String>> = v
        .parts
        .iter()
        .map(|(k, f)| {
            let name = org.name(k);
            let mut row = vec![if name == k.as_str() {
                k.clone()
            } else {
                format!("{name} ({k})")
            }];
            row.extend(figure_cells(f));
            row
        })
        .collect();
    let mut total = vec![lang.t("合计", "Total").to_owned()];
    total.extend(figure_cells(&v.total));
    rows.push(total);
    Table { headers, rows }
}

/// Per worker: visits, coverage of their grid, on-time closure, on-the-spot rate.
pub fn workers(lang: Lang, rows: &[WorkerRow]) -> Table {
    Table {
        headers: [
            lang.t("网格员", "Worker"),
            lang.t("网格", "Grid"),
            lang.t("走访", "Visits"),
            lang.t("网格覆盖率", "Coverage of the grid"),
            lang.t("按时结案率", "Closed on time"),
            lang.t("当场解决率", "Solved on the spot"),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    format!("{} ({})", r.name, r.user),
                    r.grids.join(" "),
                    r.figures.counts.visits.to_string(),
                    pct(r.figures.coverage()),
                    pct(r.figures.on_time()),
                    pct(r.figures.on_the_spot()),
                ]
            })
            .collect(),
    }
}

/// Visits to households with each special tag (as tagged at visit time), week by week.
pub fn tags(lang: Lang, v: &MonthView) -> Table {
    let mut tags: Vec<&String> = v.total.counts.tagged.keys().collect();
    tags.sort();
    let mut headers = vec![lang.t("重点人群", "Special households").to_owned()];
    headers.extend(
        v.weeks
            .iter()
            .map(|w| format!("{} – {}", md(w.first_day), md(w.last_day))),
    );
    headers.push(lang.t("本月", "Month").to_owned());
    Table {
        headers,
        rows: tags
            .into_iter()
            .map(|t| {
                let mut row = vec![lang.tag(t)];
                row.extend(v.weeks.iter().map(|w| {
                    w.figures
                        .counts
                        .tagged
                        .get(t)
                        .copied()
                        .unwrap_or(0)
                        .to_string()
                }));
                row.push(v.total.counts.tagged[t].to_string());
                row
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::month::WeekFigures;

    #[test]
    fn tables_have_a_cell_per_header_and_a_total_row() {
        let mut v = MonthView::default();
        let mut f = PeriodFigures {
            households: 10,
            visited: 5,
            ..PeriodFigures::default()
        };
        f.counts.visits = 7;
        v.parts.insert("s01".into(), f.clone());
        v.total = f.clone();
        v.weeks.push(WeekFigures {
            first_day: 20_393,
            last_day: 20_399,
            figures: f.clone(),
        });
        let p = parts(Lang::En, &v, &shared::org::Org::default());
        assert_eq!(p.rows.len(), 2);
        assert!(p.rows.iter().all(|r| r.len() == p.headers.len()));
        assert_eq!(p.rows[1][0], "Total");
        assert_eq!(p.rows[0][4], "50%");
        v.total.counts.tagged.insert("elderly-alone".into(), 3);
        let t = tags(Lang::En, &v);
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].len(), t.headers.len());
        assert_eq!(t.rows[0].last().map(String::as_str), Some("3"));
        let w = weeks(Lang::Zh, &v);
        assert_eq!(w.rows[0][0], "11-01 – 11-07");
        let rows = [WorkerRow {
            user: "w1".into(),
            name: "王".into(),
            grids: vec!["s01/c01/g01".into()],
            figures: f,
        }];
        let t = workers(Lang::En, &rows);
        assert_eq!(t.rows[0][2], "7");
        assert_eq!(t.rows[0].len(), t.headers.len());
    }
}
