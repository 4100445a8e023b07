//! The `bulkhead` command: a thin shell over the `bulkhead` library.

use bulkhead::{BoundsMode, Compiler, Options};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
bulkhead: compile WebAssembly (multi-memory) to ARM Thumb-2 object files for Cortex-M

USAGE:
    bulkhead compile INPUT [-o OUTPUT] [OPTIONS]
    bulkhead --help | --version

INPUT is a binary module (.wasm, recognized by its \\0asm magic) or a text
module (.wat). Every wasm linear memory becomes its own NOBITS section
`.bulkhead.mem.<k>` with symbols NAME_mem<k>, NAME_mem<k>_size and
NAME_mem<k>_max; see docs/embedder-abi.md for the full embedder ABI.

OPTIONS:
    -o, --output FILE         Where to write the result. Default for --emit obj:
                              INPUT's file name with the extension .o; for
                              --emit ir|asm: standard output. `-` is stdout.
        --target TRIPLE       thumbv7m-none-eabi (Cortex-M3), thumbv7em-none-eabi
                              (M4), thumbv7em-none-eabihf (M4F, the default) or
                              thumbv8m.main-none-eabi[hf] (M33). `eabihf` passes
                              floats in VFP registers.
        --cpu CPU             Core overriding the triple's default: cortex-m3,
                              cortex-m4, cortex-m4f, cortex-m7, cortex-m33.
        --name NAME           Module name, the prefix of every symbol (a C
                              identifier). Default: INPUT's file stem with bytes
                              outside [A-Za-z0-9_] replaced by `_`.
    -O0, -O1, -O2             Optimization level. -O0 skips the e-graph mid-end;
                              -O2 is the default.
        --bounds MODE         checked (default): every memory access is bounds-
                              checked and traps with UDF #2; mask: addresses
                              are masked into the memory's power-of-two region
                              (no trap, containment only; bulk operations stay
                              checked); none: no checks (trusted code only).
        --memory-max K=SIZE   Reserve SIZE bytes for memory K (between its minimum
                              and its declared maximum); memory.grow beyond it
                              returns -1. Repeatable.
        --default-memory-max SIZE
                              Reservation for memories that declare no maximum
                              and have no --memory-max.
        --table-max T=N       Reserve N entries for table T (between its minimum
                              and its declared maximum); table.grow beyond it
                              returns -1. Repeatable.
        --default-table-max N Reservation in entries for tables that declare no
                              maximum and have no --table-max (else: the
                              minimum, so they cannot grow).
        --emit KIND[,KIND...] obj (default): the ELF relocatable object; ir: the
                              IR of every function after optimization; asm: an
                              assembly listing of every function. Embedder
                              outputs (with the object; see docs/manifest.md):
                              manifest (manifest.json: memories, planned MPU
                              regions and register values, per-export memory
                              footprint), header (bulkhead.h: the same for C,
                              plus prototypes), ld (memory.ld: places each
                              memory section at its planned address).
        --emit-dir DIR        Where the embedder outputs go. Default: the
                              directory of the object file (-o).
        --ram BASE:SIZE       RAM the layout planner places the memories in,
                              e.g. 0x20200000:2MiB. Default: the upper 2 MiB of
                              the QEMU MPS2 boards' 4 MiB SRAM, 0x20200000 (M3,
                              M4, M4F, M7) or 0x38200000 (M33).
        --disable RULESET     Switch an e-graph rule set off (to measure its
                              effect): const-fold, cse, algebraic, bounds-checks
                              (redundant bounds-check removal) or loads
                              (per-memory load CSE and store-to-load
                              forwarding). Repeatable.
        --image               Write a self-contained firmware image (ELF
                              executable, default INPUT.elf) instead of an
                              object: vector table, reset, MPU programming
                              (one region per memory), instantiation, the
                              --entry exports run unprivileged, fault and trap
                              reports over semihosting. See docs/embedder-abi.md,
                              section Firmware images.
        --board BOARD         Board of the image: mps2-an385 (Cortex-M3),
                              mps2-an386 (M4F, the default), mps2-an500 (M7) or
                              mps2-an505 (M33). Without --target the code is
                              compiled for the board's core.
        --entry NAME[,NAME...]
                              Exports (`() -> i32` or `() -> ()`) the image runs
                              after instantiation, in order, each with only the
                              MPU regions of the memories it may touch.
                              Repeatable. Without: instantiate (and the start
                              function) only.
        --grant NAME=K[,K...] Enable exactly the regions of memories K while
                              entry NAME runs, instead of its footprint (for
                              experiments). Repeatable.
        --stats               Print per-function statistics to standard error:
                              code size, the memory pinned in R11, e-graph
                              size and rewrites by rule, bounds checks kept and
                              removed, loads forwarded and merged, mem_base
                              materializations per memory.
        --stats-json[=FILE]   The same statistics (and module totals) as one
                              JSON document (schema bulkhead-stats/1), on
                              standard output or into FILE. Deterministic: no
                              timings.
    -h, --help                Print this help.
    -V, --version             Print the version.

