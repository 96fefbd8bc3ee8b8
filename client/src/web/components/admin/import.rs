//! Households from a spreadsheet: pick an `.xlsx` or CSV file, watch the progress bar, read
//! the report (the rows not imported, each with its field and reason).

use serde_json::Value;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::web::components::value_of;
use crate::web::hooks::use_ctx;
use crate::web::http;

#[derive(Clone, PartialEq)]
enum Job {
    Idle,
    Sending,
    Running { done: u64, total: u64 },
    Done(Value),
    Failed(String),
}

#[component]
pub(super) fn ImportScreen() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let job = use_state(|| Job::Idle);
    let onchange = {
        let (job, token) = (
            job.clone(),
            ctx.state.session.as_ref().map(|s| s.token.clone()),
        );
        move |e: Event| {
            let Some(file) = value_of::<HtmlInputElement>(&e)
                .and_then(|i| i.files())
                .and_then(|f| f.get(0))
            else {
                return;
            };
            let (job, token) = (job.clone(), token.clone());
            job.set(Job::Sending);
            wasm_bindgen_futures::spawn_local(async move {
                let bytes = match JsFuture::from(file.array_buffer()).await {
                    Ok(buf) => js_sys::Uint8Array::new(&buf).to_vec(),
                    Err(_) => {
                        return job.set(Job::Failed(
                            lang.t("无法读取文件", "The file does not read").into(),
                        ));
                    }
                };
                let t = token.as_deref();
                let started = match http::request_bytes("/api/admin/import", t, &bytes).await {
                    Ok((200, text)) => serde_json::from_str::<Value>(&text).unwrap_or_default(),
                    Ok((status, text)) => {
                        let v = serde_json::from_str(&text).unwrap_or_default();
                        return job.set(Job::Failed(http::error_of(status, &v)));
                    }
                    Err(e) => return job.set(Job::Failed(e.to_string())),
                };
                let Some(id) = started["job"].as_u64() else {
                    return job.set(Job::Failed("no job".into()));
                };
                loop {
                    match http::json("GET", &format!("/api/admin/import/{id}"), t, None).await {
                        Ok((200, p)) if p["finished"] == true => {
                            return job.set(match p["error"].as_str() {
                                Some(e) => Job::Failed(e.to_owned()),
                                None => Job::Done(p["report"].clone()),
                            });
                        }
                        Ok((200, p)) => job.set(Job::Running {
                            done: p["done"].as_u64().unwrap_or(0),
                            total: p["total"].as_u64().unwrap_or(0),
                        }),
                        Ok((status, v)) => return job.set(Job::Failed(http::error_of(status, &v))),
                        Err(e) => return job.set(Job::Failed(e.to_string())),
                    }
                    crate::web::sleep(250).await;
                }
            });
        }
    };
    let body = match &*job {
        Job::Idle => html! {},
        Job::Sending => html! { <p>{ lang.t("正在上传…", "Uploading…") }</p> },
        Job::Running { done, total } => html! {
            <div data-testid="import-progress">
                <progress max={total.to_string()} value={done.to_string()} />
                <span>{ format!(" {done} / {total}") }</span>
            </div>
        },
        Job::Failed(e) => html! { <p class="error" role="alert">{ e.clone() }</p> },
        Job::Done(r) => {
            let errors = r["errors"].as_array().cloned().unwrap_or_default();
            html! {
                <div data-testid="import-report" data-imported={r["imported"].to_string()}
                    data-updated={r["updated"].to_string()} data-unchanged={r["unchanged"].to_string()}
                    data-errors={errors.len().to_string()}>
                    <p>{ format!("{} {} · {} {} · {} {} · {} {}",
                        lang.t("新增", "imported"), r["imported"],
                        lang.t("更新", "updated"), r["updated"],
                        lang.t("未变", "unchanged"), r["unchanged"],
                        lang.t("未导入", "not imported"), errors.len()) }</p>
                    if !errors.is_empty() {
                        <table class="table" data-testid="import-errors">
                            <thead><tr><th>{ lang.t("行", "Row") }</th><th>{ lang.t("列", "Column") }</th><th>{ lang.t("原因", "Why") }</th></tr></thead>
                            <tbody>
                                { for errors.iter().map(|e| html! {
                                    <tr data-row={e["row"].to_string()}>
                                        <td>{ e["row"].to_string() }</td>
                                        <td>{ e["field"].as_str().unwrap_or_default().to_owned() }</td>
                                        <td>{ e["message"].as_str().unwrap_or_default().to_owned() }</td>
                                    </tr>
                                }) }
                            </tbody>
                        </table>
                    }
                </div>
            }
        }
    };
    let busy = matches!(*job, Job::Sending | Job::Running { .. });
    html! {
        <div class="card" data-testid="import">
            <h2>{ lang.t("导入住户", "Import households") }</h2>
            <p class="hint">{ lang.t(
                "第一行为表头：网格、楼栋、单元、房号、户主、联系电话、人数，可选 标签、备注。同一网格同一地址的住户会被更新，不会重复。",
                "The first row names the columns: grid, building, unit, room, head, contact, members, and optionally tags, notes. A household of the same grid and address is updated, never duplicated.") }</p>
            <input type="file" name="file" accept=".xlsx,.csv,text/csv" disabled={busy} {onchange} />
            { body }
        </div>
    }
}
