//! The supervisor: generates cases, hands them to a worker process, watches the clock, and
//! records every way a worker dies as a finding, then starts a new worker and goes on.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::mutate;
use crate::rng::Rng;
use crate::targets::{Ctx, Target};
use crate::worker::{EXIT_MEMORY, MEMORY_MARK, PANIC_MARK};

/// How a campaign runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Stop after this many cases (seeds included).
    pub cases: Option<u64>,
    /// Stop after this many seconds.
    pub seconds: Option<f64>,
    /// The seed of the mutations.
    pub seed: u64,
    /// A case that runs longer is a finding.
    pub timeout: Duration,
    /// A case that has more bytes live at once is a finding.
    pub memory_bytes: usize,
    /// Cases are cut to this length.
    pub max_len: usize,
    /// Where findings are written, one folder per target.
    pub artifacts: PathBuf,
    /// Print progress lines.
    pub verbose: bool,
}

/// What a worker's death (or silence) means.
#[derive(Clone, Debug)]
pub struct Finding {
    /// `panic`, `oracle`, `stack-overflow`, `memory`, `timeout` or `crash`.
    pub kind: &'static str,
    /// The panic's location and message, or what else is known.
    pub detail: String,
    /// The end of what the worker wrote on stderr.
    pub stderr: String,
}

impl Finding {
    /// What makes two findings the same bug: the kind, and for panics the place and the
    /// message with its numbers left out.
    pub fn key(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.kind.hash(&mut h);
        match self.kind {
            "panic" | "oracle" => {
                let mut lines = self.detail.lines();
                lines.next().unwrap_or("").hash(&mut h);
                let message: String = lines
                    .next()
                    .unwrap_or("")
                    .chars()
                    .filter(|c| !c.is_ascii_digit())
                    .take(120)
                    .collect();
                message.hash(&mut h);
            }
            "crash" => self.detail.hash(&mut h),
            _ => {}
        }
        h.finish()
    }
}

/// The outcome of one case.
pub enum Outcome {
    /// The case ran: its signature and peak memory.
    Ran { signature: u64, peak: u64 },
    /// The worker died or hung.
    Found(Finding),
}

// -------------------------------------------------------------------------------------------
// A worker process
// -------------------------------------------------------------------------------------------

/// A running worker for one target.
pub struct Worker {
    target: String,
    memory_bytes: usize,
    process: Option<Running>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<[u8; 16]>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
}

/// How much of a worker's stderr is kept.
const STDERR_KEPT: usize = 16 * 1024;

impl Worker {
    /// A worker for `target`, started on the first case.
    pub fn new(target: &str, memory_bytes: usize) -> Worker {
        Worker {
            target: target.to_string(),
            memory_bytes,
            process: None,
        }
    }

    fn start(&mut self) -> std::io::Result<&mut Running> {
        if self.process.is_none() {
            let mut child = Command::new(std::env::current_exe()?)
                .arg("--worker")
                .arg(&self.target)
                .arg("--memory-bytes")
                .arg(self.memory_bytes.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            let stdin = child.stdin.take().unwrap();
            let mut stdout = child.stdout.take().unwrap();
            let mut err = child.stderr.take().unwrap();
            let (tx, answers) = mpsc::channel();
            std::thread::spawn(move || {
                let mut answer = [0u8; 16];
                while stdout.read_exact(&mut answer).is_ok() {
                    if tx.send(answer).is_err() {
                        break;
                    }
                }
            });
            let stderr = Arc::new(Mutex::new(Vec::new()));
            let kept = stderr.clone();
            let stderr_reader = std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut kept = kept.lock().unwrap();
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > 2 * STDERR_KEPT {
                        let cut = kept.len() - STDERR_KEPT;
                        kept.drain(..cut);
                    }
                }
            });
            self.process = Some(Running {
                child,
                stdin,
                answers,
                stderr,
                stderr_reader: Some(stderr_reader),
            });
        }
        Ok(self.process.as_mut().unwrap())
    }

    /// Runs one case, starting a worker first if none is running.
    pub fn run(&mut self, case: &[u8], timeout: Duration) -> Outcome {
        let running = match self.start() {
            Ok(r) => r,
            Err(e) => panic!("cannot start a worker: {e}"),
        };
        let mut frame = (case.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(case);
        let sent = running
            .stdin
            .write_all(&frame)
            .and_then(|_| running.stdin.flush());
        let answer = if sent.is_ok() {
            running.answers.recv_timeout(timeout)
        } else {
            Err(RecvTimeoutError::Disconnected)
        };
        match answer {
            Ok(a) => Outcome::Ran {
                signature: u64::from_le_bytes(a[..8].try_into().unwrap()),
                peak: u64::from_le_bytes(a[8..].try_into().unwrap()),
            },
            Err(RecvTimeoutError::Timeout) => {
                let mut running = self.process.take().unwrap();
                let _ = running.child.kill();
                let (_, stderr) = running.finish();
                Outcome::Found(Finding {
                    kind: "timeout",
                    detail: format!("the case ran longer than {:.1} s", timeout.as_secs_f64()),
                    stderr,
                })
            }
            Err(RecvTimeoutError::Disconnected) => {
                let running = self.process.take().unwrap();
                let (status, stderr) = running.finish();
                Outcome::Found(classify(status, stderr))
            }
        }
    }
}

