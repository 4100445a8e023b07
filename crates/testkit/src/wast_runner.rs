//! The `.wast` spec-test runner behind the `wast` binary.
//!
//! Each module instance of a script is instantiated in a QEMU boot and its
//! actions (`invoke`, `assert_return`, `assert_trap`, `assert_exhaustion`,
//! `get`) run in script order in that boot, so state carries over exactly
//! as the spec prescribes. Instances that share state through imports
//! (`register "M"` then `(import "M" ...)`, or imports of the `spectest`
//! module) are linked into one image: a registered instance is compiled
//! with module name `M`, so the importer's undefined symbols `M_<field>`
//! resolve to its exports; their instantiations and actions are interleaved
//! in script order. Unlinked instances get a boot each (actions on an
//! earlier named instance go to that instance's boot).
//!
//! References cross as i32 (embedder ABI): null is 0, `ref.extern N` is
//! N + 1, a non-null funcref result is only checked to be non-null.
//! `assert_unlinkable` runs the wasm link checks (`bulkhead::check_imports`)
//! against the registered modules and a description of `spectest`.
//!
//! Counting: every module definition, assertion and action is one command
//! (`register` is not). It passes only if it ran and its expectation held;
//! a command that could not run (unsupported feature, action after a hang,
//! ...) is skipped with a reason and never counts as passed.
//!
//! Memory reservations: the linear memories of an image must fit in the
//! board's PSRAM (16 MiB, less the `spectest` memory if linked). Each
//! defined memory reserves `min(declared max, cap)` bytes, at least its
//! minimum, where `cap` = min(4 MiB, the largest power of two ≤ budget /
//! number of memories in the image). `memory.grow` past the reservation
//! returns -1, which the spec allows; tests that grow an unbounded memory by
//! a few pages (memory_grow.wast) still see real growth.

use crate::qemu::{run_linked_with_aliases, Action, Board, Call, HarnessError, ObjectModule, Outcome, Step, Val, ValType};
use bulkhead::{Compiler, ErrorKind, Options};
use bulkhead_ir::TrapCode;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastRet, Wat};

const MAX_MEMORY_RESERVATION: u64 = 4 << 20;

/// Reservation cap for tables, in entries (4 bytes each, in `.bss`): tables
/// without a maximum reserve this many, larger declared maxima are cut to
/// it. `table.grow` beyond the reservation returns -1, as the spec allows.
const MAX_TABLE_RESERVATION: u32 = 4096;

#[derive(Clone, Debug)]
pub struct RunnerOptions {
    pub board: Board,
    /// Target triple; defaults to the board's.
    pub target: Option<String>,
    pub opt_level: u8,
    /// Per boot (one module instance with all its actions).
    pub timeout: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions { board: Board::default(), target: None, opt_level: 2, timeout: Duration::from_secs(20) }
    }
}

/// Result of one command.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
}

#[derive(Clone, Debug)]
pub struct CommandResult {
    /// 1-based line in the script.
    pub line: usize,
    /// Short description (`assert_return "f"`).
    pub what: String,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, Default)]
pub struct FileResult {
    pub path: PathBuf,
    pub commands: Vec<CommandResult>,
    /// The script could not be read or parsed (counts as one failure).
    pub error: Option<String>,
}

