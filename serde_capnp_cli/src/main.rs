//! `serde-capnp`: Cap'n Proto schema tooling with no C++ dependency.
//!
//! `serde-capnp convert FROM:TO [SCHEMA TYPE]` converts message streams as `capnp convert` does.
//! `serde-capnp compile -o- FILE...` prints the `CodeGeneratorRequest` exactly as
//! `capnp compile -o-` does, and `-oPLUGIN[:DIR]` runs a code generator plugin the way
//! `capnp compile` does, so the binary can stand in for the C++ tool in builds.

mod convert;

use clap::{Args, Parser, Subcommand};
use serde_capnp_schema::compiler::{Compiler, EvalOutput};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Cap'n Proto schema tools written in Rust.
#[derive(Parser)]
#[command(name = "serde-capnp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile schema files and hand the result to code generators (like `capnp compile`).
    Compile(CompileArgs),
    /// Convert a stream of messages between formats (like `capnp convert`).
    Convert(ConvertArgs),
    /// Print the value of a constant (like `capnp eval`).
    Eval(EvalArgs),
    /// Print a fresh, random file ID (like `capnp id`).
    Id,
}

#[derive(Args)]
struct EvalArgs {
    /// The schema file.
    schema: String,
    /// The constant: a short, nested (`Outer.name`) or `file.capnp:Name` name.
    name: String,
    /// Output format: text (the default), json, binary, packed, flat, flat-packed or canonical.
    /// Formats other than text need a struct constant.
    #[arg(short = 'o', long = "output", default_value = "text")]
    output: String,
    /// Text and JSON on one line.
    #[arg(long)]
    short: bool,
    /// Add DIR to the directories searched by absolute imports.
    #[arg(short = 'I', long = "import-path", value_name = "DIR")]
    import_path: Vec<PathBuf>,
    /// Do not search the standard import directories or the bundled standard schemas.
    #[arg(long)]
    no_standard_import: bool,
}

#[derive(Args)]
struct ConvertArgs {
    /// `FROM:TO`, each one of binary, packed, flat, flat-packed, canonical, text, json.
    conversion: String,
    /// The schema file (needed for text and JSON).
    schema: Option<String>,
    /// The root struct type in the schema.
    #[arg(value_name = "TYPE")]
    root: Option<String>,
    /// Add DIR to the directories searched by absolute imports.
    #[arg(short = 'I', long = "import-path", value_name = "DIR")]
    import_path: Vec<PathBuf>,
    /// Do not search the standard import directories or the bundled standard schemas.
    #[arg(long)]
    no_standard_import: bool,
    /// Text and JSON on one line per message.
    #[arg(long)]
    short: bool,
    /// Binary output in fixed segments of N words.
    #[arg(long, value_name = "N")]
    segment_size: Option<u32>,
    /// Accepted for compatibility with `capnp convert`; no format warnings are printed.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct CompileArgs {
    /// Add DIR to the directories searched by absolute imports (`import "/foo.capnp"`).
    #[arg(short = 'I', long = "import-path", value_name = "DIR")]
    import_path: Vec<PathBuf>,
    /// Do not search /usr/local/include, /usr/include or the bundled standard schemas.
    #[arg(long)]
    no_standard_import: bool,
    /// Remove PREFIX from the names of requested files (used for output file names).
    #[arg(long = "src-prefix", value_name = "PREFIX")]
    src_prefix: Vec<PathBuf>,
    /// Where the result goes: `-` for stdout, or a plugin `LANG[:DIR]` (runs `capnpc-LANG`, or
    /// the program at LANG if it contains a `/`, in DIR).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "LANG[:DIR]",
        allow_hyphen_values = true
    )]
    output: Vec<String>,
    /// Show errors with labelled source excerpts.
    #[arg(long)]
    verbose: bool,
    /// Schema files to compile.
    #[arg(required = true)]
    files: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Compile(args) => compile(args),
        Cmd::Convert(args) => match convert(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("serde-capnp convert: {message}");
                ExitCode::FAILURE
            }
        },
        Cmd::Eval(args) => match eval(args) {
            Ok(Clean::Yes) => ExitCode::SUCCESS,
            Ok(Clean::No) => ExitCode::FAILURE,
            Err(message) => {
                eprintln!("serde-capnp eval: {message}");
                ExitCode::FAILURE
            }
        },
        Cmd::Id => {
            println!(
                "@0x{:016x};",
                serde_capnp_schema::compiler::random_file_id()
            );
            ExitCode::SUCCESS
        }
    }
}

fn schema_compiler(import_path: &[PathBuf], no_standard_import: bool) -> Compiler {
    let mut compiler = Compiler::new();
    for dir in import_path {
        compiler = compiler.import_path(dir);
    }
    if no_standard_import {
        compiler = compiler.no_standard_import();
    }
    compiler
}

/// Whether an evaluation met no compiler errors.
enum Clean {
    Yes,
    No,
}

