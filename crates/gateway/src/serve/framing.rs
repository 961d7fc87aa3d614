//! Follows the request framing of one HTTP/1.1 connection's inbound bytes, just far enough to
//! see what a chunked body *declares*.
//!
//! hyper hands a handler the chunk data that has arrived, never the chunk sizes the client
//! announced. Without this, a client that declares a 1 GiB chunk and then sends nothing (or
//! dribbles) keeps its request open until the body-progress timeout, although the answer —
//! 413 — is known from the size line. With it, the accept loop records each declaration
//! in the connection's entry and the body wrapper refuses the body as soon as the
//! declarations pass the cap the handler reads under.
//!
//! Sans-IO: [`Framing::feed`] takes the bytes of each read in order and returns the latest
//! declaration; it never blocks and keeps at most one partial request head. hyper stays the
//! parser of record: where the bytes stop looking like the requests this scanner understands
//! (an upgrade, `CONNECT`, a head hyper will refuse, a transfer coding other than `chunked`,
//! broken chunk framing) the scanner turns itself off for the rest of the connection, which
//! then keeps the plain behaviour (the cap is enforced on the bytes that arrive).

/// Longest request head followed: the bound hyper is given, past which it answers `431`.
const MAX_HEAD: usize = super::MAX_BUF;
/// Most header lines in a head; hyper's own default maximum.
const MAX_HEADERS: usize = 100;

/// What the body of the request being received has declared so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Declared {
    /// The request's position on the connection, from 1 (hyper serves them in this order).
    pub request: u64,
    /// Sum of the chunk sizes its body declared, the chunk being announced included.
    pub total: u64,
}

/// The framing state of one connection's inbound byte stream.
#[derive(Debug)]
pub(crate) struct Framing {
    state: State,
    /// A request head split across reads (empty, and without capacity, otherwise).
    head: Vec<u8>,
    /// Request heads seen.
    requests: u64,
    /// Chunk sizes the current request's body declared, summed.
    declared: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between requests, or inside a head.
    Head,
    /// Inside a `Content-Length` body: bytes left.
    Fixed(u64),
    /// Inside a chunk-size line; `ext` once past the digits (extensions, whitespace).
    Size { value: u64, digits: u32, ext: bool },
    /// Inside chunk data: bytes left.
    Data(u64),
    /// After chunk data, before its line end.
    DataEnd,
    /// In the trailer section; `at_start` at the beginning of a line.
    Trailer { at_start: bool },
    /// Not following this connection any more.
    Off,
}

/// How the body of a complete head is framed.
enum Body {
    None,
    Fixed(u64),
    Chunked,
    /// Not followed (see the module docs).
    Unknown,
}

impl Default for Framing {
    fn default() -> Self {
        Framing {
            state: State::Head,
            head: Vec::new(),
            requests: 0,
            declared: 0,
        }
    }
}

impl Framing {
    /// Whether the scanner has stopped following this connection.
    pub(crate) fn is_off(&self) -> bool {
        self.state == State::Off
    }

    /// Follows the next bytes read from the connection, calling `on` with each declaration
    /// made in them, in order (a chunk-size line cut short by the read counts with the
    /// digits so far: more digits only make it larger).
    pub(crate) fn feed(&mut self, mut input: &[u8], mut on: impl FnMut(Declared)) {
        while !input.is_empty() {
            match self.state {
                State::Off => return,
                State::Head => match self.head_step(input) {
                    Some(rest) => input = rest,
                    None => return,
                },
                State::Fixed(left) => {
                    let n = left.min(input.len() as u64);
                    input = &input[n as usize..];
                    self.state = if n == left {
                        State::Head
                    } else {
                        State::Fixed(left - n)
                    };
                }
                State::Data(left) => {
                    let n = left.min(input.len() as u64);
                    input = &input[n as usize..];
                    self.state = if n == left {
                        State::DataEnd
                    } else {
                        State::Data(left - n)
                    };
                }
                State::Size { value, digits, ext } => {
                    let b = input[0];
                    input = &input[1..];
                    self.size_byte(b, value, digits, ext, &mut on);
                }
                State::DataEnd => {
                    let b = input[0];
                    input = &input[1..];
                    self.state = match b {
                        b'\r' => State::DataEnd,
                        b'\n' => State::Size {
                            value: 0,
                            digits: 0,
                            ext: false,
                        },
                        _ => State::Off,
                    };
                }
                State::Trailer { at_start } => {
                    let b = input[0];
                    input = &input[1..];
                    self.state = match b {
                        b'\n' if at_start => State::Head,
                        b'\n' => State::Trailer { at_start: true },
                        b'\r' => State::Trailer { at_start },
                        _ => State::Trailer { at_start: false },
                    };
                }
            }
        }
        if let State::Size { value, .. } = self.state
            && value > 0
        {
            on(Declared {
                request: self.requests,
                total: self.declared.saturating_add(value),
            });
        }
    }

