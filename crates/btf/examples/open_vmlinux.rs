//! Open /sys/kernel/btf/vmlinux and look one name up (or, with `--noop`,
//! only read the file, or with `--nothing` do nothing) so peak RSS of the two can be compared.

use bpfcheck_btf::{Btf, BtfKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/sys/kernel/btf/vmlinux".into());
    if std::env::args().any(|a| a == "--nothing") {
        return Ok(());
    }
    let noop = std::env::args().any(|a| a == "--noop");
    let data = std::fs::read(&path)?;
    if noop {
        println!("read {} bytes", data.len());
        return Ok(());
    }
    let btf = Btf::parse(&data)?;
    let t = btf
        .find_by_name_kind("task_struct", BtfKind::Struct)
        .ok_or("no task_struct")?;
    println!(
        "{} types, task_struct is {} ({} bytes)",
        btf.own_type_count(),
        t.id(),
        btf.size_of(t.id())?
    );
    if std::env::args().any(|a| a == "--validate") {
        btf.validate()?;
        println!("validated");
    }
    Ok(())
}
