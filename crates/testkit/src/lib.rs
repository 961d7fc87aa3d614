//! Test helpers shared by the integration tests of the gateway and the CLI.
//!
//! One home for what every suite needs, so no test file carries its own copy: private
//! temp dirs ([`TempDir`]), WebSocket protocol helpers ([`open`], [`connect`], [`call`],
//! …), a private PostgreSQL server ([`Postgres`]), a raw HTTP/1.1 GET ([`http_get`]), raw WebSocket frames and HTTP heads ([`raw`]), and the gateway itself in-process
//! ([`TestGateway`] on port 0, [`TestState`] for `router(state).oneshot(...)`).
//!
//! Everything here panics on failure with a message naming what did not happen: these
//! are test assertions, not library code.

mod dirs;
mod gateway;
mod http;
pub mod postgres;
pub mod raw;
mod ws;

pub use dirs::{TempDir, free_port};
pub use gateway::{TestGateway, TestState};
pub use http::http_get;
pub use postgres::Postgres;
pub use ws::*;
