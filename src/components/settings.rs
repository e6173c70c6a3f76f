//! The desk's settings panel: language, theme, type size and toasts, remembered in this browser
//! (localStorage). Parameters in the page's URL still win.

use leptos::prelude::*;

use crate::app::Live;
use crate::state::format::{parse_number, plain_number};
use crate::state::i18n::Lang;
use crate::state::settings::{Settings, Theme};

/// A gear that opens the panel.
#[component]
pub fn SettingsButton() -> impl IntoView {
    let live = expect_context::<Live>();
    let lang = live.lang;
    // What the panel shows: the settings in use, each time the gear is pressed (choices left
    // unsaved are forgotten, and so is an error of the last save).
    let applied = expect_context::<Settings>();
    let draft = RwSignal::new(applied.clone());
    let error = RwSignal::new(None::<String>);
    // The panel is a popover: the browser opens it from the gear and closes it, as a menu, by
    // Escape (the focus then back on the gear) or a click beside it; nothing is then saved.
    view! {
        <button class="settings-button" data-testid="settings-open" aria-label=lang.t("Ajustes", "Settings")
            popovertarget="settings" on:click=move |_| {
                draft.set(applied.clone());
                error.set(None);
            }>"⚙"</button>
        <SettingsPanel draft error/>
    }
}

#[component]
fn SettingsPanel(
    /// The settings as chosen in the panel, not yet saved.
    draft: RwSignal<Settings>,
    /// Why the last save failed (the browser's storage refused it).
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let live = expect_context::<Live>();
    let lang = live.lang;
    let set = move |key: &'static str| {
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            draft.update(|d| d.apply([(key, v.as_str())]));
        }
    };
    let save = move |_| match crate::browser::store_settings(&draft.get_untracked().to_json()) {
        Ok(()) => {
            if let Some(w) = web_sys::window() {
                let _ = w.location().reload();
            }
        }
        Err(e) => error.set(Some(e)),
    };
    view! {
        <div class="settings-panel" id="settings" popover="auto" data-testid="settings" role="dialog" aria-label=lang.t("Ajustes", "Settings")>
            <label>{lang.t("Idioma", "Language")}
                <select data-testid="settings-lang" on:change=set("lang")>
                    <option value="es" prop:selected=move || draft.with(|d| d.lang == Lang::Es)>"Español"</option>
                    <option value="en" prop:selected=move || draft.with(|d| d.lang == Lang::En)>"English"</option>
                </select>
            </label>
            <label>{lang.t("Tema", "Theme")}
                <select data-testid="settings-theme" on:change=set("theme")>
                    {Vec::from([(Theme::Auto, lang.t("Del sistema", "System")), (Theme::Dark, lang.t("Oscuro", "Dark")), (Theme::Light, lang.t("Claro", "Light"))]
                        .map(|(t, label)| view! { <option value=t.as_str() prop:selected=move || draft.with(|d| d.theme == t)>{label}</option> }.into_any()))}
                </select>
            </label>
            <label>{lang.t("Tamaño del texto", "Text size")}
                <select data-testid="settings-scale" on:change=set("scale")>
                    {Vec::from(["0.85", "1", "1.25", "1.5", "2"].map(|v| view! {
                        <option value=v prop:selected=move || draft.with(|d| plain_number(d.scale) == v)>{format!("{}%", (parse_number(v).unwrap_or(1.0) * 100.0).round() as i64)}</option>
                    }.into_any()))}
                </select>
            </label>
            <label>{lang.t("Avisos emergentes a la vez", "Pop-up notices at once")}
                <select data-testid="settings-toasts" on:change=set("toasts")>
                    {Vec::from([0usize, 1, 2, 3, 4, 6, 8].map(|n| view! {
                        <option value=n.to_string() prop:selected=move || draft.with(|d| d.toasts == n)>
                            {if n == 0 { lang.t("ninguno", "none").to_owned() } else { n.to_string() }}
                        </option>
                    }.into_any()))}
                </select>
            </label>
            <p class="settings-note">{lang.t("Se recuerdan en este navegador; lo que diga la dirección de la página manda.", "Remembered in this browser; what the page's address says comes first.")}</p>
            {move || error.get().map(|e| view! { <p class="settings-error" role="alert">{e}</p> })}
            <button class="primary" data-testid="settings-save" on:click=save>{lang.t("Guardar y aplicar", "Save and apply")}</button>
        </div>
    }
}
