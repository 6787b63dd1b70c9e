//! Without PostgreSQL the tests skip loudly, and with `MERCATO_REQUIRE_PG=1`
//! they fail saying how to install it. Each case runs this test binary again
//! as a child (the `child` test, which does nothing unless
//! `MERCATO_SKIP_CHILD` is set) with `MERCATO_PG_BIN_DIR` pointing at an
//! empty directory and `MERCATO_PG_URL` removed, so no server can be found
//! even on a machine that has one.

use std::process::{Command, Output, Stdio};

use mercato_postgres::testing::TestCluster;

/// Runs in the child: asks for the shared cluster and reports what it got.
#[test]
fn child() {
    if std::env::var_os("MERCATO_SKIP_CHILD").is_none() {
        return;
    }
    for _ in 0..2 {
        // Asked twice: the banner is printed once.
        match TestCluster::shared_or_skip() {
            Some(c) => println!("child got a cluster at {}", c.url()),
            None => println!("child skipped"),
        }
    }
}

fn run_child(require: Option<&str>) -> Output {
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads", "1"])
        .env("MERCATO_SKIP_CHILD", "1")
        .env("MERCATO_PG_BIN_DIR", empty.path())
        .env_remove("MERCATO_PG_URL")
        .env_remove("MERCATO_REQUIRE_PG")
        .stdin(Stdio::null());
    if let Some(v) = require {
        cmd.env("MERCATO_REQUIRE_PG", v);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn without_postgresql_the_tests_skip_with_a_banner() {
    if std::env::var_os("MERCATO_SKIP_CHILD").is_some() {
        return;
    }
    let out = run_child(None);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout.matches("child skipped").count(), 2, "{}", text(&out));
    // The banner, once, saying what to do.
    assert_eq!(
        stderr.matches("PostgreSQL tests SKIPPED").count(),
        1,
        "{}",
        text(&out)
    );
    for hint in [
        "MERCATO_PG_URL",
        "apt-get install -y postgresql",
        "MERCATO_REQUIRE_PG=1",
    ] {
        assert!(stderr.contains(hint), "no {hint} in the banner: {stderr}");
    }
}

#[test]
fn with_mercato_require_pg_a_missing_postgresql_fails() {
    if std::env::var_os("MERCATO_SKIP_CHILD").is_some() {
        return;
    }
    let out = run_child(Some("1"));
    assert!(!out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("MERCATO_REQUIRE_PG is set"), "{all}");
    assert!(all.contains("apt-get install -y postgresql"), "{all}");
    assert!(!all.contains("child skipped"), "{all}");
    assert!(!all.contains("PostgreSQL tests SKIPPED"), "{all}");

    // `0` is not a requirement: the tests skip.
    let out = run_child(Some("0"));
    assert!(out.status.success(), "{}", text(&out));
}