impl FileResult {
    pub fn passed(&self) -> usize {
        self.commands.iter().filter(|c| c.verdict == Verdict::Pass).count()
    }
    pub fn failed(&self) -> usize {
        self.commands.iter().filter(|c| matches!(c.verdict, Verdict::Fail(_))).count()
            + usize::from(self.error.is_some())
    }
    pub fn skipped(&self) -> usize {
        self.commands.iter().filter(|c| matches!(c.verdict, Verdict::Skip(_))).count()
    }
    /// Skip reasons with their counts, most frequent first.
    pub fn skip_summary(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &self.commands {
            if let Verdict::Skip(reason) = &c.verdict {
                *counts.entry(reason.as_str()).or_default() += 1;
            }
        }
        let mut v: Vec<(String, usize)> = counts.into_iter().map(|(r, n)| (r.to_string(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// What a batched action must produce.
#[derive(Clone, Debug)]
enum Expect {
    /// A bare `invoke`: must not trap.
    NoTrap,
    Return(Vec<RetPattern>),
    Trap(String),
    Exhaustion,
}

#[derive(Clone, Debug)]
enum RetPattern {
    Exact(Val),
    /// A non-null reference (`ref.func`, `ref.extern` without a value): a
    /// funcref is a descriptor address, so only non-null-ness is checked.
    NonNullRef,
    F32CanonicalNan,
    F32ArithmeticNan,
    F64CanonicalNan,
    F64ArithmeticNan,
}

impl RetPattern {
    fn matches(&self, v: &Val) -> bool {
        match (self, v) {
            (RetPattern::Exact(e), v) => e == v,
            (RetPattern::NonNullRef, Val::I32(r)) => *r != 0,
            (RetPattern::F32CanonicalNan, Val::F32(b)) => b & 0x7fff_ffff == 0x7fc0_0000,
            (RetPattern::F32ArithmeticNan, Val::F32(b)) => b & 0x7fc0_0000 == 0x7fc0_0000,
            (RetPattern::F64CanonicalNan, Val::F64(b)) => b & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
            (RetPattern::F64ArithmeticNan, Val::F64(b)) => b & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
            _ => false,
        }
    }
    fn ty(&self) -> ValType {
        match self {
            RetPattern::Exact(v) => v.ty(),
            RetPattern::NonNullRef => ValType::I32,
            RetPattern::F32CanonicalNan | RetPattern::F32ArithmeticNan => ValType::F32,
            RetPattern::F64CanonicalNan | RetPattern::F64ArithmeticNan => ValType::F64,
        }
    }
}

impl std::fmt::Display for RetPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetPattern::Exact(v) => write!(f, "{v}"),
            RetPattern::NonNullRef => f.write_str("non-null ref"),
            RetPattern::F32CanonicalNan => f.write_str("f32:nan:canonical"),
            RetPattern::F32ArithmeticNan => f.write_str("f32:nan:arithmetic"),
            RetPattern::F64CanonicalNan => f.write_str("f64:nan:canonical"),
            RetPattern::F64ArithmeticNan => f.write_str("f64:nan:arithmetic"),
        }
    }
}

/// One command waiting for its instance's boot. Its command index orders
/// it among the other steps of the boot.
struct Pending {
    index: usize,
    action: Action,
    expect: Expect,
}

/// One module instance: compiled module (or why not) and its actions.
struct Instance {
    /// Index of the module command in the results (also its place in the
    /// step order of its boot).
    module_command: usize,
    wasm: Vec<u8>,
    /// Compiled with the provisional name `w<index>` and the reservations
    /// of a module alone on the board; recompiled if it ends up linked with
    /// others or registered under a name.
    compiled: Result<bulkhead::Artifact, Verdict>,
    /// Symbol prefix `NAME` the instance is finally linked under.
    final_name: String,
    /// `Some(message)`: an `assert_trap (module ...)`: instantiation must trap.
    instantiate_trap: Option<String>,
    pending: Vec<Pending>,
    /// Instances it imports from (linked into the same image).
    links: Vec<usize>,
    /// Every import: (import module, field, kind, exporting instance;
    /// `None` for `spectest`). Imports whose symbol is not what the
    /// exporter defines (registered under a non-identifier name, or
    /// re-exporting an import of its own) are linked through aliases.
    resolved_imports: Vec<(String, String, ImportKind, Option<usize>)>,
    uses_spectest: bool,
    /// Set once a module the harness cannot run imports from this
    /// instance: later actions may depend on what that module would have
    /// done to shared state, so they are skipped.
    tainted: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImportKind {
    Func,
    Memory,
    Global,
    Table,
    Other,
}

fn provisional_name(index: usize) -> String {
    format!("w{index}")
}

/// Encodes, resolves the imports of and compiles a module directive.
fn add_instance(
    instances: &mut Vec<Instance>,
    registered: &HashMap<String, usize>,
    module: &mut QuoteWat<'_>,
    module_command: usize,
    line: usize,
    instantiate_trap: Option<String>,
    opts: &RunnerOptions,
) {
    let index = instances.len();
    let name = provisional_name(index);
    let wasm = encode(module);
    let mut links = Vec::new();
    let mut uses_spectest = false;
    let mut unlinkable = None;
    let mut imported_from = Vec::new();
    let mut resolved_imports = Vec::new();
    if let Ok(wasm) = &wasm {
        for (r, field, kind) in imports(wasm) {
            if r == "spectest" {
                uses_spectest = true;
                resolved_imports.push((r, field, kind, None));
            } else if let Some(&j) = registered.get(&r) {
                if !imported_from.contains(&j) {
                    imported_from.push(j);
                }
                if instances[j].compiled.is_err() {
                    unlinkable.get_or_insert(format!("imports from \"{r}\", whose module did not compile"));
                    continue;
                }
                if !links.contains(&j) {
                    links.push(j);
                }
                resolved_imports.push((r, field, kind, Some(j)));
            } else {
                unlinkable.get_or_insert(format!("imports from unregistered module \"{r}\""));
            }
        }
    }
    let mut compiled = compile_wasm(wasm.clone(), opts, &name, None);
    if let (Some(reason), Ok(_)) = (&unlinkable, &compiled) {
        compiled = Err(Verdict::Skip(reason.clone()));
    }
    if compiled.is_err() {
        for j in imported_from {
            instances[j].tainted.get_or_insert_with(|| {
                format!("instance shares state with the module at line {line}, which imports from it and cannot run")
            });
        }
    }
    instances.push(Instance {
        module_command,
        wasm: wasm.unwrap_or_default(),
        compiled,
        final_name: name,
        instantiate_trap,
        pending: Vec::new(),
        links,
        resolved_imports,
        uses_spectest,
        tainted: None,
    });
}

pub fn run_file(path: &Path, opts: &RunnerOptions) -> FileResult {
    let mut result = FileResult { path: path.to_path_buf(), ..Default::default() };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            result.error = Some(format!("cannot read: {e}"));
            return result;
        }
    };
    run_script(path, &text, opts, &mut result);
    result
}

/// Runs the script `text` (named `path` in messages).
pub fn run_script(path: &Path, text: &str, opts: &RunnerOptions, result: &mut FileResult) {
    // The spec tests (names.wast) contain bidi control characters on purpose.
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(mut e) => {
            e.set_path(path);
            e.set_text(text);
            result.error = Some(format!("cannot parse: {e}"));
            return;
        }
    };
    let script = match parser::parse::<Wast>(&buf) {
        Ok(s) => s,
        Err(mut e) => {
            e.set_path(path);
            e.set_text(text);
            result.error = Some(format!("cannot parse: {e}"));
            return;
        }
    };

    let mut instances: Vec<Instance> = Vec::new();
    let mut current: Option<usize> = None;
    let mut named: HashMap<String, usize> = HashMap::new();
    let mut registered: HashMap<String, usize> = HashMap::new();
    let commands = &mut result.commands;
    let line_of = |span: wast::token::Span| span.linecol_in(text).0 + 1;

