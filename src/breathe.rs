//! Lets a long stretch of GPU work give the page a moment. Generation on a GPU
//! enqueues many forward passes without waiting on the GPU (that is the point of
//! sampling on it), so nothing in the loop would hand the browser its main thread;
//! the page registers a hook that does (a zero-delay timeout), and the loop awaits
//! it every few tokens. Natively no hook is set and this costs nothing. The core
//! stays free of browser APIs: the page injects the only one it needs.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;

pub type Hook = fn() -> Pin<Box<dyn Future<Output = ()>>>;

thread_local! {
    static HOOK: Cell<Option<Hook>> = const { Cell::new(None) };
}

/// Sets what [`breathe`] awaits (the page: one macrotask of the event loop).
pub fn set(hook: Hook) {
    HOOK.with(|h| h.set(Some(hook)));
}

/// Awaits the page's hook, if there is one.
pub async fn breathe() {
    if let Some(hook) = HOOK.with(Cell::get) {
        hook().await;
    }
}
