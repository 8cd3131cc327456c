//! `serde_capnp_fuzz`: a mutation fuzzer for serde_capnp that runs on stable Rust.
//!
//! A supervisor process mutates cases and hands them, one at a time, to a worker process that
//! runs the target; a panic, an abort, a stack overflow, an allocation past the memory ceiling
//! or a case past the time limit ends the worker, and the supervisor records the input under
//! `fuzz/artifacts/<target>/` and starts a new worker. See `fuzz/README.md`.

mod alloc;
mod mutate;
mod rng;
mod supervisor;
mod targets;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use supervisor::{Options, Outcome, Report, Worker};
use targets::{Ctx, Target};

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

const USAGE: &str = "\
usage: serde_capnp_fuzz <TARGET|all|list> [OPTIONS]

  --cases N         stop each target after N cases (seeds included)
  --seconds S       stop each target after S seconds (default 60 when --cases is not given)
  --seed X          seed of the mutations, decimal or 0x hex (default: from the clock)
  --replay FILE     run the one input FILE (its target is TARGET, or the name of its folder)
  --minimize        with --replay: shrink the input while the finding stays, into FILE.min
  --in-process      with --replay: run in this process, unsupervised, printing every result
  --dump-seeds DIR  write the seeds of TARGET (or of each target) into DIR and stop
  --timeout S       a case running longer is a finding (default 10)
  --memory-mb M     a case with more live memory is a finding (default 1024)
  --max-len N       cases are cut to N bytes (default 65536)
  --artifacts DIR   where findings go (default fuzz/artifacts)
  --quiet           no progress lines

Exits with 1 when anything was found, 2 on a usage error.";

struct Args {
    target: String,
    opts: Options,
    replay: Option<PathBuf>,
    minimize: bool,
    in_process: bool,
    dump: Option<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut target = None;
    let mut cases = None;
    let mut seconds = None;
    let mut seed = None;
    let mut replay = None;
    let mut minimize = false;
    let mut in_process = false;
    let mut timeout = 10.0;
    let mut memory_mb = 1024usize;
    let mut max_len = 65536usize;
    let mut artifacts = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/artifacts"));
    let mut verbose = true;
    let mut dump = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("`{name}` needs a value"));
        match arg.as_str() {
            "--cases" => cases = Some(number(&value("--cases")?)?),
            "--seconds" => seconds = Some(float(&value("--seconds")?)?),
            "--seed" => seed = Some(number(&value("--seed")?)?),
            "--replay" => replay = Some(PathBuf::from(value("--replay")?)),
            "--minimize" => minimize = true,
            "--in-process" => in_process = true,
            "--timeout" => timeout = float(&value("--timeout")?)?,
            "--memory-mb" => memory_mb = number(&value("--memory-mb")?)? as usize,
            "--max-len" => max_len = number(&value("--max-len")?)? as usize,
            "--artifacts" => artifacts = PathBuf::from(value("--artifacts")?),
            "--quiet" => verbose = false,
            "--dump-seeds" => dump = Some(PathBuf::from(value("--dump-seeds")?)),
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown option `{other}`")),
            other if target.is_none() => target = Some(other.to_string()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let target = match (target, &replay) {
        (Some(t), _) => t,
        // A replayed file names its target by its folder, as the artifacts are laid out.
        (None, Some(file)) => file
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or("name the target of the replayed file")?,
        (None, None) => return Err("name a target, `all` or `list`".into()),
    };
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    if cases.is_none() && seconds.is_none() {
        seconds = Some(60.0);
    }
    Ok(Args {
        target,
        opts: Options {
            cases,
            seconds,
            seed,
            timeout: Duration::from_secs_f64(timeout),
            memory_bytes: memory_mb.saturating_mul(1 << 20),
            max_len,
            artifacts,
            verbose,
        },
        replay,
        minimize,
        in_process,
        dump,
    })
}

fn number(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("`{s}` is not a number"))
}

fn float(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or(format!("`{s}` is not a number of seconds"))
}

