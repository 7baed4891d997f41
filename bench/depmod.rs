//! Benchmark driver (an example binary, not part of the product): run diskless' depmod
//! (`rootfs::depmod::run_dir`) on a modules directory and write the index files to OUT,
//! so `bench/depmod.sh` can time it against kmod's `depmod -b` on the same modules and
//! compare the files.
//!
//! usage: depmod MODULES_DIR OUT_DIR
//! stderr: one `timing: total_ms=.. files=..` line.

use diskless::rootfs::depmod;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, out] = args.as_slice() else {
        eprintln!("usage: depmod MODULES_DIR OUT_DIR");
        return ExitCode::from(2);
    };
    let t = Instant::now();
    let files = match depmod::run_dir(std::path::Path::new(dir), &depmod::default_search()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let ms = t.elapsed().as_millis();
    for (name, bytes) in &files {
        if let Err(e) = fs_err::write(std::path::Path::new(out).join(name), bytes) {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    }
    eprintln!("timing: total_ms={ms} files={}", files.len());
    ExitCode::SUCCESS
}
