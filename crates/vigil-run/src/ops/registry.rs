//! `vigil devices …`, `vigil wearers …` and `vigil caregivers …`: the device,
//! wearer and caregiver registries, on AWS or on the local endpoint. Every write is
//! validated first ([`vigil_domain::registry`]): a refused write names each field
//! with a problem, all at once. `vigil register-wearer` and `vigil register-device`
//! are [`put_wearer`] and [`link_device`] too.
//!
//! Caregivers are records of their own ([`vigil_aws::caregivers`]); a wearer's
//! profile links them by id with a level. A caregiver's changed number is put once
//! and every wearer they care for reads it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;
use vigil_aws::caregivers::DynamoCaregiverDirectory;
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_aws::wearers::{DynamoCaregiverLinks, DynamoWearerDirectory, Migration};
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::ports::{DeviceDirectory, WearerDirectory};
use vigil_domain::registry::{DeviceLink, Invalid, Problem, parse_caregiver, parse_wearer, validate_wearer};

use super::replay::Progress;

/// `vigil devices`' arguments.
#[derive(clap::Args, Debug)]
pub struct DevicesArgs {
    #[command(subcommand)]
    pub command: DevicesCommand,
    #[arg(long, env = "DEVICES_TABLE", default_value = "vigil-devices", global = true)]
    pub devices_table: String,
    /// Read for a band's default time zone (its wearer's) when linking.
    #[arg(long, env = "WEARERS_TABLE", default_value = "vigil-wearers", global = true)]
    pub wearers_table: String,
    /// The caregivers' records (read with the wearer's profile).
    #[arg(long, env = "CAREGIVERS_TABLE", default_value = "vigil-caregivers", global = true)]
    pub caregivers_table: String,
}

