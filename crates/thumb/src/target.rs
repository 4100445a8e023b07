//! Target description: which Cortex-M core and float ABI the code is for,
//! and the backend's public option and error types.

use core::fmt;
use target_lexicon::{Architecture, ArmArchitecture, Environment, Triple};

/// The Cortex-M cores bulkhead targets.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cpu {
    CortexM3,
    CortexM4,
    CortexM4F,
    CortexM7,
    CortexM33,
}

impl Cpu {
    pub fn name(self) -> &'static str {
        match self {
            Cpu::CortexM3 => "cortex-m3",
            Cpu::CortexM4 => "cortex-m4",
            Cpu::CortexM4F => "cortex-m4f",
            Cpu::CortexM7 => "cortex-m7",
            Cpu::CortexM33 => "cortex-m33",
        }
    }

    pub fn from_name(name: &str) -> Option<Cpu> {
        Some(match name {
            "cortex-m3" => Cpu::CortexM3,
            "cortex-m4" => Cpu::CortexM4,
            "cortex-m4f" => Cpu::CortexM4F,
            "cortex-m7" => Cpu::CortexM7,
            "cortex-m33" => Cpu::CortexM33,
            _ => return None,
        })
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TargetIsa {
    pub cpu: Cpu,
    /// `eabihf`: floats are passed in VFP registers (AAPCS-VFP), and the
    /// core's FPU does f32 arithmetic (f64 too on Cortex-M7).
    pub hard_float: bool,
}

impl TargetIsa {
    /// Maps a target triple (`thumbv7m-none-eabi`, `thumbv7em-none-eabi`,
    /// `thumbv7em-none-eabihf`, `thumbv8m.main-none-eabi[hf]`) to a core; `cpu_override` (e.g.
    /// `cortex-m7`) replaces the triple's default core.
    pub fn from_triple(triple: &Triple, cpu_override: Option<&str>) -> Result<TargetIsa, String> {
        let hard_float = match triple.environment {
            Environment::Eabi => false,
            Environment::Eabihf => true,
            other => return Err(format!(
                "unsupported target environment `{other}` in `{triple}` (expected eabi or eabihf)"
            )),
        };
        let default_cpu = match triple.architecture {
            Architecture::Arm(ArmArchitecture::Thumbv7m) => Cpu::CortexM3,
            Architecture::Arm(ArmArchitecture::Thumbv7em) => {
                if hard_float {
                    Cpu::CortexM4F
                } else {
                    Cpu::CortexM4
                }
            }
            Architecture::Arm(ArmArchitecture::Thumbv8mMain) => Cpu::CortexM33,
            _ => {
                return Err(format!(
                    "unsupported target architecture in `{triple}`: bulkhead supports \
                     thumbv7m, thumbv7em and thumbv8m.main"
                ))
            }
        };
        let cpu = match cpu_override {
            None => default_cpu,
            Some(name) => Cpu::from_name(name).ok_or_else(|| {
                format!(
                    "unknown cpu `{name}` (expected one of cortex-m3, cortex-m4, cortex-m4f, \
                     cortex-m7, cortex-m33)"
                )
            })?,
        };
        if hard_float && matches!(cpu, Cpu::CortexM3 | Cpu::CortexM4) {
            return Err(format!(
                "{cpu} has no FPU: it cannot run the eabihf target `{triple}`"
            ));
        }
        Ok(TargetIsa { cpu, hard_float })
    }
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendOptions {
    /// Fill [`crate::CompiledFunction::asm`] with a listing.
    pub emit_asm: bool,
}

/// What the backend knows about the module around a function.
#[derive(Clone, Debug, Default)]
pub struct ModuleInfo {
    /// Signatures of all functions by wasm `FuncIdx` (imports first).
    pub funcs: Vec<bulkhead_ir::Signature>,
    /// The module's types by type index (`call_ref` signatures).
    pub types: Vec<bulkhead_ir::Signature>,
    /// Types of the wasm globals by `GlobalIdx`.
    pub globals: Vec<bulkhead_ir::Type>,
    pub num_memories: u32,
}

/// What kind of problem a [`BackendError`] reports (a spec-test runner
/// skips `Unsupported` modules and fails on `Internal`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BackendErrorKind {
    /// A valid function uses something the backend cannot lower yet (a
    /// soft-float routine that `bulkhead_softfloat` does not define, ...).
    Unsupported,
    /// A bug in bulkhead: malformed IR, a missing lowering rule, a register
    /// allocation or encoding failure.
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError {
    pub kind: BackendErrorKind,
    /// Name of the function being compiled.
    pub function: String,
    pub message: String,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in function `{}`: {}", self.function, self.message)
    }
}

impl std::error::Error for BackendError {}
