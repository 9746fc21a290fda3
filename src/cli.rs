//! Command-line parsing: pico-args into one `Command` enum with typed arguments, and the
//! `--help` texts. No I/O besides reading the `MINIMOST_*` environment variables.

use anyhow::{bail, Context};
use std::ffi::OsString;
use std::path::PathBuf;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Options every subcommand accepts.
#[derive(Debug, Clone)]
pub struct Common {
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServeArgs {
    pub common: Common,
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

#[derive(Debug)]
pub enum Command {
    Serve(ServeArgs),
    Help(&'static str),
    Version,
}

pub const MAIN_HELP: &str = "\
minimost — a self-hosted team chat server in one binary

USAGE:
    minimost [serve] [--host H] [--port P] [--data-dir D] [--no-tls]
    minimost <SUBCOMMAND> --help

SUBCOMMANDS:
    serve           serve the chat (the default when no subcommand is given)

OPTIONS (flags win over environment variables):
    --host H        address to listen on          [env MINIMOST_HOST, default 127.0.0.1]
    --port P        TCP port; 0 picks a free one  [env MINIMOST_PORT, default 5000]
    --data-dir D    directory holding all state   [env MINIMOST_DATA_DIR, default .]
    --no-tls        plain HTTP, for use behind a TLS-terminating reverse proxy
                                                  [env MINIMOST_NO_TLS=1]
    -h, --help      print this help
    -V, --version   print the version

The first line printed is `listening on https://ADDR:PORT` with the real address.
Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on a startup error.
";

/// Parses `args` (without the program name) with `env` as the source of `MINIMOST_*` values.
pub fn parse(args: Vec<OsString>, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Command> {
    let mut args = pico_args::Arguments::from_vec(args);
    if args.contains(["-V", "--version"]) {
        return Ok(Command::Version);
    }
    let subcommand = args
        .subcommand()
        .context("the subcommand is not valid UTF-8")?;
    let help = args.contains(["-h", "--help"]);
    let command = match subcommand.as_deref() {
        None | Some("serve") => {
            if help {
                return Ok(Command::Help(MAIN_HELP));
            }
            Command::Serve(parse_serve(&mut args, env)?)
        }
        Some("help") => return Ok(Command::Help(MAIN_HELP)),
        Some(other) => bail!("unknown subcommand `{other}`; run `minimost --help` for the list"),
    };
    let rest = args.finish();
    if !rest.is_empty() {
        bail!("unexpected argument {:?}; run `minimost --help`", rest[0]);
    }
    Ok(command)
}

fn parse_common(
    args: &mut pico_args::Arguments,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Common> {
    let data_dir: Option<PathBuf> = args.opt_value_from_os_str("--data-dir", |s| {
        Ok::<_, std::convert::Infallible>(PathBuf::from(s))
    })?;
    let data_dir = data_dir
        .or_else(|| {
            env("MINIMOST_DATA_DIR")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Common { data_dir })
}

fn parse_serve(
    args: &mut pico_args::Arguments,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<ServeArgs> {
    let common = parse_common(args, env)?;
    let host: Option<String> = args.opt_value_from_str("--host")?;
    let host = host
        .or_else(|| env("MINIMOST_HOST").filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let port: Option<u16> = args
        .opt_value_from_str("--port")
        .context("--port takes a number from 0 to 65535")?;
    let port = match port {
        Some(p) => p,
        None => match env("MINIMOST_PORT").filter(|s| !s.is_empty()) {
            Some(text) => text.parse().with_context(|| {
                format!("MINIMOST_PORT={text:?} is not a port number (0-65535)")
            })?,
            None => 5000,
        },
    };
    let no_tls = args.contains("--no-tls")
        || env("MINIMOST_NO_TLS").is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    Ok(ServeArgs {
        common,
        host,
        port,
        tls: !no_tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Command> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        parse(args.iter().map(OsString::from).collect(), &lookup)
    }

    #[test]
    fn serve_defaults_and_flags() {
        let Command::Serve(s) = parse_with(&[], &[]).unwrap() else {
            panic!()
        };
        assert_eq!((s.host.as_str(), s.port, s.tls), ("127.0.0.1", 5000, true));
        let Command::Serve(s) = parse_with(
            &["serve", "--port", "0", "--no-tls", "--data-dir", "/x"],
            &[],
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (s.port, s.tls, s.common.data_dir),
            (0, false, PathBuf::from("/x"))
        );
    }

    #[test]
    fn flags_win_over_environment() {
        let env = [("MINIMOST_PORT", "6000"), ("MINIMOST_HOST", "0.0.0.0")];
        let Command::Serve(s) = parse_with(&["--port", "7000"], &env).unwrap() else {
            panic!()
        };
        assert_eq!((s.host.as_str(), s.port), ("0.0.0.0", 7000));
    }

    #[test]
    fn refuses_bad_input() {
        assert!(parse_with(&["--port", "99999"], &[]).is_err());
        assert!(parse_with(&[], &[("MINIMOST_PORT", "x")]).is_err());
        assert!(parse_with(&["frobnicate"], &[]).is_err());
        assert!(parse_with(&["--bogus"], &[]).is_err());
    }
}