    for directive in script.directives {
        let line = line_of(directive.span());
        match directive {
            WastDirective::Module(mut module) => {
                let id = module.name().map(|id| id.name().to_string());
                let index = push_cmd(commands, line, "module".into(), Verdict::Skip("not run".into()));
                add_instance(&mut instances, &registered, &mut module, index, line, None, opts);
                current = Some(instances.len() - 1);
                if let Some(id) = id {
                    named.insert(id, instances.len() - 1);
                }
            }
            WastDirective::AssertInvalid { mut module, message, .. } => {
                let verdict = check_rejected(&mut module, opts, "invalid", message);
                push_cmd(commands, line, format!("assert_invalid \"{message}\""), verdict);
            }
            WastDirective::AssertMalformed { mut module, message, .. } => {
                let verdict = check_rejected(&mut module, opts, "malformed", message);
                push_cmd(commands, line, format!("assert_malformed \"{message}\""), verdict);
            }
            WastDirective::Invoke(invoke) => {
                let what = format!("invoke \"{}\"", invoke.name);
                let target = resolve(&instances, &named, current, invoke.module.map(|i| i.name()));
                let action = invoke_action(&instances, &target, invoke.name, &invoke.args, None);
                let index = push_cmd(commands, line, what, Verdict::Skip(String::new()));
                enqueue(&mut instances, commands, target, index, action, Expect::NoTrap);
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                let expected: Result<Vec<RetPattern>, String> = results.iter().map(ret_pattern).collect();
                match exec {
                    WastExecute::Invoke(invoke) => {
                        let what = format!("assert_return \"{}\"", invoke.name);
                        let target = resolve(&instances, &named, current, invoke.module.map(|i| i.name()));
                        let action = expected.clone().map_err(Verdict::Skip).and_then(|exp| {
                            invoke_action(&instances, &target, invoke.name, &invoke.args, Some(&exp))
                        });
                        let index = push_cmd(commands, line, what, Verdict::Skip(String::new()));
                        let expect = Expect::Return(expected.unwrap_or_default());
                        enqueue(&mut instances, commands, target, index, action, expect);
                    }
                    WastExecute::Get { module, global, .. } => {
                        let what = format!("assert_return get \"{global}\"");
                        let target = resolve(&instances, &named, current, module.map(|i| i.name()));
                        let action =
                            expected.clone().map_err(Verdict::Skip).and_then(|exp| get_action(&instances, &target, global, &exp));
                        let index = push_cmd(commands, line, what, Verdict::Skip(String::new()));
                        let expect = Expect::Return(expected.unwrap_or_default());
                        enqueue(&mut instances, commands, target, index, action, expect);
                    }
                    WastExecute::Wat(_) => {
                        push_cmd(commands, line, "assert_return (module)".into(), Verdict::Skip("assert_return on a module".into()));
                    }
                }
            }
            WastDirective::AssertTrap { exec, message, .. } => match exec {
                WastExecute::Invoke(invoke) => {
                    let what = format!("assert_trap \"{}\"", invoke.name);
                    let target = resolve(&instances, &named, current, invoke.module.map(|i| i.name()));
                    let action = invoke_action(&instances, &target, invoke.name, &invoke.args, None);
                    let index = push_cmd(commands, line, what, Verdict::Skip(String::new()));
                    enqueue(&mut instances, commands, target, index, action, Expect::Trap(message.to_string()));
                }
                WastExecute::Get { .. } => {
                    push_cmd(commands, line, "assert_trap get".into(), Verdict::Skip("assert_trap on a global read".into()));
                }
                WastExecute::Wat(wat) => {
                    let index = push_cmd(commands, line, format!("assert_trap (module) \"{message}\""), Verdict::Skip("not run".into()));
                    let mut quote = QuoteWat::Wat(wat);
                    add_instance(&mut instances, &registered, &mut quote, index, line, Some(message.to_string()), opts);
                }
            },
            WastDirective::AssertExhaustion { call, message, .. } => {
                let what = format!("assert_exhaustion \"{}\" \"{message}\"", call.name);
                let target = resolve(&instances, &named, current, call.module.map(|i| i.name()));
                let action = invoke_action(&instances, &target, call.name, &call.args, None);
                let index = push_cmd(commands, line, what, Verdict::Skip(String::new()));
                enqueue(&mut instances, commands, target, index, action, Expect::Exhaustion);
            }
            WastDirective::Register { name, module, .. } => {
                let target = match module {
                    Some(id) => named.get(id.name()).copied(),
                    None => current,
                };
                // Not a command (nothing to check): it names the instance
                // for later imports, which link against symbols `<name>_*`.
                if let Some(t) = target {
                    registered.entry(name.to_string()).or_insert(t);
                    let taken = instances.iter().any(|i| i.final_name == name);
                    let fresh = instances[t].final_name == provisional_name(t);
                    // Provisional names are `w<digits>`: never hand one out.
                    let provisional_like =
                        name.strip_prefix('w').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
                    if fresh
                        && !taken
                        && !provisional_like
                        && name != "spectest"
                        && bulkhead::validate_module_name(name).is_ok()
                    {
                        instances[t].final_name = name.to_string();
                    }
                }
            }
            WastDirective::AssertUnlinkable { module, message, .. } => {
                // A module that fails to link has no effects, so nothing is
                // tainted.
                let mut quote = QuoteWat::Wat(module);
                let verdict = check_unlinkable(&mut quote, &instances, &registered, opts, message);
                push_cmd(commands, line, format!("assert_unlinkable \"{message}\""), verdict);
            }
            WastDirective::ModuleDefinition(mut module) => {
                let verdict = check_definition(&mut module, opts);
                push_cmd(commands, line, "module definition".into(), verdict);
            }
            WastDirective::ModuleInstance { .. } => {
                push_cmd(commands, line, "module instance".into(), Verdict::Skip("instances of module definitions".into()));
            }
            WastDirective::AssertInvalidCustom { .. } | WastDirective::AssertMalformedCustom { .. } => {
                push_cmd(commands, line, "assert_*_custom".into(), Verdict::Skip("custom section and annotation assertions".into()));
            }
            WastDirective::AssertException { .. } | WastDirective::AssertSuspension { .. } => {
                push_cmd(commands, line, "assert_exception/suspension".into(), Verdict::Skip("exceptions and stack switching".into()));
            }
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                push_cmd(commands, line, "thread/wait".into(), Verdict::Skip("threads".into()));
            }
        }
    }

    run_instances(instances, opts, commands);
}

fn push_cmd(commands: &mut Vec<CommandResult>, line: usize, what: String, verdict: Verdict) -> usize {
    commands.push(CommandResult { line, what, verdict });
    commands.len() - 1
}

/// The instance an action refers to: `Err(reason)` if it cannot run.
fn resolve(
    instances: &[Instance],
    named: &HashMap<String, usize>,
    current: Option<usize>,
    module: Option<&str>,
) -> Result<usize, String> {
    let index = match module {
        Some(name) => *named.get(name).ok_or_else(|| format!("action on unknown or registered module ${name}"))?,
        None => current.ok_or_else(|| "action before any module".to_string())?,
    };
    if let Some(reason) = &instances[index].tainted {
        return Err(reason.clone());
    }
    match &instances[index].compiled {
        Ok(_) => Ok(index),
        Err(Verdict::Skip(reason)) => Err(reason.clone()),
        Err(_) => Err("its module failed to compile".into()),
    }
}

fn enqueue(
    instances: &mut [Instance],
    commands: &mut [CommandResult],
    target: Result<usize, String>,
    index: usize,
    action: Result<Action, Verdict>,
    expect: Expect,
) {
    match (target, action) {
        (Ok(t), Ok(action)) => instances[t].pending.push(Pending { index, action, expect }),
        (Err(reason), _) => commands[index].verdict = Verdict::Skip(reason),
        (_, Err(verdict)) => commands[index].verdict = verdict,
    }
}

fn val_type(t: bulkhead_ir::Type) -> Result<ValType, String> {
    Ok(match t {
        bulkhead_ir::Type::I32 => ValType::I32,
        bulkhead_ir::Type::I64 => ValType::I64,
        bulkhead_ir::Type::F32 => ValType::F32,
        bulkhead_ir::Type::F64 => ValType::F64,
        other => return Err(format!("value type {other:?} at the module boundary")),
    })
}

fn arg_val(arg: &WastArg<'_>) -> Result<Val, String> {
    match arg {
        WastArg::Core(WastArgCore::I32(v)) => Ok(Val::I32(*v as u32)),
        WastArg::Core(WastArgCore::I64(v)) => Ok(Val::I64(*v as u64)),
        WastArg::Core(WastArgCore::F32(v)) => Ok(Val::F32(v.bits)),
        WastArg::Core(WastArgCore::F64(v)) => Ok(Val::F64(v.bits)),
        WastArg::Core(WastArgCore::V128(_)) => Err("v128 arguments".into()),
        // References travel as i32 (embedder ABI): null is 0 for every
        // reference type, and the host value N of `ref.extern N` is N + 1.
        WastArg::Core(WastArgCore::RefNull(_)) => Ok(Val::I32(0)),
        WastArg::Core(WastArgCore::RefExtern(n)) => {
            n.checked_add(1).map(Val::I32).ok_or_else(|| format!("ref.extern {n} has no 32-bit encoding"))
        }
        WastArg::Core(_) => Err("reference arguments other than funcref/externref".into()),
        #[allow(unreachable_patterns)]
        _ => Err("component-model arguments".into()),
    }
}