impl Running {
    /// Waits for the process to end and collects the end of its stderr.
    fn finish(mut self) -> (Option<ExitStatus>, String) {
        drop(self.stdin);
        let status = self.child.wait().ok();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        let kept = self.stderr.lock().unwrap();
        let tail = &kept[kept.len().saturating_sub(STDERR_KEPT)..];
        (status, String::from_utf8_lossy(tail).into_owned())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut running) = self.process.take() {
            // Closing stdin ends the worker's loop; kill it in case a case is still running.
            let _ = running.child.kill();
            running.finish();
        }
    }
}

/// Turns a worker's death into a finding, from its exit status and what it printed.
fn classify(status: Option<ExitStatus>, stderr: String) -> Finding {
    let code = status.and_then(|s| s.code());
    #[cfg(unix)]
    let signal = status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    if let Some(at) = stderr.find(PANIC_MARK) {
        let report = &stderr[at + PANIC_MARK.len()..];
        let mut lines = report.lines();
        let location = lines.next().unwrap_or("").to_string();
        let message: String = lines.take(12).collect::<Vec<_>>().join("\n");
        let kind = if message.starts_with("oracle:") {
            "oracle"
        } else {
            "panic"
        };
        // The library's own file and line tell one panic from another; an oracle's place is
        // the fuzzer's, so its message does.
        let detail = format!("{location}\n{message}");
        return Finding {
            kind,
            detail,
            stderr,
        };
    }
    if stderr.contains("has overflowed its stack") {
        return Finding {
            kind: "stack-overflow",
            detail: "the worker's stack overflowed".into(),
            stderr,
        };
    }
    if let Some(line) = stderr
        .lines()
        .find(|l| l.starts_with("memory allocation of"))
    {
        return Finding {
            kind: "memory",
            detail: format!("an allocation past the memory ceiling: {line}"),
            stderr,
        };
    }
    if code == Some(EXIT_MEMORY) || stderr.contains(MEMORY_MARK) {
        return Finding {
            kind: "memory",
            detail: "an allocation past the memory ceiling was refused and handled".into(),
            stderr,
        };
    }
    Finding {
        kind: "crash",
        detail: match (code, signal) {
            (Some(c), _) => format!("the worker exited with code {c}"),
            (_, Some(s)) => format!("the worker was killed by signal {s}"),
            _ => "the worker ended without a status".into(),
        },
        stderr,
    }
}

// -------------------------------------------------------------------------------------------
// A campaign
// -------------------------------------------------------------------------------------------

/// One distinct finding of a campaign.
pub struct Recorded {
    /// The finding.
    pub finding: Finding,
    /// The file holding its (smallest) input.
    pub file: PathBuf,
    /// How many cases hit it.
    pub hits: u64,
    /// The input's length.
    pub len: usize,
}

/// What a campaign did.
pub struct Report {
    /// The target.
    pub target: &'static str,
    /// Cases run, seeds included.
    pub cases: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Cases kept because their outcome was new.
    pub corpus: usize,
    /// Distinct outcomes seen.
    pub signatures: usize,
    /// The most bytes one case had live at once.
    pub peak: u64,
    /// The distinct findings.
    pub findings: Vec<Recorded>,
    /// Worker restarts (one per finding hit).
    pub restarts: u64,
}

const MAX_CORPUS: usize = 4096;

/// Fuzzes one target until the case count or the time is reached.
pub fn campaign(target: &Target, ctx: &Ctx, opts: &Options) -> Report {
    let started = Instant::now();
    let mut rng = Rng::new(opts.seed ^ fnv(target.name));
    let seeds: Vec<Vec<u8>> = (target.seeds)(ctx)
        .into_iter()
        .map(|mut s| {
            s.truncate(opts.max_len);
            s
        })
        .collect();
    let dict = (target.dict)(ctx);
    let seed_count = seeds.len().max(1);
    let mut corpus = if seeds.is_empty() {
        vec![Vec::new()]
    } else {
        seeds
    };
    let mut queue: Vec<Vec<u8>> = corpus.clone();
    queue.reverse();
    let mut seen = HashSet::new();
    let mut worker = Worker::new(target.name, opts.memory_bytes);
    let mut report = Report {
        target: target.name,
        cases: 0,
        elapsed: Duration::ZERO,
        corpus: 0,
        signatures: 0,
        peak: 0,
        findings: Vec::new(),
        restarts: 0,
    };
    let mut last_status = Instant::now();
    let done = |report: &Report| {
        opts.cases.is_some_and(|n| report.cases >= n)
            || opts
                .seconds
                .is_some_and(|s| started.elapsed().as_secs_f64() >= s)
    };
    while !done(&report) {
        // Seeds first, each once; then mutants of the corpus.
        let case = match queue.pop() {
            Some(seed) => seed,
            None => {
                let mut case = corpus[rng.below(corpus.len())].clone();
                mutate::mutate(
                    target.shape,
                    &mut case,
                    &mut rng,
                    &corpus,
                    &dict,
                    opts.max_len,
                );
                case
            }
        };
        report.cases += 1;
        match worker.run(&case, opts.timeout) {
            Outcome::Ran { signature, peak } => {
                report.peak = report.peak.max(peak);
                if seen.insert(signature) && report.cases > seed_count as u64 {
                    if corpus.len() < MAX_CORPUS {
                        corpus.push(case);
                    } else {
                        let slot = seed_count + rng.below(MAX_CORPUS - seed_count);
                        corpus[slot] = case;
                    }
                }
            }
            Outcome::Found(finding) => {
                report.restarts += 1;
                record(&mut report, target.name, finding, &case, opts);
            }
        }
        if opts.verbose && last_status.elapsed() >= Duration::from_secs(10) {
            last_status = Instant::now();
            eprintln!(
                "  {}: {} cases, {:.0}/s, corpus {}, findings {}",
                target.name,
                report.cases,
                report.cases as f64 / started.elapsed().as_secs_f64(),
                corpus.len(),
                report.findings.len()
            );
        }
    }
    report.elapsed = started.elapsed();
    report.corpus = corpus.len();
    report.signatures = seen.len();
    report
}

