//! The gateway in-process: [`TestGateway`] serves on port 0 on its own runtime and hands
//! back the bound address; [`TestState`] builds the state a router is made of, for
//! `router(state).oneshot(...)` tests that need no socket at all.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use openclaw_config::Paths;
use openclaw_gateway::{Activation, AppState, GatewayError, RunOptions};
use openclaw_logs::LogHandle;
use tokio::sync::oneshot;

use crate::dirs::TempDir;

/// How long [`TestGateway::start`] waits for the listener before giving up.
const START_TIMEOUT: Duration = Duration::from_secs(20);

thread_local! {
    /// The gateway's log subscriber, made the default on each of its runtime's threads
    /// (scoped, so several gateways in one test binary each log to their own file).
    static LOG_GUARD: RefCell<Option<tracing::dispatcher::DefaultGuard>> =
        const { RefCell::new(None) };
}

/// A gateway serving in this process on a loopback port chosen by the OS.
///
/// It runs `openclaw_gateway::run::serve` — the same code path as `openclaw gateway` —
/// on a dedicated multi-threaded runtime, with its state in a private directory and its
/// JSON log at `<state>/logs/gateway.log`. Dropping it shuts the gateway down the way
/// SIGTERM does (clients get `shutdown` and close 1012) and waits for it to finish, so
/// the state-dir lock is free again afterwards.
pub struct TestGateway {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `addr.port()`.
    pub port: u16,
    /// Its state directory (config, lock, sessions, logs).
    pub state: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), GatewayError>>>,
    _dir: Option<TempDir>,
}

impl TestGateway {
    /// A gateway with token auth and no config file (as `--token T --allow-unconfigured`).
    pub fn with_token(token: &str) -> TestGateway {
        TestGateway::start(
            None,
            RunOptions {
                token: Some(token.to_owned()),
                allow_unconfigured: true,
                ..RunOptions::default()
            },
        )
    }

    /// A gateway running on this config file text.
    pub fn with_config(config: &str) -> TestGateway {
        TestGateway::start(Some(config), RunOptions::default())
    }

    /// Starts a gateway on `config` (written to `<state>/openclaw.json` when given) with
    /// these command-line options, in a fresh state directory; panics with the error when
    /// it cannot start.
    pub fn start(config: Option<&str>, opts: RunOptions) -> TestGateway {
        let dir = TempDir::new("gw");
        if let Some(c) = config {
            std::fs::write(dir.path().join("openclaw.json"), c).expect("write the config");
        }
        let state = dir.path().to_path_buf();
        match TestGateway::try_start_in(&state, opts) {
            Ok(mut gw) => {
                gw._dir = Some(dir);
                gw
            }
            Err(e) => panic!("gateway did not start: {e}"),
        }
    }

    /// Starts a gateway on the state directory `state` (which the caller owns and keeps),
    /// reporting why when it cannot: a bad config, a held lock, a port in use.
    pub fn try_start_in(state: &Path, mut opts: RunOptions) -> Result<TestGateway, GatewayError> {
        if opts.port.is_none() {
            opts.port = Some(0);
        }
        let paths = paths_for(state)?;
        let activation = Activation::prepare(paths, &opts)?;
        let (dispatch, log) = logging(&activation);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std_mpsc::channel::<SocketAddr>();
        let thread = std::thread::Builder::new()
            .name("test-gateway".into())
            .spawn(move || {
                let on_start = dispatch.clone();
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .on_thread_start(move || set_thread_log(&on_start))
                    .on_thread_stop(|| {
                        LOG_GUARD.with(|g| g.borrow_mut().take());
                    })
                    .build()
                    .map_err(|e| GatewayError::io("cannot build the test runtime", e))?;
                set_thread_log(&dispatch);
                let result = runtime.block_on(async move {
                    let (bound_tx, bound_rx) = oneshot::channel();
                    tokio::spawn(async move {
                        if let Ok(addr) = bound_rx.await {
                            let _ = addr_tx.send(addr);
                        }
                    });
                    let stop = async move {
                        let _ = stop_rx.await;
                    };
                    openclaw_gateway::run::serve(activation, &opts, log, Some(bound_tx), stop).await
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
                result
            })
            .map_err(|e| GatewayError::io("cannot start the test gateway thread", e))?;
        match addr_rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => Ok(TestGateway {
                addr,
                port: addr.port(),
                state: state.to_path_buf(),
                stop: Some(stop_tx),
                thread: Some(thread),
                _dir: None,
            }),
            // The sender is gone: `serve` returned before listening; its error says why.
            Err(std_mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
                Ok(Err(e)) => Err(e),
                Ok(Ok(())) => panic!("the gateway returned without ever listening"),
                Err(_) => panic!("the gateway thread panicked while starting"),
            },
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                panic!("the gateway did not listen within {START_TIMEOUT:?}")
            }
        }
    }

    /// `ws://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The JSON log written so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.state.join("logs/gateway.log")).unwrap_or_default()
    }

    /// Shuts down as on SIGTERM and returns how `serve` ended.
    pub fn stop(mut self) -> Result<(), GatewayError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), GatewayError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => panic!("the gateway thread panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let result = self.shutdown();
        if !std::thread::panicking() {
            result.expect("the gateway shut down with an error");
        }
    }
}

/// The state of one listener generation, built exactly as the server builds it but with
/// no socket: `openclaw_gateway::http::router(state.app.clone()).oneshot(request)` drives
/// a handler directly. Requests carry no peer address, which the gateway treats as
/// loopback.
pub struct TestState {
    /// The generation's state.
    pub app: Arc<AppState>,
    _dir: TempDir,
}

impl TestState {
    /// State for this config text, as `openclaw gateway` would have after start-up; must be
    /// called inside a Tokio runtime (the state spawns nothing, but its channels need one).
    pub fn new(config: &str) -> TestState {
        let dir = TempDir::new("state");
        std::fs::write(dir.path().join("openclaw.json"), config).expect("write the config");
        let opts = RunOptions::default();
        let paths = paths_for(dir.path()).expect("paths");
        let activation = match Activation::prepare(paths, &opts) {
            Ok(a) => a,
            Err(e) => panic!("config refused: {e}"),
        };
        let (_dispatch, log) = logging(&activation);
        let (shared, _restarts) = openclaw_gateway::run::shared_state(&activation, &opts, log);
        let app = AppState::new(shared, Arc::new(activation));
        app.mark_started();
        TestState { app, _dir: dir }
    }
}

/// Paths of an instance whose state (and home) is `state`, whatever the test process's
/// environment says.
fn paths_for(state: &Path) -> Result<Paths, GatewayError> {
    let dir = state.to_string_lossy().into_owned();
    let env = move |k: &str| match k {
        "OPENCLAW_STATE_DIR" | "HOME" => Some(dir.clone()),
        _ => None,
    };
    Ok(Paths::resolve(None, false, &env)?)
}

/// The gateway's subscriber (JSON file at the default log path, console discarded), not
/// installed globally.
fn logging(activation: &Activation) -> (tracing::Dispatch, LogHandle) {
    let opts = activation.log_options(false);
    let (subscriber, handle) =
        openclaw_logs::subscriber_with_console(&opts, std::io::sink).expect("open the gateway log");
    (tracing::Dispatch::new(subscriber), handle)
}

fn set_thread_log(dispatch: &tracing::Dispatch) {
    let guard = tracing::dispatcher::set_default(dispatch);
    LOG_GUARD.with(|g| *g.borrow_mut() = Some(guard));
}