/// What `vigil devices` does.
#[derive(clap::Subcommand, Debug)]
pub enum DevicesCommand {
    /// Every registered band: id, wearer (or "unlinked"), app users, time zone.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One band.
    Show {
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Link a band (new or not) to a wearer and the app users allowed to upload for it.
    Link {
        device: String,
        #[arg(long)]
        wearer: String,
        /// App user (JWT `sub`) allowed to upload; repeat for several.
        #[arg(long = "app-user", required = true)]
        app_users: Vec<String>,
        /// IANA time zone; default: the wearer's, from their profile (UTC when they have none yet).
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// Remove the band's wearer and app users, keeping its record: uploads from it
    /// are refused until it is linked again.
    Unlink {
        device: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete the band's record.
    Delete {
        device: String,
        #[arg(long)]
        dry_run: bool,
    },
}

/// `vigil wearers`' arguments.
#[derive(clap::Args, Debug)]
pub struct WearersArgs {
    #[command(subcommand)]
    pub command: WearersCommand,
    #[arg(long, env = "WEARERS_TABLE", default_value = "vigil-wearers", global = true)]
    pub wearers_table: String,
    /// The caregivers' records the profiles link to.
    #[arg(long, env = "CAREGIVERS_TABLE", default_value = "vigil-caregivers", global = true)]
    pub caregivers_table: String,
    /// Where caregivers' accounts (`sub` in the profile) are linked to the wearer.
    #[arg(long, env = "CAREGIVER_LINKS_TABLE", default_value = "vigil-caregiver-links", global = true)]
    pub links_table: String,
    /// Read to tell which bands a deleted wearer still has.
    #[arg(long, env = "DEVICES_TABLE", default_value = "vigil-devices", global = true)]
    pub devices_table: String,
}

/// What `vigil wearers` does.
#[derive(clap::Subcommand, Debug)]
pub enum WearersCommand {
    /// Every wearer: id, time zone, caregivers.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One wearer's profile.
    Show {
        wearer: String,
        #[arg(long)]
        json: bool,
    },
    /// Register or replace a wearer's profile from a JSON file (events/wearer-profile.json
    /// shows the format), and link their caregivers' accounts. A caregiver given as
    /// `{"id": …, "level": …}` links an existing record (an unknown id is refused); one
    /// with contact details creates or replaces that caregiver's record.
    Put {
        #[arg(long)]
        file: PathBuf,
    },
    /// Delete a wearer's profile and their caregivers' account links.
    Delete {
        wearer: String,
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs `vigil devices …`.
///
/// # Errors
/// A refused write (every problem, by field), an unknown band, or a failed call.
pub async fn devices(sdk: &aws_config::SdkConfig, args: DevicesArgs) -> anyhow::Result<()> {
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    let registry = DynamoDeviceDirectory::new(dynamodb.clone(), &args.devices_table);
    match args.command {
        DevicesCommand::List { json } => {
            let all = registry.list().await.context("listing the bands")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                all.iter().for_each(|d| println!("{}", device_line(d)));
                println!("{} bands", all.len());
            }
        }
        DevicesCommand::Show { device, json } => {
            let link = registry.device(&device).await.context("reading the band")?;
            let link = link.with_context(|| format!("device {device} is not registered"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&link)?);
            } else {
                println!("{}", device_line(&link));
            }
        }
        DevicesCommand::Link { device, wearer, app_users, time_zone } => {
            let time_zone = match time_zone {
                Some(zone) => zone,
                None => DynamoWearerDirectory::new(dynamodb, &args.wearers_table, &args.caregivers_table)
                    .wearer(&wearer)
                    .await
                    .context("reading the wearer's time zone")?
                    .map_or_else(|| "UTC".to_owned(), |p| p.time_zone),
            };
            let link = DeviceLink { device_id: device, wearer_id: wearer, app_users, time_zone };
            link_device(&registry, &link).await?;
            println!("linked {}", device_line(&link));
        }
        DevicesCommand::Unlink { device, dry_run } => {
            let link = registry.device(&device).await.context("reading the band")?;
            let link = link.with_context(|| format!("device {device} is not registered"))?;
            if dry_run {
                println!("would unlink {}", device_line(&link));
            } else if registry.unlink(&device).await.context("unlinking the band")? {
                println!("unlinked {device} (was {}); its record stays", device_line(&link));
            } else {
                bail!("device {device} is not registered");
            }
        }
        DevicesCommand::Delete { device, dry_run } => {
            let link = registry.device(&device).await.context("reading the band")?;
            let link = link.with_context(|| format!("device {device} is not registered"))?;
            if dry_run {
                println!("would delete {}", device_line(&link));
            } else if registry.delete(&device).await.context("deleting the band")? {
                println!("deleted {}", device_line(&link));
            } else {
                bail!("device {device} is not registered");
            }
        }
    }
    Ok(())
}

/// Runs `vigil wearers …`.
///
/// # Errors
/// A refused write (every problem, by field), an unknown wearer, or a failed call.
pub async fn wearers(sdk: &aws_config::SdkConfig, args: WearersArgs) -> anyhow::Result<()> {
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    let directory = DynamoWearerDirectory::new(dynamodb.clone(), &args.wearers_table, &args.caregivers_table);
    let links = DynamoCaregiverLinks::new(dynamodb.clone(), &args.links_table);
    match args.command {
        WearersCommand::List { json } => {
            let all = directory.list().await.context("listing the wearers")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                all.iter().for_each(|p| println!("{}", wearer_line(p)));
                println!("{} wearers", all.len());
            }
        }
        WearersCommand::Show { wearer, json } => {
            let profile = directory.wearer(&wearer).await.context("reading the wearer")?;
            let profile = profile.with_context(|| format!("wearer {wearer} is not registered"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&profile)?);
            } else {
                print_wearer(&profile);
            }
        }
        WearersCommand::Put { file } => put_wearer_file(&directory, &links, &file).await?,
        WearersCommand::Delete { wearer, dry_run } => {
            let profile = directory.wearer(&wearer).await.context("reading the wearer")?;
            let profile = profile.with_context(|| format!("wearer {wearer} is not registered"))?;
            let accounts = profile.caregivers.iter().filter(|c| c.sub.as_deref().is_some_and(|s| !s.is_empty()));
            let accounts = accounts.count();
            if dry_run {
                println!("would delete wearer {wearer} and unlink {accounts} caregiver accounts from them");
            } else {
                let old = directory.delete(&wearer).await.context("deleting the wearer")?;
                let (_, unlinked) =
                    links.relink(old.as_ref(), None).await.context("unlinking the caregivers' accounts")?;
                println!("deleted wearer {wearer}; unlinked {unlinked} caregiver accounts");
            }
            let bands: Vec<String> = DynamoDeviceDirectory::new(dynamodb, &args.devices_table)
                .list()
                .await
                .context("listing the wearer's bands")?
                .into_iter()
                .filter(|d| d.wearer_id == wearer)
                .map(|d| d.device_id)
                .collect();
            if !bands.is_empty() {
                println!("still linked to {wearer}: {} (vigil devices unlink <id>)", bands.join(", "));
            }
        }
    }
    Ok(())
}

/// What [`put_wearer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutReport {
    /// Whether the wearer was new (else their profile was replaced).
    pub created: bool,
    pub caregivers: usize,
    /// Caregiver records created or replaced from the profile's contact details.
    pub records: usize,
    /// Caregiver accounts linked to the wearer.
    pub linked: usize,
    /// Accounts of caregivers the new profile dropped, unlinked.
    pub unlinked: usize,
}

