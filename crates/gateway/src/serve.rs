//! The accept loop: one task per listener, one hyper HTTP/1.1 connection per socket, and
//! the bookkeeping that keeps slow, silent and unauthenticated clients from holding the
//! port.
//!
//! Every accepted socket gets an entry in the generation's [`Sockets`] table and stays
//! there until its file descriptor is closed (an upgraded WebSocket keeps its entry).
//! The table enforces:
//!
//! * **Header timeout** ([`Limits::header_timeout`], 10 s): a fresh connection must deliver
//!   a complete request head within this time of being accepted; on a keep-alive connection,
//!   within this time of the first byte of the next request. Silent sockets and header
//!   dribblers are closed when it passes.
//! * **Idle timeout** ([`Limits::idle_timeout`], 30 s): a keep-alive connection with no
//!   request in flight and no byte of a new one is closed after this long. A request in
//!   flight (a long SSE stream included) is never idle.
//! * **Body-progress timeout** ([`Limits::body_timeout`], 30 s): a request body a handler
//!   is waiting for that delivers no data for this long is abandoned; the client gets
//!   `408` and the connection is closed. A write the peer does not take (it stopped reading)
//!   for this long closes the connection too, WebSockets included.
//! * **Caps on unauthenticated connections**: a connection is unauthenticated until a
//!   request on it passes the bearer check, or, for a WebSocket, until `hello-ok`
//!   ([`Ticket::authenticated`]). Per address ([`Limits::preauth_per_ip`], 32; IPv6 by /64)
//!   the excess is answered `503` at once, before anything is read. Loopback is exempt from
//!   the per-address cap while `gateway.auth.rateLimit.exemptLoopback` is on (the default):
//!   any local process may use any of 127/8's sixteen million source addresses, and a local
//!   reverse proxy puts every client on one. In total ([`Limits::preauth_total`], 1024), the
//!   oldest unauthenticated connection is dropped to make room, so a client that
//!   authenticates promptly always gets in.
//! * **An fd reserve**: past `soft limit - reserve` open descriptors (the reserve is an
//!   eighth of the soft `RLIMIT_NOFILE`, 32 to 1024), each accept first closes the oldest
//!   unauthenticated connection, then the oldest idle keep-alive one; if nothing can go, the
//!   newcomer gets `503`. The reserve stays free for what the process itself opens
//!   (provider sockets, transcripts, logs). When `accept` fails for lack of descriptors
//!   anyway, connections are shed the same way and the loop backs off (5 ms to 1 s) instead
//!   of spinning.
//! * **Declared chunk sizes**: each connection's inbound bytes are followed by a small
//!   framing scanner ([`framing`]) that sees what chunked bodies announce, which hyper does
//!   not expose. A handler that gives its cap ([`Ticket::limit_body`]) gets the body ended
//!   with [`DeclaredTooLarge`] (answered `413`) on the size line that passes it, not when
//!   the announced data has arrived or the body-progress timeout fires.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderValue, Request, Response, StatusCode, header};
use futures_util::task::AtomicWaker;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::throttle::EdgeLimits;

mod framing;

use crate::metrics::{HttpMethod, Metrics, Route};

