//! QEMU TCG plugin: counts executed guest instructions inside a measurement
//! window, for the bulkhead benchmarks.
//!
//! Arguments (`-plugin libbulkhead_icount.so,begin=0x...,end=0x...,out=PATH`):
//! - `begin`, `end`: addresses of two marker instructions (Thumb bit
//!   ignored). Executing `begin` opens the window, executing `end` closes it;
//!   the instructions executed in between (whatever code they belong to:
//!   the measured function, the helpers it calls, libgcc) are added up.
//!   Several windows add up, so a harness may call the measured function
//!   more than once.
//! - `lo`, `hi` (optional): count only instructions whose address is in
//!   `[lo, hi)`, e.g. one module's `.text`.
//! - `out`: file the result is written to (else stderr), one line
//!   `windows=<n> insns=<count> total=<all instructions executed>`.
//!
//! Counting uses QEMU's inline per-vCPU add (no helper call per guest
//! instruction), so measuring costs little; only the two markers call back.

use qemu_plugin::install::{Args, Info};
use qemu_plugin::plugin::{HasCallbacks, Register};
use qemu_plugin::sys::{qemu_plugin_cb_flags, qemu_plugin_op, qemu_plugin_scoreboard, qemu_plugin_u64};
use qemu_plugin::{PluginId, TranslationBlock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Default)]
struct Window {
    /// Counter value when the open window began (`u64::MAX` while closed).
    opened_at: AtomicU64,
    /// Instructions counted in closed windows.
    counted: AtomicU64,
    windows: AtomicU64,
}

#[derive(Default)]
struct Config {
    begin: Option<u64>,
    end: Option<u64>,
    range: Option<(u64, u64)>,
    out: Option<String>,
}

struct Counter {
    config: Config,
    /// One u64 per vCPU: instructions executed that pass the range filter.
    filtered: Option<Counters>,
    window: Arc<Window>,
}

#[derive(Copy, Clone)]
struct Counters {
    /// Instructions in the range (or all, without a range).
    in_range: qemu_plugin_u64,
    /// All instructions, for the report's `total`.
    all: qemu_plugin_u64,
}

// SAFETY: the scoreboard pointer is owned by QEMU and only passed back to
// QEMU's API, which synchronizes per-vCPU entries itself.
unsafe impl Send for Counters {}
unsafe impl Sync for Counters {}

impl Counters {
    /// The filtered count of `vcpu` now. (A method, so that closures
    /// capture the whole `Send + Sync` struct, not its raw-pointer field.)
    fn in_range_now(&self, vcpu: u32) -> u64 {
        unsafe { qemu_plugin::sys::qemu_plugin_u64_get(self.in_range, vcpu) }
    }

    fn all_sum(&self) -> u64 {
        unsafe { qemu_plugin::sys::qemu_plugin_u64_sum(self.all) }
    }
}

fn parse_u64(key: &str, text: &str) -> Result<u64, qemu_plugin::Error> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse::<u64>(),
    };
    parsed.map_err(|_| arg_error(format!("argument `{key}`: `{text}` is not a number")))
}

fn arg_error(message: String) -> qemu_plugin::Error {
    qemu_plugin::Error::BoxedError(format!("bulkhead-icount: {message}").into())
}

fn report(config: &Config, window: &Window, counters: Option<Counters>) {
    let total = counters.map(|c| c.all_sum()).unwrap_or(0);
    let line = format!(
        "windows={} insns={} total={}\n",
        window.windows.load(Ordering::SeqCst),
        window.counted.load(Ordering::SeqCst),
        total
    );
    match &config.out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &line) {
                eprintln!("bulkhead-icount: cannot write {path}: {e}");
            }
        }
        None => eprint!("bulkhead-icount: {line}"),
    }
}

impl Register for Counter {
    fn register(&mut self, id: PluginId, args: &Args, _info: &Info) -> Result<(), qemu_plugin::Error> {
        let mut lo = None;
        let mut hi = None;
        for raw in &args.raw {
            let (key, value) = raw.split_once('=').unwrap_or((raw.as_str(), ""));
            match key {
                "begin" => self.config.begin = Some(parse_u64(key, value)? & !1),
                "end" => self.config.end = Some(parse_u64(key, value)? & !1),
                "lo" => lo = Some(parse_u64(key, value)? & !1),
                "hi" => hi = Some(parse_u64(key, value)?),
                "out" => self.config.out = Some(value.to_string()),
                _ => return Err(arg_error(format!("unknown argument `{key}` (expected begin, end, lo, hi, out)"))),
            }
        }
        self.config.range = match (lo, hi) {
            (Some(lo), Some(hi)) => Some((lo, hi)),
            (None, None) => None,
            _ => return Err(arg_error("give both `lo` and `hi`, or neither".into())),
        };
        let score: *mut qemu_plugin_scoreboard =
            unsafe { qemu_plugin::sys::qemu_plugin_scoreboard_new(2 * std::mem::size_of::<u64>()) };
        let counters = Counters {
            in_range: qemu_plugin_u64 { score, offset: 0 },
            all: qemu_plugin_u64 { score, offset: std::mem::size_of::<u64>() },
        };
        self.filtered = Some(counters);
        self.window.opened_at.store(u64::MAX, Ordering::SeqCst);
        let window = self.window.clone();
        let config = Config { out: self.config.out.clone(), ..Config::default() };
        qemu_plugin::qemu_plugin_register_atexit_cb(id, move |_| report(&config, &window, Some(counters)))?;
        Ok(())
    }
}

impl HasCallbacks for Counter {
    fn on_translation_block_translate(
        &mut self,
        _id: PluginId,
        tb: TranslationBlock,
    ) -> Result<(), qemu_plugin::Error> {
        let Some(counters) = self.filtered else {
            return Ok(());
        };
        for insn in tb.instructions() {
            let pc = insn.vaddr();
            qemu_plugin::qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
                insn.clone(),
                qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
                counters.all,
                1,
            );
            let in_range = self.config.range.is_none_or(|(lo, hi)| pc >= lo && pc < hi);
            if in_range {
                qemu_plugin::qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
                    insn.clone(),
                    qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
                    counters.in_range,
                    1,
                );
            }
            if Some(pc) == self.config.begin {
                let window = self.window.clone();
                insn.register_execute_callback_flags(
                    move |vcpu| {
                        let now = counters.in_range_now(vcpu);
                        window.opened_at.store(now, Ordering::SeqCst);
                    },
                    qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                );
            }
            if Some(pc) == self.config.end {
                let window = self.window.clone();
                let config = Config { out: self.config.out.clone(), ..Config::default() };
                insn.register_execute_callback_flags(
                    move |vcpu| {
                        let now = counters.in_range_now(vcpu);
                        let opened = window.opened_at.swap(u64::MAX, Ordering::SeqCst);
                        if opened != u64::MAX {
                            window.counted.fetch_add(now - opened, Ordering::SeqCst);
                            window.windows.fetch_add(1, Ordering::SeqCst);
                            // Written at every close as well as at exit: the
                            // result survives however the guest ends.
                            report(&config, &window, Some(counters));
                        }
                    },
                    qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                );
            }
        }
        Ok(())
    }
}

qemu_plugin::register!(Counter { config: Config::default(), filtered: None, window: Arc::new(Window::default()) });
