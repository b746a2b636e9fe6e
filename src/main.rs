//! The modelgate binary: builds the async runtime, runs the command, exits with its code.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `modelgate ... | head` would end in a panic on the next print;
    // take the default action instead and end quietly, as command-line tools do.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(modelgate::EXIT_ERROR);
        }
    };
    ExitCode::from(runtime.block_on(modelgate::run(std::env::args_os())))
}