/// Default [`Limits::header_timeout`].
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Limits::idle_timeout`].
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Limits::body_timeout`].
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Limits::preauth_per_ip`] (the original gateway's cap).
pub const PREAUTH_PER_IP: usize = 32;
/// Default [`Limits::preauth_total`].
pub const PREAUTH_TOTAL: usize = 1024;

/// Largest request head (and read buffer) hyper keeps per connection; a longer head is
/// answered `431`. Bounds what an unauthenticated connection can make the gateway hold.
const MAX_BUF: usize = 64 * 1024;
/// Most connections closed to make room for one accept.
const SHED_PER_ACCEPT: usize = 8;
/// How long a refused socket is given to take its `503` before it is closed.
const LINGER: Duration = Duration::from_secs(1);
/// Refused sockets lingering at once; beyond that a refusal is written once and closed.
const MAX_LINGERING: usize = 64;
/// Minimum gap between two warnings of the same kind (refusals, shedding, accept errors).
const WARN_EVERY_MS: u64 = 10_000;

/// The connection limits of one listener generation (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time to deliver a complete request head (`OPENCLAW_HTTP_HEADER_TIMEOUT_MS`).
    pub header_timeout: Duration,
    /// Time a keep-alive connection may sit with nothing in flight
    /// (`OPENCLAW_HTTP_IDLE_TIMEOUT_MS`).
    pub idle_timeout: Duration,
    /// Time a request body (or a response write) may make no progress
    /// (`OPENCLAW_HTTP_BODY_TIMEOUT_MS`).
    pub body_timeout: Duration,
    /// Unauthenticated connections per address (`OPENCLAW_PREAUTH_PER_IP`).
    pub preauth_per_ip: usize,
    /// Unauthenticated connections in total (`OPENCLAW_PREAUTH_MAX`).
    pub preauth_total: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: HEADER_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            preauth_per_ip: PREAUTH_PER_IP,
            preauth_total: PREAUTH_TOTAL,
        }
    }
}

const AUTHENTICATED: u8 = 1;
const UPGRADED: u8 = 2;
const SHED: u8 = 4;

/// One accepted socket. Times are milliseconds since [`Sockets::epoch`] plus one, so that
/// zero means "not set".
struct Entry {
    id: u64,
    /// The per-address bucket, or `None` when the address is exempt.
    bucket: Option<IpAddr>,
    /// `AUTHENTICATED | UPGRADED | SHED`; `AUTHENTICATED` and `SHED` change under the
    /// table lock only.
    flags: AtomicU8,
    in_flight: AtomicU32,
    /// Whether any request was received (the first one is under the header timeout from
    /// accept; later ones under the idle timeout, then the header timeout).
    served: AtomicBool,
    /// Accept time, or when the last response ended.
    since: AtomicU64,
    /// First byte of the next request head, while nothing is in flight.
    head_at: AtomicU64,
    /// Since when a write has been waiting for the peer to read.
    write_blocked: AtomicU64,
    read_waker: AtomicWaker,
    write_waker: AtomicWaker,
    /// Requests begun on this connection (the one in flight is number `requests`).
    requests: AtomicU64,
    /// The cap the current request's handler reads its body under (0: none given);
    /// [`Ticket::limit_body`].
    body_limit: AtomicU64,
    /// Which request the last chunk declaration ([`framing::Declared`]) belongs to, and
    /// its total.
    declared_request: AtomicU64,
    declared: AtomicU64,
    /// The body wrapper waiting for data, woken when a declaration passes the cap.
    body_waker: AtomicWaker,
    /// The current request's [`Route`] family (`as u8`), for the metrics.
    route: AtomicU8,
}

impl Entry {
    fn flags(&self) -> u8 {
        self.flags.load(Ordering::Acquire)
    }

    fn is_shed(&self) -> bool {
        self.flags() & SHED != 0
    }

    /// Records what the body being received has declared (from the read path).
    fn declare(&self, d: framing::Declared) {
        self.declared.store(d.total, Ordering::Relaxed);
        self.declared_request.store(d.request, Ordering::Release);
        let limit = self.body_limit.load(Ordering::Acquire);
        if limit != 0 && d.total > limit && self.requests.load(Ordering::Acquire) == d.request {
            self.body_waker.wake();
        }
    }

    /// The declaration of request `request`, when it passes the cap its handler gave.
    fn declared_past_cap(&self, request: u64) -> Option<DeclaredTooLarge> {
        if self.declared_request.load(Ordering::Acquire) != request {
            return None;
        }
        let limit = self.body_limit.load(Ordering::Acquire);
        let declared = self.declared.load(Ordering::Relaxed);
        (limit != 0 && declared > limit).then_some(DeclaredTooLarge { declared, limit })
    }
}

/// The error a request body ends with when its chunks declare more than the cap its
/// handler reads under ([`Ticket::limit_body`]): the body is refused on the size line,
/// before the data the client announced is sent. Handlers answer `413`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclaredTooLarge {
    /// Body bytes the chunk-size lines announced so far.
    pub declared: u64,
    /// The handler's cap.
    pub limit: u64,
}

impl std::fmt::Display for DeclaredTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request body declares {} bytes in its chunks; the limit is {}",
            self.declared, self.limit
        )
    }
}

impl std::error::Error for DeclaredTooLarge {}

#[derive(Default)]
struct Table {
    next_id: u64,
    /// Every socket whose descriptor is open, oldest first.
    conns: BTreeMap<u64, Arc<Entry>>,
    /// Unauthenticated, not shed, oldest first.
    preauth: BTreeSet<u64>,
    per_bucket: HashMap<IpAddr, usize>,
    /// Entries not shed (a shed socket is closing; its descriptor goes shortly).
    live: usize,
}

impl Table {
    fn uncount_preauth(&mut self, e: &Entry) {
        self.preauth.remove(&e.id);
        if let Some(b) = e.bucket
            && let Some(n) = self.per_bucket.get_mut(&b)
        {
            *n -= 1;
            if *n == 0 {
                self.per_bucket.remove(&b);
            }
        }
    }

    /// Closes `e` (its reads and writes fail from now on). False if it already was.
    fn shed(&mut self, e: &Entry) -> bool {
        let f = e.flags();
        if f & SHED != 0 {
            return false;
        }
        if f & AUTHENTICATED == 0 {
            self.uncount_preauth(e);
        }
        self.live -= 1;
        e.flags.fetch_or(SHED, Ordering::AcqRel);
        e.read_waker.wake();
        e.write_waker.wake();
        true
    }

    fn shed_oldest_preauth(&mut self) -> bool {
        while let Some(id) = self.preauth.first().copied() {
            match self.conns.get(&id).cloned() {
                Some(e) if self.shed(&e) => return true,
                _ => {
                    self.preauth.remove(&id);
                }
            }
        }
        false
    }

    /// The oldest unauthenticated connection, else the oldest idle keep-alive one.
    fn shed_oldest(&mut self) -> bool {
        if self.shed_oldest_preauth() {
            return true;
        }
        let idle = self
            .conns
            .values()
            .find(|e| {
                e.flags() & (SHED | UPGRADED) == 0 && e.in_flight.load(Ordering::Acquire) == 0
            })
            .cloned();
        idle.is_some_and(|e| self.shed(&e))
    }
}

/// Why a connection was refused at accept.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    PerAddress,
    NoDescriptors,
    /// `gateway.performance.maxConnections` open already.
    MaxConnections(usize),
}

/// The sockets of one listener generation, shared by its listeners (see the module docs).
pub struct Sockets {
    limits: Limits,
    /// `gateway.performance`: the connection cap and idle timeout, as reloaded.
    edge: Arc<EdgeLimits>,
    epoch: Instant,
    table: Mutex<Table>,
    exempt_loopback: Box<dyn Fn() -> bool + Send + Sync>,
    /// Descriptors open when the generation started (listeners, log, lock, runtime).
    baseline_fds: usize,
    lingering: AtomicUsize,
    last_warn: [AtomicU64; 4],
    /// Where requests are counted ([`Sockets::record_into`]).
    metrics: OnceLock<Arc<Metrics>>,
}

impl std::fmt::Debug for Sockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.lock();
        f.debug_struct("Sockets")
            .field("limits", &self.limits)
            .field("open", &t.conns.len())
            .field("unauthenticated", &t.preauth.len())
            .finish()
    }
}

impl Sockets {
    /// A table enforcing `limits`, and `edge` (`gateway.performance`, read at each accept
    /// and sweep so a reload applies to new connections at once). `exempt_loopback` says,
    /// at each accept, whether loopback peers are exempt from the per-address cap. Starts
    /// the sweeper that applies the timeouts; it ends when the table is dropped.
    pub fn new(
        limits: Limits,
        edge: Arc<EdgeLimits>,
        exempt_loopback: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Arc<Sockets> {
        let sockets = Arc::new(Sockets {
            limits,
            edge,
            epoch: Instant::now(),
            table: Mutex::new(Table::default()),
            exempt_loopback: Box::new(exempt_loopback),
            baseline_fds: open_fds().unwrap_or(0),
            lingering: AtomicUsize::new(0),
            last_warn: Default::default(),
            metrics: OnceLock::new(),
        });
        tokio::spawn(sweep(Arc::downgrade(&sockets)));
        sockets
    }

    /// How often the sweeper runs: a quarter of the shortest timeout, 25 ms to 1 s.
    fn tick(&self) -> Duration {
        self.limits
            .header_timeout
            .min(self.edge.idle_timeout())
            .min(self.limits.body_timeout)
            .checked_div(4)
            .unwrap_or_default()
            .clamp(Duration::from_millis(25), Duration::from_secs(1))
    }

    /// Counts every request served through this table in `metrics` (HTTP requests by
    /// route and code, time to first byte, total time). Set once; later calls are no-ops.
    pub fn record_into(&self, metrics: Arc<Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// Open sockets and, of those, unauthenticated ones (closing ones not counted).
    pub fn counts(&self) -> (usize, usize) {
        let t = self.lock();
        (t.live, t.preauth.len())
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    /// [`Sockets::now`] for an instant the caller already read.
    fn ms_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64 + 1
    }

    /// Whether a warning of `kind` may be logged now (at most one per `WARN_EVERY_MS`).
    fn may_warn(&self, kind: usize) -> bool {
        let now = self.now();
        let last = self.last_warn[kind].load(Ordering::Relaxed);
        (last == 0 || now.saturating_sub(last) >= WARN_EVERY_MS)
            && self.last_warn[kind]
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Registers a socket just accepted as descriptor `fd`, or says why it is refused.
    fn admit(&self, fd: usize, peer: IpAddr) -> Result<Arc<Entry>, Refusal> {
        let ip = peer.to_canonical();
        let bucket = if ip.is_loopback() && (self.exempt_loopback)() {
            None
        } else {
            Some(bucket(ip))
        };
        let soft = soft_nofile();
        let high = soft.saturating_sub(fd_reserve(soft));
        let now = self.now();
        let mut t = self.lock();
        if let Some(b) = bucket
            && t.per_bucket.get(&b).copied().unwrap_or(0) >= self.limits.preauth_per_ip
        {
            return Err(Refusal::PerAddress);
        }
        // The operator's cap counts every open connection, authenticated or not; the ones
        // open are never shed for a newcomer.
        if let Some(max) = self.edge.max_connections()
            && t.live >= max
        {
            return Err(Refusal::MaxConnections(max));
        }
        // The accepted descriptor is the lowest free one, so `fd + 1` descriptors are open,
        // less those of shed sockets still closing; the table gives the other estimate.
        let closing = t.conns.len() - t.live;
        let mut open = (fd + 1)
            .saturating_sub(closing)
            .max(self.baseline_fds + t.live + 1);
        let mut shed = 0;
        while open > high && shed < SHED_PER_ACCEPT && t.shed_oldest() {
            open -= 1;
            shed += 1;
        }
        if shed > 0 && self.may_warn(1) {
            tracing::warn!(target: "gateway", soft_limit = soft, open, shed, "near the open-file limit: closed the oldest unauthenticated or idle connections");
        }
        if open > high {
            return Err(Refusal::NoDescriptors);
        }
        if t.preauth.len() >= self.limits.preauth_total {
            t.shed_oldest_preauth();
        }
        t.next_id += 1;
        let id = t.next_id;
        let entry = Arc::new(Entry {
            id,
            bucket,
            flags: AtomicU8::new(0),
            in_flight: AtomicU32::new(0),
            served: AtomicBool::new(false),
            since: AtomicU64::new(now),
            head_at: AtomicU64::new(0),
            write_blocked: AtomicU64::new(0),
            read_waker: AtomicWaker::new(),
            write_waker: AtomicWaker::new(),
            requests: AtomicU64::new(0),
            body_limit: AtomicU64::new(0),
            declared_request: AtomicU64::new(0),
            declared: AtomicU64::new(0),
            body_waker: AtomicWaker::new(),
            route: AtomicU8::new(0),
        });
        t.conns.insert(id, entry.clone());
        t.preauth.insert(id);
        if let Some(b) = bucket {
            *t.per_bucket.entry(b).or_default() += 1;
        }
        t.live += 1;
        Ok(entry)
    }

    /// At `accept` failing for lack of descriptors: closes up to `n` connections.
    fn shed_for_descriptors(&self, n: usize) -> usize {
        let mut t = self.lock();
        (0..n).take_while(|_| t.shed_oldest()).count()
    }

    /// At shutdown: closes `e` unless a request is in flight or it was upgraded.
    fn shed_if_idle(&self, e: &Entry) {
        if e.flags() & UPGRADED == 0 && e.in_flight.load(Ordering::Acquire) == 0 {
            self.lock().shed(e);
        }
    }

    fn remove(&self, e: &Entry) {
        let mut t = self.lock();
        t.conns.remove(&e.id);
        let f = e.flags();
        if f & SHED == 0 {
            t.live -= 1;
            if f & AUTHENTICATED == 0 {
                t.uncount_preauth(e);
            }
        }
    }

    fn authenticate(&self, e: &Entry) {
        // Every authenticated request of a keep-alive connection lands here: after the
        // first, a flag check instead of the table lock.
        if e.flags() & (AUTHENTICATED | SHED) != 0 {
            return;
        }
        let mut t = self.lock();
        if e.flags() & (AUTHENTICATED | SHED) == 0 {
            t.uncount_preauth(e);
            e.flags.fetch_or(AUTHENTICATED, Ordering::AcqRel);
        }
    }

    /// Applies the header, idle and send-progress timeouts once.
    fn sweep_once(&self) {
        let now = self.now();
        let ms = |d: Duration| d.as_millis() as u64;
        let (header, idle, body) = (
            ms(self.limits.header_timeout),
            ms(self.edge.idle_timeout()),
            ms(self.limits.body_timeout),
        );
        let mut t = self.lock();
        let mut expired = Vec::new();
        for e in t.conns.values() {
            let f = e.flags();
            if f & SHED != 0 {
                continue;
            }
            let blocked = e.write_blocked.load(Ordering::Acquire);
            if blocked != 0 && now.saturating_sub(blocked) > body {
                expired.push((e.clone(), "the peer stopped reading"));
                continue;
            }
            if f & UPGRADED != 0 || e.in_flight.load(Ordering::Acquire) > 0 {
                continue;
            }
            let since = e.since.load(Ordering::Acquire);
            let head = e.head_at.load(Ordering::Acquire);
            let why = if !e.served.load(Ordering::Acquire) {
                (now.saturating_sub(since) > header).then_some("header timeout")
            } else if head != 0 {
                (now.saturating_sub(head) > header).then_some("header timeout")
            } else {
                (now.saturating_sub(since) > idle).then_some("idle timeout")
            };
            if let Some(why) = why {
                expired.push((e.clone(), why));
            }
        }
        for (e, why) in expired {
            if t.shed(&e) {
                tracing::debug!(target: "gateway", conn = e.id, reason = why, "closing connection");
            }
        }
    }

    /// Answers a refused socket with `503` and closes it, lingering briefly (so the answer
    /// is not lost to a reset) unless descriptors are short or many already linger.
    fn refuse(self: &Arc<Self>, stream: TcpStream, peer: SocketAddr, why: Refusal) {
        let kind = match why {
            Refusal::PerAddress => 0,
            Refusal::NoDescriptors => 2,
            Refusal::MaxConnections(_) => 3,
        };
        if self.may_warn(kind) {
            match why {
                Refusal::PerAddress => {
                    tracing::warn!(target: "gateway", ip = %peer.ip(), cap = self.limits.preauth_per_ip, "refusing connections: too many unauthenticated connections from this address (503)")
                }
                Refusal::NoDescriptors => {
                    tracing::warn!(target: "gateway", ip = %peer.ip(), "refusing connections: open-file limit nearly reached and nothing idle to close (503)")
                }
                Refusal::MaxConnections(max) => {
                    tracing::warn!(target: "gateway", ip = %peer.ip(), max, "refusing connections: gateway.performance.maxConnections reached (503)")
                }
            }
        }
        let message = match why {
            Refusal::PerAddress => {
                "too many unauthenticated connections from this address; authenticate or close some, then retry".to_owned()
            }
            Refusal::NoDescriptors => {
                "the gateway is at its connection limit; retry shortly".to_owned()
            }
            Refusal::MaxConnections(max) => format!(
                "the gateway is at gateway.performance.maxConnections ({max} open connections); retry shortly, or raise that limit"
            ),
        };
        let body = format!(r#"{{"error":{{"message":"{message}","type":"unavailable"}}}}"#);
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\n\
             content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\
             x-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\n\r\n{body}",
            body.len()
        );
        // Refused for a count (not for want of descriptors): linger so the answer is read.
        let counted = matches!(why, Refusal::PerAddress | Refusal::MaxConnections(_));
        let linger = counted && self.lingering.fetch_add(1, Ordering::AcqRel) < MAX_LINGERING;
        if !linger {
            if counted {
                self.lingering.fetch_sub(1, Ordering::AcqRel);
            }
            let _ = stream.try_write(answer.as_bytes());
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            answer_and_close(stream, answer.as_bytes()).await;
            me.lingering.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

async fn sweep(sockets: Weak<Sockets>) {
    loop {
        // Re-read each round: `gateway.performance.idleTimeout` may have been reloaded.
        let Some(tick) = sockets.upgrade().map(|s| s.tick()) else {
            return;
        };
        tokio::time::sleep(tick).await;
        let Some(s) = sockets.upgrade() else {
            return;
        };
        s.sweep_once();
    }
}

/// A connection's handle, in every request's extensions: lets the code that authenticates
/// a client take the connection off the unauthenticated counts.
#[derive(Clone)]
pub struct Ticket {
    sockets: Arc<Sockets>,
    entry: Arc<Entry>,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("conn", &self.entry.id)
            .finish()
    }
}

impl Ticket {
    /// The client on this connection authenticated (`hello-ok`, or a request that passed
    /// the bearer check): it no longer counts against the unauthenticated caps, and is shed
    /// at the fd limit only when it is an idle keep-alive connection.
    pub fn authenticated(&self) {
        self.sockets.authenticate(&self.entry);
    }

    /// [`Ticket::authenticated`] for the connection a request arrived on, if it came
    /// through the accept loop (router tests call the service without one).
    pub fn mark(extensions: &Extensions) {
        if let Some(t) = extensions.get::<Ticket>() {
            t.authenticated();
        }
    }

    /// The handler of the request these extensions belong to reads at most `limit` bytes
    /// of its body: from now on a chunked body whose size lines declare more ends at once
    /// with [`DeclaredTooLarge`], whether or not the announced data has arrived. No-op for
    /// a request that did not come through the accept loop.
    pub fn limit_body(extensions: &Extensions, limit: usize) {
        if let Some(t) = extensions.get::<Ticket>() {
            let e = &t.entry;
            e.body_limit.store(limit.max(1) as u64, Ordering::Release);
        }
    }

    /// Labels the request in flight on this connection with `route` in the metrics
    /// (handlers of configured paths, such as hooks, that the path table cannot know).
    pub fn route(&self, route: Route) {
        self.entry.route.store(route as u8, Ordering::Relaxed);
    }

    /// Starts a request; returns its guard and its number on the connection.
    fn begin_request(&self) -> (InFlight, u64) {
        let e = &self.entry;
        e.served.store(true, Ordering::Release);
        e.head_at.store(0, Ordering::Release);
        e.body_limit.store(0, Ordering::Release);
        let request = e.requests.fetch_add(1, Ordering::AcqRel) + 1;
        e.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight {
            sockets: self.sockets.clone(),
            entry: self.entry.clone(),
            done: None,
        };
        (guard, request)
    }
}

/// A request in flight; dropped when its response has been written (or abandoned).
struct InFlight {
    sockets: Arc<Sockets>,
    entry: Arc<Entry>,
    /// Observes the request's total time, in the table's metrics, when it ends.
    done: Option<(Route, Instant)>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // One clock read for both the metrics and the idle clock.
        let now = Instant::now();
        if let Some((route, started)) = self.done.take()
            && let Some(metrics) = self.sockets.metrics.get()
        {
            metrics.http_done(route, now.saturating_duration_since(started));
        }
        let e = &self.entry;
        // `since` first: the sweeper reads `in_flight` and then `since`.
        e.since.store(self.sockets.ms_at(now), Ordering::Release);
        e.head_at.store(0, Ordering::Release);
        e.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Removes the entry when the socket closes (declared before the stream in
/// [`TrackedIo`], so it drops first).
struct Registered {
    sockets: Arc<Sockets>,
    entry: Arc<Entry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.sockets.remove(&self.entry);
    }
}

/// The socket as hyper (and, once upgraded, the WebSocket) sees it: notes when bytes of a
/// request head arrive and when writes block, and fails every read and write once the
/// entry is shed. `S` is the TCP stream itself, or the TLS session over it (so the framing
/// scanner always sees plaintext); each is its own monomorphised type, so the plain path
/// pays nothing for TLS.
struct TrackedIo<S = TcpStream> {
    reg: Registered,
    stream: S,
    /// Follows the request framing for chunk-size declarations (off once upgraded).
    framing: framing::Framing,
}

fn shed_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection closed by the gateway")
}

impl<S> TrackedIo<S> {
    fn write_done<T>(&self, r: Poll<io::Result<T>>, cx: &Context<'_>) -> Poll<io::Result<T>> {
        let e = &self.reg.entry;
        match r {
            Poll::Pending => {
                if e.write_blocked.load(Ordering::Relaxed) == 0 {
                    e.write_blocked
                        .store(self.reg.sockets.now(), Ordering::Release);
                }
                e.write_waker.register(cx.waker());
                if e.is_shed() {
                    return Poll::Ready(Err(shed_error()));
                }
                Poll::Pending
            }
            ready => {
                if e.write_blocked.load(Ordering::Relaxed) != 0 {
                    e.write_blocked.store(0, Ordering::Release);
                }
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TrackedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let e = &this.reg.entry;
        let f = e.flags();
        if f & SHED != 0 {
            return Poll::Ready(Err(shed_error()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Pending => {
                e.read_waker.register(cx.waker());
                if e.is_shed() {
                    return Poll::Ready(Err(shed_error()));
                }
                Poll::Pending
            }
            Poll::Ready(r) => {
                if f & UPGRADED == 0 && buf.filled().len() > before {
                    if e.in_flight.load(Ordering::Acquire) == 0
                        && e.head_at.load(Ordering::Relaxed) == 0
                    {
                        e.head_at.store(this.reg.sockets.now(), Ordering::Release);
                    }
                    if !this.framing.is_off() {
                        this.framing.feed(&buf.filled()[before..], |d| e.declare(d));
                    }
                }
                Poll::Ready(r)
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TrackedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.reg.entry.is_shed() {
            return Poll::Ready(Err(shed_error()));
        }
        let r = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.write_done(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.reg.entry.is_shed() {
            return Poll::Ready(Err(shed_error()));
        }
        let r = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.write_done(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The error a stalled request body ends with.
#[derive(Debug)]
struct BodyStalled(Duration);

impl std::fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request body stalled: no data for {} ms",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for BodyStalled {}

/// A request body that fails with [`BodyStalled`] when the handler has waited
/// `timeout` for data that does not come; `stalled` tells the service to answer `408`.
struct ProgressBody {
    inner: Incoming,
    /// The connection's entry and this request's number on it, for chunk declarations
    /// past the handler's cap ([`Ticket::limit_body`]).
    entry: Arc<Entry>,
    request: u64,
    timeout: Duration,
    /// Armed (created or reset) when a wait for data begins; created on the first wait,
    /// so a request without a body never allocates a timer.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    armed: bool,
    stalled: Arc<AtomicBool>,
}

impl hyper::body::Body for ProgressBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.stalled.load(Ordering::Relaxed) {
            return Poll::Ready(Some(Err(Box::new(BodyStalled(self.timeout)))));
        }
        if let Some(e) = self.entry.declared_past_cap(self.request) {
            return Poll::Ready(Some(Err(Box::new(e))));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.armed = false;
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                // The read that just returned nothing new may have carried a size line.
                self.entry.body_waker.register(cx.waker());
                if let Some(e) = self.entry.declared_past_cap(self.request) {
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
                let deadline = tokio::time::Instant::now() + self.timeout;
                let rearm = !std::mem::replace(&mut self.armed, true);
                let sleep = match &mut self.sleep {
                    Some(sleep) => {
                        if rearm {
                            sleep.as_mut().reset(deadline);
                        }
                        sleep
                    }
                    empty => empty.insert(Box::pin(tokio::time::sleep_until(deadline))),
                };
                if sleep.as_mut().poll(cx).is_ready() {
                    self.stalled.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(Box::new(BodyStalled(self.timeout)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that ends the request's [`InFlight`] when hyper is done with it.
struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One request: the peer address and the [`Ticket`] go into its extensions, its body is
/// watched for progress, and its response body ends the request's time in flight.
async fn handle(
    req: Request<Incoming>,
    router: Router,
    ticket: Ticket,
    peer: SocketAddr,
) -> Result<Response<TrackedBody>, Infallible> {
    let started = Instant::now();
    let (mut in_flight, request) = ticket.begin_request();
    let timeout = ticket.sockets.limits.body_timeout;
    let (mut parts, body) = req.into_parts();
    let method = HttpMethod::of(&parts.method);
    ticket.route(Route::of_path(parts.uri.path()));
    parts.extensions.insert(ConnectInfo(peer));
    parts.extensions.insert(ticket.clone());
    // A request without a body (most GETs) has nothing to stall on: no watch, no
    // allocation for it.
    let stalled =
        (!hyper::body::Body::is_end_stream(&body)).then(|| Arc::new(AtomicBool::new(false)));
    let body = match &stalled {
        Some(flag) => Body::new(ProgressBody {
            inner: body,
            entry: ticket.entry.clone(),
            request,
            timeout,
            sleep: None,
            armed: false,
            stalled: flag.clone(),
        }),
        None => Body::new(body),
    };
    // `gateway.performance.requestTimeout` bounds the time to the response head; an
    // upgrade (WebSocket) is a connection, not a request, and is not bounded by it.
    let deadline = ticket
        .sockets
        .edge
        .request_timeout()
        .filter(|_| !parts.headers.contains_key(header::UPGRADE));
    let call = router.oneshot(Request::from_parts(parts, body));
    let answered = match deadline {
        None => Ok(call.await),
        Some(limit) => tokio::time::timeout(limit, call).await.map_err(|_| limit),
    };
    let res = match answered {
        Ok(Ok(res)) => res,
        Ok(Err(never)) => match never {},
        Err(limit) => {
            tracing::warn!(target: "gateway", conn = ticket.entry.id, timeout_ms = limit.as_millis() as u64, "request timed out before its response head; answering 504");
            timeout_response(limit)
        }
    };
    let res = if stalled.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
        tracing::debug!(target: "gateway", conn = ticket.entry.id, "request body stalled; answering 408");
        stalled_response(timeout)
    } else {
        if res.status() == StatusCode::SWITCHING_PROTOCOLS {
            ticket.entry.flags.fetch_or(UPGRADED, Ordering::AcqRel);
            ticket.route(Route::WebSocket);
        }
        res
    };
    if let Some(m) = ticket.sockets.metrics.get() {
        let route = Route::from_u8(ticket.entry.route.load(Ordering::Relaxed));
        m.http_head(route, method, res.status().as_u16(), started);
        in_flight.done = Some((route, started));
    }
    Ok(res.map(|inner| TrackedBody {
        inner,
        _in_flight: in_flight,
    }))
}

/// `504` in the OpenAI error shape for a request past `gateway.performance.requestTimeout`.
fn timeout_response(limit: Duration) -> Response<Body> {
    let body = format!(
        r#"{{"error":{{"message":"the gateway did not answer within {} ms (gateway.performance.requestTimeout); retry, or raise the timeout","type":"timeout","param":null,"code":"request_timeout"}}}}"#,
        limit.as_millis()
    );
    json_error(StatusCode::GATEWAY_TIMEOUT, body)
}

/// `408` for a request body that stopped arriving; the connection closes after it.
fn stalled_response(timeout: Duration) -> Response<Body> {
    let body = format!(
        r#"{{"error":{{"message":"request body stalled: no data for {} ms; send the body without pausing","type":"request_timeout"}}}}"#,
        timeout.as_millis()
    );
    let mut res = json_error(StatusCode::REQUEST_TIMEOUT, body);
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// An answer the accept loop makes itself, outside the router (whose edge layer adds
/// `Referrer-Policy` to the rest): JSON `body` with `status` and the security headers.
fn json_error(status: StatusCode, body: String) -> Response<Body> {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, closes
/// connections with no request in flight (a half-sent head included), lets the others
/// finish theirs (hyper's graceful shutdown; upgraded sockets are closed by their own
/// code), and returns when they are gone. With `tls`, every connection handshakes first
/// (see [`spawn_tls_connection`]).
pub async fn serve_listener(
    listener: TcpListener,
    router: Router,
    sockets: Arc<Sockets>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (signal_tx, signal_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(signal_rx);
    });
    let (close_tx, close_rx) = watch::channel(());
    let addr = listener.local_addr().ok();
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = signal_tx.closed() => break,
        };
        let pause = match accepted {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(5);
                // Small frames (challenge, hello-ok, deltas) must not wait for Nagle +
                // delayed ACK.
                let _ = stream.set_nodelay(true);
                let fd = usize::try_from(stream.as_raw_fd()).unwrap_or(0);
                match (sockets.admit(fd, peer.ip()), &tls) {
                    (Ok(entry), None) => spawn_connection(
                        stream,
                        peer,
                        &sockets,
                        entry,
                        router.clone(),
                        &signal_tx,
                        &close_rx,
                    ),
                    (Ok(entry), Some(acceptor)) => spawn_tls_connection(
                        stream,
                        peer,
                        &sockets,
                        entry,
                        acceptor.clone(),
                        router.clone(),
                        &signal_tx,
                        &close_rx,
                    ),
                    (Err(why), _) => sockets.refuse(stream, peer, why),
                }
                continue;
            }
            Err(e) if is_connection_error(&e) => continue,
            Err(e) if is_out_of_descriptors(&e) => {
                let shed = sockets.shed_for_descriptors(SHED_PER_ACCEPT);
                if sockets.may_warn(1) {
                    tracing::warn!(target: "gateway", addr = ?addr, error = %e, shed, "accept failed: out of file descriptors; closed the oldest unauthenticated or idle connections");
                }
                if shed > 0 {
                    Duration::from_millis(5)
                } else {
                    backoff
                }
            }
            Err(e) => {
                if sockets.may_warn(1) {
                    tracing::error!(target: "gateway", addr = ?addr, error = %e, "accept failed");
                }
                backoff
            }
        };
        backoff = (backoff * 2).min(Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = signal_tx.closed() => break,
        }
    }
    drop(close_rx);
    drop(listener);
    close_tx.closed().await;
}

fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    sockets: &Arc<Sockets>,
    entry: Arc<Entry>,
    router: Router,
    signal_tx: &watch::Sender<()>,
    close_rx: &watch::Receiver<()>,
) {
    let reg = Registered {
        sockets: sockets.clone(),
        entry,
    };
    tokio::spawn(serve_connection(
        reg,
        stream,
        peer,
        router,
        signal_tx.clone(),
        close_rx.clone(),
    ));
}

/// The answer to a client that speaks plain HTTP to a TLS port.
const PLAIN_ON_TLS: &str = "this port speaks TLS; use https:// or wss://\n";

/// [`spawn_connection`] for a TLS listener. The handshake runs in the connection's task,
/// under the same rules as a request head: the socket counts as unauthenticated, and the
/// header timeout from accept (or shedding for room) closes a client that does not finish
/// it. A client whose first byte is not a TLS handshake record is speaking plain HTTP: it
/// gets a plaintext `400` saying to use `https://`/`wss://`, and the connection closes.
#[allow(clippy::too_many_arguments)]
fn spawn_tls_connection(
    stream: TcpStream,
    peer: SocketAddr,
    sockets: &Arc<Sockets>,
    entry: Arc<Entry>,
    acceptor: tokio_rustls::TlsAcceptor,
    router: Router,
    signal_tx: &watch::Sender<()>,
    close_rx: &watch::Receiver<()>,
) {
    let reg = Registered {
        sockets: sockets.clone(),
        entry,
    };
    let signal_tx = signal_tx.clone();
    let close_rx = close_rx.clone();
    tokio::spawn(async move {
        let entry = reg.entry.clone();
        // Shed (header timeout, room for others, shutdown) ends the handshake at once.
        let shed = std::future::poll_fn(|cx| {
            entry.read_waker.register(cx.waker());
            if entry.is_shed() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        let handshake = async {
            let mut first = [0u8; 1];
            match stream.peek(&mut first).await {
                Ok(1) if crate::tls::is_handshake_record(first[0]) => {}
                Ok(1) => {
                    refuse_plain(stream).await;
                    return None;
                }
                _ => return None,
            }
            match acceptor.accept(stream).await {
                Ok(tls) => Some(tls),
                Err(e) => {
                    tracing::debug!(target: "gateway", conn = entry.id, error = %e, "TLS handshake failed");
                    None
                }
            }
        };
        let tls = tokio::select! {
            r = handshake => r,
            // The sweeper's header timeout (a socket not yet served) sheds it.
            _ = shed => None,
            _ = signal_tx.closed() => None,
        };
        if let Some(tls) = tls {
            serve_connection(reg, tls, peer, router, signal_tx, close_rx).await;
        }
    });
}

/// Answers plain HTTP on a TLS port with `400` in plaintext and closes.
async fn refuse_plain(stream: TcpStream) {
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{PLAIN_ON_TLS}",
        PLAIN_ON_TLS.len()
    );
    answer_and_close(stream, answer.as_bytes()).await;
}

/// Writes `answer` to a socket the gateway is refusing and closes it, first reading what
/// the client sent meanwhile (bounded, for at most [`LINGER`]) so the close does not reset
/// the connection before the answer is read.
async fn answer_and_close(mut stream: TcpStream, answer: &[u8]) {
    let _ = tokio::time::timeout(LINGER, async {
        if stream.write_all(answer).await.is_ok() {
            let _ = stream.shutdown().await;
            let mut buf = [0u8; 4096];
            let mut seen = 0usize;
            while seen < MAX_BUF {
                match tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen += n,
                }
            }
        }
    })
    .await;
}

