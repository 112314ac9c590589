//! The build script of the server crates that have a symbol order here (their `Cargo.toml` says
//! `build = "../../link/build.rs"`): it links the binary with `link/<binary>.order`, when the
//! linker is one known to read it.
//!
//! The order lists the functions the server runs to start, answer `initialize` and serve its usual
//! calls (`just link-order` writes it from a callgrind run). The linker places them first and side
//! by side in `.text`, so the pages a running server touches are a few contiguous megabytes rather
//! than most of the binary: the kernel maps code in 64 KiB blocks around each page touched, and
//! scattered start-up code pulled in about 70% of mcp-empresa's 9.5 MiB of code.
//!
//! Only rust-lld, Rust's own linker for x86_64 Linux since 1.90, is known here to take
//! `--symbol-ordering-file`; with any other target, toolchain or a linker the builder chose, the
//! binary is linked as it would be without this script. `MCP_LINK_ORDER=off` at build time turns
//! it off. Symbols the order names that the binary lacks (renamed, inlined, or another build's
//! hashes) are skipped without a warning, so a stale order costs memory, never a build.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    // Every server's package and binary share the name `mcp-<server>`. Cargo always sets both.
    let (Ok(binary), Some(manifest)) = (
        env::var("CARGO_PKG_NAME"),
        env::var_os("CARGO_MANIFEST_DIR"),
    ) else {
        return;
    };
    let manifest = PathBuf::from(manifest);
    let order = manifest.join("../../link").join(format!("{binary}.order"));
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-env-changed=MCP_LINK_ORDER");
    if env::var("MCP_LINK_ORDER").is_ok_and(|value| value == "off") {
        return;
    }
    if !order.is_file() || !linked_by_rust_lld() {
        return;
    }
    let order = order.canonicalize().unwrap_or(order);
    println!(
        "cargo:rustc-link-arg-bin={binary}=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bin={binary}=-Wl,--no-warn-symbol-ordering");
}

/// Whether rustc will link with its own lld: x86_64 Linux with glibc, rustc 1.90 or later, and
/// neither a linker nor linker arguments chosen by the builder.
fn linked_by_rust_lld() -> bool {
    let var = |name: &str| env::var(name).unwrap_or_default();
    let target = (
        var("CARGO_CFG_TARGET_ARCH"),
        var("CARGO_CFG_TARGET_OS"),
        var("CARGO_CFG_TARGET_ENV"),
    );
    if target != ("x86_64".into(), "linux".into(), "gnu".into()) {
        return false;
    }
    // Cargo sets RUSTC_LINKER when a linker is configured; flags naming `link…` (`-C linker=`,
    // `link-arg`, `link-self-contained`, `linker-flavor`) may choose another one.
    if env::var_os("RUSTC_LINKER").is_some() || var("CARGO_ENCODED_RUSTFLAGS").contains("link") {
        return false;
    }
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(output) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let version = String::from_utf8_lossy(&output.stdout);
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|number| number.split('.').nth(1))
        .and_then(|minor| minor.parse::<u32>().ok());
    matches!(minor, Some(minor) if minor >= 90)
}
