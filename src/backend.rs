//! Which compute device runs the model: WebGPU / wgpu when a GPU adapter answers,
//! otherwise burn's `flex` CPU backend — and the words the page shows for it.

use burn::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn's pure-Rust CPU backend.
    Flex,
    /// burn's wgpu backend: WebGPU in a browser, Vulkan/Metal/DX12 natively.
    Wgpu,
}

#[derive(Debug, Clone)]
pub struct Backend {
    pub device: Device,
    pub kind: BackendKind,
    /// The GPU adapter's name, when there is one.
    pub adapter: Option<String>,
    /// Whether the adapter has `timestamp-query`, so the kernel check can ask the
    /// device for its own clock (burn's fallback without it blocks on the device,
    /// which a browser cannot do).
    pub timestamps: bool,
}

impl Backend {
    pub fn cpu() -> Self {
        #[cfg(feature = "fast-cpu")]
        {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(keep_freed_memory);
        }
        Self { device: Device::flex(), kind: BackendKind::Flex, adapter: None, timestamps: false }
    }

    /// Asks for a wgpu device; the error says why there is none (the caller falls
    /// back to [`Backend::cpu`] and tells the user).
    #[cfg(any(target_arch = "wasm32", feature = "wgpu"))]
    pub async fn gpu() -> Result<Self, String> {
        let (device, setup) = Device::wgpu_options().init_with_setup_async().await.map_err(|e| format!("{e}"))?;
        let info = setup.adapter.get_info();
        // burn asks the device for every feature the adapter has: with timestamp
        // queries the look-inside check can time our kernels on the GPU's clock.
        let timestamps = setup.adapter.features().contains(burn::cubecl::wgpu::wgpu::Features::TIMESTAMP_QUERY);
        let parts: Vec<String> = [info.name, info.driver, format!("{:?}", info.backend)].into_iter().filter(|s| !s.is_empty()).collect();
        Ok(Self { device, kind: BackendKind::Wgpu, adapter: Some(parts.join(" · ")), timestamps })
    }
}

/// Seeds the device's random numbers and draws from them in `draw` with no other
/// thread in between. burn's CPU backend keeps one seeded generator for the whole
/// process, so two threads that each seed and then initialise a model (tests run
/// in parallel) could interleave and each get part of the other's numbers: a seeded
/// run then differs from run to run (seen: the reward model's fit test failing
/// under load).
pub fn seeded<R>(device: &Device, seed: u64, draw: impl FnOnce() -> R) -> R {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    draw()
}

/// `fast-cpu` builds (mimalloc is their allocator; [`Backend::cpu`] calls this
/// once): never hand freed memory back to the kernel. Every training step frees and re-allocates the same activation
/// sizes; with mimalloc's default (return what stayed free for 1 s) the kernel
/// faulted in and zeroed fresh pages again and again — 55 871 page faults in one
/// `cargo bench --bench pretrain` run, 871 with this.
#[cfg(feature = "fast-cpu")]
fn keep_freed_memory() {
    // `mi_option_purge_delay` in mimalloc.h's option enum (−1: never purge); the
    // Rust bindings name no constant for it.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets one global option; mimalloc reads it whenever it would purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}