/// One connection's hyper HTTP/1.1 server over `stream` (TCP or TLS), until it closes or
/// shutdown has closed it.
async fn serve_connection<S>(
    reg: Registered,
    stream: S,
    peer: SocketAddr,
    router: Router,
    signal_tx: watch::Sender<()>,
    close_rx: watch::Receiver<()>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ticket = Ticket {
        sockets: reg.sockets.clone(),
        entry: reg.entry.clone(),
    };
    let sockets = reg.sockets.clone();
    let entry = reg.entry.clone();
    let io = TrackedIo {
        reg,
        stream,
        framing: framing::Framing::default(),
    };
    let service =
        hyper::service::service_fn(move |req| handle(req, router.clone(), ticket.clone(), peer));
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder.http1().keep_alive(true).max_buf_size(MAX_BUF);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut signalled = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::trace!(target: "gateway", error = %e, "connection ended with an error");
                }
                break;
            }
            _ = signal_tx.closed(), if !signalled => {
                signalled = true;
                conn.as_mut().graceful_shutdown();
                // hyper waits for a request head that has begun; nothing is in flight
                // yet, so there is nothing to finish.
                sockets.shed_if_idle(&entry);
            }
        }
    }
    drop(close_rx);
}

/// Errors of one connection that `accept` reports; the next accept is fine.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    use rustix::io::Errno;
    [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
        .iter()
        .any(|n| e.raw_os_error() == Some(n.raw_os_error()))
}

