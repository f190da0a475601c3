//! Chooses the web UI that `src/ui.rs` builds into the binary (ADR 022): `web/dist` when
//! `npm run build` made it, else `ui-not-built/`, a page saying to run `make web`, with a
//! cargo warning — so the crate builds and tests without npm.

use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let manifest = Path::new(&manifest);
    let web = manifest.join("../../web");
    let dist = web.join("dist");
    let folder = if dist.join("index.html").is_file() {
        // Rebuilt when any file of the built UI changes.
        println!("cargo:rerun-if-changed={}", dist.display());
        dist
    } else {
        // Rebuilt once `web/dist` appears (a path that does not exist would rerun this
        // script at every build).
        println!("cargo:rerun-if-changed={}", web.display());
        println!(
            "cargo:warning=web/dist is not built: this binary serves a page saying to run \
             `make web` at `/` (build the UI, then rebuild edalab to embed it)"
        );
        manifest.join("ui-not-built")
    };
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=ui-not-built");
    let folder = folder.canonicalize().unwrap_or(folder);
    println!("cargo:rustc-env=EDALAB_UI_DIR={}", folder.display());
}
