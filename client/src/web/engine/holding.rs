//! What this device holds (DESIGN decision 10): records that left the phone's window go once
//! the server holds them; a record a screen opens is fetched on demand and kept while open or
//! pinned (pins are kept in IndexedDB under `pins`); a supervisor's figures come from the
//! server, pushed for the area on screen and cached.

use std::rc::Rc;

use shared::ids::DocumentId;
use shared::sync::Event;

use super::Engine;

/// The IndexedDB key of the pinned records.
const PINS: &str = "pins";
use crate::figures::AreaFigures;
use crate::web::now;
use crate::web::state::Action;

impl Engine {
    /// Tells the hub what this user's device keeps.
    pub(super) fn apply_keeps(&mut self) {
        let (keeps, window) = self
            .session
            .as_ref()
            .map_or((None, shared::sync::DEFAULT_WINDOW_DAYS), |s| {
                (s.keeps(), s.window_days)
            });
        self.hub.set_keeps(keeps, window);
    }

    /// Deletes what this device no longer needs from IndexedDB, then from memory.
    pub(super) async fn prune(&mut self) {
        let gone: Vec<DocumentId> = self
            .hub
            .prunable(now())
            .into_iter()
            .filter(|id| !self.watched.contains_key(id) && !self.pinned.contains(id))
            .collect();
        if gone.is_empty() {
            return;
        }
        if let Err(e) = self.db.forget(&gone).await {
            return self.show_error(&e);
        }
        let summaries = Rc::make_mut(&mut self.summaries);
        for id in &gone {
            self.hub.forget(id);
            self.chunks.remove(id);
            summaries.remove(id);
            self.dashboard.apply_contribution(*id, None);
        }
        self.dirty = true;
        self.report();
    }

    /// A screen opened or closed a record: kept while open, and fetched when not held here.
    pub(super) async fn watch_record(&mut self, id: DocumentId, on: bool) {
        self.watch(id, on);
        self.hub.keep(id, on || self.pinned.contains(&id));
        if on {
            self.fetch(id).await;
        }
    }

    /// Fetches a record this device does not hold, when connected.
    async fn fetch(&mut self, id: DocumentId) {
        if self.hub.doc(&id).is_none() && self.socket.is_some() {
            let _ = self
                .perform(|batch, hub, driver, t| {
                    let fx = hub.sync_now(id);
                    batch.add(hub, driver, t, fx);
                })
                .await;
        }
    }

    /// Reads the pins saved here and keeps those records.
    pub(super) async fn load_pins(&mut self) {
        let saved = self.db.get(PINS).await.ok().flatten();
        self.pinned = saved
            .and_then(|s| serde_json::from_str::<Vec<DocumentId>>(&s).ok())
            .unwrap_or_default()
            .into_iter()
            .collect();
        for id in &self.pinned {
            self.hub.keep(*id, true);
        }
        self.dispatch(Action::Pinned(Rc::new(self.pinned.clone())));
    }

    /// The user pinned or unpinned a record: saved, kept (and fetched) while pinned.
    pub(super) async fn pin(&mut self, id: DocumentId, on: bool) {
        if on {
            self.pinned.insert(id);
        } else {
            self.pinned.remove(&id);
        }
        let list: Vec<&DocumentId> = self.pinned.iter().collect();
        let json = serde_json::to_string(&list).unwrap_or_default();
        if let Err(e) = self.db.put(PINS, Some(&json)).await {
            self.show_error(&e);
        }
        self.hub.keep(id, on || self.watched.contains_key(&id));
        self.dispatch(Action::Pinned(Rc::new(self.pinned.clone())));
        if on {
            self.fetch(id).await;
        }
    }

    /// The overview shows `area`: the cached figures at once, then the server's, live.
    pub(super) async fn watch_area(&mut self, area: String) {
        if self.area.as_ref().is_none_or(|a| a.area != area) {
            let cached = self.db.get(&AreaFigures::cache_key(&area)).await;
            if let Some(f) = cached
                .ok()
                .flatten()
                .and_then(|s| AreaFigures::from_cache(&s))
            {
                self.show_area(f);
            }
        }
        let fx = self.hub.watch(&area);
        let _ = self
            .perform(|batch, hub, driver, t| batch.add(hub, driver, t, fx))
            .await;
    }

    /// The server pushed figures: show them and keep them for opening offline.
    pub(super) async fn on_figures(&mut self, events: &[Event]) {
        for e in events {
            let Event::Figures { area, at, figures } = e else {
                continue;
            };
            match AreaFigures::pushed(area.clone(), *at, figures) {
                Ok(f) => {
                    let key = AreaFigures::cache_key(area);
                    if let Err(e) = self.db.put(&key, Some(&f.to_cache())).await {
                        self.show_error(&e);
                    }
                    self.show_area(f);
                }
                Err(e) => self.show_error(&format!("服务器数据 · Server figures: {e}")),
            }
        }
    }

    /// The connection closed: the figures on screen are no longer live.
    pub(super) fn figures_offline(&mut self) {
        if let Some(a) = self.area.as_ref().filter(|a| a.live) {
            let mut stale = (**a).clone();
            stale.live = false;
            self.show_area(stale);
        }
    }

    fn show_area(&mut self, f: AreaFigures) {
        let f = Rc::new(f);
        self.area = Some(f.clone());
        self.dispatch(Action::Area(f));
    }
}
