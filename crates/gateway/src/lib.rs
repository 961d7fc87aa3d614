//! The OpenClaw gateway server: one port multiplexing the WebSocket control plane and the
//! HTTP API.
//!
//! [`Activation::prepare`] performs every check that can fail because of configuration
//! (exit 78) without side effects; [`run::run`] takes the state-dir lock, binds the port,
//! serves until SIGTERM/SIGINT, and drains. The CLI crate owns argument parsing and logging
//! set-up.
//!
//! Modules, top (transports) to bottom (leaves); each imports only from below itself:
//!
//! * [`run`] — process lifecycle: lock, listener generations, restarts, shutdown.
//! * [`http`], [`ws`], [`channels`] — transports.
//! * [`rpc`] — the method table and handlers; [`reload`] — config reload and the watcher.
//! * [`agents`] — running turns (runner and its tool loop, background runs and their events).
//! * [`tools`] — the built-in tools, the per-turn tool box, policy, workspace, sandbox, exec.
//! * [`state`] — [`AppState`], [`state::Shared`], [`Activation`].
//! * [`catalog`], [`runs`], [`approvals`], [`idempotency`], [`conns`], [`auth`], [`presence`],
//!   [`settings`], [`listener`], [`serve`], [`throttle`], [`lock`], [`error`], [`sys`], [`token`],
//!   [`metrics`] — leaves.

pub mod agents;
pub mod approvals;
pub mod auth;
pub mod catalog;
pub mod channels;
pub mod conns;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod listener;
pub mod lock;
pub mod metrics;
pub mod presence;
pub mod reload;
pub mod rpc;
pub mod run;
pub mod runs;
pub mod serve;
pub mod settings;
pub mod state;
pub mod sys;
pub mod throttle;
pub mod tls;
pub mod token;
pub mod tools;
pub mod ws;

use std::time::Duration;

pub use error::{EXIT_CONFIG, GatewayError};
pub use http::tools::DEFAULT_DENY as DEFAULT_TOOL_DENY;
pub use run::run;
pub use settings::{RunOptions, Settings};
pub use state::{Activation, AppState, VERSION};

/// Connect timeout for model providers.
pub const PROVIDER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
