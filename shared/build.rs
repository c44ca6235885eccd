//! Compresses the offline engine's data files (about 440 KB of JSON) into the build's output
//! directory, where `ai::offline::concepts` includes them: a quarter of the size in every binary
//! that carries the engine, inflated once, when the engine is first built.

use std::path::Path;

const DATA: &str = "src/ai/offline/data";
const FILES: [&str; 5] = ["vocabulary", "concepts", "technology-concepts", "templates", "language"];

fn main() {
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in FILES {
        let source = Path::new(DATA).join(format!("{name}.json"));
        println!("cargo::rerun-if-changed={}", source.display());
        let json = std::fs::read(&source).unwrap_or_else(|error| panic!("{}: {error}", source.display()));
        let deflated = miniz_oxide::deflate::compress_to_vec(&json, 10);
        let target = Path::new(&out).join(format!("{name}.json.deflate"));
        std::fs::write(&target, deflated).unwrap_or_else(|error| panic!("{}: {error}", target.display()));
    }
}