/// The per-address bucket: the address, or its /64 for IPv6 (one host's usual share).
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if !v6.is_loopback() => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        other => other,
    }
}

/// The soft `RLIMIT_NOFILE` (read at each accept: it can be changed from outside).
fn soft_nofile() -> usize {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX)
}

/// Descriptors kept free for the process's own use below a soft limit of `soft`.
fn fd_reserve(soft: usize) -> usize {
    (soft / 8).clamp(32, 1024)
}

/// Descriptors open in this process, if `/proc` says.
pub(crate) fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(l: &Limits) -> Arc<EdgeLimits> {
        Arc::new(EdgeLimits::new(
            &openclaw_config::edge::PerformanceConfig::default(),
            l.idle_timeout,
        ))
    }

    #[test]
    fn buckets_and_reserve() {
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(bucket(v6), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(bucket(v4), v4);
        assert_eq!(fd_reserve(256), 32);
        assert_eq!(fd_reserve(20_000), 1024);
        assert_eq!(fd_reserve(64), 32);
    }

    #[tokio::test]
    async fn per_address_cap_counts_only_unauthenticated() {
        let limits = Limits {
            preauth_per_ip: 2,
            ..Limits::default()
        };
        let s = Sockets::new(limits.clone(), edge(&limits), || true);
        let lan: IpAddr = "192.0.2.1".parse().unwrap();
        let a = s.admit(10, lan).unwrap();
        let _b = s.admit(11, lan).unwrap();
        assert!(matches!(s.admit(12, lan), Err(Refusal::PerAddress)));
        // Loopback is exempt from the per-address cap while the limiter exempts it.
        for fd in 13..20 {
            s.admit(fd, IpAddr::from([127, 0, 0, 1])).unwrap();
        }
        s.authenticate(&a);
        assert!(s.admit(20, lan).is_ok());
        assert_eq!(s.counts(), (10, 9));
        s.remove(&a);
        assert_eq!(s.counts(), (9, 9));
    }

    #[tokio::test]
    async fn total_cap_sheds_the_oldest_unauthenticated() {
        let limits = Limits {
            preauth_total: 3,
            ..Limits::default()
        };
        let s = Sockets::new(limits.clone(), edge(&limits), || true);
        let lo = IpAddr::from([127, 0, 0, 1]);
        let first = s.admit(10, lo).unwrap();
        let second = s.admit(11, lo).unwrap();
        s.authenticate(&second);
        let third = s.admit(12, lo).unwrap();
        let fourth = s.admit(13, lo).unwrap();
        let fifth = s.admit(14, lo).unwrap();
        assert!(first.is_shed(), "the oldest unauthenticated goes first");
        assert!(!second.is_shed() && !third.is_shed() && !fourth.is_shed());
        assert!(!fifth.is_shed());
        assert_eq!(s.counts().1, 3);
    }

    #[tokio::test]
    async fn descriptor_pressure_sheds_before_refusing() {
        let s = Sockets::new(Limits::default(), edge(&Limits::default()), || true);
        let soft = soft_nofile();
        if soft > 1 << 20 {
            return; // unlimited here: nothing to test
        }
        let high = soft - fd_reserve(soft);
        let lo = IpAddr::from([127, 0, 0, 1]);
        let old = s.admit(10, lo).unwrap();
        // Descriptor `high` means `high + 1` are open: one over, so the oldest goes.
        let new = s.admit(high, lo).unwrap();
        assert!(old.is_shed());
        assert!(!new.is_shed());
        // An authenticated WebSocket is never shed: with nothing else to close, refuse.
        s.authenticate(&new);
        new.flags.fetch_or(UPGRADED, Ordering::AcqRel);
        assert!(matches!(s.admit(high + 5, lo), Err(Refusal::NoDescriptors)));
    }
}