SIZE is a number of bytes, optionally with a binary unit: 65536, 64KiB, 1MiB.

EXIT STATUS:
    0 success, 1 the module could not be compiled, 2 bad command line,
    3 internal error (a bug in bulkhead).
";

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Emit {
    Obj,
    Ir,
    Asm,
}

/// The embedder outputs `--emit` can add to the object.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct EmbedderOutputs {
    manifest: bool,
    header: bool,
    ld: bool,
}

impl EmbedderOutputs {
    fn any(&self) -> bool {
        self.manifest || self.header || self.ld
    }
}

#[derive(Debug)]
struct CompileArgs {
    input: PathBuf,
    output: Option<PathBuf>,
    emit: Emit,
    embedder: EmbedderOutputs,
    emit_dir: Option<PathBuf>,
    options: Options,
    name_given: bool,
    stats: bool,
    /// `--stats-json`: `Some(None)` for standard output.
    stats_json: Option<Option<PathBuf>>,
    /// `--image`: the board and entries.
    image: Option<bulkhead::image::ImageOptions>,
}

#[derive(Debug)]
enum Command {
    Help,
    Version,
    Compile(Box<CompileArgs>),
}

/// A command-line error (exit status 2).
struct UsageError(String);

fn parse_args(args: Vec<OsString>) -> Result<Command, UsageError> {
    let mut args =
        args.into_iter().map(|a| a.into_string().map_err(|a| UsageError(format!("argument {a:?} is not valid UTF-8"))));
    let Some(first) = args.next().transpose()? else {
        return Err(UsageError("no command given; try `bulkhead --help`".into()));
    };
    match first.as_str() {
        "-h" | "--help" | "help" => return Ok(Command::Help),
        "-V" | "--version" => return Ok(Command::Version),
        "compile" => {}
        other => return Err(UsageError(format!("unknown command `{other}`; try `bulkhead --help`"))),
    }

    let mut input = None;
    let mut output = None;
    let mut emit = Emit::Obj;
    let mut embedder = EmbedderOutputs::default();
    let mut emit_dir = None;
    let mut options = Options::default();
    let mut name_given = false;
    let mut stats = false;
    let mut stats_json: Option<Option<PathBuf>> = None;
    let mut image = false;
    let mut board: Option<bulkhead::image::Board> = None;
    let mut target_given = false;
    let mut entries: Vec<String> = Vec::new();
    let mut grants: Vec<(String, Vec<u32>)> = Vec::new();
    let mut disabled: Vec<String> = Vec::new();
    let args: Vec<String> = args.collect::<Result<_, _>>()?;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        // `--flag=value` or `--flag value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, UsageError> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args.get(i).cloned().ok_or_else(|| UsageError(format!("{flag} needs {what}")))?;
            i += 1;
            Ok(v)
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "-o" | "--output" => output = Some(PathBuf::from(value("a file name")?)),
            "--target" => {
                options.target = value("a target triple")?;
                target_given = true;
            }
            "--cpu" => {
                options.cpu = Some(value("a CPU name")?);
                target_given = true;
            }
            "--image" => image = true,
            "--board" => board = Some(value("a board")?.parse().map_err(|m| UsageError(format!("--board: {m}")))?),
            "--entry" => {
                for name in value("an export name")?.split(',') {
                    entries.push(name.to_string());
                }
            }
            "--grant" => {
                let v = value("NAME=K[,K...]")?;
                let (name, list) = v
                    .rsplit_once('=')
                    .ok_or_else(|| UsageError(format!("--grant {v}: expected NAME=K[,K...], e.g. adapter=0,1")))?;
                let memories = list
                    .split(',')
                    .filter(|k| !k.trim().is_empty())
                    .map(|k| k.trim().parse::<u32>())
                    .collect::<Result<Vec<u32>, _>>()
                    .map_err(|_| UsageError(format!("--grant {v}: `{list}` is not a list of memory indices")))?;
                grants.push((name.to_string(), memories));
            }
            "--name" => {
                let name = value("a module name")?;
                bulkhead::validate_module_name(&name).map_err(|m| UsageError(format!("--name: {m}")))?;
                options.name = name;
                name_given = true;
            }
            "-O0" => options.opt_level = 0,
            "-O1" => options.opt_level = 1,
            "-O2" => options.opt_level = 2,
            "--bounds" => {
                options.bounds = match value("checked, mask or none")?.as_str() {
                    "checked" => BoundsMode::Checked,
                    "none" => BoundsMode::None,
                    "mask" => BoundsMode::Mask,
                    other => return Err(UsageError(format!("--bounds: unknown mode `{other}` (use checked, mask or none)"))),
                }
            }
            "--memory-max" => {
                let v = value("K=SIZE")?;
                let (k, size) = v
                    .split_once('=')
                    .ok_or_else(|| UsageError(format!("--memory-max {v}: expected K=SIZE, e.g. 1=64KiB")))?;
                let k: u32 = k
                    .trim()
                    .parse()
                    .map_err(|_| UsageError(format!("--memory-max {v}: `{k}` is not a memory index")))?;
                let size = bulkhead::parse_size(size).map_err(|m| UsageError(format!("--memory-max: {m}")))?;
                options.memory_max.retain(|(m, _)| *m != k);
                options.memory_max.push((k, size));
            }
            "--table-max" => {
                let v = value("T=N")?;
                let parsed = v.split_once('=').and_then(|(t, n)| Some((t.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?)));
                let (t, n) = parsed.ok_or_else(|| UsageError(format!("--table-max {v}: expected T=N (table index = entries), e.g. 0=64")))?;
                options.table_max.retain(|(x, _)| *x != t);
                options.table_max.push((t, n));
            }
            "--default-table-max" => {
                let v = value("N")?;
                let n = v.trim().parse::<u32>().map_err(|_| UsageError(format!("--default-table-max {v}: expected a number of entries")))?;
                options.default_table_max = Some(n);
            }
            "--default-memory-max" => {
                let v = value("a SIZE")?;
                options.default_memory_max =
                    Some(bulkhead::parse_size(&v).map_err(|m| UsageError(format!("--default-memory-max: {m}")))?);
            }
            "--emit" => {
                for kind in value("obj, ir, asm, manifest, header or ld")?.split(',') {
                    match kind.trim() {
                        "obj" => emit = Emit::Obj,
                        "ir" => emit = Emit::Ir,
                        "asm" => emit = Emit::Asm,
                        "manifest" => embedder.manifest = true,
                        "header" => embedder.header = true,
                        "ld" => embedder.ld = true,
                        other => {
                            return Err(UsageError(format!(
                                "--emit: unknown kind `{other}` (use obj, ir, asm, manifest, header or ld)"
                            )))
                        }
                    }
                }
            }
            "--emit-dir" => emit_dir = Some(PathBuf::from(value("a directory")?)),
            "--ram" => {
                let v = value("BASE:SIZE")?;
                options.ram = Some(bulkhead::RamRange::parse(&v).map_err(|e| UsageError(format!("--ram: {e}")))?);
            }
            "--stats" => stats = true,
            // Only `--stats-json=FILE` takes a value: a separate word after
            // `--stats-json` is the next argument (e.g. the input).
            "--stats-json" => stats_json = Some(inline.clone().map(PathBuf::from)),
            "--disable" => {
                let set = value("a rule set")?;
                if !RULE_SETS.contains(&set.as_str()) {
                    return Err(UsageError(format!(
                        "--disable: unknown rule set `{set}` (use {})",
                        RULE_SETS.join(", ")
                    )));
                }
                disabled.push(set);
            }
            _ if flag.starts_with('-') && flag != "-" => {
                return Err(UsageError(format!("unknown option `{flag}`; try `bulkhead --help`")))
            }
            _ => {
                if input.is_some() {
                    return Err(UsageError(format!("more than one input file (`{arg}`)")));
                }
                input = Some(PathBuf::from(arg));
            }
        }
    }
    let input = input.ok_or_else(|| UsageError("no input file; usage: bulkhead compile INPUT -o OUTPUT".into()))?;
    let output_to_stdout = match &output {
        Some(path) => path.as_os_str() == "-",
        None => !image && emit != Emit::Obj,
    };
    if stats_json == Some(None) && output_to_stdout {
        return Err(UsageError(
            "--stats-json and the compiled output both go to standard output; use -o FILE or --stats-json=FILE".into(),
        ));
    }
    if embedder.any() && emit != Emit::Obj {
        return Err(UsageError(
            "--emit manifest/header/ld go with the object file, not with ir or asm listings".into(),
        ));
    }
    if !image && (board.is_some() || !entries.is_empty() || !grants.is_empty()) {
        return Err(UsageError("--board, --entry and --grant go with --image".into()));
    }
    let image = if image {
        if emit != Emit::Obj || embedder.any() {
            return Err(UsageError("--image writes a firmware image; it does not combine with --emit".into()));
        }
        let board = board.unwrap_or(bulkhead::image::Board::Mps2An386);
        if !target_given {
            let (triple, cpu) = board.target();
            options.target = triple.to_string();
            options.cpu = cpu.map(String::from);
        }
        let mut image = bulkhead::image::ImageOptions::new(board);
        image.ram = options.ram;
        for name in &entries {
            let grant = grants.iter().rev().find(|(g, _)| g == name).map(|(_, m)| m.clone());
            image.entries.push(bulkhead::image::EntryRequest { export: name.clone(), grant });
        }
        if let Some((name, _)) = grants.iter().find(|(g, _)| !entries.contains(g)) {
            return Err(UsageError(format!("--grant {name}: `{name}` is not an --entry")));
        }
        Some(image)
    } else {
        None
    };
    if !disabled.is_empty() {
        let mut egraph = bulkhead::egraph_options(options.opt_level.max(1)).unwrap_or_default();
        for set in &disabled {
            match set.as_str() {
                "const-fold" => egraph.const_fold = false,
                "cse" => egraph.cse = false,
                "bounds-checks" => egraph.bounds_checks = false,
                "loads" => egraph.loads = false,
                _ => egraph.algebraic = false,
            }
        }
        options.egraph = Some(egraph);
    }
    Ok(Command::Compile(Box::new(CompileArgs {
        input,
        output,
        emit,
        embedder,
        emit_dir,
        options,
        name_given,
        stats,
        stats_json,
        image,
    })))
}