/// Registers or replaces a wearer's profile (refused, with every problem, unless
/// it validates) and makes the caregiver account links match it: the accounts of
/// caregivers it no longer lists lose their access to the wearer. The caregivers
/// whose ids are in `link_only` must have a record (else refused, naming
/// `caregivers[i].id`) and are read from it; every other caregiver's record is
/// created or replaced from the profile ([`put_caregiver`]).
///
/// # Errors
/// A refused profile or a failed call.
pub async fn put_wearer(
    directory: &DynamoWearerDirectory,
    links: &DynamoCaregiverLinks,
    profile: &WearerProfile,
    link_only: &BTreeSet<String>,
) -> anyhow::Result<PutReport> {
    let ids: Vec<&str> = profile.caregivers.iter().map(|c| c.id.as_str()).collect();
    let records = directory.caregivers().caregivers(&ids).await.context("reading the caregivers' records")?;
    let mut resolved = profile.clone();
    let mut unknown = Vec::new();
    for (i, c) in resolved.caregivers.iter_mut().enumerate().filter(|(_, c)| link_only.contains(&c.id)) {
        match records.get(&c.id) {
            Some(record) => *c = Caregiver { level: c.level, ..record.clone() },
            None => unknown.push(Problem {
                field: format!("caregivers[{i}].id"),
                message: format!("no caregiver {:?} is registered (vigil caregivers put)", c.id),
            }),
        }
    }
    let mut problems = unknown;
    if let Err(Invalid(more)) = validate_wearer(&resolved) {
        problems.extend(more);
    }
    if !problems.is_empty() {
        return Err(Invalid(problems)).with_context(|| format!("wearer {} refused", profile.wearer_id));
    }
    let old = directory.wearer(&profile.wearer_id).await.context("reading the wearer's current profile")?;
    let mut written = 0;
    for c in resolved.caregivers.iter().filter(|c| !link_only.contains(&c.id)) {
        put_caregiver(directory, links, c, records.get(&c.id)).await?;
        written += 1;
    }
    directory.put_links(&resolved).await.context("registering the wearer")?;
    let (linked, unlinked) =
        links.relink(old.as_ref(), Some(&resolved)).await.context("linking the caregivers' accounts")?;
    Ok(PutReport { created: old.is_none(), caregivers: resolved.caregivers.len(), records: written, linked, unlinked })
}

/// `vigil wearers put --file` and `vigil register-wearer --file`: [`put_wearer`] of the
/// profile in `file`, read strictly ([`parse_wearer`]: unknown fields and languages
/// are refused too). A caregiver written as only `id` (and `level`) is a link to
/// their record.
///
/// # Errors
/// An unreadable file, a refused profile or a failed call.
pub async fn put_wearer_file(
    directory: &DynamoWearerDirectory,
    links: &DynamoCaregiverLinks,
    file: &Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let profile = parse_wearer(&text).with_context(|| format!("{} refused", file.display()))?;
    let report = put_wearer(directory, links, &profile, &link_only(&text)).await?;
    println!(
        "{} wearer {} with {} caregivers ({} with an account for the caregivers' API{}{})",
        if report.created { "registered" } else { "replaced" },
        profile.wearer_id,
        report.caregivers,
        report.linked,
        if report.unlinked > 0 { format!("; {} dropped accounts unlinked", report.unlinked) } else { String::new() },
        if report.records > 0 { format!("; {} caregiver records written", report.records) } else { String::new() },
    );
    Ok(())
}