    fn size_byte(
        &mut self,
        b: u8,
        value: u64,
        digits: u32,
        ext: bool,
        on: &mut impl FnMut(Declared),
    ) {
        self.state = match b {
            b'\n' if digits == 0 => State::Off,
            b'\n' if value == 0 => State::Trailer { at_start: true },
            b'\n' => {
                self.declared = self.declared.saturating_add(value);
                on(Declared {
                    request: self.requests,
                    total: self.declared,
                });
                State::Data(value)
            }
            b'\r' => State::Size { value, digits, ext },
            _ if ext => State::Size { value, digits, ext },
            b';' | b' ' | b'\t' if digits > 0 => State::Size {
                value,
                digits,
                ext: true,
            },
            _ => match (b as char).to_digit(16) {
                Some(d) => State::Size {
                    // Past sixteen digits hyper refuses the body; until its answer, the
                    // declaration counts as the largest there is.
                    value: value.checked_mul(16).map_or(u64::MAX, |v| v | u64::from(d)),
                    digits: digits + 1,
                    ext: false,
                },
                None => State::Off,
            },
        };
    }

    /// Consumes bytes of a request head; returns what follows a completed head, or `None`
    /// when all of `input` was taken (or the scanner turned off).
    fn head_step<'a>(&mut self, input: &'a [u8]) -> Option<&'a [u8]> {
        let (parsed, used) = if self.head.is_empty() {
            match classify(input) {
                Ok(Some((len, body))) => ((len, body), len),
                Ok(None) if input.len() < MAX_HEAD => {
                    self.head.extend_from_slice(input);
                    return None;
                }
                _ => {
                    self.state = State::Off;
                    return None;
                }
            }
        } else {
            let old = self.head.len();
            let take = input.len().min(MAX_HEAD - old);
            self.head.extend_from_slice(&input[..take]);
            // A head ends in a line end: no need to parse again until one arrives.
            if !input[..take].contains(&b'\n') {
                if self.head.len() >= MAX_HEAD {
                    self.state = State::Off;
                }
                return None;
            }
            match classify(&self.head) {
                Ok(Some((len, body))) => ((len, body), len - old),
                Ok(None) if self.head.len() < MAX_HEAD => return None,
                _ => {
                    self.state = State::Off;
                    return None;
                }
            }
        };
        self.head = Vec::new();
        self.requests += 1;
        self.declared = 0;
        self.state = match parsed.1 {
            Body::None | Body::Fixed(0) => State::Head,
            Body::Fixed(n) => State::Fixed(n),
            Body::Chunked => State::Size {
                value: 0,
                digits: 0,
                ext: false,
            },
            Body::Unknown => State::Off,
        };
        Some(&input[used..])
    }
}

