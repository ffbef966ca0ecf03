//! `janus ping`: round trips to the `ping` built-in.

use std::time::{Duration, Instant};

use crate::Failure;
use crate::cli::PingArgs;
use crate::output::{call_failure, connect, outln};

pub async fn run(args: PingArgs) -> Result<(), Failure> {
    let timeout = Duration::from_secs_f64(args.timeout);
    let channel = args.channel.as_deref();
    let client = connect(
        &args.socket,
        &args.reply_dir,
        timeout,
        1,
        &args.wire,
        channel,
    )
    .await?;
    let mut times = Vec::new();
    for seq in 1..=args.count {
        if seq > 1 {
            tokio::time::sleep(Duration::from_secs_f64(args.interval)).await;
        }
        let start = Instant::now();
        let mut call = client.request("ping").timeout(timeout);
        if let Some(channel) = channel {
            call = call.channel(channel);
        }
        let pong = call
            .send()
            .await
            .map_err(|e| call_failure(&args.socket, e))?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        times.push(ms);
        let server_time = pong
            .get("timestamp")
            .and_then(|t| t.as_str())
            .map(|t| format!(" (server time {t})"))
            .unwrap_or_default();
        outln(&format!(
            "pong from {}: seq={seq} time={ms:.3} ms{server_time}",
            args.socket.display()
        ));
    }
    if times.len() > 1 {
        let min = times.iter().copied().fold(f64::INFINITY, f64::min);
        let max = times.iter().copied().fold(0.0, f64::max);
        let avg = times.iter().sum::<f64>() / times.len() as f64;
        outln(&format!(
            "{} pings: min/avg/max = {min:.3}/{avg:.3}/{max:.3} ms",
            times.len()
        ));
    }
    Ok(())
}
