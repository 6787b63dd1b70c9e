//! Standard output for the example binaries, without `println!`'s panic
//! when the reader goes away: `mercato run FILE | head -1` closes the pipe
//! after one line, and the next write fails with `BrokenPipe` (Rust ignores
//! SIGPIPE, so the write returns an error instead of killing the process).
//! The binaries write with [`outln!`], pass the error up with `?`, and
//! [`exit`] turns a closed pipe into a quiet, successful exit: the reader
//! chose to stop reading, nothing went wrong.

use std::io;
use std::process::ExitCode;

/// `println!` that returns the [`io::Error`] instead of panicking (the
/// binaries declare this module `#[macro_use]`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// The exit status of a run that ended with `result`: `Ok(code)` as is; a
/// closed stdout is success (nothing more is printed); any other write
/// error is reported on stderr, status 2.
pub fn exit(result: io::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            ExitCode::from(2)
        }
    }
}
