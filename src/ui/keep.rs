//! Trained models kept in the browser, so a reload or a closed laptop loses no
//! work: each model as its safetensors checkpoint (`crate::checkpoint`, the same
//! bytes the export button and the runner write) plus `progress.json` (the charts'
//! history and where the user was), in the Origin Private File System under
//! `rlhf-playground/<preset>-<seed>-<lang>/`.
//!
//! OPFS through web-sys rather than an IndexedDB crate: a checkpoint is a file of a
//! few MB, OPFS stores exactly that, and its writable stream commits on close, so a
//! write that fails (storage full) leaves the last good file in place.

use super::view::keep::{FORMAT, Progress};
use crate::checkpoint::Role;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemWritableFileStream};

const ROOT: &str = "rlhf-playground";
pub const PROGRESS: &str = "progress.json";
fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<web_sys::DomException>().map(|d| format!("{}: {}", d.name(), d.message())).unwrap_or_else(|| format!("{e:?}"))
}

/// The error of a failed write, in words a user can act on.
fn write_error(e: &JsValue) -> String {
    let quota = e.dyn_ref::<web_sys::DomException>().is_some_and(|d| d.name() == "QuotaExceededError");
    if quota {
        "the browser's storage for this page is full: the model was not kept (your labels are kept apart; export the model, or free space and train on)".into()
    } else {
        format!("the browser refused to keep the model ({}); your labels are kept apart", js_message(e))
    }
}

async fn root() -> Result<FileSystemDirectoryHandle, String> {
    let navigator = super::navigator().ok_or("no navigator")?;
    let storage: web_sys::StorageManager =
        js_sys::Reflect::get(&navigator, &"storage".into()).map_err(|_| "no storage".to_string())?.unchecked_into();
    let handle = JsFuture::from(storage.get_directory())
        .await
        .map_err(|e| format!("this browser keeps no files for pages (a private window?): {}", js_message(&e)))?;
    handle.dyn_into().map_err(|_| "no file system handle".to_string())
}

async fn subdir(parent: &FileSystemDirectoryHandle, name: &str, create: bool) -> Result<Option<FileSystemDirectoryHandle>, String> {
    let opts = web_sys::FileSystemGetDirectoryOptions::new();
    opts.set_create(create);
    match JsFuture::from(parent.get_directory_handle_with_options(name, &opts)).await {
        Ok(h) => Ok(h.dyn_into().ok()),
        Err(_) if !create => Ok(None),
        Err(e) => Err(write_error(&e)),
    }
}

async fn dir(key: &str, create: bool) -> Result<Option<FileSystemDirectoryHandle>, String> {
    let Some(app) = subdir(&root().await?, ROOT, create).await? else { return Ok(None) };
    subdir(&app, key, create).await
}

/// Writes one file of `key`'s folder, whole or not at all.
pub async fn put(key: &str, name: &str, bytes: &[u8]) -> Result<(), String> {
    let dir = dir(key, true).await?.ok_or("no folder")?;
    let opts = web_sys::FileSystemGetFileOptions::new();
    opts.set_create(true);
    let file: FileSystemFileHandle = JsFuture::from(dir.get_file_handle_with_options(name, &opts))
        .await
        .map_err(|e| write_error(&e))?
        .dyn_into()
        .map_err(|_| "no file")?;
    let stream: FileSystemWritableFileStream =
        JsFuture::from(file.create_writable()).await.map_err(|e| write_error(&e))?.dyn_into().map_err(|_| "no stream")?;
    let written = match stream.write_with_u8_array(bytes) {
        Ok(p) => JsFuture::from(p).await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        // Aborting drops the swap file: the last good file stays as it was.
        let _ = JsFuture::from(stream.abort()).await;
        return Err(write_error(&e));
    }
    JsFuture::from(stream.close()).await.map(|_| ()).map_err(|e| write_error(&e))
}

/// Reads one file of `key`'s folder; `None` if there is none.
pub async fn get(key: &str, name: &str) -> Result<Option<Vec<u8>>, String> {
    let Some(dir) = dir(key, false).await? else { return Ok(None) };
    let Ok(file) = JsFuture::from(dir.get_file_handle(name)).await else { return Ok(None) };
    let file: FileSystemFileHandle = file.dyn_into().map_err(|_| "no file")?;
    let blob: web_sys::File = JsFuture::from(file.get_file()).await.map_err(|e| js_message(&e))?.dyn_into().map_err(|_| "no file")?;
    let buf = JsFuture::from(blob.array_buffer()).await.map_err(|e| js_message(&e))?;
    Ok(Some(js_sys::Uint8Array::new(&buf).to_vec()))
}

/// Forgets everything kept for `key`.
pub async fn forget(key: &str) -> Result<(), String> {
    let Some(app) = subdir(&root().await?, ROOT, false).await? else { return Ok(()) };
    let opts = web_sys::FileSystemRemoveOptions::new();
    opts.set_recursive(true);
    match JsFuture::from(app.remove_entry_with_options(key, &opts)).await {
        Ok(_) => Ok(()),
        // Nothing kept under that key.
        Err(e) if e.dyn_ref::<web_sys::DomException>().is_some_and(|d| d.name() == "NotFoundError") => Ok(()),
        Err(e) => Err(format!("could not forget the kept models: {}", js_message(&e))),
    }
}

/// The progress kept for `key`, if any and readable.
pub async fn load_progress(key: &str) -> Option<Progress> {
    let bytes = get(key, PROGRESS).await.ok()??;
    serde_json::from_slice::<Progress>(&bytes).ok().filter(|p| p.format == FORMAT && !p.models.is_empty())
}

/// A model's file name in the folder; `beside`: of the PPO run trained beside the main one.
pub fn file_of(role: Role, beside: bool) -> String {
    format!("{}{}.safetensors", if beside { "beside-" } else { "" }, role.name())
}
