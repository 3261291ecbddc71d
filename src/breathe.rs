//! Lets a long stretch of work give the page a moment. The page trains on its
//! main thread, and on the CPU backend (or a GPU that has not been waited on) no
//! await in the core ever hands the browser that thread: a PPO iteration froze the
//! page for seconds. So the core calls [`breathe`] often — after every readback and
//! every few generated tokens — and the page registers a hook (one turn of its
//! event loop) that it awaits once [`EVERY`] has passed since the last time, which
//! bounds a task at about that plus the longest single step between two calls.
//! Natively no hook is set and this costs nothing. The core stays free of browser
//! APIs: the page injects the only one it needs.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use web_time::Instant;

pub type Hook = fn() -> Pin<Box<dyn Future<Output = ()>>>;

/// How long the page's thread may work between two of its turns: short of a
/// frame (16.7 ms at 60 Hz), so a frame is late by at most one step.
pub const EVERY: Duration = Duration::from_millis(12);

thread_local! {
    static HOOK: Cell<Option<Hook>> = const { Cell::new(None) };
    static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Sets what [`breathe`] awaits (the page: one macrotask of the event loop).
pub fn set(hook: Hook) {
    HOOK.with(|h| h.set(Some(hook)));
}

/// Awaits the page's hook, if there is one and [`EVERY`] has passed since it last ran.
pub async fn breathe() {
    let Some(hook) = HOOK.with(Cell::get) else { return };
    if LAST.with(Cell::get).is_some_and(|t| t.elapsed() < EVERY) {
        return;
    }
    hook().await;
    LAST.with(|l| l.set(Some(Instant::now())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static TURNS: AtomicUsize = AtomicUsize::new(0);

    fn counting_hook() -> Pin<Box<dyn Future<Output = ()>>> {
        TURNS.fetch_add(1, Ordering::Relaxed);
        Box::pin(async {})
    }

    #[test]
    fn the_page_gets_a_turn_at_most_once_per_interval() {
        set(counting_hook);
        let t0 = Instant::now();
        pollster::block_on(async {
            for _ in 0..10_000 {
                breathe().await;
            }
        });
        let turns = TURNS.load(Ordering::Relaxed);
        let allowed = 1 + (t0.elapsed().as_millis() / EVERY.as_millis()) as usize;
        assert!((1..=allowed).contains(&turns), "{turns} turns in {:?}", t0.elapsed());
        std::thread::sleep(EVERY);
        pollster::block_on(breathe());
        assert_eq!(TURNS.load(Ordering::Relaxed), turns + 1, "a turn once the interval has passed");
    }
}