/// Writes a finding's input and description, keeping the smallest input per distinct finding.
fn record(report: &mut Report, target: &str, finding: Finding, case: &[u8], opts: &Options) {
    let key = finding.key();
    if let Some(known) = report.findings.iter_mut().find(|r| r.finding.key() == key) {
        known.hits += 1;
        if case.len() >= known.len {
            return;
        }
        known.len = case.len();
        known.finding = finding.clone();
        write_artifact(&known.file, target, &finding, case);
        return;
    }
    let dir = opts.artifacts.join(target);
    let file = dir.join(format!("{}-{key:016x}.bin", finding.kind));
    // An earlier run may have found it with a smaller input already.
    let smaller_on_disk = std::fs::metadata(&file).is_ok_and(|m| (m.len() as usize) <= case.len());
    if !smaller_on_disk {
        write_artifact(&file, target, &finding, case);
    }
    if opts.verbose {
        eprintln!(
            "  {target}: finding {} ({}): {}",
            finding.kind,
            file.display(),
            finding
                .detail
                .lines()
                .take(2)
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    report.findings.push(Recorded {
        finding,
        file,
        hits: 1,
        len: case.len(),
    });
}

fn write_artifact(file: &Path, target: &str, finding: &Finding, case: &[u8]) {
    if let Some(dir) = file.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("cannot create `{}`: {e}", dir.display());
            return;
        }
    }
    if let Err(e) = std::fs::write(file, case) {
        eprintln!("cannot write `{}`: {e}", file.display());
        return;
    }
    let about = format!(
        "target: {target}\nkind: {}\ninput: {} bytes{}\n\n{}\n\nreplay: cargo run --release -p serde_capnp_fuzz -- {target} --replay {}\n\nstderr (end):\n{}\n",
        finding.kind,
        case.len(),
        if case.len() <= 256 {
            format!("\nhex: {}", hex(case))
        } else {
            String::new()
        },
        finding.detail,
        file.display(),
        finding.stderr
    );
    let _ = std::fs::write(file.with_extension("txt"), about);
}

/// Lower-case hex, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

// -------------------------------------------------------------------------------------------
// Replay and minimization
// -------------------------------------------------------------------------------------------

/// Shrinks `case` while it still gives a finding with the same key; stops after `budget`.
pub fn minimize(
    target: &Target,
    case: &[u8],
    want: &Finding,
    opts: &Options,
    budget: Duration,
) -> Vec<u8> {
    let started = Instant::now();
    let key = want.key();
    let mut worker = Worker::new(target.name, opts.memory_bytes);
    let mut best = case.to_vec();
    let still = |candidate: &[u8], worker: &mut Worker| match worker.run(candidate, opts.timeout) {
        Outcome::Found(f) => f.key() == key,
        Outcome::Ran { .. } => false,
    };
    // Chunks from half the input down to single bytes; word-sized steps first for messages.
    let mut chunk = (best.len() / 2).max(1);
    while chunk >= 1 && started.elapsed() < budget {
        let mut at = 0;
        let mut shrunk = false;
        while at < best.len() && started.elapsed() < budget {
            let end = (at + chunk).min(best.len());
            let mut candidate = best[..at].to_vec();
            candidate.extend_from_slice(&best[end..]);
            if still(&candidate, &mut worker) {
                best = candidate;
                shrunk = true;
            } else {
                at += chunk;
            }
        }
        if !shrunk {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    // Then make what is left as plain as possible: zero bytes where the finding allows.
    let mut i = 0;
    while i < best.len() && started.elapsed() < budget {
        if best[i] != 0 {
            let mut candidate = best.clone();
            candidate[i] = 0;
            if still(&candidate, &mut worker) {
                best = candidate;
            }
        }
        i += 1;
    }
    best
}
