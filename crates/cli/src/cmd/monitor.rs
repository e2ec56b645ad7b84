//! `shinrai monitor ...`: OT anomaly detection (learn, detect, live, sensor, mss) and
//! `shinrai bench monitor`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use shinrai_monitor::capture::CaptureFile;
use shinrai_monitor::plan::{StandardCommands, WorkPlan};
use shinrai_monitor::run::{detect_capture, learn_capture};
use shinrai_monitor::{Alert, Model, Monitor, Options, Summary};

/// Monitor subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum MonitorCmd {
    /// Learn a model from a clean capture (pcap or pcapng).
    Learn {
        /// Capture to learn from.
        #[arg(long)]
        pcap: PathBuf,
        /// Where to write the model (JSON).
        #[arg(long)]
        model: PathBuf,
        /// Sign the model with this SCU key (purpose `monitor-model`): the file becomes a DSSE
        /// envelope that sensors verify with `--trusted-key`.
        #[arg(long)]
        sign_key: Option<String>,
        /// Soft SCU key store holding the signing key.
        #[arg(long, env = "SHINRAI_KEYSTORE")]
        keystore: Option<PathBuf>,
        /// File whose first line is the key store passphrase (else $SHINRAI_PIN).
        #[arg(long)]
        pin_file: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a capture against a model and write EVE-style alert lines.
    Detect {
        /// Capture to check.
        #[arg(long)]
        pcap: PathBuf,
        /// Model from `learn`.
        #[arg(long)]
        model: PathBuf,
        /// Public key (SCU JSON `{"algorithm","bytes"}`) the model must be signed by.
        #[arg(long)]
        trusted_key: Option<PathBuf>,
        /// Work plan (JSON, see docs/design/monitor.md).
        #[arg(long)]
        work_plan: Option<PathBuf>,
        /// Standard commands added by an engineer (JSON).
        #[arg(long)]
        standard_commands: Option<PathBuf>,
        /// Alert output file, `-` for stdout.
        #[arg(long, default_value = "-")]
        alerts: PathBuf,
        /// Also write the summary as JSON here.
        #[arg(long)]
        summary: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Monitor an interface live (AF_PACKET; needs root or CAP_NET_RAW).
    Live {
        /// Interface name (a mirror/SPAN port).
        #[arg(long)]
        interface: String,
        #[command(flatten)]
        common: LiveArgs,
        /// Alert output file, `-` for stdout.
        #[arg(long, default_value = "-")]
        alerts: PathBuf,
    },
    /// Sensor: detect on a capture or an interface and publish alerts to NATS JetStream.
    Sensor {
        /// Capture to replay (instead of an interface).
        #[arg(long, conflicts_with = "interface")]
        pcap: Option<PathBuf>,
        /// Interface to monitor.
        #[arg(long)]
        interface: Option<String>,
        #[command(flatten)]
        common: LiveArgs,
        /// Sensor name (letters, digits, '-', '_').
        #[arg(long)]
        name: String,
        #[command(flatten)]
        nats: NatsArgs,
        /// Also write alerts to this file.
        #[arg(long)]
        alerts: Option<PathBuf>,
    },
    /// Register alerts in the trust store as signed statements (predicate type
    /// `https://shinrai.dev/attestation/monitor-alert/v1`, subject the link), for the
    /// monitoring dashboard and partners: tamper-evident like any other evidence.
    Register(RegisterAlertsArgs),
    /// Monitoring centre: collect alerts from sensors, de-duplicate into incidents, keep the
    /// score history.
    Mss {
        #[command(flatten)]
        nats: NatsArgs,
        /// Durable consumer name (one per MSS).
        #[arg(long, default_value = "mss")]
        consumer: String,
        /// Incident output (JSON lines), `-` for stdout.
        #[arg(long, default_value = "-")]
        incidents: PathBuf,
        /// Score history output (JSON), written at exit.
        #[arg(long)]
        history: Option<PathBuf>,
        /// Stop after this many sensors said they finished.
        #[arg(long)]
        expect_sensors: Option<usize>,
        /// Stop after this many seconds without messages.
        #[arg(long, default_value_t = 3600)]
        idle_secs: u64,
        /// Close an incident after this many seconds (capture time) without new alerts.
        #[arg(long, default_value_t = 60)]
        gap_secs: u64,
    },
}

/// Options of `monitor register`.
#[derive(clap::Args, Debug)]
pub struct RegisterAlertsArgs {
    /// EVE JSON lines from `detect`, `live` or `sensor`, or incident lines from `mss` (their
    /// alerts are registered); `-` for standard input.
    #[arg(long)]
    alerts: PathBuf,
    #[command(flatten)]
    keys: crate::keystore::KeyStoreArgs,
    /// Label of the organisation key that signs the alert statements.
    #[arg(long)]
    key: String,
    /// Trust store URL.
    #[arg(long, env = "SHINRAI_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Organisation API token of the trust store.
    #[arg(long = "store-token", env = "SHINRAI_TOKEN", hide_env_values = true)]
    store_token: super::client::Token,
}

/// Options shared by live monitoring and sensors.
#[derive(clap::Args, Debug)]
pub struct LiveArgs {
    /// Model from `learn`; without it everything is learned first.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Public key (SCU JSON) the model must be signed by.
    #[arg(long)]
    trusted_key: Option<PathBuf>,
    /// Work plan (JSON).
    #[arg(long)]
    work_plan: Option<PathBuf>,
    /// Standard commands (JSON).
    #[arg(long)]
    standard_commands: Option<PathBuf>,
    /// Without a model: minutes before inventory changes alert (links switch by themselves).
    #[arg(long, default_value_t = 60)]
    learn_minutes: u64,
    /// Save the model here at exit.
    #[arg(long)]
    save_model: Option<PathBuf>,
    /// Stop after this many seconds (live only).
    #[arg(long)]
    duration_secs: Option<u64>,
}

/// Where the NATS server and stream are.
#[derive(clap::Args, Debug)]
pub struct NatsArgs {
    /// NATS server URL.
    #[arg(
        long,
        default_value = "nats://127.0.0.1:4222",
        env = "SHINRAI_NATS_URL"
    )]
    nats: String,
    /// JetStream stream name.
    #[arg(long, default_value = "SHINRAI_ALERTS")]
    stream: String,
    /// Subject prefix (the stream holds `<prefix>.>`).
    #[arg(long, default_value = "shinrai.alerts")]
    subject_prefix: String,
}

