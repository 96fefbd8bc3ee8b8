//! gridvisit's build tasks, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! - `app`: builds the field PWA into `target/app`: the client for wasm32 twice (size-optimised
//!   profile `wasm-release`): the field module (`gridvisit`, every role's screens but the
//!   supervisor's and the admin's) and the desk module (`gridvisit-desk`, feature `desk`: all
//!   screens); wasm-bindgen at exactly the version of Cargo.lock (this crate links it as a
//!   library), `wasm-opt -Oz` from the npm package `binaryen`, then the shell (`index.html`,
//!   `client/static/*`) with a service worker whose cache name is the hash of everything it
//!   caches, and each file precompressed (`.gz`, `.br`) as the server sends it. On the nightly
//!   toolchain with `rust-src` (what `.ci/run` installs) the wasm is built with `-Z build-std`
//!   and immediate-abort panics; without it, on stable, bigger, and the build says so. Prints
//!   each file's size and what each role downloads.
//! - `start [server flags]`: `app`, then the server in release mode serving it.
//! - `size`: the sizes of an already built app (what `BENCHMARKS.md` reports): one line per
//!   role, `<role> download: N bytes gzip, M bytes brotli`.
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

/// One build of the app's wasm: its file names and its cargo features.
struct Module {
    out_name: &'static str,
    features: &'static [&'static str],
}

/// Every role's module: field work, issues, a department's inbox.
const FIELD: Module = Module {
    out_name: "gridvisit",
    features: &["--no-default-features"],
};

/// The supervisors' and the admin's module: every screen (a superset of the field module).
const DESK: Module = Module {
    out_name: "gridvisit-desk",
    features: &[],
};

/// Each role and the module its device runs (`boot.js` picks it from the signed-in role).
const ROLES: [(&str, &Module); 7] = [
    ("worker", &FIELD),
    ("volunteer", &FIELD),
    ("department", &FIELD),
    ("community supervisor", &DESK),
    ("street supervisor", &DESK),
    ("city supervisor", &DESK),
    ("admin", &DESK),
];

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let root = root()?;
    match task.as_str() {
        "app" => build_app(&root).map(|_| ()),
        "size" => print_sizes(&root.join("target/app")),
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
    let nightly = nightly_with_src();
    if !nightly {
        eprintln!(
            "[xtask] warning: no nightly toolchain with rust-src (rustup toolchain install nightly \
             --component rust-src): building on stable, without -Z build-std; the app is bigger"
        );
    }
    let out = root.join("target/app");
    if out.exists() {
        std::fs::remove_dir_all(&out).context("clearing target/app")?;
    }
    std::fs::create_dir_all(&out)?;
    for module in [&FIELD, &DESK] {
        build_module(root, &out, module, nightly)?;
    }
    std::fs::copy(root.join("index.html"), out.join("index.html"))?;
    let statics = root.join("client/static");
    for entry in std::fs::read_dir(&statics).context("reading client/static")? {
        let entry = entry?;
        if entry.file_name() != "sw.js" {
            std::fs::copy(entry.path(), out.join(entry.file_name()))?;
        }
    }
    write_service_worker(&statics.join("sw.js"), &out)?;
    precompress(&out)?;
    print_sizes(&out)?;
    Ok(out)
}

/// Whether rustup has a nightly toolchain with `rust-src` (what `-Z build-std` compiles).
fn nightly_with_src() -> bool {
    if std::env::var_os("GRIDVISIT_WASM_STABLE").is_some() {
        return false;
    }
    let Ok(out) = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--print", "sysroot"])
        .output()
    else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    out.status.success()
        && Path::new(&sysroot)
            .join("lib/rustlib/src/rust/library/std/Cargo.toml")
            .exists()
}

