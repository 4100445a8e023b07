//! In-place addends for ARM REL relocations.
//!
//! ARM ELF uses `.rel` sections: the addend of a relocation lives in the
//! relocated field itself. The object writer stores every [`Reloc`]'s addend
//! there, overwriting whatever the backend left in the field, so the
//! encoding of addends is decided in exactly one place. Each patch also
//! checks that the field holds the instruction the relocation kind expects,
//! which catches a relocation at a wrong offset before the linker silently
//! corrupts code.
//!
//! [`Reloc`]: bulkhead_thumb::Reloc

use bulkhead_thumb::RelocKind;

/// Bytes covered by a relocation of `kind`.
pub fn field_size(kind: RelocKind) -> u32 {
    match kind {
        RelocKind::ThumbCall
        | RelocKind::ThumbJump24
        | RelocKind::ThumbMovwAbsNc
        | RelocKind::ThumbMovtAbs
        | RelocKind::Abs32 => 4,
    }
}

fn read_u16(code: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([code[at], code[at + 1]])
}

fn write_u16(code: &mut [u8], at: usize, value: u16) {
    code[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

/// Writes `addend` into the field at `at`. The addend is the `A` of the
/// relocation formulas in AAELF32 (see [`bulkhead_thumb::Reloc::addend`]):
///
/// - MOVW/MOVT (`S + A`): the 16-bit immediate holds `A`, which the linker
///   sign-extends, so it must fit in `i16`. Both halves of a pair carry the
///   same full addend (the MOVT field is *not* `A >> 16`).
/// - BL/B.W (`((S + A) | T) - P`): the branch offset field holds `A`. The
///   CPU branches to `P + 4 + offset`, so a branch to the target's entry
///   has `A = -4`, as assemblers emit it.
/// - ABS32 (`(S + A) | T`): the word holds `A`.
///
/// `code.len() >= at + 4` must hold (checked by the caller).
pub fn write_addend(code: &mut [u8], at: usize, kind: RelocKind, addend: i32) -> Result<(), String> {
    match kind {
        RelocKind::Abs32 => {
            code[at..at + 4].copy_from_slice(&addend.to_le_bytes());
            Ok(())
        }
        RelocKind::ThumbMovwAbsNc | RelocKind::ThumbMovtAbs => {
            if !at.is_multiple_of(2) {
                return Err("instruction relocation at an odd offset".into());
            }
            let (hw1, hw2) = (read_u16(code, at), read_u16(code, at + 2));
            // MOVW (T3): 11110 i 10 0100 imm4 | 0 imm3 Rd imm8; MOVT: 11110 i 10 1100 ...
            let expected = if kind == RelocKind::ThumbMovwAbsNc { 0xF240 } else { 0xF2C0 };
            let name = if kind == RelocKind::ThumbMovwAbsNc { "MOVW" } else { "MOVT" };
            if hw1 & 0xFBF0 != expected || hw2 & 0x8000 != 0 {
                return Err(format!("expected a {name} instruction, found {hw1:04x} {hw2:04x}"));
            }
            let imm = i16::try_from(addend)
                .map_err(|_| format!("addend {addend} does not fit the signed 16-bit field of {name} (REL encoding)"))?
                as u16;
            let imm4 = (imm >> 12) & 0xF;
            let i = (imm >> 11) & 1;
            let imm3 = (imm >> 8) & 0x7;
            let imm8 = imm & 0xFF;
            write_u16(code, at, (hw1 & 0xFBF0) | (i << 10) | imm4);
            write_u16(code, at + 2, (hw2 & 0x8F00) | (imm3 << 12) | imm8);
            Ok(())
        }
        RelocKind::ThumbCall | RelocKind::ThumbJump24 => {
            if !at.is_multiple_of(2) {
                return Err("instruction relocation at an odd offset".into());
            }
            let (hw1, hw2) = (read_u16(code, at), read_u16(code, at + 2));
            // BL (T1): 11110 S imm10 | 11 J1 1 J2 imm11; B.W (T4): 11110 S imm10 | 10 J1 1 J2 imm11.
            let (expected, name) = if kind == RelocKind::ThumbCall { (0xD000, "BL") } else { (0x9000, "B.W") };
            if hw1 & 0xF800 != 0xF000 || hw2 & 0xD000 != expected {
                return Err(format!("expected a {name} instruction, found {hw1:04x} {hw2:04x}"));
            }
            let offset = addend as i64;
            if !(-(1 << 24)..(1 << 24)).contains(&offset) || offset % 2 != 0 {
                return Err(format!("addend {addend} is odd or out of range for {name}"));
            }
            let offset = offset as u32;
            let s = (offset >> 24) & 1;
            let i1 = (offset >> 23) & 1;
            let i2 = (offset >> 22) & 1;
            let j1 = (!(i1 ^ s)) & 1;
            let j2 = (!(i2 ^ s)) & 1;
            let imm10 = (offset >> 12) & 0x3FF;
            let imm11 = (offset >> 1) & 0x7FF;
            write_u16(code, at, (0xF000 | (s << 10) | imm10) as u16);
            write_u16(code, at + 2, ((hw2 as u32 & 0xD000) | (j1 << 13) | (j2 << 11) | imm11) as u16);
            Ok(())
        }
    }
}

/// Reads the addend stored in the field at `at` (the inverse of
/// [`write_addend`]), checking that the field holds the instruction `kind`
/// expects. Used by the image linker to resolve REL relocations.
pub fn read_addend(code: &[u8], at: usize, kind: RelocKind) -> Result<i32, String> {
    if code.len() < at + 4 {
        return Err(format!("relocation at {at:#x} runs past the end of its {}-byte section", code.len()));
    }
    match kind {
        RelocKind::Abs32 => Ok(i32::from_le_bytes([code[at], code[at + 1], code[at + 2], code[at + 3]])),
        RelocKind::ThumbMovwAbsNc | RelocKind::ThumbMovtAbs => {
            let (hw1, hw2) = (read_u16(code, at), read_u16(code, at + 2));
            let expected = if kind == RelocKind::ThumbMovwAbsNc { 0xF240 } else { 0xF2C0 };
            if hw1 & 0xFBF0 != expected || hw2 & 0x8000 != 0 {
                return Err(format!("expected a MOVW/MOVT instruction, found {hw1:04x} {hw2:04x}"));
            }
            let imm = ((hw1 & 0xF) << 12) | (((hw1 >> 10) & 1) << 11) | (((hw2 >> 12) & 7) << 8) | (hw2 & 0xFF);
            Ok(i32::from(imm as i16))
        }
        RelocKind::ThumbCall | RelocKind::ThumbJump24 => {
            let (hw1, hw2) = (u32::from(read_u16(code, at)), u32::from(read_u16(code, at + 2)));
            let expected = if kind == RelocKind::ThumbCall { 0xD000 } else { 0x9000 };
            if hw1 & 0xF800 != 0xF000 || hw2 & 0xD000 != expected {
                return Err(format!("expected a BL/B.W instruction, found {hw1:04x} {hw2:04x}"));
            }
            let s = (hw1 >> 10) & 1;
            let j1 = (hw2 >> 13) & 1;
            let j2 = (hw2 >> 11) & 1;
            let i1 = !(j1 ^ s) & 1;
            let i2 = !(j2 ^ s) & 1;
            let offset = (s << 24) | (i1 << 23) | (i2 << 22) | ((hw1 & 0x3FF) << 12) | ((hw2 & 0x7FF) << 1);
            // Sign-extend the 25-bit offset.
            Ok(((offset << 7) as i32) >> 7)
        }
    }
}

/// Writes the *resolved* value of a relocation into its field: `value` is
/// the result of the relocation's formula (the absolute address for ABS32
/// and MOVW/MOVT, whose halves are taken here; the branch offset
/// `target - P` for BL/B.W), range-checked like an addend.
pub fn write_resolved(code: &mut [u8], at: usize, kind: RelocKind, value: u32) -> Result<(), String> {
    let field = match kind {
        RelocKind::Abs32 | RelocKind::ThumbCall | RelocKind::ThumbJump24 => value as i32,
        // The 16-bit immediate holds the half as is; `write_addend` takes
        // it as the signed value with the same bits.
        RelocKind::ThumbMovwAbsNc => i32::from(value as u16 as i16),
        RelocKind::ThumbMovtAbs => i32::from((value >> 16) as u16 as i16),
    };
    if code.len() < at + 4 {
        return Err(format!("relocation at {at:#x} runs past the end of its {}-byte section", code.len()));
    }
    write_addend(code, at, kind, field)
}

/// The Thumb-2 `B.W` instruction with the REL addend of a branch to its
/// relocation target's entry (A = -4).
pub const B_W_TO_RELOC_TARGET: [u8; 4] = [0xFF, 0xF7, 0xFE, 0xBF];

#[cfg(test)]
mod tests {
    use super::*;

    fn patched(bytes: [u8; 4], kind: RelocKind, addend: i32) -> [u8; 4] {
        let mut code = bytes.to_vec();
        write_addend(&mut code, 0, kind, addend).unwrap();
        code.try_into().unwrap()
    }

    // Expected encodings come from GNU as: `bl foo` and `b.w foo` against an
    // undefined symbol assemble to f7ff fffe / f7ff bffe (A = -4), and
    // `bl foo+8` to f000 f802 (A = 4).
    #[test]
    fn branch_addends_match_gnu_as() {
        let bl = [0x00, 0xF0, 0x00, 0xF8];
        assert_eq!(patched(bl, RelocKind::ThumbCall, -4), [0xFF, 0xF7, 0xFE, 0xFF]);
        assert_eq!(patched(bl, RelocKind::ThumbCall, 4), [0x00, 0xF0, 0x02, 0xF8]);
        let bw = [0x00, 0xF0, 0x00, 0xB8];
        assert_eq!(patched(bw, RelocKind::ThumbJump24, -4), B_W_TO_RELOC_TARGET);
    }

    // `movw r3, #:lower16:sym+0x1234` / `movt r3, #:upper16:sym+0x1234`
    // assemble to 41f2 3423 / c1f2 3423 with GNU as (REL: full addend in both).
    #[test]
    fn movw_movt_addends_match_gnu_as() {
        let movw_r3 = [0x40, 0xF2, 0x00, 0x03];
        let movt_r3 = [0xC0, 0xF2, 0x00, 0x03];
        assert_eq!(patched(movw_r3, RelocKind::ThumbMovwAbsNc, 0x1234), [0x41, 0xF2, 0x34, 0x23]);
        assert_eq!(patched(movt_r3, RelocKind::ThumbMovtAbs, 0x1234), [0xC1, 0xF2, 0x34, 0x23]);
        assert_eq!(patched(movw_r3, RelocKind::ThumbMovwAbsNc, 0), movw_r3);
    }

    #[test]
    fn read_addend_inverts_write_addend() {
        let cases: [([u8; 4], RelocKind, &[i32]); 5] = [
            ([0x00, 0xF0, 0x00, 0xF8], RelocKind::ThumbCall, &[-4, 4, 0, -(1 << 24), (1 << 24) - 2, 0x12_3456]),
            ([0x00, 0xF0, 0x00, 0xB8], RelocKind::ThumbJump24, &[-4, 1000, -0x8_0000]),
            ([0x40, 0xF2, 0x00, 0x03], RelocKind::ThumbMovwAbsNc, &[0, 0x1234, -1, -32768, 32767]),
            ([0xC0, 0xF2, 0x00, 0x03], RelocKind::ThumbMovtAbs, &[0, 0x1234, -2]),
            ([0; 4], RelocKind::Abs32, &[0, -1, i32::MIN, 0x2000_0001]),
        ];
        for (bytes, kind, addends) in cases {
            for &a in addends {
                let mut code = bytes.to_vec();
                write_addend(&mut code, 0, kind, a).unwrap();
                assert_eq!(read_addend(&code, 0, kind), Ok(a), "{kind:?} {a}");
            }
        }
        assert!(read_addend(&[0x00, 0xBF, 0x00, 0xBF], 0, RelocKind::ThumbCall).is_err());
        assert!(read_addend(&[0x00, 0xBF], 0, RelocKind::Abs32).is_err());
    }

    // `movw r3, #:lower16:0x2021_8765` / `movt r3, #:upper16:...` resolved
    // by GNU ld: 48f2 6573 / c2f2 2103.
    #[test]
    fn resolved_movw_movt_halves() {
        let mut code = vec![0x40, 0xF2, 0x00, 0x03, 0xC0, 0xF2, 0x00, 0x03];
        write_resolved(&mut code, 0, RelocKind::ThumbMovwAbsNc, 0x2021_8765).unwrap();
        write_resolved(&mut code, 4, RelocKind::ThumbMovtAbs, 0x2021_8765).unwrap();
        assert_eq!(code, [0x48, 0xF2, 0x65, 0x73, 0xC2, 0xF2, 0x21, 0x03]);
    }

    #[test]
    fn rejects_wrong_instructions_and_ranges() {
        let mut nop = vec![0x00, 0xBF, 0x00, 0xBF];
        assert!(write_addend(&mut nop, 0, RelocKind::ThumbCall, 0).is_err());
        assert!(write_addend(&mut nop, 0, RelocKind::ThumbMovwAbsNc, 0).is_err());
        let mut movw = vec![0x40, 0xF2, 0x00, 0x03];
        assert!(write_addend(&mut movw, 0, RelocKind::ThumbMovtAbs, 0).is_err());
        assert!(write_addend(&mut movw, 0, RelocKind::ThumbMovwAbsNc, 40000).is_err());
        let mut bl = vec![0x00, 0xF0, 0x00, 0xF8];
        assert!(write_addend(&mut bl, 0, RelocKind::ThumbJump24, -4).is_err());
        assert!(write_addend(&mut bl, 0, RelocKind::ThumbCall, 1 << 25).is_err());
        assert!(write_addend(&mut bl, 0, RelocKind::ThumbCall, -3).is_err());
    }
}
