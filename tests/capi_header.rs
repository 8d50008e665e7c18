//! `include/retort.h` is generated from `src/capi/` and the status codes of `src/error.rs` by
//! cbindgen (settings in `cbindgen.toml`);
//! this test regenerates it and fails when the committed header differs, so the header can never
//! drift from the code. `RETORT_BLESS=1 cargo test --test capi_header` rewrites it.
#![cfg(feature = "capi")]

use std::path::Path;

#[test]
fn header_matches_the_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    // Only the ABI's own files: the rest of the crate's public constants are not the C API.
    cbindgen::Builder::new()
        .with_src(root.join("src/capi/mod.rs"))
        .with_src(root.join("src/error.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen parses the crate")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = root.join("include/retort.h");
    if std::env::var_os("RETORT_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/retort.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(generated.lines().count()));
        panic!(
            "include/retort.h has drifted from src/capi/ (first difference at line {}):\n  \
             header: {:?}\n  code:   {:?}\nregenerate it with `RETORT_BLESS=1 cargo test --test \
             capi_header` and review the diff",
            first + 1,
            committed.lines().nth(first).unwrap_or("<end>"),
            generated.lines().nth(first).unwrap_or("<end>"),
        );
    }
}

/// Every entry point's body runs inside `ffi_guard!` (src/capi/guard.rs), so no panic can
/// unwind into C: each `extern "C" fn` in src/capi/ must begin with it. The guard itself is
/// tested by forcing panics (src/capi/guard.rs); this finds an entry point that skipped it.
#[test]
fn every_entry_point_is_guarded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capi");
    let mut entry_points = 0;
    for file in std::fs::read_dir(&dir).unwrap() {
        let path = file.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let mut rest = source.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let after = &rest[at + "extern \"C\" fn ".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // The body starts at the first brace after the signature (no braces in types).
            let body_start = after.find('{').expect("a body");
            let body = after[body_start + 1..].trim_start();
            assert!(
                body.starts_with("ffi_guard!("),
                "{}: `{name}` does not start with ffi_guard!: a panic in it would unwind into C",
                path.display()
            );
            let before = &rest[..at];
            assert!(
                before.trim_end().ends_with("pub unsafe")
                    || before.trim_end().ends_with("pub")
                    || before.trim_end().ends_with("unsafe"),
                "{name}"
            );
            assert!(
                before.contains("#[no_mangle]"),
                "{}: `{name}` has no #[no_mangle]",
                path.display()
            );
            entry_points += 1;
            rest = &after[body_start..];
        }
    }
    // The callback type `unsafe extern "C" fn(` has no name and is not an entry point.
    assert!(entry_points >= 20, "found only {entry_points} entry points");
}
