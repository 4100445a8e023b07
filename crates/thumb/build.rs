//! Compiles the ISLE lowering rules (isle/prelude.isle, isle/thumb2/*.isle at
//! the workspace root) into Rust in OUT_DIR; src/lower.rs `include!`s it.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let isle_dir = manifest.join("../../isle");
    let files = [
        isle_dir.join("prelude.isle"),
        isle_dir.join("thumb2/inst.isle"),
        isle_dir.join("thumb2/lower.isle"),
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let options = cranelift_isle::codegen::CodegenOptions {
        exclude_global_allow_pragmas: true,
        prefixes: vec![cranelift_isle::codegen::Prefix {
            prefix: isle_dir.to_string_lossy().into_owned(),
            name: "isle".to_string(),
        }],
        ..Default::default()
    };
    let code = match cranelift_isle::compile::from_files(files.iter(), &options) {
        Ok(code) => code,
        Err(errs) => {
            eprintln!("ISLE compilation failed:\n{errs:?}");
            std::process::exit(1);
        }
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("isle_thumb2.rs");
    std::fs::write(&out, code).expect("write generated ISLE code");
}
