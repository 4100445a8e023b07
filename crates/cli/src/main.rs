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
                              checked and traps with UDF #2; none: no checks
                              (trusted code only).
        --memory-max K=SIZE   Reserve SIZE bytes for memory K (between its minimum
                              and its declared maximum); memory.grow beyond it
                              returns -1. Repeatable.
        --default-memory-max SIZE
                              Reservation for memories that declare no maximum
                              and have no --memory-max.
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
                              effect): const-fold, cse or algebraic. Repeatable.
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
                              rewrites by rule.
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
                options.bounds = match value("checked or none")?.as_str() {
                    "checked" => BoundsMode::Checked,
                    "none" => BoundsMode::None,
                    other => return Err(UsageError(format!("--bounds: unknown mode `{other}` (use checked or none)"))),
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
            "--disable" => {
                let set = value("a rule set")?;
                if !["const-fold", "cse", "algebraic"].contains(&set.as_str()) {
                    return Err(UsageError(format!(
                        "--disable: unknown rule set `{set}` (use const-fold, cse or algebraic)"
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
