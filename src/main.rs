//! `sekimori`: parse the command line, start logging, hand off to the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = match sekimori::cli::Cli::parse_layered() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    sekimori::telemetry::init();
    match sekimori::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line, no backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