/// The caregivers of a profile's JSON given as links only: no field but `id` and `level`.
fn link_only(json: &str) -> BTreeSet<String> {
    let value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
    let Some(Value::Array(caregivers)) = value.get("caregivers") else {
        return BTreeSet::new();
    };
    caregivers
        .iter()
        .filter_map(Value::as_object)
        .filter(|c| c.keys().all(|k| k == "id" || k == "level"))
        .filter_map(|c| c.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// What [`put_caregiver`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaregiverReport {
    pub created: bool,
    /// The wearers whose account links moved because the caregiver's `sub` changed.
    pub accounts_moved: usize,
}

/// Creates or replaces a caregiver's record (refused unless it validates), given
/// the record it replaces (`old`, read by the caller). When their account (`sub`)
/// changed, every wearer linking them is linked to the new account and unlinked
/// from the old one, so the care API follows the record.
///
/// # Errors
/// A refused record or a failed call.
pub async fn put_caregiver(
    directory: &DynamoWearerDirectory,
    links: &DynamoCaregiverLinks,
    caregiver: &Caregiver,
    old: Option<&Caregiver>,
) -> anyhow::Result<CaregiverReport> {
    directory.caregivers().put(caregiver).await.with_context(|| format!("caregiver {} refused", caregiver.id))?;
    let mut accounts_moved = 0;
    let old_sub = old.and_then(|o| o.sub.as_deref());
    if old.is_some() && old_sub != caregiver.sub.as_deref() {
        let wearers = directory.linked_to(&caregiver.id).await.context("finding the caregiver's wearers")?;
        links
            .move_account(old_sub, caregiver.sub.as_deref(), &wearers)
            .await
            .context("moving the caregiver's account links")?;
        accounts_moved = wearers.len();
    }
    Ok(CaregiverReport { created: old.is_none(), accounts_moved })
}

/// `vigil caregivers`' arguments.
#[derive(clap::Args, Debug)]
pub struct CaregiversArgs {
    #[command(subcommand)]
    pub command: CaregiversCommand,
    #[arg(long, env = "CAREGIVERS_TABLE", default_value = "vigil-caregivers", global = true)]
    pub caregivers_table: String,
    /// Read for the wearers that link a caregiver; written when unlinking or migrating.
    #[arg(long, env = "WEARERS_TABLE", default_value = "vigil-wearers", global = true)]
    pub wearers_table: String,
    /// Where caregivers' accounts (`sub`) are linked to their wearers.
    #[arg(long, env = "CAREGIVER_LINKS_TABLE", default_value = "vigil-caregiver-links", global = true)]
    pub links_table: String,
}

/// What `vigil caregivers` does.
#[derive(clap::Subcommand, Debug)]
pub enum CaregiversCommand {
    /// Every caregiver: id, language, channels, account, how many wearers link them.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One caregiver's record and the wearers that link them.
    Show {
        caregiver: String,
        #[arg(long)]
        json: bool,
    },
    /// Create or replace a caregiver's record from a JSON file or inline JSON
    /// (`{"id": "cg-1", "language": "es", "phone": "+34600111222", ...}`; no `level`:
    /// that is set per wearer). Every wearer linking them reads the new record.
    Put {
        /// A path, or the JSON itself (starting with `{`).
        source: String,
    },
    /// Delete a caregiver's record; refused while a wearer links them, unless --unlink.
    Delete {
        caregiver: String,
        /// Also remove the caregiver from every wearer that links them (and their account's access).
        #[arg(long)]
        unlink: bool,
        #[arg(long)]
        dry_run: bool,
    },
    /// Turn the contact details that older wearer items embed into caregiver records
    /// and links (docs/operating.md). Safe to run twice.
    Migrate {
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs `vigil caregivers …`.
///
/// # Errors
/// A refused write (every problem, by field), an unknown or still linked
/// caregiver, or a failed call.
pub async fn caregivers(sdk: &aws_config::SdkConfig, args: CaregiversArgs) -> anyhow::Result<()> {
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    let directory = DynamoWearerDirectory::new(dynamodb.clone(), &args.wearers_table, &args.caregivers_table);
    let links = DynamoCaregiverLinks::new(dynamodb, &args.links_table);
    let records: &DynamoCaregiverDirectory = directory.caregivers();
    match args.command {
        CaregiversCommand::List { json } => {
            let all = records.list().await.context("listing the caregivers")?;
            let linked = directory.links().await.context("reading the wearers' links")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for c in &all {
                    let wearers = linked.get(&c.id).map_or(0, Vec::len);
                    println!("{}  linked to {wearers} wearers", caregiver_line(c));
                }
                println!("{} caregivers", all.len());
            }
        }
        CaregiversCommand::Show { caregiver, json } => {
            let record = records.caregiver(&caregiver).await.context("reading the caregiver")?;
            let record = record.with_context(|| format!("caregiver {caregiver} is not registered"))?;
            let wearers = directory.linked_to(&caregiver).await.context("reading the wearers' links")?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"caregiver": record, "wearers": wearers}))?
                );
            } else {
                println!("{}", caregiver_line(&record));
                println!("  phone {}", record.phone.as_deref().unwrap_or("-"));
                if let Some(q) = &record.quiet_hours {
                    println!("  quiet hours {}–{} {}", q.start.format("%H:%M"), q.end.format("%H:%M"), q.time_zone);
                }
                println!("  wearers: {}", if wearers.is_empty() { "none".to_owned() } else { wearers.join(", ") });
            }
        }
        CaregiversCommand::Put { source } => {
            let (text, from) = if source.trim_start().starts_with('{') {
                (source.clone(), "the caregiver".to_owned())
            } else {
                let text = std::fs::read_to_string(&source).with_context(|| format!("reading {source}"))?;
                (text, source.clone())
            };
            let caregiver = parse_caregiver(&text).with_context(|| format!("{from} refused"))?;
            let old = records.caregiver(&caregiver.id).await.context("reading the caregiver's current record")?;
            let report = put_caregiver(&directory, &links, &caregiver, old.as_ref()).await?;
            let wearers = directory.linked_to(&caregiver.id).await.context("reading the wearers' links")?;
            println!(
                "{} caregiver {}; linked to {} wearers{}",
                if report.created { "registered" } else { "replaced" },
                caregiver.id,
                wearers.len(),
                if report.accounts_moved > 0 {
                    format!("; account changed: moved for {} wearers", report.accounts_moved)
                } else {
                    String::new()
                }
            );
        }
        CaregiversCommand::Delete { caregiver, unlink, dry_run } => {
            let record = records.caregiver(&caregiver).await.context("reading the caregiver")?;
            let record = record.with_context(|| format!("caregiver {caregiver} is not registered"))?;
            let wearers = directory.linked_to(&caregiver).await.context("reading the wearers' links")?;
            if !wearers.is_empty() && !unlink {
                bail!(
                    "caregiver {caregiver} is linked to {} wearers ({}): change their profiles, or delete with --unlink",
                    wearers.len(),
                    wearers.join(", ")
                );
            }
            if dry_run {
                println!("would unlink caregiver {caregiver} from {} wearers and delete their record", wearers.len());
                return Ok(());
            }
            let mut unlinked = 0;
            let progress = Progress::new(&format!("unlinking caregiver {caregiver}"), wearers.len());
            for wearer in &wearers {
                if directory.unlink_caregiver(wearer, &caregiver).await.context("unlinking the caregiver")? {
                    unlinked += 1;
                }
                links
                    .move_account(record.sub.as_deref(), None, std::slice::from_ref(wearer))
                    .await
                    .context("unlinking the caregiver's account")?;
                progress.inc(1);
            }
            progress.finish();
            records.delete(&caregiver).await.context("deleting the caregiver")?;
            println!("deleted caregiver {caregiver}; unlinked from {unlinked} wearers");
        }
        CaregiversCommand::Migrate { dry_run } => migrate(&directory, dry_run).await?,
    }
    Ok(())
}

