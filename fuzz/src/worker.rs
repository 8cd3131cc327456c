//! The worker: a child process that runs cases of one target, one at a time, as the supervisor
//! sends them.
//!
//! Protocol, on the worker's stdin and stdout: the supervisor writes a case as a little-endian
//! `u32` length and the bytes; the worker answers with two little-endian `u64`s, the outcome's
//! signature and the most bytes the case had allocated at once. A finding is the worker's
//! death: a panic (reported on stderr by the hook below), an abort (a stack overflow, an
//! allocation past the ceiling), or silence past the timeout, after which the supervisor kills
//! it.

use std::io::{Read, Write};

use crate::alloc;
use crate::targets::{Ctx, Target};

/// The exit code of a worker whose case panicked.
pub const EXIT_PANIC: i32 = 101;
/// The exit code of a worker whose case asked for memory past the ceiling and got an error
/// back instead of an abort.
pub const EXIT_MEMORY: i32 = 102;
/// The line a panic report starts with on stderr.
pub const PANIC_MARK: &str = "fuzz-worker: panic at ";
/// The line a refused allocation is reported with on stderr.
pub const MEMORY_MARK: &str = "fuzz-worker: an allocation past the memory ceiling was refused";

/// Runs cases from stdin until it closes.
pub fn serve(target: &Target, ceiling: usize) -> ! {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a panic without a message)".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        eprintln!("{PANIC_MARK}{location}\n{message}");
        std::process::exit(EXIT_PANIC);
    }));
    let ctx = Ctx::load();
    alloc::set_ceiling(ceiling);
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut case = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if stdin.read_exact(&mut len).is_err() {
            std::process::exit(0);
        }
        case.resize(u32::from_le_bytes(len) as usize, 0);
        if stdin.read_exact(&mut case).is_err() {
            std::process::exit(0);
        }
        let before = alloc::start_case();
        let signature = run_one(target, &ctx, &case);
        let peak = alloc::peak().saturating_sub(before) as u64;
        if alloc::refused() {
            eprintln!("{MEMORY_MARK}");
            std::process::exit(EXIT_MEMORY);
        }
        let mut answer = [0u8; 16];
        answer[..8].copy_from_slice(&signature.to_le_bytes());
        answer[8..].copy_from_slice(&peak.to_le_bytes());
        if stdout
            .write_all(&answer)
            .and_then(|_| stdout.flush())
            .is_err()
        {
            std::process::exit(0);
        }
    }
}

/// Runs one case in this process, with nothing to catch what goes wrong (for a debugger, or
/// a replay with `--in-process`).
pub fn run_one(target: &Target, ctx: &Ctx, case: &[u8]) -> u64 {
    (target.run)(ctx, case)
}