fn ret_pattern(ret: &WastRet<'_>) -> Result<RetPattern, String> {
    Ok(match ret {
        WastRet::Core(WastRetCore::I32(v)) => RetPattern::Exact(Val::I32(*v as u32)),
        WastRet::Core(WastRetCore::I64(v)) => RetPattern::Exact(Val::I64(*v as u64)),
        WastRet::Core(WastRetCore::F32(NanPattern::Value(v))) => RetPattern::Exact(Val::F32(v.bits)),
        WastRet::Core(WastRetCore::F32(NanPattern::CanonicalNan)) => RetPattern::F32CanonicalNan,
        WastRet::Core(WastRetCore::F32(NanPattern::ArithmeticNan)) => RetPattern::F32ArithmeticNan,
        WastRet::Core(WastRetCore::F64(NanPattern::Value(v))) => RetPattern::Exact(Val::F64(v.bits)),
        WastRet::Core(WastRetCore::F64(NanPattern::CanonicalNan)) => RetPattern::F64CanonicalNan,
        WastRet::Core(WastRetCore::F64(NanPattern::ArithmeticNan)) => RetPattern::F64ArithmeticNan,
        WastRet::Core(WastRetCore::V128(_)) => return Err("v128 results".into()),
        WastRet::Core(WastRetCore::RefNull(_)) => RetPattern::Exact(Val::I32(0)),
        WastRet::Core(WastRetCore::RefFunc(_)) | WastRet::Core(WastRetCore::RefExtern(None)) => RetPattern::NonNullRef,
        WastRet::Core(WastRetCore::RefExtern(Some(n))) => {
            RetPattern::Exact(Val::I32(n.checked_add(1).ok_or_else(|| format!("ref.extern {n} has no 32-bit encoding"))?))
        }
        WastRet::Core(WastRetCore::Either(_)) => return Err("`either` result patterns".into()),
        WastRet::Core(_) => return Err("reference results".into()),
        #[allow(unreachable_patterns)]
        _ => return Err("component-model results".into()),
    })
}

fn invoke_action(
    instances: &[Instance],
    target: &Result<usize, String>,
    name: &str,
    args: &[WastArg<'_>],
    expected: Option<&[RetPattern]>,
) -> Result<Action, Verdict> {
    let target = target.clone().map_err(Verdict::Skip)?;
    let Ok(artifact) = &instances[target].compiled else { unreachable!("resolve checked it") };
    let params = args.iter().map(arg_val).collect::<Result<Vec<Val>, String>>().map_err(Verdict::Skip)?;
    // A valid script only invokes exports that exist with matching types:
    // anything else means the compiler's module environment is wrong.
    let func = artifact
        .env
        .funcs
        .iter()
        .find(|f| f.exports.iter().any(|e| e == name))
        .ok_or_else(|| Verdict::Fail(format!("no exported function \"{name}\" in the compiled module")))?;
    let param_types =
        func.sig.params.iter().map(|t| val_type(*t)).collect::<Result<Vec<_>, _>>().map_err(Verdict::Skip)?;
    let results =
        func.sig.results.iter().map(|t| val_type(*t)).collect::<Result<Vec<_>, _>>().map_err(Verdict::Skip)?;
    if param_types != params.iter().map(|p| p.ty()).collect::<Vec<_>>() {
        return Err(Verdict::Fail(format!("arguments do not match the compiled signature of \"{name}\"")));
    }
    if results.len() > 1 {
        return Err(Verdict::Skip("multi-value results (no return ABI in the harness yet)".into()));
    }
    if let Some(expected) = expected {
        if expected.iter().map(|p| p.ty()).collect::<Vec<_>>() != results {
            return Err(Verdict::Fail(format!("expected results do not match the compiled signature of \"{name}\"")));
        }
    }
    Ok(Action::Invoke(Call { export: name.to_string(), params, results }))
}

fn get_action(
    instances: &[Instance],
    target: &Result<usize, String>,
    name: &str,
    expected: &[RetPattern],
) -> Result<Action, Verdict> {
    let target = target.clone().map_err(Verdict::Skip)?;
    let Ok(artifact) = &instances[target].compiled else { unreachable!("resolve checked it") };
    let global = artifact
        .env
        .globals
        .iter()
        .find(|g| g.exports.iter().any(|e| e == name))
        .ok_or_else(|| Verdict::Fail(format!("no exported global \"{name}\" in the compiled module")))?;
    let ty = val_type(global.ty).map_err(Verdict::Skip)?;
    if expected.len() != 1 || expected[0].ty() != ty {
        return Err(Verdict::Fail(format!("expected value does not match the compiled type of global \"{name}\"")));
    }
    Ok(match &global.import {
        // A re-exported import has no alias of its own (embedder ABI):
        // read the storage of whoever defines it.
        Some(import) => Action::ReadSymbol { symbol: artifact.symbols.import_symbol(&import.module, &import.name), ty },
        None => Action::GetGlobal { export: name.to_string(), ty },
    })
}

/// Encodes a module directive (text, quote or binary) to wasm bytes.
fn encode(module: &mut QuoteWat<'_>) -> Result<Vec<u8>, String> {
    if matches!(module, QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))) {
        return Err("components".into());
    }
    module.encode().map_err(|e| e.to_string())
}

/// Imports of a (possibly invalid) module: (module, field, kind); decoding
/// errors are left to the compiler to report.
fn imports(wasm: &[u8]) -> Vec<(String, String, ImportKind)> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { break };
        if let wasmparser::Payload::ImportSection(reader) = payload {
            for import in reader.into_imports().flatten() {
                let kind = match import.ty {
                    wasmparser::TypeRef::Func(_) => ImportKind::Func,
                    wasmparser::TypeRef::Memory(_) => ImportKind::Memory,
                    wasmparser::TypeRef::Global(_) => ImportKind::Global,
                    wasmparser::TypeRef::Table(_) => ImportKind::Table,
                    _ => ImportKind::Other,
                };
                out.push((import.module.to_string(), import.name.to_string(), kind));
            }
        }
    }
    out
}

