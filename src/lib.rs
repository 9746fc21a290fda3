//! The `minimost` library: every module of the server and its subcommands. The binary
//! (`main.rs`) only calls `run`; the fuzz targets and the tests that replay their corpora call
//! the entry points in `fuzzing`.

mod admin;
mod api;
mod base;
mod cli;
mod db;
mod files;
pub mod fuzzing;
mod http;
mod live;
mod model;
mod router;
mod server;
mod store;

use std::process::ExitCode;

/// Parses the command line and runs the command; the caller prints the error chain once.
pub fn run() -> anyhow::Result<ExitCode> {
    let args: Vec<_> = std::env::args_os().skip(1).collect();

    let env = |key: &str| std::env::var(key).ok();
    let command = cli::parse(args, &env)?;
    if !matches!(command, cli::Command::Serve(_)) {
        // Like other command-line tools, end quietly when the reader of our output goes away
        // (`minimost reset-password alice | head -1`); the server keeps ignoring SIGPIPE.
        // SAFETY: setting a signal's disposition to the default before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match command {
        cli::Command::Serve(args) => server::serve(args)?,
        cli::Command::ResetPassword {
            common,
            user,
            expires_minutes,
            base_url,
        } => admin::reset_password(
            &common.data_dir,
            &user,
            expires_minutes,
            base_url.as_deref(),
        )?,
        cli::Command::Backup { common, dest } => admin::backup(&common.data_dir, &dest)?,
        cli::Command::Clean { common, args } => return admin::clean(&common.data_dir, &args),
        cli::Command::Check { common } => return admin::check(&common.data_dir),
        cli::Command::Status { common } => return admin::status(&common.data_dir),
        cli::Command::DeleteUser { common, user, hard } => {
            admin::delete_user(&common.data_dir, &user, hard)?
        }
        cli::Command::Healthcheck {
            common,
            url,
            fallback,
        } => admin::healthcheck(&common.data_dir, url, &fallback)?,
        cli::Command::Help(text) => print!("{text}"),
        cli::Command::Version => println!("minimost {}", cli::VERSION),
    }
    Ok(ExitCode::SUCCESS)
}
