//! The modelgate binary: builds the async runtime, runs the command, exits with its code.

use std::process::ExitCode;

fn main() -> ExitCode {
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