/// Defined memories of a module: (index, memory type). Imported memories
/// take the first indices and are not listed.
fn defined_memories(wasm: &[u8]) -> Vec<(u32, wasmparser::MemoryType)> {
    let mut memories = Vec::new();
    let mut imported = 0u32;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        // Decoding errors are left to the compiler to report.
        let Ok(payload) = payload else { break };
        match payload {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports().flatten() {
                    if matches!(import.ty, wasmparser::TypeRef::Memory(_)) {
                        imported += 1;
                    }
                }
            }
            wasmparser::Payload::MemorySection(reader) => {
                for m in reader.into_iter().flatten() {
                    memories.push((imported + memories.len() as u32, m));
                }
            }
            _ => {}
        }
    }
    memories
}

/// The per-memory reservation cap when `count` memories share `budget`.
fn memory_cap(budget: u64, count: usize) -> u64 {
    let per_memory = (budget / count.max(1) as u64).max(1);
    (1u64 << (63 - per_memory.leading_zeros())).min(MAX_MEMORY_RESERVATION)
}

/// Memory reservations (see the module docs) under `cap`, and the bytes
/// they occupy in the image (power-of-two aligned sections).
fn memory_options(wasm: &[u8], cap: u64) -> (Vec<(u32, u64)>, u64) {
    let mut out = Vec::new();
    let mut total = 0u64;
    for (k, m) in defined_memories(wasm) {
        let page_log2 = m.page_size_log2.unwrap_or(16);
        let bytes = |pages: u64| pages.checked_shl(page_log2).filter(|b| b >> page_log2 == pages);
        let min = bytes(m.initial).unwrap_or(u64::MAX);
        let max = m.maximum.and_then(bytes).unwrap_or(u64::MAX);
        let reserve = max.min(cap).max(min);
        total = total.saturating_add(reserve.max(32).checked_next_power_of_two().unwrap_or(u64::MAX));
        out.push((k, reserve));
    }
    (out, total)
}

/// Reservations of the defined tables whose declared maximum exceeds
/// [`MAX_TABLE_RESERVATION`]: `(table index, entries)`. Imported tables
/// take the first indices.
fn table_options(wasm: &[u8]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut index = 0u32;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        // Decoding errors are left to the compiler to report.
        let Ok(payload) = payload else { break };
        match payload {
            wasmparser::Payload::ImportSection(reader) => {
                index += reader.into_imports().flatten().filter(|i| matches!(i.ty, wasmparser::TypeRef::Table(_))).count() as u32;
            }
            wasmparser::Payload::TableSection(reader) => {
                for table in reader.into_iter().flatten() {
                    let (min, max) = (table.ty.initial, table.ty.maximum);
                    if max.is_some_and(|m| m > u64::from(MAX_TABLE_RESERVATION)) {
                        let entries = u64::from(MAX_TABLE_RESERVATION).max(min);
                        out.push((index, u32::try_from(entries).unwrap_or(u32::MAX)));
                    }
                    index += 1;
                }
            }
            _ => {}
        }
    }
    out
}

/// Reservation of the `spectest` module's memory (runtime/spectest.c).
const SPECTEST_MEMORY_BYTES: u64 = 2 << 16;

fn compiler(opts: &RunnerOptions, name: &str, memory_max: Vec<(u32, u64)>, table_max: Vec<(u32, u32)>) -> Compiler {
    Compiler::new(Options {
        target: opts.target.clone().unwrap_or_else(|| opts.board.target_triple().to_string()),
        // The AN500's Cortex-M7 has a double-precision FPU, which the
        // triple alone (thumbv7em-none-eabihf = Cortex-M4F) does not say.
        cpu: (opts.target.is_none() && opts.board == Board::Mps2An500).then(|| "cortex-m7".to_string()),
        opt_level: opts.opt_level,
        name: name.into(),
        memory_max,
        default_memory_max: Some(MAX_MEMORY_RESERVATION),
        table_max,
        default_table_max: Some(MAX_TABLE_RESERVATION),
        ..Options::default()
    })
}

