//! A real PostgreSQL server for tests, benches and examples (feature
//! `testing`): [`TestCluster`] uses `MERCATO_PG_URL` when it is set, and
//! otherwise starts a private throwaway cluster from the installed
//! PostgreSQL binaries (`initdb` in a temporary directory, `pg_ctl` on
//! 127.0.0.1 and a free port; as the `mercato` system user when running as
//! root), stopped and removed when it is dropped — or, for
//! [`TestCluster::shared`], when the test process exits.
//!
//! When neither `MERCATO_PG_URL` nor the binaries are there, tests written
//! with [`TestCluster::shared_or_skip`] skip and say so loudly on stderr
//! (once per test binary), so `cargo test` passes on a machine without
//! PostgreSQL. With `MERCATO_REQUIRE_PG=1` (as in CI) they fail instead,
//! saying how to install it: there they never pass by skipping.
//!
//! The binaries are looked up in `MERCATO_PG_BIN_DIR` when it is set (and
//! only there), else on `PATH`, else in the newest
//! `/usr/lib/postgresql/*/bin`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{PgOptions, PgStore};
use mercato_store::StoreError;

/// The user a cluster runs as when the tests run as root (PostgreSQL
/// refuses to run as root).
pub const CLUSTER_USER: &str = "mercato";

/// What to tell someone without PostgreSQL.
pub const INSTALL_HINT: &str = "PostgreSQL is not installed: install it (Debian/Ubuntu: `apt-get install -y postgresql`; \
     the tests find `initdb` and `pg_ctl` on PATH, in /usr/lib/postgresql/*/bin or in MERCATO_PG_BIN_DIR) \
     or point MERCATO_PG_URL at a server (postgresql://user@host:port/database)";

/// The variable naming a server to test against instead of a private
/// cluster (`postgresql://user@host:port/database`).
pub const URL_VAR: &str = "MERCATO_PG_URL";

/// The variable naming the directory of `initdb` and `pg_ctl`; when set,
/// no other place is searched.
pub const BIN_DIR_VAR: &str = "MERCATO_PG_BIN_DIR";

/// The variable that turns a skip into a failure: set it to `1` where the
/// PostgreSQL tests must run (CI).
pub const REQUIRE_VAR: &str = "MERCATO_REQUIRE_PG";

/// A PostgreSQL server to test against.
#[derive(Debug)]
pub struct TestCluster {
    url: String,
    /// Set when this process started the server.
    owned: Option<Owned>,
}

#[derive(Debug)]
struct Owned {
    dir: PathBuf,
    pg_ctl: PathBuf,
    run_as: Option<String>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The directory holding `initdb` and `pg_ctl`: `MERCATO_PG_BIN_DIR` when it
/// is set (and holds them), else on `PATH`, else the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_VAR).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return has_binaries(&dir).then_some(dir);
    }
    find_bin_dir_in(
        std::env::var_os("PATH").as_deref(),
        Path::new("/usr/lib/postgresql"),
    )
}

/// [`find_bin_dir`] with the search path and the Debian-style directory of
/// versions given.
pub fn find_bin_dir_in(path: Option<&std::ffi::OsStr>, versions: &Path) -> Option<PathBuf> {
    if let Some(path) = path {
        for d in std::env::split_paths(path) {
            if has_binaries(&d) {
                return Some(d);
            }
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(versions)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, d)| d)
}

