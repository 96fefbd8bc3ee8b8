//! CSV and Excel buttons that export a table exactly as shown (`shared::export`).

use std::rc::Rc;

use shared::export::{self, Table};
use yew::prelude::*;

use crate::i18n::Lang;
use crate::web::download;

/// CSV and Excel buttons for a table as shown.
pub(super) fn export_buttons(lang: Lang, table: Rc<Table>, name: &str) -> Html {
    let (t1, n1) = (table.clone(), format!("{name}.csv"));
    let (t2, n2, sheet) = (table, format!("{name}.xlsx"), name.to_owned());
    html! {
        <div class="actions export">
            <button data-testid="export-csv" onclick={move |_| {
                let _ = download(&n1, "text/csv;charset=utf-8", export::csv(&t1).as_bytes());
            }}>{ lang.t("导出 CSV", "Export CSV") }</button>
            <button data-testid="export-xlsx" onclick={move |_| {
                let _ = download(&n2, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", &export::xlsx(&t2, &sheet));
            }}>{ lang.t("导出 Excel", "Export Excel") }</button>
        </div>
    }
}
