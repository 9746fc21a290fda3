//! `minimost`: parse the command line, dispatch, print the error chain once. A dispatcher,
//! not a program: the work lives in the modules below.

mod accounts;
mod admin;
mod api;
mod assets;
mod channels;
mod cleanup;
mod cli;
mod config;
mod control;
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
    // glibc gives each thread that allocates its own malloc arena; with a thread per connection
    // that multiplies idle memory. Two arenas serve two cores. (musl has one allocator.)
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
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
        cli::Command::ResetPassword {
            common,
            user,
            expires_minutes,
            base_url,
        } => admin::reset_password(&common.data_dir, &user, expires_minutes, &base_url)?,
        cli::Command::Backup { common, dest } => admin::backup(&common.data_dir, &dest)?,
        cli::Command::Clean { common, args } => return admin::clean(&common.data_dir, &args),
        cli::Command::Check { common } => return admin::check(&common.data_dir),
        cli::Command::DeleteUser { common, user, hard } => {
            admin::delete_user(&common.data_dir, &user, hard)?
        }
        cli::Command::Healthcheck { common, url } => admin::healthcheck(&common.data_dir, &url)?,
        cli::Command::Help(text) => print!("{text}"),
        cli::Command::Version => println!("minimost {}", cli::VERSION),
    }
    Ok(ExitCode::SUCCESS)
}
