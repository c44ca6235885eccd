//! Prepares two things at build time that would otherwise cost every cold start:
//! - the offline engine's data files (about 440 KB of JSON), compressed into the build's output
//!   directory, where `ai::offline::concepts` includes them: a quarter of the size in every binary
//!   that carries the engine, inflated once, when the engine is first built;
//! - the shield's rules compiled into an NFA and written out (`protect::shield::prebuilt`), which
//!   the shield reads back at start-up instead of parsing and compiling 39 patterns.

use std::path::Path;

// The rule table and the NFA's encoding, as the crate compiles them: both use nothing but std and
// regex-automata, so the build reads the very same source.
#[allow(dead_code)]
#[path = "src/protect/shield/prebuilt.rs"]
mod prebuilt;
#[allow(dead_code)]
#[path = "src/protect/shield/rules.rs"]
mod rules;

const DATA: &str = "src/ai/offline/data";
const FILES: [&str; 5] = ["vocabulary", "concepts", "technology-concepts", "templates", "language"];

fn main() {
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in FILES {
        let source = Path::new(DATA).join(format!("{name}.json"));
        println!("cargo::rerun-if-changed={}", source.display());
        let json = std::fs::read(&source).unwrap_or_else(|error| panic!("{}: {error}", source.display()));
        let deflated = miniz_oxide::deflate::compress_to_vec(&json, 10);
        write(&Path::new(&out).join(format!("{name}.json.deflate")), &deflated);
    }

    println!("cargo::rerun-if-changed=src/protect/shield/rules.rs");
    println!("cargo::rerun-if-changed=src/protect/shield/prebuilt.rs");
    let patterns: Vec<&str> = rules::RULES.iter().map(|rule| rule.pattern).collect();
    // A rule that does not compile fails here rather than leaving the shield inert in production.
    let nfa = prebuilt::compile(&patterns).expect("the shield's rules compile");
    let encoded = prebuilt::encode(&nfa).expect("the shield's NFA has only states prebuilt::encode writes");
    write(&Path::new(&out).join("shield-rules.nfa"), &encoded);
}

fn write(target: &Path, bytes: &[u8]) {
    std::fs::write(target, bytes).unwrap_or_else(|error| panic!("{}: {error}", target.display()));
}