/// A compilation failure (exit status 1).
struct Failure(String);

fn compile(mut args: CompileArgs) -> Result<(), Failure> {
    if !args.name_given {
        let stem = args.input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        args.options.name = bulkhead::module_name_from_stem(&stem);
    }
    args.options.emit_ir = args.emit == Emit::Ir;
    args.options.emit_asm = args.emit == Emit::Asm;
    let ram = args.options.ram;
    let (module_name, opt_level) = (args.options.name.clone(), args.options.opt_level);
    let compiler = Compiler::new(args.options);
    let artifact = if args.input.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .map_err(|e| Failure(format!("cannot read standard input: {e}")))?;
        compiler.compile(&bytes).map_err(|e| Failure(format!("<stdin>: {e}")))?
    } else {
        compiler.compile_file(&args.input).map_err(|e| match e {
            bulkhead::Error::Io { .. } => Failure(e.to_string()),
            e => Failure(format!("{}: {e}", args.input.display())),
        })?
    };

    if args.stats {
        print_stats(&artifact);
    }
    if let Some(dest) = &args.stats_json {
        let json = stats_json(&artifact, &module_name, opt_level);
        match dest {
            Some(path) => write_file(path, json.as_bytes())?,
            None => std::io::stdout()
                .lock()
                .write_all(json.as_bytes())
                .map_err(|e| Failure(format!("cannot write to standard output: {e}")))?,
        }
    }
    if let Some(image_options) = &args.image {
        let image = bulkhead::image::build_image(&artifact, image_options)
            .map_err(|e| Failure(format!("{}: {e}", args.input.display())))?;
        let output = args.output.unwrap_or_else(|| default_object_path(&args.input).with_extension("elf"));
        return match output.as_os_str() == "-" {
            true => std::io::stdout()
                .lock()
                .write_all(&image.elf)
                .map_err(|e| Failure(format!("cannot write to standard output: {e}"))),
            false => write_file(&output, &image.elf),
        };
    }
    // Plan before writing anything, so that a layout that does not fit
    // leaves no partial set of outputs behind.
    let embedder_files = if args.embedder.any() {
        let layout = bulkhead::emit::plan_layout(&artifact, ram)
            .map_err(|e| Failure(format!("{}: {e}", args.input.display())))?;
        let mut files: Vec<(&str, String)> = Vec::new();
        if args.embedder.manifest {
            files.push((bulkhead::emit::MANIFEST_FILE, bulkhead::emit::manifest(&artifact, &layout)));
        }
        if args.embedder.header {
            files.push((bulkhead::emit::HEADER_FILE, bulkhead::emit::header(&artifact, &layout)));
        }
        if args.embedder.ld {
            files.push((bulkhead::emit::LINKER_SCRIPT_FILE, bulkhead::emit::linker_script(&artifact, &layout)));
        }
        files
    } else {
        Vec::new()
    };
    let (bytes, default_output): (Vec<u8>, Option<PathBuf>) = match args.emit {
        Emit::Obj => (artifact.object, Some(default_object_path(&args.input))),
        Emit::Ir => (artifact.ir_text.unwrap_or_default().into_bytes(), None),
        Emit::Asm => (artifact.asm_text.unwrap_or_default().into_bytes(), None),
    };
    let output = args.output.or(default_output);
    if !embedder_files.is_empty() {
        let dir = match (&args.emit_dir, &output) {
            (Some(dir), _) => dir.clone(),
            (None, Some(path)) if path.as_os_str() != "-" => path.parent().map(Path::to_path_buf).unwrap_or_default(),
            _ => PathBuf::new(),
        };
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(&dir).map_err(|e| Failure(format!("cannot create {}: {e}", dir.display())))?;
        }
        for (file, text) in &embedder_files {
            write_file(&dir.join(file), text.as_bytes())?;
        }
    }
    match output {
        Some(path) if path.as_os_str() != "-" => write_file(&path, &bytes),
        _ => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .map_err(|e| Failure(format!("cannot write to standard output: {e}"))),
    }
}