fn has_binaries(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

/// Whether `MERCATO_REQUIRE_PG` asks for the PostgreSQL tests to run
/// (`1`, `true` or `yes`).
pub fn required() -> bool {
    std::env::var(REQUIRE_VAR)
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// `MERCATO_PG_URL`, when it is set and not empty.
fn url_from_env() -> Option<String> {
    std::env::var(URL_VAR).ok().filter(|u| !u.is_empty())
}

/// Whether a server can be had: `MERCATO_PG_URL` or the binaries.
pub fn available() -> bool {
    url_from_env().is_some() || find_bin_dir().is_some()
}

/// The banner printed when the PostgreSQL tests are skipped.
fn skip_banner() -> String {
    let line = "=".repeat(78);
    format!(
        "\n{line}\n\
         PostgreSQL tests SKIPPED: neither {URL_VAR} nor the PostgreSQL binaries (initdb, pg_ctl,\n\
         postgres) were found, so every test of this binary that needs a server passes without\n\
         running. To run them, either\n\
         \x20 - install PostgreSQL (Debian/Ubuntu: `apt-get install -y postgresql`); the binaries\n\
         \x20   are found on PATH, in /usr/lib/postgresql/*/bin or in {BIN_DIR_VAR}, or\n\
         \x20 - set {URL_VAR}=postgresql://user@host:port/database (CREATE on it).\n\
         Set {REQUIRE_VAR}=1 to make a missing PostgreSQL a failure (CI does).\n\
         {line}"
    )
}

/// Writes straight to the process's stderr: the test harness captures
/// `eprintln!` of passing tests, and this must be seen.
fn shout(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
    let _ = err.flush();
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).is_ok_and(|s| s.trim() == "0")
}

/// Makes sure the [`CLUSTER_USER`] system user exists (as root).
fn ensure_user() -> Result<(), String> {
    if run(Command::new("id").arg("-u").arg(CLUSTER_USER)).is_ok() {
        return Ok(());
    }
    let made = run(Command::new("useradd")
        .arg("--system")
        .arg("--no-create-home")
        .arg("--shell")
        .arg("/usr/sbin/nologin")
        .arg(CLUSTER_USER));
    // Another test process may have created it meanwhile.
    match made {
        Ok(_) => Ok(()),
        Err(e) if run(Command::new("id").arg("-u").arg(CLUSTER_USER)).is_ok() => {
            let _ = e;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn as_user(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.arg("-u").arg(u).arg("--").arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl TestCluster {
    /// `MERCATO_PG_URL` when set, else a new private cluster with settings
    /// for throwaway data (`fsync=off`).
    pub fn start() -> Result<TestCluster, String> {
        Self::start_with(&[
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
        ])
    }

    /// `MERCATO_PG_URL` when set, else a new private cluster with
    /// PostgreSQL's default durability (for measurements).
    pub fn start_durable() -> Result<TestCluster, String> {
        Self::start_with(&[])
    }

    /// The cluster shared by every test of this process, started once
    /// (stopped and removed by a watchdog when the process exits). Panics
    /// with [`INSTALL_HINT`] when PostgreSQL is not installed; tests use
    /// [`TestCluster::shared_or_skip`].
    pub fn shared() -> &'static TestCluster {
        static SHARED: OnceLock<Result<TestCluster, String>> = OnceLock::new();
        match SHARED.get_or_init(TestCluster::start) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    /// The shared cluster ([`TestCluster::shared`]), or `None` when there
    /// is no PostgreSQL to test against: neither `MERCATO_PG_URL` nor the
    /// binaries. Then the calling test should return at once (it passes
    /// without running); a banner on stderr says, once per test binary,
    /// that the PostgreSQL tests were skipped and how to run them.
    ///
    /// Panics with [`INSTALL_HINT`] instead of skipping when
    /// `MERCATO_REQUIRE_PG=1`, and with the error when PostgreSQL is there
    /// but cannot be started (a broken installation is never a skip).
    ///
    /// ```no_run
    /// # use mercato_postgres::testing::TestCluster;
    /// let Some(cluster) = TestCluster::shared_or_skip() else {
    ///     return;
    /// };
    /// let store = cluster.fresh_store().unwrap();
    /// # let _ = store;
    /// ```
    pub fn shared_or_skip() -> Option<&'static TestCluster> {
        if !available() {
            if required() {
                panic!("{REQUIRE_VAR} is set and {INSTALL_HINT}");
            }
            static BANNER: std::sync::Once = std::sync::Once::new();
            BANNER.call_once(|| shout(&skip_banner()));
            return None;
        }
        Some(Self::shared())
    }

    /// [`TestCluster::start`] with extra `postgresql.conf` settings
    /// (`name=value`) for a private cluster.
    pub fn start_with(settings: &[&str]) -> Result<TestCluster, String> {
        if let Some(url) = url_from_env() {
            return Ok(TestCluster { url, owned: None });
        }
        let bin = find_bin_dir().ok_or_else(|| INSTALL_HINT.to_string())?;
        Self::start_private(&bin, settings)
    }

    /// Starts a private cluster from the binaries in `bin` (ignores
    /// `MERCATO_PG_URL`). Fails with [`INSTALL_HINT`] when `bin` has no
    /// `initdb`.
    pub fn start_private(bin: &Path, settings: &[&str]) -> Result<TestCluster, String> {
        if !bin.join("initdb").is_file() {
            return Err(INSTALL_HINT.to_string());
        }
        let run_as = if is_root() {
            ensure_user()?;
            Some(CLUSTER_USER.to_string())
        } else {
            None
        };
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("mercato-pg-{}-{n}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| e.to_string())?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some(u) = &run_as {
            run(Command::new("chown").arg(format!("{u}:")).arg(&dir))?;
        }
        let data = dir.join("data");
        run(as_user(run_as.as_deref(), &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .arg("-U")
            .arg("postgres")
            .arg("--auth=trust")
            .arg("--encoding=UTF8")
            .arg("--locale=C")
            .arg("--no-sync"))?;
        let mut conf = String::from(
            "\nlisten_addresses = '127.0.0.1'\nmax_connections = 200\nshared_buffers = 256MB\n",
        );
        conf.push_str(&format!("unix_socket_directories = '{}'\n", dir.display()));
        for s in settings {
            conf.push_str(s);
            conf.push('\n');
        }
        let conf_path = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).map_err(|e| e.to_string())?;
        text.push_str(&conf);
        std::fs::write(&conf_path, text).map_err(|e| e.to_string())?;
        let pg_ctl = bin.join("pg_ctl");
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let started = run(as_user(run_as.as_deref(), &pg_ctl)
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.join("server.log"))
                .arg("-o")
                .arg(format!("-p {port}"))
                .arg("-w")
                .arg("-t")
                .arg("60")
                .arg("start"));
            match started {
                Ok(_) => {
                    spawn_watchdog(&dir, &pg_ctl, run_as.as_deref());
                    return Ok(TestCluster {
                        url: format!("postgresql://postgres@127.0.0.1:{port}/postgres"),
                        owned: Some(Owned {
                            dir,
                            pg_ctl,
                            run_as,
                        }),
                    });
                }
                Err(e) => last_err = e,
            }
        }
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        Err(format!("cannot start PostgreSQL: {last_err}\n{log}"))
    }

    /// The server's URL (its `postgres` database).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// True when this process started the server (not `MERCATO_PG_URL`).
    pub fn is_private(&self) -> bool {
        self.owned.is_some()
    }

    /// A new, empty PostgreSQL schema name, unique in this process and
    /// across processes (`mercato_t_<pid>_<n>`).
    pub fn fresh_schema_name(&self) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        format!("mercato_t_{}_{n}", std::process::id())
    }

    /// A store on a new, empty schema.
    pub fn fresh_store(&self) -> Result<PgStore, StoreError> {
        PgStore::open(
            &self.url,
            PgOptions::default().schema(self.fresh_schema_name()),
        )
    }
}

/// Stops the cluster and removes its directory once this process is gone
/// (also after a panic abort or SIGKILL, and for the process-wide cluster,
/// whose destructor never runs).
fn spawn_watchdog(dir: &Path, pg_ctl: &Path, run_as: Option<&str>) {
    let stop = match run_as {
        Some(u) => format!("runuser -u {u} -- '{}'", pg_ctl.display()),
        None => format!("'{}'", pg_ctl.display()),
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
         if [ -d '{dir}/data' ]; then {stop} -D '{dir}/data' -m immediate -w stop >/dev/null 2>&1; fi; \
         rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display(),
    );
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(o) = &self.owned {
            let _ = run(as_user(o.run_as.as_deref(), &o.pg_ctl)
                .arg("-D")
                .arg(o.dir.join("data"))
                .arg("-m")
                .arg("fast")
                .arg("-w")
                .arg("stop"));
            let _ = std::fs::remove_dir_all(&o.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_postgresql_starting_fails_saying_how_to_install_it() {
        let empty = std::env::temp_dir().join(format!("mercato-no-pg-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        assert_eq!(find_bin_dir_in(Some(empty.as_os_str()), &empty), None);
        let err = TestCluster::start_private(&empty, &[]).unwrap_err();
        assert!(err.contains("apt-get install -y postgresql"), "{err}");
        std::fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn the_newest_version_directory_is_chosen() {
        let root = std::env::temp_dir().join(format!("mercato-pg-vers-{}", std::process::id()));
        for v in ["9", "15", "13"] {
            let bin = root.join(v).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("initdb"), "").unwrap();
        }
        assert_eq!(
            find_bin_dir_in(None, &root),
            Some(root.join("15").join("bin"))
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
