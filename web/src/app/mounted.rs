//! A piece of the page that only some visitors use, mounted by the on-demand
//! `gpu-session-extras` module into a slot the page shows: the custom-model editor
//! (`super::editor`), the service-level targets (`super::targets`) and the
//! two-instance options (`super::two_nodes`). Each keeps its own copy of the state;
//! the two modules exchange it as a share link's query string
//! (`actions::to_transport`), the codec both hold.

use super::Calc;
use crate::actions;
use gpu_session_core::share::ShareState;
use leptos::prelude::*;
use leptos::tachys::view::any_view::{AnyView, AnyViewState};

/// A view the extras module mounted into the page.
pub struct Mounted {
    state: RwSignal<ShareState>,
    /// The query the page last sent (normalised), so the view reports only the changes
    /// it makes itself.
    from_page: StoredValue<String>,
    /// Owns the view's reactive scope; dropping it unmounts the view.
    _handle: leptos::mount::UnmountHandle<AnyViewState>,
}

impl Mounted {
    /// Mount the view `build` makes for the state `query` into `slot` (replacing what
    /// it shows); `on_change` receives the state's query each time the view changes it.
    pub fn mount(
        slot: web_sys::HtmlElement,
        query: &str,
        on_change: impl Fn(String) + 'static,
        build: impl FnOnce(Calc) -> AnyView + 'static,
    ) -> Mounted {
        let initial = actions::from_transport(query);
        let signals = std::rc::Rc::new(std::cell::Cell::new(None));
        let out = signals.clone();
        slot.set_inner_html("");
        // Everything reactive is created inside the mount, under its owner (which also
        // starts Leptos' executor in this wasm instance).
        let handle = leptos::mount::mount_to(slot, move || {
            let from_page = StoredValue::new(actions::to_transport(&initial));
            let calc = Calc::new(initial);
            Effect::new(move |_| {
                let query = calc.state.with(actions::to_transport);
                if from_page.with_value(|q| *q != query) {
                    from_page.set_value(query.clone());
                    on_change(query);
                }
            });
            out.set(Some((calc.state, from_page)));
            build(calc)
        });
        let (state, from_page) = signals
            .take()
            .expect("mount_to runs its view function before it returns");
        Mounted {
            state,
            from_page,
            _handle: handle,
        }
    }

    /// The page's state changed: show it.
    pub fn update(&self, query: &str) {
        let next = actions::from_transport(query);
        self.from_page.set_value(actions::to_transport(&next));
        if self.state.with_untracked(|s| *s != next) {
            self.state.set(next);
        }
    }
}
