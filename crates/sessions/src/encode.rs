//! Reversible, file-system-safe encoding of session names (and agent ids).
//!
//! Bytes in `[A-Za-z0-9._-]` are kept; every other byte becomes `%XX` (upper-case hex).
//! A `.` at the start of a path component is encoded too, so a component can never be
//! `.`, `..` or a hidden file. `/`, `\`, `:` and NUL are always encoded, so a name can
//! never escape its directory whatever it contains.
//!
//! Names may be 200 characters of 4-byte UTF-8, i.e. up to 2,400 encoded bytes, while
//! most file systems cap one path component at 255 bytes. An encoded name longer than
//! [`MAX_COMPONENT_BYTES`] is therefore split into several components: every one but the
//! last becomes a directory named `<chunk>.d`, the last the file `<chunk>.jsonl`. Since
//! `/` never appears in the encoding, concatenating the chunks gives back the encoded
//! name unambiguously, and the suffixes keep directories, live transcripts and reset
//! archives (`.jsonl.reset.<ms>`) from ever sharing a name.

/// Largest encoded chunk per path component. Leaves room under the usual 255-byte limit
/// for `.jsonl` plus `.reset.` and a 20-digit timestamp.
pub(crate) const MAX_COMPONENT_BYTES: usize = 200;

/// Suffix of the directories that hold the continuation of a long encoded name.
pub(crate) const DIR_SUFFIX: &str = ".d";

/// Encoding of the empty string. A lone `%` can never be decoded, so it collides with
/// no real name; only hand-built invalid keys can produce it.
const EMPTY: &str = "%";

fn is_kept(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'
}

fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0f)]));
}

/// Encodes `raw` as one path component (no splitting). Used for agent ids, which are at
/// most 64 bytes; a valid agent id is returned unchanged.
pub(crate) fn encode_component(raw: &str) -> String {
    if raw.is_empty() {
        return EMPTY.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    for (i, &b) in raw.as_bytes().iter().enumerate() {
        if is_kept(b) && !(i == 0 && b == b'.') {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
    }
    out
}

/// Encodes `raw` as a list of path-component chunks, each at most
/// [`MAX_COMPONENT_BYTES`] long and none starting with `.`. Most names give one chunk.
pub(crate) fn encode_chunks(raw: &str) -> Vec<String> {
    if raw.is_empty() {
        return vec![EMPTY.to_owned()];
    }
    let mut chunks = Vec::new();
    let mut current = String::new();
    for &b in raw.as_bytes() {
        let width = if is_kept(b) { 1 } else { 3 };
        if current.len() + width > MAX_COMPONENT_BYTES {
            chunks.push(std::mem::take(&mut current));
        }
        if is_kept(b) && !(current.is_empty() && b == b'.') {
            current.push(char::from(b));
        } else {
            push_escaped(&mut current, b);
        }
    }
    chunks.push(current);
    chunks
}

/// Inverse of [`encode_chunks`] / [`encode_component`] on the concatenated chunks.
///
/// Returns `None` for anything the encoder could not have produced in spirit: a byte
/// outside the kept set, a malformed or lower-case `%XX`, or bytes that are not UTF-8.
/// (`%2E` is accepted anywhere; callers that need the canonical form re-encode and
/// compare.)
pub(crate) fn decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else if is_kept(b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let long_unicode = "日本語🎉".repeat(50);
        let samples = [
            "main",
            "telegram:12345",
            "../../etc",
            ".hidden",
            ".",
            "..",
            "a/b\\c",
            "sp ace%25",
            "ÄÖÜ-é",
            long_unicode.as_str(),
        ];
        for s in samples {
            let chunks = encode_chunks(s);
            for c in &chunks {
                assert!(!c.is_empty() && !c.starts_with('.'), "{s:?} -> {c:?}");
                assert!(c.len() <= MAX_COMPONENT_BYTES);
                assert!(!c.contains('/') && !c.contains('\\') && !c.contains(':'));
            }
            assert_eq!(decode(&chunks.concat()).as_deref(), Some(s));
            let one = encode_component(s);
            assert!(!one.starts_with('.'));
            assert_eq!(decode(&one).as_deref(), Some(s));
        }
        assert!(encode_chunks(&long_unicode).len() > 1);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["%", "%4", "%zz", "%2e", "a b", "a/b", "%FF"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn empty_is_distinct() {
        assert_eq!(encode_chunks(""), vec!["%".to_owned()]);
        assert_eq!(decode("%"), None);
    }
}
