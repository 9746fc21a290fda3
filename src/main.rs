//! `minimost`: parse the command line, dispatch, print the error chain once. A dispatcher,
//! not a program: the work lives in the modules below.

mod accounts;
mod api;
mod assets;
mod channels;
mod cli;
mod config;
mod ctx;
mod db;
mod history;
mod http;
mod hub;
mod json;
mod limits;
mod messages;
mod names;
mod password;
mod reactions;
mod router;
mod server;
mod sessions;
mod tls;
mod uploads;
mod util;
mod writer;
mod ws;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Nothing we write is for other users: databases, keys and uploads are 0600, dirs 0700.
    // SAFETY: umask only changes this process's file-creation mask.
    unsafe { libc::umask(0o077) };
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let env = |key: &str| std::env::var(key).ok();
    match cli::parse(args, &env)? {
        cli::Command::Serve(args) => server::serve(args)?,
        cli::Command::Help(text) => print!("{text}"),
        cli::Command::Version => println!("minimost {}", cli::VERSION),
    }
    Ok(ExitCode::SUCCESS)
}