impl NatsArgs {
    fn config(&self) -> shinrai_monitor::nats::NatsConfig {
        shinrai_monitor::nats::NatsConfig {
            url: self.nats.clone(),
            stream: self.stream.clone(),
            subject_prefix: self.subject_prefix.clone(),
        }
    }
}

/// `shinrai bench monitor` arguments.
#[derive(clap::Args, Debug)]
pub struct BenchMonitorArgs {
    /// Base capture to replicate (default: the built-in synthetic Modbus plant).
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Approximate number of packets in the large capture.
    #[arg(long, default_value_t = 2_000_000)]
    packets: usize,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn output(path: &Path) -> anyhow::Result<Box<dyn Write>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(BufWriter::new(std::io::stdout().lock())))
    } else {
        let f = File::create(path).with_context(|| format!("create {}", path.display()))?;
        Ok(Box::new(BufWriter::new(f)))
    }
}

fn progress(quiet: bool, label: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(1000);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {percent:>3}% {elapsed}") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(label.to_string());
    pb
}

fn load_model(path: &Path, trusted_key: Option<&Path>) -> anyhow::Result<Model> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("read model {}", path.display()))?;
    let signed = shinrai_monitor::signing::is_envelope(&text);
    match (signed, trusted_key) {
        (true, Some(k)) => {
            let key_text =
                std::fs::read_to_string(k).with_context(|| format!("read key {}", k.display()))?;
            let key: shinrai_scu::PublicKey = serde_json::from_str(&key_text)
                .with_context(|| format!("{}: not an SCU public key", k.display()))?;
            let v = shinrai_monitor::signing::verify_model(&text, &[key])?;
            Ok(v.model().clone())
        }
        (true, None) => bail!(
            "{} is a signed model: pass --trusted-key with the signer's public key",
            path.display()
        ),
        (false, Some(_)) => bail!(
            "{} is not signed but --trusted-key was given",
            path.display()
        ),
        (false, None) => Ok(Model::from_json(&text)?),
    }
}

