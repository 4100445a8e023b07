//! Text form of the IR, used by tests and `bulkhead compile --emit ir`.

use crate::function::Function;
use crate::inst::{BlockCall, InstData};
use crate::types::Type;
use core::fmt::{self, Write};

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "function %{}(", self.name)?;
        for (i, t) in self.sig.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{t}")?;
        }
        f.write_str(")")?;
        if !self.sig.results.is_empty() {
            f.write_str(" ->")?;
            for (i, t) in self.sig.results.iter().enumerate() {
                write!(f, "{}{t}", if i > 0 { ", " } else { " " })?;
            }
        }
        f.write_str(" {\n")?;
        for &b in &self.layout {
            write!(f, "{b}")?;
            let params = self.block_params(b);
            if !params.is_empty() {
                f.write_str("(")?;
                for (i, &p) in params.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{p}: {}", self.value_type(p))?;
                }
                f.write_str(")")?;
            }
            f.write_str(":\n")?;
            for &inst in self.block_insts(b) {
                let mut line = String::new();
                let results = self.inst_results(inst);
                if !results.is_empty() {
                    for (i, r) in results.iter().enumerate() {
                        if i > 0 {
                            line.push_str(", ");
                        }
                        write!(line, "{r}")?;
                    }
                    line.push_str(" = ");
                }
                write_inst(&mut line, self, self.inst(inst))?;
                writeln!(f, "    {line}")?;
            }
        }
        f.write_str("}\n")
    }
}

fn write_call(out: &mut String, bc: &BlockCall) -> fmt::Result {
    write!(out, "{}", bc.block)?;
    if !bc.args.is_empty() {
        out.push('(');
        write_list(out, &bc.args)?;
        out.push(')');
    }
    Ok(())
}

fn write_list(out: &mut String, vals: &[crate::Value]) -> fmt::Result {
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write!(out, "{v}")?;
    }
    Ok(())
}

pub fn write_inst(out: &mut String, func: &Function, data: &InstData) -> fmt::Result {
    use InstData::*;
    match data {
        Iconst { ty, imm } => write!(out, "iconst.{ty} {}", *imm as i64),
        Unary { op, arg } => write!(out, "{op} {arg}"),
        Binary { op, args } => write!(out, "{op} {}, {}", args[0], args[1]),
        Icmp { cc, args } => write!(out, "icmp {cc} {}, {}", args[0], args[1]),
        Select { args } => write!(out, "select {}, {}, {}", args[0], args[1], args[2]),
        Convert { op, to, arg } => write!(out, "{op}.{to} {arg}"),
        Fconst { ty: Type::F32, bits } => write!(out, "fconst.f32 {:#010x}", bits),
        Fconst { ty, bits } => write!(out, "fconst.{ty} {:#018x}", bits),
        FUnary { op, arg } => write!(out, "{op} {arg}"),
        FBinary { op, args } => write!(out, "{op} {}, {}", args[0], args[1]),
        Fcmp { cc, args } => write!(out, "fcmp {cc} {}, {}", args[0], args[1]),
        MemBase { mem } => write!(out, "mem_base.{mem}"),
        AddrAdd { args } => write!(out, "addr_add {}, {}", args[0], args[1]),
        BoundsCheck { mem, index, end } => write!(out, "bounds_check.{mem} {index}, {end}"),
        BoundsCheckDyn { mem, args } => write!(out, "bounds_check.{mem} {}, {}", args[0], args[1]),
        Load { mem, kind, addr, offset } => {
            write!(out, "load.{mem}.{} {addr}+{offset}", kind.name())
        }
        Store { mem, kind, args, offset } => {
            write!(out, "store.{mem}.{} {}+{offset}, {}", kind.name(), args[0], args[1])
        }
        MemSize { mem } => write!(out, "mem_size.{mem}"),
        MemMax { mem } => write!(out, "mem_max.{mem}"),
        MemSetSize { mem, arg } => write!(out, "mem_set_size.{mem} {arg}"),
        MemoryFill { mem, args } => {
            write!(out, "memory_fill.{mem} {}, {}, {}", args[0], args[1], args[2])
        }
        MemoryCopy { dst_mem, src_mem, args } => write!(
            out,
            "memory_copy.{dst_mem}.{src_mem} {}, {}, {}",
            args[0], args[1], args[2]
        ),
        MemoryInit { mem, seg, args } => {
            write!(out, "memory_init.{mem} {seg}, {}, {}, {}", args[0], args[1], args[2])
        }
        GlobalGet { global } => write!(out, "global_get {global}"),
        GlobalSet { global, arg } => write!(out, "global_set {global}, {arg}"),
        Call { func: callee, args } => {
            write!(out, "call {callee}(")?;
            write_list(out, args)?;
            out.push(')');
            Ok(())
        }
        TableSize { table } => write!(out, "table_size.{table}"),
        TableSetSize { table, arg } => write!(out, "table_set_size.{table} {arg}"),
        TableGet { table, index } => write!(out, "table_get.{table} {index}"),
        TableSet { table, args } => write!(out, "table_set.{table} {}, {}", args[0], args[1]),
        FuncRef { func } => write!(out, "func_ref {func}"),
        FuncRefTypeId { arg } => write!(out, "func_ref_type_id {arg}"),
        TypeId { sig } => write!(out, "type_id {sig}"),
        CallRef { sig, args } => {
            write!(out, "call_ref {sig} ")?;
            write!(out, "{}(", args[0])?;
            write_list(out, &args[1..])?;
            out.push(')');
            Ok(())
        }
        Trap { code } => write!(out, "trap {}", code.name()),
        TrapIf { nonzero, arg, code } => {
            write!(out, "{} {arg}, {}", if *nonzero { "trapnz" } else { "trapz" }, code.name())
        }
        Jump { dest } => {
            out.push_str("jump ");
            write_call(out, dest)
        }
        Brif { arg, then_dest, else_dest } => {
            write!(out, "brif {arg}, ")?;
            write_call(out, then_dest)?;
            out.push_str(", ");
            write_call(out, else_dest)
        }
        BrTable { arg, targets, default } => {
            write!(out, "br_table {arg}, {default}, [")?;
            for (i, t) in targets.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write!(out, "{t}")?;
            }
            out.push(']');
            Ok(())
        }
        Return { args } => {
            out.push_str("return");
            if !args.is_empty() {
                out.push(' ');
                write_list(out, args)?;
            }
            let _ = func;
            Ok(())
        }
    }
}
