//! The wasm link checks (`check_imports`) against wasmi's instantiation
//! (the independent oracle), and against the spec's rules for typed
//! function references, which wasmi does not implement.

mod common;

use bulkhead_wasm::{check_imports, LinkError};
use common::{translate, wasm};

const EXPORTER: &str = r#"(module
    (func (export "f") (param i32) (result i32) local.get 0)
    (func (export "g") (param funcref))
    (global (export "c") i32 (i32.const 1))
    (global (export "m") (mut i32) (i32.const 1))
    (global (export "fr") funcref (ref.null func))
    (global (export "er") (mut externref) (ref.null extern))
    (table (export "t") 10 20 funcref)
    (table (export "x") 2 externref)
    (memory (export "mem") 1 2))"#;

/// Our verdict for `importer` importing from module "M" = [`EXPORTER`].
fn ours(importer: &str) -> Result<(), LinkError> {
    let exporter = translate(EXPORTER);
    let importer = translate(importer);
    check_imports(&importer.env, |name| (name == "M").then_some(&exporter.env))
}

/// wasmi's verdict: does instantiation with "M"'s exports succeed?
fn wasmi_links(importer: &str) -> bool {
    let engine = wasmi::Engine::default();
    let mut store = wasmi::Store::new(&engine, ());
    let mut linker = wasmi::Linker::<()>::new(&engine);
    let exporter = wasmi::Module::new(&engine, &wasm(EXPORTER)[..]).unwrap();
    let instance = linker.instantiate_and_start(&mut store, &exporter).unwrap();
    linker.instance(&mut store, "M", instance).unwrap();
    let module = wasmi::Module::new(&engine, &wasm(importer)[..]).unwrap();
    linker.instantiate_and_start(&mut store, &module).is_ok()
}

#[test]
fn import_checks_agree_with_wasmi() {
    let cases: &[(&str, bool)] = &[
        (r#"(module (import "M" "f" (func (param i32) (result i32))))"#, true),
        (r#"(module (import "M" "f" (func (param i64) (result i32))))"#, false),
        (r#"(module (import "M" "f" (func (param i32))))"#, false),
        (r#"(module (import "M" "g" (func (param funcref))))"#, true),
        (r#"(module (import "M" "g" (func (param externref))))"#, false),
        (r#"(module (import "M" "g" (func (param i32))))"#, false),
        (r#"(module (import "M" "nope" (func)))"#, false),
        (r#"(module (import "N" "f" (func (param i32) (result i32))))"#, false),
        (r#"(module (import "M" "c" (global i32)))"#, true),
        (r#"(module (import "M" "c" (global (mut i32))))"#, false),
        (r#"(module (import "M" "m" (global (mut i32))))"#, true),
        (r#"(module (import "M" "m" (global i32)))"#, false),
        (r#"(module (import "M" "c" (global i64)))"#, false),
        (r#"(module (import "M" "fr" (global funcref)))"#, true),
        (r#"(module (import "M" "fr" (global externref)))"#, false),
        (r#"(module (import "M" "er" (global (mut externref))))"#, true),
        (r#"(module (import "M" "f" (global i32)))"#, false),
        (r#"(module (import "M" "t" (table 10 funcref)))"#, true),
        (r#"(module (import "M" "t" (table 5 20 funcref)))"#, true),
        (r#"(module (import "M" "t" (table 5 30 funcref)))"#, true),
        (r#"(module (import "M" "t" (table 11 funcref)))"#, false),
        (r#"(module (import "M" "t" (table 10 15 funcref)))"#, false),
        (r#"(module (import "M" "t" (table 10 externref)))"#, false),
        (r#"(module (import "M" "x" (table 1 externref)))"#, true),
        (r#"(module (import "M" "x" (table 1 5 externref)))"#, false),
        (r#"(module (import "M" "mem" (memory 1)))"#, true),
        (r#"(module (import "M" "mem" (memory 1 2)))"#, true),
        (r#"(module (import "M" "mem" (memory 2)))"#, false),
        (r#"(module (import "M" "mem" (memory 1 1)))"#, false),
        (r#"(module (import "M" "t" (memory 1)))"#, false),
        (r#"(module (import "M" "mem" (table 1 funcref)))"#, false),
    ];
    for &(importer, links) in cases {
        let verdict = ours(importer);
        assert_eq!(verdict.is_ok(), wasmi_links(importer), "{importer}: wasmi disagrees with {verdict:?}");
        assert_eq!(verdict.is_ok(), links, "{importer}: {verdict:?}");
    }
    // The messages start with the spec's wording.
    assert!(ours(r#"(module (import "M" "nope" (func)))"#).unwrap_err().to_string().starts_with("unknown import"));
    let e = ours(r#"(module (import "M" "t" (table 11 funcref)))"#).unwrap_err();
    assert!(e.to_string().starts_with("incompatible import type"), "{e}");
}

#[test]
fn typed_function_references_follow_the_spec() {
    let exporter = translate(
        r#"(module
        (type $t (func (param i32)))
        (func $f (type $t)) (elem declare func $f)
        (global (export "gt") (ref $t) (ref.func $f))
        (global (export "gn") (ref null $t) (ref.null $t))
        (func (export "h") (param (ref null $t))))"#,
    );
    let check = |text: &str| {
        let importer = translate(text);
        check_imports(&importer.env, |name| (name == "M").then_some(&exporter.env))
    };
    // Immutable globals are covariant: (ref $t) <: (ref null $t) <: funcref.
    assert!(check(r#"(module (type $u (func (param i32))) (import "M" "gt" (global (ref $u))))"#).is_ok());
    assert!(check(r#"(module (type $u (func (param i32))) (import "M" "gt" (global (ref null $u))))"#).is_ok());
    assert!(check(r#"(module (import "M" "gt" (global funcref)))"#).is_ok());
    assert!(check(r#"(module (import "M" "gt" (global (ref func))))"#).is_ok());
    assert!(check(r#"(module (type $u (func (param i32))) (import "M" "gn" (global (ref $u))))"#).is_err());
    assert!(check(r#"(module (import "M" "gn" (global (ref func))))"#).is_err());
    assert!(check(r#"(module (type $u (func (param i64))) (import "M" "gt" (global (ref null $u))))"#).is_err());
    // Function types compare structurally, whatever the type indices.
    let ok = r#"(module (type (func)) (type $u (func (param i32))) (import "M" "h" (func (param (ref null $u)))))"#;
    assert!(check(ok).is_ok());
    assert!(check(r#"(module (type $u (func (param i32))) (import "M" "h" (func (param (ref $u)))))"#).is_err());
    assert!(check(r#"(module (import "M" "h" (func (param funcref))))"#).is_err());
}