/// Compiles an encoded module directive under symbol prefix `name`, with
/// memory reservations capped at `cap` (default: the module alone on the
/// board). `Err(Skip)` for unsupported features and harness limits,
/// `Err(Fail)` when a valid module is rejected otherwise.
fn compile_wasm(
    wasm: Result<Vec<u8>, String>,
    opts: &RunnerOptions,
    name: &str,
    cap: Option<u64>,
) -> Result<bulkhead::Artifact, Verdict> {
    let wasm = wasm.map_err(|e| match e.as_str() {
        "components" => Verdict::Skip("components".into()),
        _ => Verdict::Fail(format!("cannot encode the module: {e}")),
    })?;
    let budget = opts.board.linear_memory_budget();
    let cap = cap.unwrap_or_else(|| memory_cap(budget, defined_memories(&wasm).len()));
    let (memory_max, total) = memory_options(&wasm, cap);
    if total > budget {
        return Err(Verdict::Skip(format!(
            "memories need {total} bytes of reservation, {} has {budget}",
            opts.board
        )));
    }
    compiler(opts, name, memory_max, table_options(&wasm)).compile(&wasm).map_err(|e| match e.kind() {
        ErrorKind::Unsupported => Verdict::Skip(first_line(&e.to_string())),
        _ => Verdict::Fail(format!("compiling: {e}")),
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// `assert_invalid` / `assert_malformed`: passes iff bulkhead (or the text
/// parser in front of it) rejects the module as invalid.
fn check_rejected(module: &mut QuoteWat<'_>, opts: &RunnerOptions, kind: &str, message: &str) -> Verdict {
    let wasm = match encode(module) {
        Ok(w) => w,
        Err(e) if e == "components" => return Verdict::Skip("components".into()),
        // The text parser bulkhead uses for .wat input rejected it.
        Err(_) => return Verdict::Pass,
    };
    match compiler(opts, "m", Vec::new(), Vec::new()).compile(&wasm) {
        Ok(_) => Verdict::Fail(format!("{kind} module (\"{message}\") was accepted")),
        Err(e) => match e.kind() {
            ErrorKind::Invalid => Verdict::Pass,
            ErrorKind::Unsupported => Verdict::Skip(first_line(&e.to_string())),
            _ => Verdict::Fail(format!("{kind} module (\"{message}\") rejected with a non-validation error: {e}")),
        },
    }
}

/// `(module definition ...)`: the module is defined, never instantiated,
/// so the command asserts that it is valid. It passes iff bulkhead
/// compiles it, or rejects it only because it does not fit a 32-bit
/// microcontroller (`WasmErrorKind::Limit`, e.g. a 4 GiB minimum memory) —
/// validation comes first in the compiler, so that error implies a valid
/// module. Rejected as invalid: fail; unsupported: skip.
fn check_definition(module: &mut QuoteWat<'_>, opts: &RunnerOptions) -> Verdict {
    let wasm = match encode(module) {
        Ok(w) => w,
        Err(e) if e == "components" => return Verdict::Skip("components".into()),
        Err(e) => return Verdict::Fail(format!("module definition does not encode: {e}")),
    };
    match compiler(opts, "m", Vec::new(), Vec::new()).compile(&wasm) {
        Ok(_) => Verdict::Pass,
        Err(bulkhead::Error::Unsupported(w)) if w.kind == bulkhead::WasmErrorKind::Limit => Verdict::Pass,
        Err(e) if e.kind() == ErrorKind::Unsupported => Verdict::Skip(first_line(&e.to_string())),
        Err(e) => Verdict::Fail(format!("module definition rejected: {e}")),
    }
}

/// The `spectest` module's exports as the wasm link checks see them
/// (runtime/spectest.c implements them).
const SPECTEST_WAT: &str = r#"(module
    (func (export "print"))
    (func (export "print_i32") (param i32))
    (func (export "print_i64") (param i64))
    (func (export "print_f32") (param f32))
    (func (export "print_f64") (param f64))
    (func (export "print_i32_f32") (param i32 f32))
    (func (export "print_f64_f64") (param f64 f64))
    (global (export "global_i32") i32 (i32.const 666))
    (global (export "global_i64") i64 (i64.const 666))
    (global (export "global_f32") f32 (f32.const 666.6))
    (global (export "global_f64") f64 (f64.const 666.6))
    (table (export "table") 10 20 funcref)
    (memory (export "memory") 1 2))"#;

/// `assert_unlinkable`: passes iff the module compiles and the wasm link
/// checks (`bulkhead::check_imports`, what an embedder linking compiled
/// modules runs) refuse one of its imports with the expected message.
fn check_unlinkable(
    module: &mut QuoteWat<'_>,
    instances: &[Instance],
    registered: &HashMap<String, usize>,
    opts: &RunnerOptions,
    message: &str,
) -> Verdict {
    let wasm = encode(module);
    let import_modules: Vec<String> = wasm.as_ref().map(|w| imports(w).into_iter().map(|(m, _, _)| m).collect()).unwrap_or_default();
    let artifact = match compile_wasm(wasm, opts, "m", None) {
        Ok(a) => a,
        Err(v) => return v,
    };
    let spectest = match compiler(opts, "spectest", Vec::new(), Vec::new()).compile(SPECTEST_WAT.as_bytes()) {
        Ok(a) => a,
        Err(e) => return Verdict::Fail(format!("the spectest description does not compile: {e}")),
    };
    // Providers whose module did not compile cannot be checked against.
    for name in &import_modules {
        if let Some(Err(_)) = registered.get(name).map(|&j| &instances[j].compiled) {
            return Verdict::Skip(format!("imports from \"{name}\", whose module did not compile"));
        }
    }
    let provider = |name: &str| -> Option<&bulkhead::ModuleEnv> {
        if name == "spectest" {
            return Some(&spectest.env);
        }
        let &j = registered.get(name)?;
        instances[j].compiled.as_ref().ok().map(|a| &a.env)
    };
    match bulkhead::check_imports(&artifact.env, provider) {
        Ok(()) => Verdict::Fail(format!("module expected to be unlinkable (\"{message}\") passes the link checks")),
        Err(e) if e.to_string().starts_with(message) => Verdict::Pass,
        Err(e) => Verdict::Fail(format!("expected link error \"{message}\", got: {e}")),
    }
}

fn trap_matches(code: u8, expected: &str) -> bool {
    match TrapCode::from_code(code) {
        Some(t) => {
            let ours = t.spec_message();
            expected.starts_with(ours) || ours.starts_with(expected)
        }
        None => false,
    }
}

fn describe_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Returned(v) => {
            let vals: Vec<String> = v.iter().map(|v| v.to_string()).collect();
            format!("returned [{}]", vals.join(", "))
        }
        Outcome::Trapped(code) => match TrapCode::from_code(*code) {
            Some(t) => format!("trapped \"{}\" (code {code})", t.spec_message()),
            None => format!("trapped with unknown code {code}"),
        },
        Outcome::Fault(d) => format!("faulted: {d}"),
        Outcome::Timeout => "timed out".into(),
        Outcome::NotReached => "not reached".into(),
    }
}

fn judge(expect: &Expect, outcome: &Outcome) -> Verdict {
    if *outcome == Outcome::NotReached {
        return Verdict::Skip("not reached: an earlier action hung the guest".into());
    }
    let ok = match (expect, outcome) {
        (Expect::NoTrap, Outcome::Returned(_)) => true,
        (Expect::Return(pats), Outcome::Returned(vals)) => {
            pats.len() == vals.len() && pats.iter().zip(vals).all(|(p, v)| p.matches(v))
        }
        (Expect::Trap(msg), Outcome::Trapped(code)) => trap_matches(*code, msg),
        (Expect::Exhaustion, Outcome::Trapped(code)) => *code == TrapCode::StackExhausted.code(),
        _ => false,
    };
    if ok {
        return Verdict::Pass;
    }
    let wanted = match expect {
        Expect::NoTrap => "to return".to_string(),
        Expect::Return(p) => {
            let p: Vec<String> = p.iter().map(|p| p.to_string()).collect();
            format!("[{}]", p.join(", "))
        }
        Expect::Trap(m) => format!("trap \"{m}\""),
        Expect::Exhaustion => "call stack exhaustion".into(),
    };
    Verdict::Fail(format!("expected {wanted}, {}", describe_outcome(outcome)))
}

/// Whether a failed `assert_return` is a refused `memory.grow`/`table.grow`:
/// the call returned -1 where the script expected another i32, and the
/// invoked function itself contains a grow instruction. The spec lets
/// growth fail at any time; the board reserves less than some tests assume
/// (call.wast grows a memory by 306 pages, more than the 16 MiB PSRAM).
fn growth_refused(expect: &Expect, outcome: &Outcome, action: &Action, wasm: &[u8]) -> bool {
    let (Expect::Return(pats), Outcome::Returned(vals)) = (expect, outcome) else { return false };
    let refused = matches!((pats.as_slice(), vals.as_slice()), ([RetPattern::Exact(Val::I32(want))], [Val::I32(u32::MAX)]) if *want != u32::MAX);
    let Action::Invoke(call) = action else { return false };
    refused && export_grows(wasm, &call.export)
}

