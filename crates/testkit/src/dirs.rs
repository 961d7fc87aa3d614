//! Private directories and ports.

use std::path::Path;

/// A private directory, removed on drop (a thin wrapper over [`tempfile::TempDir`] whose
/// name says which test made it, for when one is left behind by a killed run).
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    /// Creates `$TMPDIR/oc-test-<tag>-XXXX`.
    pub fn new(tag: &str) -> TempDir {
        TempDir(
            tempfile::Builder::new()
                .prefix(&format!("oc-test-{tag}-"))
                .tempdir()
                .expect("create temp dir"),
        )
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A loopback port that was free a moment ago (the listener is closed before returning),
/// for tests that must name a port up front, e.g. to move a gateway onto it.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral loopback port")
        .local_addr()
        .expect("read the bound address")
        .port()
}