fn write_model(
    model: &Model,
    path: &Path,
    sign_key: Option<&str>,
    keystore: Option<&Path>,
    pin_file: Option<&Path>,
) -> anyhow::Result<()> {
    let text = match sign_key {
        None => model.to_json(),
        Some(label) => {
            let ks = keystore.context("--sign-key needs --keystore FILE (or $SHINRAI_KEYSTORE)")?;
            let pin = match pin_file {
                Some(f) => std::fs::read_to_string(f)
                    .with_context(|| format!("read {}", f.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                None => std::env::var("SHINRAI_PIN")
                    .context("set SHINRAI_PIN or pass --pin-file with the key store passphrase")?,
            };
            let store = shinrai_scu::soft::SoftKeyStore::open(ks, pin.as_bytes())
                .with_context(|| format!("open key store {}", ks.display()))?;
            shinrai_monitor::signing::sign_model(model, &store, label)?
        }
    };
    std::fs::write(path, text).with_context(|| format!("write model {}", path.display()))
}

fn configure(
    m: &mut Monitor,
    work_plan: Option<&Path>,
    std_cmds: Option<&Path>,
) -> anyhow::Result<()> {
    if let Some(p) = work_plan {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("read work plan {}", p.display()))?;
        m.set_work_plan(WorkPlan::from_json(&text)?);
    }
    if let Some(p) = std_cmds {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("read standard commands {}", p.display()))?;
        m.set_standard_commands(StandardCommands::from_json(&text)?);
    }
    Ok(())
}

fn monitor_for(args: &LiveArgs) -> anyhow::Result<Monitor> {
    let mut m = match &args.model {
        Some(p) => Monitor::from_model(
            &load_model(p, args.trusted_key.as_deref())?,
            Options::default(),
        )?,
        None => Monitor::learning(Options {
            inventory_learning_us: Some(args.learn_minutes as i64 * 60_000_000),
            ..Options::default()
        }),
    };
    configure(
        &mut m,
        args.work_plan.as_deref(),
        args.standard_commands.as_deref(),
    )?;
    Ok(m)
}

fn print_summary(s: &Summary, elapsed: Duration) {
    eprintln!(
        "frames {} (decoded {}, corrupt {}, too short {}, truncated {}) in {:.2} s",
        s.frames,
        s.decode.decoded,
        s.decode.corrupt,
        s.decode.too_short,
        s.decode.truncated,
        elapsed.as_secs_f64()
    );
    eprintln!(
        "assets {}, links {} ({} protected)",
        s.assets, s.links, s.protected_links
    );
    let causes: Vec<String> = s.by_cause.iter().map(|(c, n)| format!("{c} {n}")).collect();
    eprintln!(
        "alerts {} (suppressed duplicates {}){}{}",
        s.alerts,
        s.suppressed,
        if causes.is_empty() { "" } else { ": " },
        causes.join(", ")
    );
    let peak = s.score_per_minute.iter().map(|x| x.1).fold(0.0, f64::max);
    eprintln!(
        "anomaly score: {} minutes with a score, peak {peak:.2}",
        s.score_per_minute.len()
    );
}

fn save_model(m: &Monitor, path: Option<&Path>) -> anyhow::Result<()> {
    if let Some(p) = path {
        std::fs::write(p, m.to_model().to_json())
            .with_context(|| format!("write model {}", p.display()))?;
        eprintln!("model saved to {}", p.display());
    }
    Ok(())
}