/// Builds one module's wasm, runs wasm-bindgen and wasm-opt into `out`.
fn build_module(root: &Path, out: &Path, module: &Module, nightly: bool) -> Result<()> {
    eprintln!(
        "[xtask] building {} for {TARGET} (profile {PROFILE}{})",
        module.out_name,
        if nightly {
            ", nightly -Z build-std"
        } else {
            ""
        }
    );
    let target_dir = root.join(if nightly {
        "target/wasm-nightly"
    } else {
        "target"
    });
    let mut cmd = if nightly {
        let mut c = Command::new("rustup");
        c.args(["run", "nightly", "cargo"]);
        // The outer `cargo xtask` names its own (stable) tools; nightly's cargo finds its own.
        c.env_remove("CARGO")
            .env_remove("RUSTC")
            .env_remove("RUSTDOC");
        c.env("RUSTFLAGS", "-Zunstable-options -Cpanic=immediate-abort");
        c
    } else {
        Command::new(cargo())
    };
    cmd.current_dir(root)
        .args([
            "build",
            "--locked",
            "--profile",
            PROFILE,
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["-p", "client"])
        .args(module.features);
    if nightly {
        cmd.arg("-Zbuild-std=std,panic_abort");
    }
    run(&mut cmd, "cargo build of the client")?;
    let wasm = target_dir.join(format!("{TARGET}/{PROFILE}/client.wasm"));
    eprintln!("[xtask] wasm-bindgen {}", module.out_name);
    wasm_bindgen_cli::wasm_bindgen::run_cli_with_args([
        "wasm-bindgen".as_ref(),
        "--target".as_ref(),
        "web".as_ref(),
        "--no-typescript".as_ref(),
        "--out-name".as_ref(),
        module.out_name.as_ref(),
        "--out-dir".as_ref(),
        out.as_os_str(),
        wasm.as_os_str(),
    ])
    .context("wasm-bindgen")?;
    optimise(root, &out.join(format!("{}_bg.wasm", module.out_name)))
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

/// The module a file belongs to, if it is one of a module's two files.
fn module_of(name: &str) -> Option<&'static Module> {
    [&FIELD, &DESK]
        .into_iter()
        .find(|m| name == format!("{}.js", m.out_name) || name == format!("{}_bg.wasm", m.out_name))
}

/// The app's files (not their precompressed copies), sorted.
fn app_files(out: &Path) -> Result<Vec<String>> {
    let mut files: Vec<String> = std::fs::read_dir(out)
        .with_context(|| format!("{} (run `cargo xtask app` first)", out.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".gz") && !n.ends_with(".br"))
        .collect();
    files.sort();
    Ok(files)
}

fn js_list(files: &[&str], first: &str) -> String {
    let mut list = String::from("[");
    list.push_str(first);
    for f in files {
        if list.len() > 1 {
            list.push_str(", ");
        }
        let _ = write!(list, "\"./{f}\"");
    }
    list.push(']');
    list
}

/// Writes `sw.js` with its cache version (a hash of every cached file) and file lists (the
/// shell every device caches, and each module's files), so a new build replaces the old cache
/// and an unchanged one keeps it.
fn write_service_worker(template: &Path, out: &Path) -> Result<()> {
    let files: Vec<String> = app_files(out)?
        .into_iter()
        .filter(|n| n != "sw.js" && n != "version.json")
        .collect();
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
    let of = |m: Option<&Module>| -> Vec<&str> {
        files
            .iter()
            .filter(|f| module_of(f).map(|x| x.out_name) == m.map(|x| x.out_name))
            .map(String::as_str)
            .collect()
    };
    let text = std::fs::read_to_string(template)?;
    for mark in ["__VERSION__", "__FILES__", "__FIELD__", "__DESK__"] {
        if !text.contains(mark) {
            bail!("client/static/sw.js lost its {mark} placeholder");
        }
    }
    let text = text
        .replace("__VERSION__", &version)
        .replace("__FILES__", &js_list(&of(None), "\"./\""))
        .replace("__FIELD__", &js_list(&of(Some(&FIELD)), ""))
        .replace("__DESK__", &js_list(&of(Some(&DESK)), ""));
    std::fs::write(out.join("sw.js"), text)?;
    // What an installed app compares its cache with at start (never cached itself).
    std::fs::write(
        out.join("version.json"),
        format!("{{\"app\":\"{version}\"}}\n"),
    )?;
    eprintln!("[xtask] service worker cache gridvisit-shell-{version}");
    Ok(())
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?)
}

fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut enc = brotli::CompressorWriter::new(Vec::new(), 1 << 16, 11, 22);
    enc.write_all(bytes)?;
    Ok(enc.into_inner())
}

/// Writes `<file>.gz` and `<file>.br` beside each file, as the server sends them (its
/// `ServeDir` prefers them to compressing on the fly); PNGs are compressed already.
fn precompress(out: &Path) -> Result<()> {
    for f in app_files(out)? {
        if f.ends_with(".png") {
            continue;
        }
        let bytes = std::fs::read(out.join(&f))?;
        std::fs::write(out.join(format!("{f}.gz")), gzip(&bytes)?)?;
        std::fs::write(out.join(format!("{f}.br")), brotli(&bytes)?)?;
    }
    Ok(())
}

/// Prints each file's size raw, gzip (level 9) and brotli (quality 11), then what each role's
/// device downloads: every file but the other module's.
fn print_sizes(out: &Path) -> Result<()> {
    let files = app_files(out)?;
    let mut sizes = Vec::new();
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "file", "bytes", "gzip", "brotli"
    );
    for f in &files {
        let bytes = std::fs::read(out.join(f))?;
        // The precompressed copies the server sends, where `precompress` wrote them.
        let size_of = |ext: &str, compress: fn(&[u8]) -> Result<Vec<u8>>| -> Result<u64> {
            match std::fs::metadata(out.join(format!("{f}.{ext}"))) {
                Ok(m) => Ok(m.len()),
                Err(_) => Ok(compress(&bytes)?.len() as u64),
            }
        };
        let (gz, br) = (size_of("gz", gzip)?, size_of("br", brotli)?);
        println!("{f:<28} {:>10} {gz:>10} {br:>10}", bytes.len());
        sizes.push((f.as_str(), gz, br));
    }
    for (role, module) in ROLES {
        let (gz, br) = sizes
            .iter()
            .filter(|(f, ..)| module_of(f).is_none_or(|m| m.out_name == module.out_name))
            .fold((0, 0), |(g, b), (_, gz, br)| (g + gz, b + br));
        println!("{role} download: {gz} bytes gzip, {br} bytes brotli");
    }
    Ok(())
}