fn main() -> ExitCode {
    let mut raw = std::env::args().skip(1).peekable();
    if raw.peek().map(String::as_str) == Some("--worker") {
        raw.next();
        let name = raw.next().unwrap_or_default();
        let ceiling = match (raw.next().as_deref(), raw.next()) {
            (Some("--memory-bytes"), Some(v)) => v.parse().unwrap_or(usize::MAX),
            _ => usize::MAX,
        };
        let target = targets::find(&name).unwrap_or_else(|| {
            eprintln!("no target `{name}`");
            std::process::exit(2)
        });
        worker::serve(&target, ceiling);
    }
    let args = match parse(raw) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let all = targets::all();
    if args.target == "list" {
        for t in &all {
            println!("{:14} {}", t.name, t.about);
        }
        return ExitCode::SUCCESS;
    }
    let selftest = targets::selftest();
    let chosen: Vec<&Target> = if args.target == "all" {
        all.iter().collect()
    } else {
        match all
            .iter()
            .chain([&selftest])
            .find(|t| t.name == args.target)
        {
            Some(t) => vec![t],
            None => {
                eprintln!("error: no target `{}` (see `list`)", args.target);
                return ExitCode::from(2);
            }
        }
    };
    if let Some(file) = &args.replay {
        let [target] = chosen[..] else {
            eprintln!("error: a replay needs one target");
            return ExitCode::from(2);
        };
        return replay(target, file, &args);
    }

    let ctx = Ctx::load();
    if let Some(dir) = &args.dump {
        for target in chosen {
            let dir = dir.join(target.name);
            let seeds = (target.seeds)(&ctx);
            let written = std::fs::create_dir_all(&dir).and_then(|_| {
                seeds
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, s)| std::fs::write(dir.join(format!("seed-{i:04}.bin")), s))
            });
            match written {
                Ok(()) => println!(
                    "{}: {} seeds in {}",
                    target.name,
                    seeds.len(),
                    dir.display()
                ),
                Err(e) => {
                    eprintln!("error: cannot write into `{}`: {e}", dir.display());
                    return ExitCode::from(2);
                }
            }
        }
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "seed {:#x}; findings go to {}",
        args.opts.seed,
        args.opts.artifacts.display()
    );
    let mut reports = Vec::new();
    for target in chosen {
        if args.opts.verbose {
            eprintln!("{}: {}", target.name, target.about);
        }
        reports.push(supervisor::campaign(target, &ctx, &args.opts));
    }
    summarize(&reports);
    if reports.iter().any(|r| !r.findings.is_empty()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn summarize(reports: &[Report]) {
    println!(
        "{:14} {:>9} {:>8} {:>9} {:>7} {:>10} {:>10} {:>8}",
        "target", "cases", "seconds", "cases/s", "corpus", "outcomes", "peak MiB", "findings"
    );
    for r in reports {
        let secs = r.elapsed.as_secs_f64();
        println!(
            "{:14} {:>9} {:>8.1} {:>9.0} {:>7} {:>10} {:>10.1} {:>8}",
            r.target,
            r.cases,
            secs,
            r.cases as f64 / secs.max(1e-9),
            r.corpus,
            r.signatures,
            r.peak as f64 / (1 << 20) as f64,
            r.findings.len()
        );
    }
    for r in reports {
        for f in &r.findings {
            println!(
                "\n{} {} ({} hits, smallest input {} bytes): {}\n  {}",
                r.target,
                f.finding.kind,
                f.hits,
                f.len,
                f.file.display(),
                f.finding
                    .detail
                    .lines()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join("\n  ")
            );
        }
    }
}

fn replay(target: &Target, file: &PathBuf, args: &Args) -> ExitCode {
    let case = match std::fs::read(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    if args.in_process {
        targets::VERBOSE.store(true, std::sync::atomic::Ordering::Relaxed);
        let ctx = Ctx::load();
        let started = Instant::now();
        let signature = worker::run_one(target, &ctx, &case);
        println!(
            "{}: no finding (outcome {signature:016x}, {:.3} s)",
            target.name,
            started.elapsed().as_secs_f64()
        );
        return ExitCode::SUCCESS;
    }
    let mut worker = Worker::new(target.name, args.opts.memory_bytes);
    let started = Instant::now();
    match worker.run(&case, args.opts.timeout) {
        Outcome::Ran { signature, peak } => {
            println!(
                "{}: no finding (outcome {signature:016x}, {:.3} s, peak {:.1} MiB)",
                target.name,
                started.elapsed().as_secs_f64(),
                peak as f64 / (1 << 20) as f64
            );
            ExitCode::SUCCESS
        }
        Outcome::Found(finding) => {
            drop(worker);
            println!("{}: {}\n{}", target.name, finding.kind, finding.detail);
            if args.minimize {
                let budget = Duration::from_secs_f64(args.opts.seconds.unwrap_or(60.0));
                let small = supervisor::minimize(target, &case, &finding, &args.opts, budget);
                let out = file.with_extension("min");
                match std::fs::write(&out, &small) {
                    Ok(()) => println!(
                        "minimized to {} bytes: {}\nhex: {}",
                        small.len(),
                        out.display(),
                        supervisor::hex(&small)
                    ),
                    Err(e) => eprintln!("cannot write `{}`: {e}", out.display()),
                }
            }
            ExitCode::from(1)
        }
    }
}