/// Runs a monitor subcommand.
pub fn run(cmd: MonitorCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        MonitorCmd::Learn {
            pcap,
            model,
            sign_key,
            keystore,
            pin_file,
            quiet,
        } => {
            let t = Instant::now();
            let cap = CaptureFile::open(&pcap)?;
            let pb = progress(quiet, "learning");
            let (m, s) = learn_capture(&cap, &mut |f| pb.set_position((f * 1000.0) as u64))?;
            pb.finish_and_clear();
            write_model(
                &m,
                &model,
                sign_key.as_deref(),
                keystore.as_deref(),
                pin_file.as_deref(),
            )?;
            if !quiet {
                print_summary(&s, t.elapsed());
                eprintln!(
                    "model with {} links, {} assets written to {}",
                    m.links.len(),
                    m.assets.len(),
                    model.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        MonitorCmd::Detect {
            pcap,
            model,
            trusted_key,
            work_plan,
            standard_commands,
            alerts,
            summary,
            quiet,
        } => {
            let t = Instant::now();
            let cap = CaptureFile::open(&pcap)?;
            let mut m = Monitor::from_model(
                &load_model(&model, trusted_key.as_deref())?,
                Options::default(),
            )?;
            configure(&mut m, work_plan.as_deref(), standard_commands.as_deref())?;
            let mut out = output(&alerts)?;
            let mut io_err = None;
            let pb = progress(quiet, "detecting");
            let s = detect_capture(
                &cap,
                &mut m,
                &mut |a| {
                    if let Err(e) = writeln!(out, "{}", a.to_json_line()) {
                        io_err.get_or_insert(e);
                    }
                },
                &mut |f| pb.set_position((f * 1000.0) as u64),
            )?;
            pb.finish_and_clear();
            out.flush()?;
            if let Some(e) = io_err {
                return Err(e).context("write alerts");
            }
            if let Some(p) = summary {
                std::fs::write(&p, serde_json::to_string_pretty(&s)?)
                    .with_context(|| format!("write {}", p.display()))?;
            }
            if !quiet {
                print_summary(&s, t.elapsed());
            }
            Ok(ExitCode::SUCCESS)
        }
        MonitorCmd::Live {
            interface,
            common,
            alerts,
        } => {
            let mut m = monitor_for(&common)?;
            let mut out = output(&alerts)?;
            let t = Instant::now();
            live_loop(&interface, &mut m, common.duration_secs, &mut |a| {
                writeln!(out, "{}", a.to_json_line())?;
                out.flush()?;
                Ok(())
            })?;
            print_summary(&m.summary(), t.elapsed());
            save_model(&m, common.save_model.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        MonitorCmd::Sensor {
            pcap,
            interface,
            common,
            name,
            nats,
            alerts,
        } => {
            let mut publisher =
                shinrai_monitor::nats::SensorPublisher::connect(&nats.config(), &name)?;
            let mut file = alerts.as_deref().map(output).transpose()?;
            let mut m = monitor_for(&common)?;
            let t = Instant::now();
            let mut sink = |a: &Alert| -> anyhow::Result<()> {
                publisher.publish(a)?;
                if let Some(f) = file.as_mut() {
                    writeln!(f, "{}", a.to_json_line())?;
                }
                Ok(())
            };
            match (pcap, interface) {
                (Some(p), None) => {
                    if common.model.is_none() {
                        bail!("--pcap needs --model (learn one with `shinrai monitor learn`)");
                    }
                    let cap = CaptureFile::open(&p)?;
                    let mut err = None;
                    detect_capture(
                        &cap,
                        &mut m,
                        &mut |a| {
                            if err.is_none()
                                && let Err(e) = sink(a)
                            {
                                err = Some(e);
                            }
                        },
                        &mut |_| {},
                    )?;
                    if let Some(e) = err {
                        return Err(e);
                    }
                }
                (None, Some(i)) => live_loop(&i, &mut m, common.duration_secs, &mut sink)?,
                _ => bail!("give --pcap FILE or --interface IF"),
            }
            if let Some(f) = file.as_mut() {
                f.flush()?;
            }
            publisher.end()?;
            print_summary(&m.summary(), t.elapsed());
            save_model(&m, common.save_model.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        MonitorCmd::Register(a) => register_alerts(a),
        MonitorCmd::Mss {
            nats,
            consumer,
            incidents,
            history,
            expect_sensors,
            idle_secs,
            gap_secs,
        } => {
            let mut out = output(&incidents)?;
            let mut io_err = None;
            let report = shinrai_monitor::nats::run_mss(
                &nats.config(),
                &consumer,
                expect_sensors,
                Duration::from_secs(idle_secs),
                gap_secs as i64 * 1_000_000,
                &mut |inc| {
                    let line = serde_json::to_string(inc).unwrap_or_default();
                    if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                        io_err.get_or_insert(e);
                    }
                },
            )?;
            if let Some(e) = io_err {
                return Err(e).context("write incidents");
            }
            if let Some(p) = history {
                std::fs::write(&p, serde_json::to_string_pretty(&report.history)?)
                    .with_context(|| format!("write {}", p.display()))?;
            }
            eprintln!(
                "messages {}, duplicates dropped {}, incidents {}, sensors finished {:?}",
                report.messages, report.duplicates, report.incidents, report.finished_sensors
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn live_loop(
    interface: &str,
    m: &mut Monitor,
    duration_secs: Option<u64>,
    sink: &mut dyn FnMut(&Alert) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut cap = shinrai_monitor::live::LiveCapture::open(interface, Duration::from_millis(500))?;
    let start = Instant::now();
    let deadline = duration_secs.map(Duration::from_secs);
    loop {
        if deadline.is_some_and(|d| start.elapsed() >= d) {
            return Ok(());
        }
        if let Some(f) = cap.next_frame()? {
            for a in m.process(&f) {
                sink(a)?;
            }
        }
    }
}

/// `shinrai bench monitor`: packets per second per core for learning and detection on a large
/// capture, beside a Kitsune-style damped-statistics baseline in the same run.
pub fn bench(args: BenchMonitorArgs) -> anyhow::Result<()> {
    use shinrai_monitor::kitsune::KitsuneBaseline;
    let base = match &args.pcap {
        Some(p) => CaptureFile::open(p)?,
        None => {
            let f = shinrai_monitor::synth::normal(shinrai_monitor::synth::T0, 3600, 0);
            CaptureFile::from_bytes(shinrai_monitor::synth::to_pcap(&f))
        }
    };
    let base_frames = base.frames()?.count().max(1);
    let times = args.packets.div_ceil(base_frames).max(1);
    let big = CaptureFile::from_bytes(shinrai_monitor::synth::replicate(&base, times)?);
    let n = big.frames()?.count() as f64;
    eprintln!(
        "large capture: {n} packets ({} copies of {base_frames}), {:.0} MB",
        times,
        big.len() as f64 / 1e6
    );

    let t = Instant::now();
    let mut frames = 0usize;
    for f in big.frames()? {
        if shinrai_monitor::decode(f.data).is_ok() {
            frames += 1;
        }
    }
    let decode_pps = frames as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    let (model, _) = learn_capture(&big, &mut |_| {})?;
    let learn_pps = n / t.elapsed().as_secs_f64();

    let mut m = Monitor::from_model(&model, Options::default())?;
    let t = Instant::now();
    let mut alerts = 0u64;
    for f in big.frames()? {
        alerts += m.process(&f).len() as u64;
    }
    let detect_pps = n / t.elapsed().as_secs_f64();

    let mut k = KitsuneBaseline::new();
    let t = Instant::now();
    for f in big.frames()? {
        if let Ok(p) = shinrai_monitor::decode(f.data) {
            k.train(&p, f.ts_us, f.data.len());
        }
    }
    let k_train_pps = n / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut acc = 0.0;
    for f in big.frames()? {
        if let Ok(p) = shinrai_monitor::decode(f.data) {
            acc += k.score(&p, f.ts_us, f.data.len());
        }
    }
    let k_exec_pps = n / t.elapsed().as_secs_f64();
    std::hint::black_box(acc);

    println!("| what | packets/s (1 core) |");
    println!("|---|---:|");
    println!("| decode only | {decode_pps:.0} |");
    println!("| shinrai learn (2 passes) | {learn_pps:.0} |");
    println!("| shinrai detect | {detect_pps:.0} |");
    println!("| Kitsune-style damped stats, train | {k_train_pps:.0} |");
    println!("| Kitsune-style damped stats, execute | {k_exec_pps:.0} |");
    eprintln!("alerts on the replicated clean capture: {alerts}");
    if let Some(p) = args.json {
        let j = serde_json::json!({
            "packets": n, "decode_pps": decode_pps, "learn_pps": learn_pps, "detect_pps": detect_pps,
            "kitsune_train_pps": k_train_pps, "kitsune_execute_pps": k_exec_pps, "alerts": alerts,
        });
        std::fs::write(&p, serde_json::to_string_pretty(&j)?)?;
    }
    Ok(())
}

/// Predicate type of an alert registered in the trust store; the predicate is the EVE alert.
pub const ALERT_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/monitor-alert/v1";

/// The subject naming an alert's link: `urn:shinrai:link:<src>-<dst>-<proto>-<port>`.
fn link_subject(a: &Alert) -> anyhow::Result<shinrai_envelope::statement::Subject> {
    let mut name = format!(
        "urn:shinrai:link:{}-{}-{}",
        a.src_ip.as_deref().unwrap_or("l2"),
        a.dest_ip.as_deref().unwrap_or("l2"),
        a.proto.to_ascii_lowercase()
    );
    if let Some(p) = a.dest_port {
        name.push_str(&format!("-{p}"));
    }
    Ok(shinrai_envelope::statement::Subject::for_content(
        &name,
        name.as_bytes(),
    ))
}

/// The alerts in one line of input: an EVE alert, or an MSS incident holding alerts.
fn alerts_of_line(line: &str, n: usize) -> anyhow::Result<Vec<Alert>> {
    let v: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("line {n}: not JSON"))?;
    let items = match v.get("alerts").and_then(|a| a.as_array()) {
        Some(list) => list.clone(),
        None => vec![v],
    };
    items
        .into_iter()
        .map(|i| {
            serde_json::from_value::<Alert>(i)
                .with_context(|| format!("line {n}: not an EVE alert or an MSS incident"))
        })
        .collect()
}

fn register_alerts(a: RegisterAlertsArgs) -> anyhow::Result<ExitCode> {
    use shinrai_envelope::statement::{Statement, Subject, sign_statement};
    use shinrai_envelope::{ScuSigner, Signer};
    let text = if a.alerts.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading alerts from standard input")?
    } else {
        std::fs::read_to_string(&a.alerts)
            .with_context(|| format!("reading {}", a.alerts.display()))?
    };
    // Parse everything first: a bad line stops the run before anything is registered.
    let mut alerts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            alerts.extend(alerts_of_line(line, i + 1)?);
        }
    }
    if alerts.is_empty() {
        bail!("{}: no alerts to register", a.alerts.display());
    }
    let ks = a.keys.open(false)?;
    let signer = ScuSigner::new(ks.as_ref(), &a.key, shinrai_scu::Purpose::statement())?;
    let client = super::client::StoreClient::new(&a.server)?;
    for alert in &alerts {
        let line = alert.to_json_line();
        let subjects = vec![
            link_subject(alert)?,
            Subject::for_content(
                &format!("urn:shinrai:alert:{}", alert.timestamp),
                line.as_bytes(),
            ),
        ];
        let statement = Statement::new(
            subjects,
            ALERT_PREDICATE_TYPE,
            serde_json::to_value(alert).context("encoding the alert")?,
        )?;
        let envelope = sign_statement(&statement, &[&signer as &dyn Signer])?;
        let reg = client.register(&a.store_token.0, &envelope.to_json_bytes())?;
        println!("{} {}", reg.id, reg.receipt["log_index"]);
    }
    eprintln!("{} alert(s) registered in {}", alerts.len(), client.base());
    Ok(ExitCode::SUCCESS)
}
