//! `bulkhead compile --image`: the README's two-tenant command builds an
//! MPU-isolated firmware image that runs on QEMU; option misuse is a usage
//! error (exit status 2) naming the option.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bulkhead() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bulkhead"))
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/two_tenants.wat")
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bulkhead-cli-image-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ENTRIES: &str = "a_fill,b_init,b_checksum,a_attack,b_checksum,adapter_copy,b_checksum";

fn boot(board: &str, elf: &Path) -> (String, i32) {
    let out = Command::new("qemu-system-arm")
        .args(["-M", board, "-nographic", "-monitor", "none", "-serial", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(elf)
        .stdin(Stdio::null())
        .output()
        .expect("qemu-system-arm");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (text, out.status.code().unwrap_or(-1))
}

#[test]
fn readme_command_builds_an_isolated_image() {
    let dir = temp_dir("readme");
    for board in ["mps2-an385", "mps2-an505"] {
        let elf = dir.join(format!("two_tenants-{board}.elf"));
        let status = bulkhead()
            .arg("compile")
            .arg(example())
            .args(["--bounds", "none", "--image", "--board", board, "--entry", ENTRIES, "-o"])
            .arg(&elf)
            .status()
            .unwrap();
        assert!(status.success());
        let (out, code) = boot(board, &elf);
        assert!(out.contains("entry a_attack faulted: MemManage CFSR=0x00000082 MMFAR=0x"), "{board}:\n{out}");
        let checksums: Vec<&str> = out.lines().filter(|l| l.starts_with("entry b_checksum returned ")).collect();
        assert_eq!(checksums.len(), 3, "{out}");
        assert_eq!(checksums[0], checksums[1], "B changed under the attack:\n{out}");
        assert_ne!(checksums[1], checksums[2], "the adapter copied nothing:\n{out}");
        assert!(out.contains("entry adapter_copy returned 1024\n"), "{out}");
        assert_eq!(code, 1, "{out}");

        // --grant gives a_attack memory 1 as well: the store lands.
        let granted = dir.join(format!("two_tenants-granted-{board}.elf"));
        let status = bulkhead()
            .arg("compile")
            .arg(example())
            .args(["--bounds", "none", "--image", "--board", board, "--entry", ENTRIES])
            .args(["--grant", "a_attack=0,1", "-o"])
            .arg(&granted)
            .status()
            .unwrap();
        assert!(status.success());
        let (out, code) = boot(board, &granted);
        let checksums: Vec<&str> = out.lines().filter(|l| l.starts_with("entry b_checksum returned ")).collect();
        assert_eq!(checksums.len(), 3, "{out}");
        assert_ne!(checksums[0], checksums[1], "with memory 1 granted the store must land:\n{out}");
        assert!(out.contains("entry a_attack returned 1\n") && out.contains("done: all entries returned"), "{out}");
        assert_eq!(code, 0, "{out}");
    }
}

#[test]
fn usage_errors() {
    let cases: [(&[&str], &str); 5] = [
        (&["--entry", "a_fill"], "--image"),
        (&["--image", "--board", "mps2-an999"], "--board"),
        (&["--image", "--grant", "a_fill"], "--grant"),
        (&["--image", "--entry", "a_fill", "--grant", "b_init=1"], "not an --entry"),
        (&["--image", "--emit", "asm"], "--emit"),
    ];
    for (args, expected) in cases {
        let out = bulkhead().arg("compile").arg(example()).args(args).arg("-o").arg("/dev/null").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // A compile-time image error (wrong entry) is exit status 1 with the reason.
    let out = bulkhead()
        .arg("compile")
        .arg(example())
        .args(["--image", "--entry", "no_such_export", "-o", "/dev/null"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no_such_export") && err.contains("a_fill"), "{err}");
}