/// Parses a request head at the start of `buf`: its length and body framing once it is
/// complete, `None` while it is not, `Err` when it is not a head hyper would serve.
fn classify(buf: &[u8]) -> Result<Option<(usize, Body)>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    if req.method == Some("CONNECT") {
        return Ok(Some((len, Body::Unknown)));
    }
    let mut chunked = None;
    let mut length: Option<u64> = None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // The last coding frames the message; only `chunked` is followed.
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value.trim_ascii())
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            match (n, length) {
                (Some(n), None) => length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => return Ok(Some((len, Body::Unknown))),
            }
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            // Past a `101` the bytes are no longer HTTP/1.1.
            return Ok(Some((len, Body::Unknown)));
        }
    }
    let body = match (chunked, length) {
        (Some(true), _) => Body::Chunked,
        (Some(false), _) => Body::Unknown,
        (None, Some(n)) => Body::Fixed(n),
        (None, None) => Body::None,
    };
    Ok(Some((len, body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest total each request declared, fed in the given pieces.
    fn declarations(pieces: &[&[u8]]) -> (Vec<(u64, u64)>, bool) {
        let mut f = Framing::default();
        let mut seen: Vec<(u64, u64)> = Vec::new();
        for p in pieces {
            f.feed(p, |d| match seen.last_mut() {
                Some(last) if last.0 == d.request => {
                    assert!(d.total >= last.1, "totals only grow: {d:?} after {last:?}");
                    last.1 = d.total;
                }
                _ => seen.push((d.request, d.total)),
            });
        }
        (seen, f.is_off())
    }

    const STREAM: &[u8] = b"\
GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n\
POST /hooks/wake HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n0\r\n\r\nabcdef\
POST /tools/invoke HTTP/1.1\r\nHost: a\r\ntransfer-encoding: gzip, Chunked\r\n\r\n\
5;name=value\r\nhello\r\n10 \r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n\
POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
4\r\nabcd\r\n40000000\r\nxyz";

    const EXPECTED: &[(u64, u64)] = &[(3, 0x15), (4, 0x4000_0004)];

    #[test]
    fn whole_stream() {
        assert_eq!(declarations(&[STREAM]), (EXPECTED.to_vec(), false));
    }

    #[test]
    fn every_split_point_gives_the_same_declarations() {
        for cut in 0..=STREAM.len() {
            let (a, b) = STREAM.split_at(cut);
            let (seen, off) = declarations(&[a, b]);
            assert!(!off, "cut at {cut}");
            assert_eq!(seen, EXPECTED, "cut at {cut}");
        }
    }

    #[test]
    fn byte_by_byte_reports_a_size_line_before_it_ends() {
        let pieces: Vec<&[u8]> = STREAM.chunks(1).collect();
        let (seen, off) = declarations(&pieces);
        assert!(!off);
        assert_eq!(seen, EXPECTED);
        // The size line alone, cut before its line end, is already a declaration.
        let mut f = Framing::default();
        let mut seen = Vec::new();
        let head = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        f.feed(head, |d| seen.push(d));
        assert_eq!(seen, []);
        f.feed(b"7fffffff", |d| seen.push(d));
        assert_eq!(
            seen,
            [Declared {
                request: 1,
                total: 0x7fff_ffff
            }]
        );
    }

    #[test]
    fn an_overlong_size_counts_as_the_largest() {
        let (seen, _) = declarations(&[
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"fffffffffffffffffffff\r\n",
        ]);
        assert_eq!(seen, [(1, u64::MAX)]);
    }

    #[test]
    fn what_is_not_followed_turns_the_scanner_off() {
        let cases: &[&[u8]] = &[
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello",
            b"CONNECT a:443 HTTP/1.1\r\n\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ];
        for c in cases {
            let (_, off) = declarations(&[c]);
            assert!(off, "{}", String::from_utf8_lossy(c));
        }
    }

    #[test]
    fn a_head_longer_than_hyper_takes_turns_it_off() {
        let mut f = Framing::default();
        f.feed(b"GET / HTTP/1.1\r\nX-Long: ", |_| {});
        let filler = vec![b'a'; 4096];
        for _ in 0..16 {
            f.feed(&filler, |_| {});
        }
        assert!(f.is_off());
        assert!(f.head.capacity() <= 2 * MAX_HEAD);
    }

    #[test]
    fn keep_alive_requests_without_bodies_keep_no_buffer() {
        let mut f = Framing::default();
        for _ in 0..1000 {
            f.feed(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", |d| {
                panic!("{d:?}")
            });
        }
        assert_eq!(f.requests, 1000);
        assert_eq!(f.head.capacity(), 0);
    }
}