/// Whether the body of exported function `name` contains `memory.grow` or
/// `table.grow` (decoding errors count as no).
fn export_grows(wasm: &[u8], name: &str) -> bool {
    let mut imported = 0u32;
    let mut target = None;
    let mut defined = 0u32;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { return false };
        match payload {
            wasmparser::Payload::ImportSection(reader) => {
                imported += reader.into_imports().flatten().filter(|i| matches!(i.ty, wasmparser::TypeRef::Func(_))).count() as u32;
            }
            wasmparser::Payload::ExportSection(reader) => {
                target = reader
                    .into_iter()
                    .flatten()
                    .find(|e| e.name == name && e.kind == wasmparser::ExternalKind::Func)
                    .map(|e| e.index);
            }
            wasmparser::Payload::CodeSectionEntry(body) => {
                let index = imported + defined;
                defined += 1;
                if Some(index) != target {
                    continue;
                }
                let Ok(mut ops) = body.get_operators_reader() else { return false };
                while !ops.eof() {
                    match ops.read() {
                        Ok(wasmparser::Operator::MemoryGrow { .. } | wasmparser::Operator::TableGrow { .. }) => return true,
                        Ok(_) => {}
                        Err(_) => return false,
                    }
                }
                return false;
            }
            _ => {}
        }
    }
    false
}

/// The symbols that define export `field` of `exporter` (`None`: the
/// spectest module): base (function, global storage or memory base) and,
/// for memories, the size and reservation words. A re-exported import has no symbol of its
/// own (embedder ABI), so it is followed to whoever defines it.
fn export_symbols(
    instances: &[Instance],
    exporter: Option<usize>,
    field: &str,
    kind: ImportKind,
    depth: u32,
) -> Option<(String, Option<(String, String)>)> {
    let Some(j) = exporter else {
        let base = format!("spectest_{}", bulkhead::sanitize(field));
        let words = matches!(kind, ImportKind::Memory | ImportKind::Table)
            .then(|| (format!("{base}__size"), format!("{base}__max")));
        return Some((base, words));
    };
    let artifact = instances[j].compiled.as_ref().ok()?;
    let env = &artifact.env;
    let reexported = match kind {
        ImportKind::Memory => env.memories.iter().find(|m| m.exports.iter().any(|e| e == field)).and_then(|m| m.import.as_ref()),
        ImportKind::Global => env.globals.iter().find(|g| g.exports.iter().any(|e| e == field)).and_then(|g| g.import.as_ref()),
        ImportKind::Table => env.tables.iter().find(|t| t.exports.iter().any(|e| e == field)).and_then(|t| t.import.as_ref()),
        // Re-exported functions get a thunk under the export's name.
        ImportKind::Func | ImportKind::Other => None,
    };
    match reexported {
        Some(import) if depth < 16 => {
            let (_, _, _, next) = instances[j]
                .resolved_imports
                .iter()
                .find(|(m, f, _, _)| *m == import.module && *f == import.name)?;
            export_symbols(instances, *next, &import.name, kind, depth + 1)
        }
        Some(_) => None,
        None => {
            let names = &artifact.symbols;
            let words = matches!(kind, ImportKind::Memory | ImportKind::Table)
                .then(|| (names.export_size_symbol(field), names.export_max_symbol(field)));
            Some((names.export_symbol(field), words))
        }
    }
}

