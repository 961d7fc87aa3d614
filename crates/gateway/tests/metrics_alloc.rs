//! Recording a metric on the hot path does not allocate: a counting global allocator
//! watches this thread while every recording method runs on series that already exist.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openclaw_gateway::metrics::{HttpMethod, Metrics, Outcome, ReloadOutcome, Route, Surface};
use openclaw_protocol::ErrorCode;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    if WATCHING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the system allocator unchanged; the only addition is
// an atomic counter and a const-initialised thread-local read, neither of which allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn record_everything(m: &Arc<Metrics>) {
    let d = Duration::from_millis(12);
    let t = std::time::Instant::now();
    m.http_head(Route::Models, HttpMethod::Get, 200, t);
    m.http_head(Route::ChatCompletions, HttpMethod::Post, 503, t);
    m.http_done(Route::Models, d);
    let ws = m.ws_connected();
    drop(ws);
    m.rpc(Some(1), "status", Ok(()), d);
    m.rpc(None, "unknown", Err(ErrorCode::InvalidRequest), d);
    m.run_completed(Outcome::Ok, d);
    m.model_call("mock", "m1", Outcome::Ok, d, Some((10, 20)));
    m.channel_reconnect("telegram", "default");
    m.reload(ReloadOutcome::Hot);
    m.rate_limited(Surface::Http);
    m.auth_failed(Surface::Ws);
    let _ = m.recent();
}

#[test]
fn hot_path_recording_does_not_allocate() {
    let m = Arc::new(Metrics::default());
    // First sight of a dynamic series allocates its entry; that is not the hot path.
    record_everything(&m);
    WATCHING.with(|w| w.set(true));
    for _ in 0..1000 {
        record_everything(&m);
    }
    WATCHING.with(|w| w.set(false));
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 0);
    // And the counting is real: a scrape allocates.
    WATCHING.with(|w| w.set(true));
    let text = m.render(&Default::default());
    WATCHING.with(|w| w.set(false));
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > 0);
    assert!(
        text.contains(r#"openclaw_model_call_total{provider="mock",model="m1",outcome="ok"} 1001"#)
    );
}