fn print_stats(artifact: &bulkhead::Artifact) {
    let mut err = std::io::stderr().lock();
    let mut total = 0;
    for f in &artifact.functions {
        total += f.code_size;
        let pinned = match f.dominant_memory {
            Some(k) => format!("memory {k} in r11"),
            None => "no pinned memory".to_string(),
        };
        let _ = write!(err, "bulkhead: stats: {}: {} bytes, {pinned}", f.symbol, f.code_size);
        match &f.stats {
            Some(stats) => {
                let _ = writeln!(err, "; {stats}");
            }
            None => {
                let _ = writeln!(err);
            }
        }
    }
    let _ = writeln!(err, "bulkhead: stats: total: {total} bytes of code in {} functions", artifact.functions.len());
}

/// The e-graph rule sets `--disable` accepts.
const RULE_SETS: [&str; 5] = ["const-fold", "cse", "algebraic", "bounds-checks", "loads"];

/// `--stats-json`: per-function statistics and module totals. Fields come
/// in a fixed order and maps are sorted, so equal compilations give equal
/// bytes. Schema `bulkhead-stats/1`:
/// `{schema, module, opt_level, functions: [{symbol, name, index, code_bytes,
/// dominant_memory, memories, mid_end}], totals}`, where `mid_end` is null at
/// -O0 and otherwise `{insts_before, insts_after, egraph_nodes,
/// egraph_classes, rewrites: {rule: n}, bounds_checks_kept,
/// bounds_checks_removed, loads_forwarded, loads_merged,
/// base_materializations: {memory: n}, limit_hit}`; `totals` sums the
/// numbers over all functions.
fn stats_json(artifact: &bulkhead::Artifact, module: &str, opt_level: u8) -> String {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    let quote = |text: &str| {
        let mut q = String::from("\"");
        for c in text.chars() {
            match c {
                '"' | '\\' => {
                    q.push('\\');
                    q.push(c);
                }
                c if (c as u32) < 0x20 => {
                    let _ = write!(q, "\\u{:04x}", c as u32);
                }
                c => q.push(c),
            }
        }
        q.push('"');
        q
    };
    let opt = |v: Option<u32>| v.map_or("null".to_string(), |v| v.to_string());
    let map = |m: &mut dyn Iterator<Item = (String, usize)>| {
        let items: Vec<String> = m.map(|(k, n)| format!("{}: {n}", quote(&k))).collect();
        format!("{{{}}}", items.join(", "))
    };
    let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rewrites: BTreeMap<&str, usize> = BTreeMap::new();
    let mut bases: BTreeMap<u32, usize> = BTreeMap::new();
    let mut functions = Vec::new();
    for f in &artifact.functions {
        *totals.entry("code_bytes").or_default() += f.code_size;
        let memories: Vec<String> = f.memories.iter().map(u32::to_string).collect();
        let mid_end = match &f.stats {
            None => "null".to_string(),
            Some(s) => {
                let numbers = [
                    ("insts_before", s.insts_before),
                    ("insts_after", s.insts_after),
                    ("egraph_nodes", s.egraph_nodes),
                    ("egraph_classes", s.egraph_classes),
                    ("bounds_checks_kept", s.bounds_checks_kept),
                    ("bounds_checks_removed", s.bounds_checks_removed),
                    ("loads_forwarded", s.loads_forwarded),
                    ("loads_merged", s.loads_merged),
                ];
                let mut fields: Vec<String> = Vec::new();
                for (key, n) in numbers {
                    *totals.entry(key).or_default() += n;
                    fields.push(format!("\"{key}\": {n}"));
                }
                for (rule, n) in &s.rewrites {
                    *rewrites.entry(rule).or_default() += n;
                }
                for (k, n) in &s.base_materializations {
                    *bases.entry(*k).or_default() += n;
                }
                fields.push(format!("\"rewrites\": {}", map(&mut s.rewrites.iter().map(|(r, n)| (r.to_string(), *n)))));
                fields.push(format!(
                    "\"base_materializations\": {}",
                    map(&mut s.base_materializations.iter().map(|(k, n)| (k.to_string(), *n)))
                ));
                let limit = s.limit_hit.as_deref().map_or("null".to_string(), quote);
                fields.push(format!("\"limit_hit\": {limit}"));
                format!("{{{}}}", fields.join(", "))
            }
        };
        functions.push(format!(
            "    {{\"symbol\": {}, \"name\": {}, \"index\": {}, \"code_bytes\": {}, \
             \"dominant_memory\": {}, \"memories\": [{}], \"mid_end\": {mid_end}}}",
            quote(&f.symbol),
            quote(&f.name),
            opt(f.index),
            f.code_size,
            opt(f.dominant_memory),
            memories.join(", "),
        ));
    }
    let mut total_fields: Vec<String> = vec![format!("\"functions\": {}", artifact.functions.len())];
    total_fields.extend(totals.iter().map(|(k, n)| format!("\"{k}\": {n}")));
    total_fields.push(format!("\"rewrites\": {}", map(&mut rewrites.iter().map(|(r, n)| (r.to_string(), *n)))));
    total_fields.push(format!(
        "\"base_materializations\": {}",
        map(&mut bases.iter().map(|(k, n)| (k.to_string(), *n)))
    ));
    format!(
        "{{\n  \"schema\": \"bulkhead-stats/1\",\n  \"module\": {},\n  \"opt_level\": {opt_level},\n  \
         \"functions\": [\n{}\n  ],\n  \"totals\": {{{}}}\n}}\n",
        quote(module),
        functions.join(",\n"),
        total_fields.join(", ")
    )
}

fn default_object_path(input: &Path) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_os_string()).unwrap_or_else(|| "out".into());
    let mut name = stem;
    name.push(".o");
    PathBuf::from(name)
}

/// Writes through a temporary file in the same directory and renames it, so
/// a failed run never leaves a truncated object behind.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure(format!("cannot write {}: {e}", path.display()));
    let mut tmp_name = path.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "out".into());
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

fn main() -> ExitCode {
    // A panic is a bulkhead bug: report it in one line, without a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("bulkhead: internal error: {message}{location} (this is a bug in bulkhead; please report it)");
    }));

    let command = match parse_args(std::env::args_os().skip(1).collect()) {
        Ok(c) => c,
        Err(UsageError(m)) => {
            eprintln!("bulkhead: error: {m}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("bulkhead {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Compile(args) => match std::panic::catch_unwind(move || compile(*args)) {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(Failure(m))) => {
                eprintln!("bulkhead: error: {m}");
                ExitCode::from(1)
            }
            Err(_) => ExitCode::from(3),
        },
    }
}