/// Groups the instances linked through imports (and through the shared
/// `spectest` module) and runs each group in one boot.
fn run_instances(mut instances: Vec<Instance>, opts: &RunnerOptions, commands: &mut [CommandResult]) {
    // Union-find; node `instances.len()` is the spectest module.
    let spectest = instances.len();
    let mut parent: Vec<usize> = (0..=spectest).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for (i, instance) in instances.iter().enumerate() {
        if instance.compiled.is_err() {
            continue;
        }
        let mut partners = instance.links.clone();
        if instance.uses_spectest {
            partners.push(spectest);
        }
        for j in partners {
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            parent[a] = b;
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..instances.len() {
        match &instances[i].compiled {
            Ok(_) => {
                let root = find(&mut parent, i);
                groups.entry(root).or_default().push(i);
            }
            Err(verdict) => {
                commands[instances[i].module_command].verdict = verdict.clone();
                let reason = match verdict {
                    Verdict::Skip(r) => r.clone(),
                    _ => "its module failed to compile".into(),
                };
                for p in &instances[i].pending {
                    commands[p.index].verdict = Verdict::Skip(reason.clone());
                }
            }
        }
    }
    let mut ordered: Vec<Vec<usize>> = groups.into_values().collect();
    ordered.sort_by_key(|g| g[0]);
    for group in ordered {
        run_group(&mut instances, &group, opts, commands);
    }
}

fn run_group(instances: &mut [Instance], group: &[usize], opts: &RunnerOptions, commands: &mut [CommandResult]) {
    let fail_all = |instances: &[Instance], commands: &mut [CommandResult], module: Verdict, others: Verdict| {
        for &i in group {
            commands[instances[i].module_command].verdict = module.clone();
            for p in &instances[i].pending {
                commands[p.index].verdict = others.clone();
            }
        }
    };
    // Modules linked together share the board: recompile under their final
    // names with reservations that fit together.
    let needs_relink = group.len() > 1
        || group.iter().any(|&i| instances[i].final_name != provisional_name(i) || instances[i].uses_spectest);
    if needs_relink {
        let uses_spectest = group.iter().any(|&i| instances[i].uses_spectest);
        let budget = opts.board.linear_memory_budget() - if uses_spectest { SPECTEST_MEMORY_BYTES } else { 0 };
        let count: usize = group.iter().map(|&i| defined_memories(&instances[i].wasm).len()).sum();
        let cap = memory_cap(budget, count);
        let total: u64 = group.iter().map(|&i| memory_options(&instances[i].wasm, cap).1).sum();
        if total > budget {
            let why = format!("linked modules need {total} bytes of memory reservation, {} has {budget}", opts.board);
            fail_all(instances, commands, Verdict::Skip(why.clone()), Verdict::Skip(why));
            return;
        }
        for &i in group {
            let recompiled = compile_wasm(Ok(instances[i].wasm.clone()), opts, &instances[i].final_name.clone(), Some(cap));
            match recompiled {
                Ok(a) => instances[i].compiled = Ok(a),
                Err(v) => {
                    let why = format!("a linked module failed to recompile: {v:?}");
                    fail_all(instances, commands, Verdict::Fail(why.clone()), Verdict::Skip(why));
                    return;
                }
            }
        }
    }

    let artifacts: Vec<&bulkhead::Artifact> =
        group.iter().map(|&i| instances[i].compiled.as_ref().expect("grouped instances compiled")).collect();
    let hard_float = artifacts.iter().all(|a| a.isa.hard_float == opts.board.hard_float());
    if !hard_float {
        let why = format!("the target's float ABI does not match {}", opts.board);
        fail_all(instances, commands, Verdict::Skip(why.clone()), Verdict::Skip(why));
        return;
    }
    let modules: Vec<ObjectModule<'_>> = artifacts
        .iter()
        .map(|a| ObjectModule { object: &a.object, name: a.symbols.module(), num_memories: a.env.memories.len() as u32 })
        .collect();
    // Steps in script order: each instantiation at its module command,
    // each action at its own command.
    let mut order: Vec<(usize, Step, Option<usize>)> = Vec::new();
    for (m, &i) in group.iter().enumerate() {
        order.push((instances[i].module_command, Step::Instantiate(m), None));
        for (k, p) in instances[i].pending.iter().enumerate() {
            order.push((p.index, Step::Act(m, p.action.clone()), Some(k)));
        }
    }
    order.sort_by_key(|(seq, _, _)| *seq);
    let steps: Vec<Step> = order.iter().map(|(_, s, _)| s.clone()).collect();
    let mut aliases = Vec::new();
    for &i in group {
        let Ok(artifact) = &instances[i].compiled else { continue };
        for (r, field, kind, exporter) in &instances[i].resolved_imports {
            let Some((base, words)) = export_symbols(instances, *exporter, field, *kind, 0) else { continue };
            let symbols = &artifact.symbols;
            let import_base = symbols.import_symbol(r, field);
            if import_base != base {
                aliases.push((import_base, base));
            }
            if let Some((size, max)) = words {
                let import_size = symbols.import_size_symbol(r, field);
                if import_size != size {
                    aliases.push((import_size, size));
                }
                let import_max = symbols.import_max_symbol(r, field);
                if import_max != max {
                    aliases.push((import_max, max));
                }
            }
        }
    }
    aliases.sort();
    aliases.dedup();
    let report = match run_linked_with_aliases(&modules, &steps, &aliases, opts.board, opts.timeout) {
        Ok(r) => r,
        Err(e) => {
            let (module, others) = match &e {
                HarnessError::Unsupported(m) => (Verdict::Skip(m.clone()), Verdict::Skip(m.clone())),
                _ => (Verdict::Fail(e.to_string()), Verdict::Skip("its module failed to run".into())),
            };
            fail_all(instances, commands, module, others);
            return;
        }
    };
    // Instantiation results first (actions are judged against them).
    let mut instantiated = vec![false; group.len()];
    for ((_, step, _), outcome) in order.iter().zip(&report.outcomes) {
        if let Step::Instantiate(m) = step {
            let instance = &instances[group[*m]];
            instantiated[*m] = *outcome == Outcome::Returned(vec![Val::I32(0)]);
            let code = match outcome {
                Outcome::Returned(v) => match v.first() {
                    Some(Val::I32(rc)) if *rc != 0 => Some((*rc).min(255) as u8),
                    _ => None,
                },
                Outcome::Trapped(code) => Some(*code),
                _ => None,
            };
            commands[instance.module_command].verdict = match (&instance.instantiate_trap, instantiated[*m], code) {
                (None, true, _) => Verdict::Pass,
                (None, false, _) => Verdict::Fail(format!("instantiation failed: {}", describe_outcome(outcome))),
                (Some(msg), _, Some(code)) if trap_matches(code, msg) => Verdict::Pass,
                (Some(msg), _, _) => Verdict::Fail(format!(
                    "expected instantiation to trap \"{msg}\", {}",
                    describe_outcome(outcome)
                )),
            };
        }
    }
    for ((_, step, pending), outcome) in order.iter().zip(&report.outcomes) {
        if let (Step::Act(m, _), Some(k)) = (step, pending) {
            let p = &instances[group[*m]].pending[*k];
            commands[p.index].verdict = if !instantiated[*m] && *outcome == Outcome::NotReached {
                Verdict::Skip("its module failed to instantiate".into())
            } else {
                let instance = &instances[group[*m]];
                match judge(&p.expect, outcome) {
                    Verdict::Fail(why) if growth_refused(&p.expect, outcome, &p.action, &instance.wasm) => Verdict::Skip(
                        format!("a grow instruction returned -1 (the board's reservation is smaller than the test assumes; the spec allows it): {why}"),
                    ),
                    v => v,
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_patterns() {
        assert!(RetPattern::F32CanonicalNan.matches(&Val::F32(0x7fc0_0000)));
        assert!(RetPattern::F32CanonicalNan.matches(&Val::F32(0xffc0_0000)));
        assert!(!RetPattern::F32CanonicalNan.matches(&Val::F32(0x7fc0_0001)));
        assert!(RetPattern::F32ArithmeticNan.matches(&Val::F32(0x7fc0_0001)));
        assert!(!RetPattern::F32ArithmeticNan.matches(&Val::F32(0x7f80_0001)));
        assert!(!RetPattern::F32ArithmeticNan.matches(&Val::F32(0x7f80_0000)));
        assert!(RetPattern::F64CanonicalNan.matches(&Val::F64(0xfff8_0000_0000_0000)));
        assert!(!RetPattern::F64CanonicalNan.matches(&Val::F64(0x7ff8_0000_0000_0001)));
        assert!(RetPattern::F64ArithmeticNan.matches(&Val::F64(0x7ffc_0000_0000_0000)));
        assert!(!RetPattern::F64ArithmeticNan.matches(&Val::F64(0x7ff4_0000_0000_0000)));
        assert!(!RetPattern::F64ArithmeticNan.matches(&Val::F32(0x7fc0_0000)));
    }

    #[test]
    fn trap_messages() {
        assert!(trap_matches(2, "out of bounds memory access"));
        assert!(trap_matches(7, "uninitialized element 2"));
        assert!(trap_matches(3, "integer divide by zero"));
        assert!(!trap_matches(3, "integer overflow"));
        assert!(!trap_matches(200, "unreachable"));
    }

    #[test]
    fn memory_reservations_fit_the_board() {
        let budget = Board::Mps2An386.linear_memory_budget();
        let wasm = wat::parse_str("(module (memory 1) (memory 2 3) (memory 0 65536))").unwrap();
        let cap = memory_cap(budget, 3);
        assert_eq!(cap, 4 << 20);
        let (m, total) = memory_options(&wasm, cap);
        assert_eq!(m, vec![(0, 4 << 20), (1, 3 << 16), (2, 4 << 20)]);
        assert_eq!(total, (4 << 20) + (4 << 16) + (4 << 20));
        // Imported memories take the first indices.
        let wasm = wat::parse_str(r#"(module (import "a" "m" (memory 1)) (memory 2 3))"#).unwrap();
        assert_eq!(memory_options(&wasm, cap).0, vec![(1, 3 << 16)]);
        // Too big a minimum is reported through the total.
        let wasm = wat::parse_str("(module (memory 300))").unwrap();
        assert!(memory_options(&wasm, cap).1 > budget);
        // Custom page size: 1-byte pages.
        let wasm = wat::parse_str("(module (memory 10 20 (pagesize 1)))").unwrap();
        assert_eq!(memory_options(&wasm, cap).0, vec![(0, 20)]);
        // Many memories share the budget.
        assert_eq!(memory_cap(budget, 10), 1 << 20);
    }
}