/// Prints the value of `args.name` as `capnp eval` does. Only what the value needs is
/// compiled; errors met there are printed and make the exit status 1, but the value is still
/// printed, as the reference tool prints it.
fn eval(args: EvalArgs) -> Result<Clean, String> {
    let format = convert::Format::parse(&args.output)?;
    let compiler = schema_compiler(&args.import_path, args.no_standard_import);
    let output = match format {
        convert::Format::Text => EvalOutput::Text,
        convert::Format::Json => EvalOutput::Json,
        _ => EvalOutput::Message,
    };
    let evaluated = compiler
        .compile_for_eval(&args.schema, &args.name, output)
        .map_err(|e| e.to_string())?;
    let clean = match evaluated.errors() {
        Some(errors) => {
            eprintln!("{errors}");
            Clean::No
        }
        None => Clean::Yes,
    };
    let schema =
        serde_capnp::Schema::from_code_generator_request(evaluated.compiled().request_bytes())
            .map_err(|e| e.to_string())?;
    let stdout = std::io::stdout();
    let mut output = std::io::BufWriter::new(stdout.lock());
    if matches!(format, convert::Format::Text | convert::Format::Json) {
        let text = if format == convert::Format::Text {
            schema.eval_text(&args.name, !args.short)
        } else {
            let style = if args.short {
                serde_capnp::JsonStyle::Short
            } else {
                serde_capnp::JsonStyle::Pretty
            };
            schema.eval_json(&args.name, style)
        }
        .map_err(|e| e.to_string())?;
        writeln!(output, "{text}").map_err(|e| format!("writing stdout: {e}"))?;
    } else {
        let (root, message) = schema.eval_struct(&args.name).map_err(|e| e.to_string())?;
        // The message's one segment, after its segment table.
        let segment = message[8..].to_vec();
        let opts = convert::Options {
            from: convert::Format::Binary,
            to: format,
            short: args.short,
            segment_size: None,
            root: Some(root),
        };
        convert::write_segments(&opts, vec![segment], &mut output)?;
    }
    output.flush().map_err(|e| format!("writing stdout: {e}"))?;
    Ok(clean)
}

fn convert(args: ConvertArgs) -> Result<(), String> {
    let (from, to) = args
        .conversion
        .split_once(':')
        .ok_or("invalid conversion, format is: <from>:<to>")?;
    let (from, to) = (convert::Format::parse(from)?, convert::Format::parse(to)?);
    let root = match (&args.schema, &args.root) {
        (Some(schema), Some(root)) => {
            let mut compiler = Compiler::new();
            for dir in &args.import_path {
                compiler = compiler.import_path(dir);
            }
            if args.no_standard_import {
                compiler = compiler.no_standard_import();
            }
            let schema =
                serde_capnp::Schema::compile(&compiler, &[schema]).map_err(|e| e.to_string())?;
            Some(schema.struct_type(root).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let opts = convert::Options {
        from,
        to,
        short: args.short,
        segment_size: args.segment_size,
        root,
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut output = std::io::BufWriter::new(stdout.lock());
    convert::run(&opts, &mut input, &mut output)?;
    output.flush().map_err(|e| format!("writing stdout: {e}"))
}

fn compile(args: CompileArgs) -> ExitCode {
    let mut compiler = Compiler::new();
    for dir in &args.import_path {
        compiler = compiler.import_path(dir);
    }
    for prefix in &args.src_prefix {
        compiler = compiler.src_prefix(prefix);
    }
    if args.no_standard_import {
        compiler = compiler.no_standard_import();
    }
    let compiled = match compiler.compile(&args.files) {
        Ok(c) => c,
        Err(e) => {
            if args.verbose {
                eprint!("{}", e.render());
            } else {
                eprintln!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let request = compiled.request_bytes();
    for output in &args.output {
        if let Err(message) = run_output(output, request) {
            eprintln!("serde-capnp compile: {message}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Sends the request where `-o` says: stdout, or a plugin's stdin.
fn run_output(output: &str, request: &[u8]) -> Result<(), String> {
    if output == "-" {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(request)
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("writing to stdout: {e}"));
    }
    // `LANG:DIR`, but a path such as `C:\x` or `./a:b` keeps its colon when it is not followed
    // by a directory part.
    let (plugin, dir) = match output.rfind(':') {
        Some(i) if i > 0 => (&output[..i], Some(&output[i + 1..])),
        _ => (output, None),
    };
    let program = if plugin.contains('/') {
        PathBuf::from(plugin)
    } else {
        find_plugin(&format!("capnpc-{plugin}"))
            .ok_or_else(|| format!("no plugin named `capnpc-{plugin}` on PATH"))?
    };
    let mut command = Command::new(&program);
    if let Some(dir) = dir.filter(|d| !d.is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {dir}: {e}"))?;
        command.current_dir(dir);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {}: {e}", program.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(request)
            .map_err(|e| format!("writing to {}: {e}", program.display()))?;
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {}: {e}", program.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("plugin {} failed: {status}", program.display()))
    }
}

fn find_plugin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    p.is_file()
}