/// `vigil caregivers migrate`: every wearer item that embeds contact details.
async fn migrate(directory: &DynamoWearerDirectory, dry_run: bool) -> anyhow::Result<()> {
    let wearers = directory.embedding().await.context("finding wearers with embedded caregivers")?;
    let (mut migrated, mut created, mut left) = (0, 0, Vec::new());
    let progress = Progress::new("migrating wearers with embedded caregivers", wearers.len());
    for wearer in &wearers {
        match directory.migrate(wearer, dry_run).await.with_context(|| format!("migrating wearer {wearer}"))? {
            Migration::Done => {}
            Migration::Migrated { created: n } | Migration::Would { create: n } => {
                migrated += 1;
                created += n;
            }
            Migration::Conflict(ids) => {
                left.push(format!("{wearer}: caregivers {} differ from their records", ids.join(", ")))
            }
            Migration::Invalid(why) => left.push(format!("{wearer}: {why}")),
            Migration::Changed => left.push(format!("{wearer}: changed while migrating; run again")),
        }
        progress.inc(1);
    }
    progress.finish();
    let verb = if dry_run { "would migrate" } else { "migrated" };
    println!(
        "{verb} {migrated} of {} wearers with embedded caregivers; {created} caregiver records created",
        wearers.len()
    );
    for line in &left {
        println!("left as it is: {line}");
    }
    if !left.is_empty() {
        bail!("{} wearers were not migrated (above)", left.len());
    }
    Ok(())
}

