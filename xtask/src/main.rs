//! gridvisit's build tasks, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! - `app`: builds the field PWA into `target/app`: the client for wasm32 (size-optimised
//!   profile `wasm-release`), wasm-bindgen at exactly the version of Cargo.lock (this crate
//!   links it as a library), `wasm-opt -Oz` from the npm package `binaryen`, then the shell
//!   (`index.html`, `client/static/*`) with a service worker whose cache name is the hash of
//!   everything it caches. Prints each file's size, raw and gzip.
//! - `start [server flags]`: `app`, then the server in release mode serving it.
//! - `size`: the sizes of an already built app (what `BENCHMARKS.md` reports).
//!
//! Everything runs on a fresh machine with only the package registries reachable.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::Digest;

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm-release";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let root = root()?;
    match task.as_str() {
        "app" => build_app(&root).map(|_| ()),
        "size" => print_sizes(&root.join("target/app")).map(|_| ()),
        "start" => {
            let app = build_app(&root)?;
            let status = Command::new(cargo())
                .current_dir(&root)
                .args(["run", "--release", "--locked", "-p", "server", "--bin"])
                .arg("gridvisit")
                .arg("--")
                .arg("--app")
                .arg(&app)
                .args(args)
                .status()
                .context("running the server")?;
            if !status.success() {
                bail!("the server exited with {status}");
            }
            Ok(())
        }
        _ => {
            eprintln!("usage: cargo xtask <app | start [server flags] | size>");
            std::process::exit(2);
        }
    }
}

fn root() -> Result<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Ok(here
        .parent()
        .context("xtask has no parent folder")?
        .to_owned())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Builds the app; returns its folder.
fn build_app(root: &Path) -> Result<PathBuf> {
    ensure_target()?;
    eprintln!("[xtask] building the client for {TARGET} (profile {PROFILE})");
    run(
        Command::new(cargo()).current_dir(root).args([
            "build",
            "--locked",
            "--profile",
            PROFILE,
            "--target",
            TARGET,
            "-p",
            "client",
        ]),
        "cargo build of the client",
    )?;
    let wasm = root.join(format!("target/{TARGET}/{PROFILE}/client.wasm"));
    let out = root.join("target/app");
    if out.exists() {
        std::fs::remove_dir_all(&out).context("clearing target/app")?;
    }
    std::fs::create_dir_all(&out)?;

    eprintln!("[xtask] wasm-bindgen");
    wasm_bindgen_cli::wasm_bindgen::run_cli_with_args([
        "wasm-bindgen".as_ref(),
        "--target".as_ref(),
        "web".as_ref(),
        "--no-typescript".as_ref(),
        "--out-name".as_ref(),
        "gridvisit".as_ref(),
        "--out-dir".as_ref(),
        out.as_os_str(),
        wasm.as_os_str(),
    ])
    .context("wasm-bindgen")?;

    optimise(root, &out.join("gridvisit_bg.wasm"))?;

    std::fs::copy(root.join("index.html"), out.join("index.html"))?;
    let statics = root.join("client/static");
    for entry in std::fs::read_dir(&statics).context("reading client/static")? {
        let entry = entry?;
        if entry.file_name() != "sw.js" {
            std::fs::copy(entry.path(), out.join(entry.file_name()))?;
        }
    }
    write_service_worker(&statics.join("sw.js"), &out)?;
    print_sizes(&out)?;
    Ok(out)
}

fn ensure_target() -> Result<()> {
    let Ok(list) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        return Ok(()); // No rustup: the toolchain must already have the target.
    };
    if !String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        run(
            Command::new("rustup").args(["target", "add", TARGET]),
            "rustup target add",
        )?;
    }
    Ok(())
}

/// `wasm-opt -Oz` from the npm package `binaryen` (Debian's is too old for current rustc).
/// Installs the npm packages when missing; without npm the app stays unoptimised (it works,
/// it is only bigger), and says so.
fn optimise(root: &Path, wasm: &Path) -> Result<()> {
    let npm_dir = root.join("tests/js");
    let wasm_opt = npm_dir.join("node_modules/.bin/wasm-opt");
    if !wasm_opt.exists() {
        eprintln!("[xtask] installing npm packages of tests/js (binaryen's wasm-opt)");
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&npm_dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !wasm_opt.exists() {
            eprintln!("[xtask] warning: wasm-opt unavailable; the app is not size-optimised");
            return Ok(());
        }
    }
    eprintln!("[xtask] wasm-opt -Oz");
    let tmp = wasm.with_extension("opt.wasm");
    run(
        Command::new(&wasm_opt)
            .arg("-Oz")
            .arg("--enable-bulk-memory")
            .arg("--enable-nontrapping-float-to-int")
            .arg("--enable-sign-ext")
            .arg("--enable-mutable-globals")
            .arg("--enable-reference-types")
            .arg("--enable-multivalue")
            .arg(wasm)
            .arg("-o")
            .arg(&tmp),
        "wasm-opt",
    )?;
    std::fs::rename(&tmp, wasm)?;
    Ok(())
}

/// The files the service worker caches: every file of the app but itself.
fn shell_files(out: &Path) -> Result<Vec<String>> {
    let mut files: Vec<String> = std::fs::read_dir(out)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "sw.js" && n != "version.json")
        .collect();
    files.sort();
    Ok(files)
}

/// Writes `sw.js` with its cache version (a hash of every cached file) and file list, so a
/// new build replaces the old cache and an unchanged one keeps it.
fn write_service_worker(template: &Path, out: &Path) -> Result<()> {
    let files = shell_files(out)?;
    let mut hash = sha2::Sha256::new();
    for f in &files {
        hash.update(f.as_bytes());
        hash.update(std::fs::read(out.join(f))?);
    }
    let digest = hash.finalize();
    let version: String = digest[..6].iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    let mut list = String::from("[\"./\"");
    for f in &files {
        let _ = write!(list, ", \"./{f}\"");
    }
    list.push(']');
    let text = std::fs::read_to_string(template)?;
    if !text.contains("__VERSION__") || !text.contains("__FILES__") {
        bail!("client/static/sw.js lost its __VERSION__ or __FILES__ placeholder");
    }
    let text = text
        .replace("__VERSION__", &version)
        .replace("__FILES__", &list);
    std::fs::write(out.join("sw.js"), text)?;
    // What an installed app compares its cache with at start (never cached itself).
    std::fs::write(
        out.join("version.json"),
        format!("{{\"app\":\"{version}\"}}\n"),
    )?;
    eprintln!("[xtask] service worker cache gridvisit-shell-{version}");
    Ok(())
}

/// Prints each file's size raw and gzip (level 9, as a server would send it); returns the
/// gzip total.
fn print_sizes(out: &Path) -> Result<u64> {
    let mut names: Vec<_> = std::fs::read_dir(out)
        .with_context(|| format!("{} (run `cargo xtask app` first)", out.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    names.sort();
    let (mut raw_total, mut gz_total) = (0u64, 0u64);
    println!("{:<28} {:>10} {:>10}", "file", "bytes", "gzip");
    for path in names {
        let bytes = std::fs::read(&path)?;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&bytes)?;
        let gz = enc.finish()?.len() as u64;
        raw_total += bytes.len() as u64;
        gz_total += gz;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        println!("{name:<28} {:>10} {gz:>10}", bytes.len());
    }
    println!("{:<28} {raw_total:>10} {gz_total:>10}", "total");
    Ok(gz_total)
}
