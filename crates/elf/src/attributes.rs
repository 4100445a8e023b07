//! The `.ARM.attributes` section (ARM IHI 0045, "Addenda to the ARM ABI",
//! build attributes): tells the linker which architecture and procedure-call
//! variant the object needs, so that mixing it with incompatible objects
//! (e.g. soft-float C code with a hard-float module) is diagnosed at link
//! time instead of corrupting arguments at run time.

/// The architecture the code was compiled for (`Tag_CPU_arch`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum ArmArch {
    /// ARMv7-M (Cortex-M3).
    V7M,
    /// ARMv7E-M (Cortex-M4, M4F, M7).
    #[default]
    V7EM,
    /// ARMv8-M Mainline (Cortex-M33).
    V8MMain,
}

// Tag numbers and values from the ARM build-attributes specification.
// Every tag and value used here is below 128, so its ULEB128 encoding is
// the byte itself.
const TAG_FILE: u8 = 1;
const TAG_CPU_NAME: u8 = 5;
const TAG_CPU_ARCH: u8 = 6;
const TAG_CPU_ARCH_PROFILE: u8 = 7;
const TAG_THUMB_ISA_USE: u8 = 9;
const TAG_ABI_FP_DENORMAL: u8 = 20;
const TAG_ABI_FP_NUMBER_MODEL: u8 = 23;
const TAG_ABI_ALIGN_PRESERVED: u8 = 25;
const TAG_ABI_VFP_ARGS: u8 = 28;
const TAG_CPU_UNALIGNED_ACCESS: u8 = 34;

const CPU_ARCH_V7: u8 = 10;
const CPU_ARCH_V7E_M: u8 = 13;
const CPU_ARCH_V8_M_MAIN: u8 = 17;

/// The contents of `.ARM.attributes`: format version `A`, one `aeabi`
/// subsection holding one file-scope sub-subsection. The CPU name and the
/// Thumb ISA value mirror what arm-none-eabi-gcc emits for the same
/// architecture; `Tag_ABI_VFP_args` is present only for hard-float, exactly
/// like GCC, so soft-float objects stay compatible with soft-float C code.
///
/// `uses_float`: the module's interface (a function signature or a global)
/// involves f32/f64. Only then are `Tag_ABI_FP_denormal` and
/// `Tag_ABI_FP_number_model` (IEEE 754) emitted; GNU ld compares the
/// float-argument ABI (`Tag_ABI_VFP_args`) only between objects that declare
/// a number model, so an integer-only module links with soft- and hard-float
/// code alike — correctly, as no float ever crosses its interface.
pub fn build_attributes(arch: ArmArch, hard_float: bool, uses_float: bool) -> Vec<u8> {
    let (cpu_name, cpu_arch, thumb_isa): (&str, u8, u8) = match arch {
        ArmArch::V7M => ("7-M", CPU_ARCH_V7, 2),
        ArmArch::V7EM => ("7E-M", CPU_ARCH_V7E_M, 2),
        // v8-M: "Thumb instructions allowed as determined by Tag_CPU_arch".
        ArmArch::V8MMain => ("8-M.MAIN", CPU_ARCH_V8_M_MAIN, 3),
    };

    let mut attrs = Vec::new();
    attrs.push(TAG_CPU_NAME);
    attrs.extend_from_slice(cpu_name.as_bytes());
    attrs.push(0);
    attrs.extend_from_slice(&[TAG_CPU_ARCH, cpu_arch]);
    attrs.extend_from_slice(&[TAG_CPU_ARCH_PROFILE, b'M']);
    attrs.extend_from_slice(&[TAG_THUMB_ISA_USE, thumb_isa]);
    if uses_float {
        // Wasm requires IEEE 754 semantics including subnormals.
        attrs.extend_from_slice(&[TAG_ABI_FP_DENORMAL, 1]);
        attrs.extend_from_slice(&[TAG_ABI_FP_NUMBER_MODEL, 3]);
    }
    // Generated code keeps SP 8-byte aligned at calls, as AAPCS requires;
    // without this, linking with GCC objects that need 8-byte alignment
    // draws a warning.
    attrs.extend_from_slice(&[TAG_ABI_ALIGN_PRESERVED, 1]);
    if hard_float {
        attrs.extend_from_slice(&[TAG_ABI_VFP_ARGS, 1]);
    }
    // Wasm accesses may be unaligned; LDR/STR/LDRH/STRH handle that on
    // ARMv7-M and later.
    attrs.extend_from_slice(&[TAG_CPU_UNALIGNED_ACCESS, 1]);

    // File sub-subsection: tag, u32 size (including tag and size), attributes.
    let mut file = vec![TAG_FILE];
    file.extend_from_slice(&((1 + 4 + attrs.len()) as u32).to_le_bytes());
    file.extend_from_slice(&attrs);

    // Vendor subsection: u32 size (including itself), "aeabi\0", contents.
    let vendor = b"aeabi\0";
    let mut out = vec![b'A'];
    out.extend_from_slice(&((4 + vendor.len() + file.len()) as u32).to_le_bytes());
    out.extend_from_slice(vendor);
    out.extend_from_slice(&file);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_sizes_are_consistent() {
        let a = build_attributes(ArmArch::V7EM, true, true);
        assert_eq!(a[0], b'A');
        let len = u32::from_le_bytes(a[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, a.len() - 1);
        assert_eq!(&a[5..11], b"aeabi\0");
        assert_eq!(a[11], TAG_FILE);
        let file_len = u32::from_le_bytes(a[12..16].try_into().unwrap()) as usize;
        assert_eq!(file_len, a.len() - 11);
    }
}
