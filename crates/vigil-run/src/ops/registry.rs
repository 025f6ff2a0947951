//! `vigil devices …` and `vigil wearers …`: the device and wearer registries,
//! on AWS or on the local endpoint. Every write is validated first
//! ([`vigil_domain::registry`]): a refused write names each field with a problem,
//! all at once. `vigil register-wearer` and `vigil register-device` are
//! [`put_wearer`] and [`link_device`] too.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_aws::wearers::{DynamoCaregiverLinks, DynamoWearerDirectory};
use vigil_domain::care::WearerProfile;
use vigil_domain::ports::{DeviceDirectory, WearerDirectory};
use vigil_domain::registry::{DeviceLink, parse_wearer};

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
    /// shows the format), and link their caregivers' accounts.
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
                None => DynamoWearerDirectory::new(dynamodb, &args.wearers_table)
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
    let directory = DynamoWearerDirectory::new(dynamodb.clone(), &args.wearers_table);
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
    /// Caregiver accounts linked to the wearer.
    pub linked: usize,
    /// Accounts of caregivers the new profile dropped, unlinked.
    pub unlinked: usize,
}

/// Registers or replaces a wearer's profile (refused, with every problem, unless
/// it validates) and makes the caregiver account links match it: the accounts of
/// caregivers it no longer lists lose their access to the wearer.
///
/// # Errors
/// A refused profile or a failed call.
pub async fn put_wearer(
    directory: &DynamoWearerDirectory,
    links: &DynamoCaregiverLinks,
    profile: &WearerProfile,
) -> anyhow::Result<PutReport> {
    let old = directory.wearer(&profile.wearer_id).await.context("reading the wearer's current profile")?;
    directory.put(profile).await.context("registering the wearer")?;
    let (linked, unlinked) =
        links.relink(old.as_ref(), Some(profile)).await.context("linking the caregivers' accounts")?;
    Ok(PutReport { created: old.is_none(), caregivers: profile.caregivers.len(), linked, unlinked })
}

/// `vigil wearers put --file` and `vigil register-wearer --file`: [`put_wearer`] of the
/// profile in `file`, read strictly ([`parse_wearer`]: unknown fields and languages
/// are refused too).
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
    let report = put_wearer(directory, links, &profile).await?;
    println!(
        "{} wearer {} with {} caregivers ({} with an account for the caregivers' API{})",
        if report.created { "registered" } else { "replaced" },
        profile.wearer_id,
        report.caregivers,
        report.linked,
        if report.unlinked > 0 { format!("; {} dropped accounts unlinked", report.unlinked) } else { String::new() }
    );
    Ok(())
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
