//! Flowgate benchmarks. `flowgate-bench park-approvals` measures what executions waiting at a
//! Slack approval cost the server in memory (spec §6: waiting holds no task or timer).

mod park_approvals;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Flowgate benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parks N executions at a Slack approval (in-process server, Slack stand-in in a child
    /// process) and reports the server's RSS and live tokio tasks before and after.
    ParkApprovals(park_approvals::Args),
    /// Runs the Slack stand-in and prints its Web API URL (used by park-approvals).
    #[command(hide = true)]
    SlackStandin,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::ParkApprovals(args) => runtime.block_on(park_approvals::run(args)),
        Command::SlackStandin => runtime.block_on(park_approvals::serve_standin()),
    }
}
