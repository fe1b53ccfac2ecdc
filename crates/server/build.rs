//! Builds the web console (`web/`, with npm) and embeds its `dist/` files in the binary.
//! Set `FLOWGATE_SKIP_CONSOLE_BUILD=1` to embed whatever `web/dist` holds without running npm.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let web = manifest.join("../../web");
    for watched in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=FLOWGATE_SKIP_CONSOLE_BUILD");
    let skip = std::env::var("FLOWGATE_SKIP_CONSOLE_BUILD").is_ok_and(|v| v == "1");
    if !skip && web.join("package.json").exists() {
        if !web.join("node_modules").exists() {
            run(&web, &["ci", "--no-audit", "--no-fund"]);
        }
        run(&web, &["run", "build"]);
    }
    let dist = web.join("dist");
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    let mut out = String::from("/// (path, content type, bytes) of each console file.\nstatic ASSETS: &[(&str, &str, &[u8])] = &[\n");
    for (rel, abs) in files {
        out.push_str(&format!(
            "    ({rel:?}, {:?}, include_bytes!({:?})),\n",
            mime(&rel),
            abs.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets this")).join("console_assets.rs");
    std::fs::write(dest, out).expect("write console_assets.rs");
}

fn run(dir: &Path, args: &[&str]) {
    let status = Command::new("npm").args(args).current_dir(dir).status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("`npm {}` in web/ failed ({s}); install Node.js 20+ or set FLOWGATE_SKIP_CONSOLE_BUILD=1", args.join(" ")),
        Err(e) => panic!("cannot run npm to build the web console ({e}); install Node.js 20+ or set FLOWGATE_SKIP_CONSOLE_BUILD=1"),
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let abs = path.canonicalize().unwrap_or(path.clone());
            out.push((rel.to_string_lossy().replace('\\', "/"), abs));
        }
    }
}

fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