fn caregiver_line(c: &Caregiver) -> String {
    let channels: Vec<&str> =
        [c.phone.as_ref().map(|_| "sms"), c.push_endpoint.as_ref().map(|_| "push")].into_iter().flatten().collect();
    format!(
        "{}  language {}  channels {}{}",
        c.id,
        serde_json::to_value(c.language).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        if channels.is_empty() { "-".to_owned() } else { channels.join(",") },
        if c.sub.is_some() { "  account" } else { "" }
    )
}

/// `vigil devices link` and `vigil register-device`: registers or replaces a band's
/// link (refused, with every problem, unless it validates).
///
/// # Errors
/// A refused link or a failed call.
pub async fn link_device(registry: &DynamoDeviceDirectory, link: &DeviceLink) -> anyhow::Result<()> {
    registry.put(link).await.with_context(|| format!("linking device {}", link.device_id))
}

fn device_line(d: &DeviceLink) -> String {
    if d.is_linked() {
        format!(
            "{}  wearer {}  app users {}  time zone {}",
            d.device_id,
            d.wearer_id,
            d.app_users.join(","),
            d.time_zone
        )
    } else {
        format!("{}  unlinked  time zone {}", d.device_id, d.time_zone)
    }
}

fn wearer_line(p: &WearerProfile) -> String {
    let accounts = p.caregivers.iter().filter(|c| c.sub.is_some()).count();
    format!(
        "{}  time zone {}  {} caregivers ({accounts} with an account)",
        p.wearer_id,
        p.time_zone,
        p.caregivers.len()
    )
}

fn print_wearer(p: &WearerProfile) {
    println!("{}", wearer_line(p));
    println!("  name: {}", p.name);
    for c in &p.caregivers {
        let channels: Vec<&str> =
            [c.phone.as_ref().map(|_| "sms"), c.push_endpoint.as_ref().map(|_| "push")].into_iter().flatten().collect();
        println!(
            "  caregiver {}  level {}  language {}  phone {}  channels {}{}",
            c.id,
            c.level,
            serde_json::to_value(c.language).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            c.phone.as_deref().unwrap_or("-"),
            if channels.is_empty() { "-".to_owned() } else { channels.join(",") },
            if c.sub.is_some() { "  account linked" } else { "" }
        );
    }
    for (rule, s) in &p.snoozes {
        println!("  snoozed {} until {} (by {})", rule.as_str(), s.until.to_rfc3339(), s.by);
    }
}
