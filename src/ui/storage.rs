//! The labelling session in the browser: kept in `localStorage` after every change
//! (so labels survive a reload), exported as a JSON file, imported from one.
//!
//! `localStorage` through web-sys rather than a storage crate: the session is one
//! small JSON string, and `web-sys` is already here; the file format and its
//! validation live in the compute core (`crate::session`), tested natively.

use crate::corpus::Lang;
use crate::session::{Session, Settings};
use wasm_bindgen::JsCast;

const KEY: &str = "rlhf-playground/session";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The saved session, or a new one. A saved session that no longer validates is
/// kept aside under another key rather than thrown away.
pub fn load_session(lang: Lang) -> Session {
    let fresh = || Session::new(Settings { lang, ..Settings::default() });
    let Some(store) = storage() else { return fresh() };
    match store.get_item(KEY).ok().flatten() {
        Some(text) => Session::from_json(&text).unwrap_or_else(|_| {
            let _ = store.set_item(&format!("{KEY}/unreadable"), &text);
            fresh()
        }),
        None => fresh(),
    }
}

/// Saves the session; the error says why it could not be kept (private mode, quota).
pub fn save_session(session: &Session) -> Result<(), String> {
    let store = storage().ok_or("this browser keeps no local storage: labels will not survive a reload")?;
    store.set_item(KEY, &session.to_json()).map_err(|_| "the browser refused to store the labels (storage full?)".to_string())
}

/// Offers the session as a file download.
pub fn export_session(session: &Session) -> Result<(), String> {
    download(session.to_json().as_bytes(), "rlhf-playground-session.json", "application/json")
}

/// The ranked prompts as TRL-style preference JSONL (prompt, chosen, rejected).
pub fn export_preferences(session: &Session) -> Result<(), String> {
    download(crate::session::preferences_jsonl(&session.comparisons).as_bytes(), "rlhf-playground-preferences.jsonl", "application/jsonl")
}

/// The SFT demonstrations in use as JSONL (prompt, completion), as TRL's SFT trainer reads them.
pub fn export_demonstrations(demos: &[crate::sft::Demonstration]) -> Result<(), String> {
    download(crate::session::demonstrations_jsonl(demos).as_bytes(), "rlhf-playground-demonstrations.jsonl", "application/jsonl")
}

/// What an imported file held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Imported {
    Session,
    Pairs,
    Demonstrations,
}

/// Offers `bytes` as a file download named `name`.
pub fn download(bytes: &[u8], name: &str, mime: &str) -> Result<(), String> {
    let fail = |_| "could not prepare the download".to_string();
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts).map_err(fail)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(fail)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a").map_err(fail)?.dyn_into().map_err(|_| "no anchor".to_string())?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// Reads the file the user picked and validates it whole: a session (JSON), or
/// JSONL (by its name) of preference pairs, which replace the session's rankings,
/// or of demonstrations (rows with a `completion`), which replace the SFT data.
pub async fn read_session_file(file: web_sys::File, current: Session) -> Result<(Session, Imported), String> {
    let name = file.name();
    let text = wasm_bindgen_futures::JsFuture::from(file.text()).await.map_err(|_| "the file could not be read".to_string())?;
    let text = text.as_string().ok_or("the file is not text")?;
    if name.ends_with(".jsonl") {
        let first = text.lines().find(|l| !l.trim().is_empty()).and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok());
        if first.is_some_and(|row| row.get("completion").is_some()) {
            let demonstrations = crate::session::demonstrations_from_jsonl(&text).map_err(|e| e.to_string())?;
            return Ok((Session { demonstrations, ..current }, Imported::Demonstrations));
        }
        let comparisons = crate::session::preferences_from_jsonl(&text).map_err(|e| e.to_string())?;
        return Ok((Session { comparisons, ..current }, Imported::Pairs));
    }
    Session::from_json(&text).map(|s| (s, Imported::Session)).map_err(|e| e.to_string())
}

/// Reads the bytes of a file the user picked.
pub async fn read_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buf = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await.map_err(|_| "the file could not be read".to_string())?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}
