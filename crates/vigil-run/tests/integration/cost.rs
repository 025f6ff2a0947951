//! `vigil cost` as a user runs it: the binary, its printed tables, and `--from-run`
//! reading a summary file's measured inputs.

use std::process::Command;

fn vigil_cost(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil")).arg("cost").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The rows of the first table after the line `title`: (service, item, $/month, $/M).
fn table(stdout: &str, title: &str) -> Vec<(String, String, f64, f64)> {
    let dollars = |s: &str| s.trim().replace(',', "").parse::<f64>().unwrap();
    stdout
        .lines()
        .skip_while(|l| *l != title)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            // | service | item | $/month | $/M readings |
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].to_owned(), dollars(cells[3]), dollars(cells[4]))
        })
        .collect()
}

#[test]
fn the_printed_totals_are_the_sums_of_their_lines() {
    let (ok, stdout, stderr) = vigil_cost(&["--wearers", "100000", "--upload-every", "60s"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("us-east-1, list prices as published on"), "{stdout}");
    for title in ["Vigil", "seed design"] {
        let title = stdout.lines().find(|l| l.starts_with(title)).unwrap();
        let rows = table(&stdout, title);
        let lines: Vec<_> = rows.iter().filter(|r| !r.0.starts_with("**")).collect();
        let total = rows.iter().find(|r| r.0 == "**total**").unwrap();
        let in_target = rows.iter().find(|r| r.0 == "**without SMS and calls**").unwrap();
        let sum: f64 = lines.iter().map(|r| r.2).sum();
        // Each printed line is rounded to the cent.
        let slack = 0.005 * lines.len() as f64;
        assert!((sum - total.2).abs() <= slack, "{title}: lines sum to {sum}, total {}", total.2);
        let sum_in_target: f64 = lines.iter().filter(|r| !r.1.contains("excluded from the target")).map(|r| r.2).sum();
        assert!((sum_in_target - in_target.2).abs() <= slack, "{title}: {sum_in_target} against {}", in_target.2);
        assert!(lines.len() > 15, "{title}: {lines:?}");
    }
    // 100,000 wearers, a reading every 5 s, 730 hours: 52.56 billion readings.
    assert!(stdout.contains("52.56 B readings a month"), "{stdout}");
    assert!(stdout.contains("largest term:"), "{stdout}");
}

#[test]
fn from_run_uses_the_files_figures() {
    let dir = std::env::temp_dir().join(format!("vigil-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("summary.json");
    // A small run summary: 10 wearers for a day, records of 5,000 bytes, 3 vitals items an upload.
    let summary = serde_json::json!({
        "wearers": 10, "simulated_minutes": 1440, "uploads_accepted": 14400,
        "readings_accepted": 172800, "alerts_raised": 0, "lost": 0,
        "cost_inputs": {
            "upload_interval_s": 60.0, "reading_interval_s": 5.0,
            "stream_records": 1000, "stream_bytes": 5000000,
            "vitals": {"items": 43200, "bytes": 17280000, "write_units": 43200},
            "state": {"items": 0, "bytes": 0, "write_units": 0},
            "profiles": {"items": 0, "bytes": 0, "write_units": 0},
            "devices": {"items": 0, "bytes": 0, "write_units": 0},
            "sms": 0, "push": 0, "calls": 0
        }
    });
    std::fs::write(&file, summary.to_string()).unwrap();
    let path = file.to_str().unwrap();
    // The run's figures apply at its own upload interval.
    let (ok, measured, stderr) = vigil_cost(&["--from-run", path, "--upload-every", "60s"]);
    assert!(ok, "{stderr}");
    assert!(measured.contains("from the run: ") && measured.contains("record_bytes=5000.000"), "{measured}");
    assert!(measured.contains("vitals_items_per_upload=3.000"), "{measured}");
    // As many uploads as the run had (none urgent), so only what an upload writes differs.
    let (_, default, _) = vigil_cost(&["--upload-every", "60s", "--set", "urgent_uploads_per_wearer_day=0"]);
    let vitals =
        |out: &str| table(out, "Vigil").into_iter().find(|r| r.1.starts_with("writes: vitals")).map(|r| r.2).unwrap();
    // 3 items of 1 WU an upload against the layout's 1 + 11/360 of 1 WU at one-minute uploads.
    assert!((vitals(&measured) / vitals(&default) - 3.0 / (1.0 + 11.0 / 360.0)).abs() < 1e-3, "{measured}");
    // Records of 5,000 bytes need more shards than the default 2,300.
    let shards = |out: &str| {
        table(out, "Vigil").into_iter().find(|r| r.0 == "Kinesis" && r.1.ends_with("shards")).map(|r| r.1).unwrap()
    };
    assert_ne!(shards(&measured), shards(&default));

    // A file that is not a run summary is named.
    std::fs::write(&file, "{}").unwrap();
    let (ok, _, stderr) = vigil_cost(&["--from-run", path]);
    assert!(!ok);
    assert!(stderr.contains("summary.json is not a `vigil run --summary-json` file"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_flags_are_named() {
    let (ok, _, stderr) = vigil_cost(&["--upload-every", "often"]);
    assert!(!ok && stderr.contains("often is not a duration"), "{stderr}");
    let (ok, _, stderr) = vigil_cost(&["--set", "shard_utilisation=2"]);
    assert!(!ok && stderr.contains("shard_utilisation must be at most 1"), "{stderr}");
}

#[test]
fn the_capacity_table_covers_three_sizes() {
    let (ok, stdout, stderr) = vigil_cost(&["--capacity"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("| | 10,000 wearers | 100,000 wearers | 1,000,000 wearers |"), "{stdout}");
    assert!(stdout.contains("first limit"), "{stdout}");
    assert!(stdout.contains("Kinesis shards"), "{stdout}");
}
