//! Embeds the Control UI (`ui/` at the workspace root) in the binary.
//!
//! Every file is read once here, at build time: the set gets one content hash (the asset
//! directory's name, so browsers may cache assets forever and a new build is a new URL),
//! and each asset is stored three ways (as is, gzip, brotli) so the gateway serves the
//! encoding a browser accepts without compressing anything at run time. Nothing under
//! `ui/` is needed when the gateway runs, and building needs no Node or npm.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let ui = manifest.join("../../ui");
    let ui = ui.canonicalize().unwrap_or_else(|e| {
        panic!(
            "the Control UI sources are missing ({}: {e}); they live in ui/ at the workspace root",
            ui.display()
        )
    });
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed={}", ui.display());

    let mut files = Vec::new();
    walk(&ui, &ui, &mut files);
    files.sort();

    let mut hash = Sha256::new();
    for rel in &files {
        let bytes = std::fs::read(ui.join(rel)).expect("read a ui file");
        hash.update(rel.as_bytes());
        hash.update([0]);
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    let digest = hash.finalize();
    let build_hash: String = digest[..5].iter().map(|b| format!("{b:02x}")).collect();

    let index = ui.join("index.html");
    assert!(index.is_file(), "ui/index.html is missing");
    let mut code = String::new();
    writeln!(
        code,
        "/// The hash of every Control UI file: the asset directory's name."
    )
    .unwrap();
    writeln!(code, "pub const BUILD_HASH: &str = {build_hash:?};").unwrap();
    writeln!(
        code,
        "/// `index.html`, with `__ASSETS__`, `__BASE__` and `__VERSION__` still to fill in."
    )
    .unwrap();
    writeln!(
        code,
        "pub static INDEX_HTML: &str = include_str!({:?});",
        index.display()
    )
    .unwrap();
    writeln!(code, "/// Every other file, by path under `ui/`.").unwrap();
    writeln!(code, "pub static ASSETS: &[Asset] = &[").unwrap();
    for (n, rel) in files.iter().enumerate() {
        if rel == "index.html" {
            continue;
        }
        let src = ui.join(rel);
        let raw = std::fs::read(&src).expect("read a ui file");
        let gz = out.join(format!("ui-{n}.gz"));
        let br = out.join(format!("ui-{n}.br"));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&raw).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let mut brotli_out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut brotli_out, 4096, 11, 22);
            w.write_all(&raw).unwrap();
        }
        std::fs::write(&br, brotli_out).unwrap();
        writeln!(
            code,
            "    Asset {{ path: {rel:?}, mime: {:?}, raw: include_bytes!({:?}), gzip: include_bytes!({:?}), brotli: include_bytes!({:?}) }},",
            mime(rel),
            src.display(),
            gz.display(),
            br.display()
        )
        .unwrap();
    }
    writeln!(code, "];").unwrap();
    std::fs::write(out.join("ui_assets.rs"), code).unwrap();
}

/// Collects the files under `dir` (relative to `root`, `/`-separated), skipping dot files.
fn walk(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read a ui directory")
        .map(|e| e.expect("read a ui directory entry"))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let rel = path.strip_prefix(root).unwrap();
            let rel: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let rel = rel.join("/");
            assert!(
                mime(&rel) != "application/octet-stream",
                "ui/{rel}: no content type is known for this file's extension; add it to build.rs"
            );
            files.push(rel);
        }
    }
}

/// The `Content-Type` of a UI file, by extension.
fn mime(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
