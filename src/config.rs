//! Settings, from command-line flags or environment variables (flags win), with defaults that work
//! on a laptop with nothing installed, layered over an optional TOML file ([`apply_file`]) and
//! checked by one [`validate`] that both `serve` and `config check` run.
//!
//! Adding a setting touches three places:
//! 1. its field in [`CommonConfig`] or [`ServeConfig`]: the clap attribute is the flag, the
//!    environment variable and the default (`ServeConfig::default()` is derived from it);
//! 2. its line in the `file_settings!` table below, which makes it a key of the configuration
//!    file ([`FileConfig`]), layers it (defaults < file < environment < flags) and prints it in
//!    `config check`;
//! 3. where it is used (e.g. `app::Lifetimes`), plus a line in [`validate`] if some values are
//!    wrong.

use std::path::PathBuf;

use clap::Args;

/// Where Sekimori keeps its state and how it identifies itself. Shared by every subcommand.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Options for every command")]
pub struct CommonConfig {
    /// A TOML configuration file (see `sekimori.example.toml`). Precedence, lowest first:
    /// built-in defaults, this file, environment variables, command-line flags.
    #[arg(long, env = "SEKIMORI_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Database URL: `sqlite://PATH?mode=rwc` (embedded; the folder is created) or
    /// `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/sekimori.db?mode=rwc",
        global = true
    )]
    pub database_url: String,

    /// Folder holding the signing keys (PEM). A key is generated here when none exists.
    #[arg(
        long,
        env = "SEKIMORI_KEYS_DIR",
        default_value = "certs",
        global = true
    )]
    pub keys_dir: PathBuf,

    /// Issuer identifier (OIDC Core §2 `iss`): an http(s) URL with no query or fragment; it may
    /// carry a path (`https://id.example.com/auth`). Every endpoint lives below it. Default:
    /// `http://` + the listen address (so `--bind 127.0.0.1:9000` alone just works locally).
    #[arg(long, env = "SEKIMORI_ISSUER", global = true)]
    pub issuer: Option<String>,

    /// How long a request waits for a database connection before failing with 503, in
    /// milliseconds.
    #[arg(
        long,
        env = "SEKIMORI_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 3000,
        global = true
    )]
    pub db_acquire_timeout_ms: u64,
}

impl CommonConfig {
    /// The issuer: the configured one, else `http://` + `bind` for a loopback or named host.
    ///
    /// Errors: a message when the issuer would have to be guessed for a wildcard address
    /// (`0.0.0.0`, `[::]`): relying parties compare `iss` exactly, so it must be the public URL.
    pub fn issuer_for(&self, bind: &str) -> Result<Issuer, String> {
        let raw = match &self.issuer {
            Some(i) => i.clone(),
            None => {
                let host = bind.rsplit_once(':').map_or(bind, |(h, _)| h);
                if matches!(host, "0.0.0.0" | "[::]" | "::" | "") {
                    return Err(format!(
                        "listening on {bind} needs an explicit issuer: set SEKIMORI_ISSUER (or \
                         --issuer) to the public URL relying parties use, e.g. https://id.example.com"
                    ));
                }
                format!("http://{bind}")
            }
        };
        Issuer::parse(&raw)
    }

    /// The acquire timeout as a duration.
    pub fn db_acquire_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.db_acquire_timeout_ms)
    }
}

/// Settings of `sekimori serve` beyond the common ones.
#[derive(Args, Clone, Debug)]
pub struct ServeConfig {
    /// Listen address (`host:port`, e.g. `127.0.0.1:8080`, `localhost:9000`, `0.0.0.0:8080`).
    #[arg(long, env = "SEKIMORI_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Lifetime of an authorization code, in seconds (RFC 6749 §4.1.2 recommends at most 600).
    #[arg(long, env = "SEKIMORI_CODE_TTL_SECS", default_value_t = 60)]
    pub code_ttl_secs: i64,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "SEKIMORI_ACCESS_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub access_token_ttl_secs: i64,

    /// Lifetime of an ID token, in seconds.
    #[arg(long, env = "SEKIMORI_ID_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub id_token_ttl_secs: i64,

    /// Idle lifetime of a refresh token, in seconds: each rotation gets a fresh one, so a grant
    /// used at least this often stays alive (up to the absolute lifetime).
    #[arg(long, env = "SEKIMORI_REFRESH_TOKEN_IDLE_TTL_SECS", default_value_t = 14 * 24 * 3600)]
    pub refresh_token_idle_ttl_secs: i64,

    /// Absolute lifetime of a refresh-token grant, in seconds from the login that started it;
    /// after it the user must log in again, however often the grant was used.
    #[arg(long, env = "SEKIMORI_REFRESH_TOKEN_ABSOLUTE_TTL_SECS", default_value_t = 90 * 24 * 3600)]
    pub refresh_token_absolute_ttl_secs: i64,

    /// Let anyone register clients at `/register` without an initial access token (RFC 7591
    /// §3). Off by default: the operator hands out tokens with `client initial-token`.
    #[arg(long, env = "SEKIMORI_OPEN_REGISTRATION")]
    pub open_registration: bool,

    /// After SIGTERM/SIGINT, how long in-flight requests may take to finish, in seconds.
    #[arg(long, env = "SEKIMORI_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,

    /// How long a browser login session lasts without use, in seconds.
    #[arg(long, env = "SEKIMORI_SESSION_TTL_SECS", default_value_t = 24 * 3600)]
    pub session_ttl_secs: i64,

    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name the client address
    /// (CIDR blocks or addresses, comma-separated, e.g. `10.0.0.0/8,::1`). Only a connection
    /// from one of these is believed; the rightmost hop that is not a trusted proxy is the
    /// client. Default: none (the TCP peer is the client).
    #[arg(long, env = "SEKIMORI_TRUSTED_PROXIES", value_delimiter = ',', num_args = 0..)]
    pub trusted_proxies: Vec<String>,

    /// The header the trusted proxies write the client address into: `x-forwarded-for` (nginx,
    /// HAProxy, most load balancers) or `forwarded` (RFC 7239). Only this one is read: the
    /// proxy passes a client's copy of the other through, so believing it would let anyone
    /// pick their address.
    #[arg(long, env = "SEKIMORI_PROXY_HEADER", default_value = "x-forwarded-for")]
    pub proxy_header: String,

    /// Scopes a dynamically registered client (RFC 7591) may ask for, separated by spaces or
    /// commas; a registration naming any other scope is refused (`invalid_client_metadata`).
    /// `client add` is not limited.
    #[arg(
        long,
        env = "SEKIMORI_REGISTRATION_SCOPES",
        default_value = crate::oauth::registration::DEFAULT_REGISTRATION_SCOPES
    )]
    pub registration_scopes: String,

    /// Grant types a dynamically registered client may ask for, separated by spaces or
    /// commas, from `authorization_code refresh_token client_credentials password`; any other
    /// is refused (`invalid_client_metadata`).
    #[arg(
        long,
        env = "SEKIMORI_REGISTRATION_GRANT_TYPES",
        default_value = crate::oauth::registration::DEFAULT_REGISTRATION_GRANT_TYPES
    )]
    pub registration_grant_types: String,
    /// How long a connection may take to send a request's complete headers, in seconds; then it
    /// is closed (slowloris). The same bound closes a keep-alive connection idle that long.
    #[arg(long, env = "SEKIMORI_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// How long a request (its body included) may take from its headers to the response, in
    /// seconds; a request still running then is answered 408 Request Timeout.
    #[arg(long, env = "SEKIMORI_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// The most client connections open at once; further connections wait in the kernel's
    /// accept queue until one closes.
    #[arg(long, env = "SEKIMORI_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// A second listen address (`host:port`, e.g. `127.0.0.1:9090`) serving `/metrics`,
    /// `/healthz` and `/readyz` for operators. Default: none (no `/metrics` at all); the public
    /// address never serves `/metrics`.
    #[arg(long, env = "SEKIMORI_ADMIN_BIND")]
    pub admin_bind: Option<String>,

    /// Serve the browser pages (`/authorize`, `/login`, `/consent`, `/logout`) under any `Host`.
    /// Default: a page request whose `Host` is not the issuer's is sent to the issuer's address
    /// (GET) or refused with an error page naming it (POST), because the browser's cookies and
    /// the form's target belong to the issuer's host.
    #[arg(long, env = "SEKIMORI_ALLOW_ANY_HOST")]
    pub allow_any_host: bool,

    /// Serve the built-in demo relying party under `/demo/` and register its client (set by
    /// `serve --demo`; not a file or environment setting: a demo is never switched on by a
    /// leftover configuration).
    #[arg(skip)]
    pub demo: bool,
}

/// The built-in defaults: the clap attributes' `default_value`s, read without the environment
/// (so a test's settings never depend on the shell that runs it).
impl Default for ServeConfig {
    fn default() -> Self {
        use clap::{Args as _, FromArgMatches as _};
        let command = Self::augment_args(clap::Command::new("defaults"))
            .mut_args(|arg| arg.env(None::<&'static str>));
        command
            .try_get_matches_from(["defaults"])
            .and_then(|m| Self::from_arg_matches(&m))
            // Only a broken attribute (a default that does not parse) can fail: a bug the unit
            // test `serve_defaults_come_from_the_flags` catches.
            .unwrap_or_else(|e| panic!("ServeConfig defaults: {e}"))
    }
}

/// Checks every setting `serve` depends on, as `serve` and `config check` both do: the issuer,
/// the lifetimes, the connection limits, the trusted proxies and the registration policy.
///
/// Errors: a message naming the first setting refused.
pub fn validate(common: &CommonConfig, serve: &ServeConfig) -> Result<(), String> {
    common.issuer_for(&serve.bind)?;
    check_lifetimes(serve)?;
    check_limits(serve)?;
    crate::client_addr::TrustedProxies::parse(&serve.trusted_proxies)?;
    crate::client_addr::ProxyHeader::parse(&serve.proxy_header)?;
    crate::oauth::registration::RegistrationPolicy::parse(
        &serve.registration_scopes,
        &serve.registration_grant_types,
    )?;
    Ok(())
}

/// Checks the lifetimes: each must be a positive number of seconds.
///
/// Errors: a message naming the setting.
pub fn check_lifetimes(serve: &ServeConfig) -> Result<(), String> {
    for (name, value) in [
        ("code_ttl_secs", serve.code_ttl_secs),
        ("access_token_ttl_secs", serve.access_token_ttl_secs),
        ("id_token_ttl_secs", serve.id_token_ttl_secs),
        (
            "refresh_token_idle_ttl_secs",
            serve.refresh_token_idle_ttl_secs,
        ),
        (
            "refresh_token_absolute_ttl_secs",
            serve.refresh_token_absolute_ttl_secs,
        ),
        ("session_ttl_secs", serve.session_ttl_secs),
    ] {
        if value <= 0 {
            return Err(format!(
                "{name} must be a positive number of seconds (got {value})"
            ));
        }
    }
    Ok(())
}

/// Checks the connection limits: both timeouts and `max_connections` must be positive.
///
/// Errors: a message naming the setting.
pub fn check_limits(serve: &ServeConfig) -> Result<(), String> {
    for (name, value) in [
        ("header_read_timeout_secs", serve.header_read_timeout_secs),
        ("request_timeout_secs", serve.request_timeout_secs),
        ("max_connections", serve.max_connections as u64),
    ] {
        if value == 0 {
            return Err(format!("{name} must be positive (got 0)"));
        }
    }
    Ok(())
}

/// What a careful operator would want to fix before going live, one sentence each: a signing
/// key file (`*.pem` in the key folder) readable by group or others (mode & 0o077), and an
/// `http://` issuer while listening on a non-loopback address (tokens and passwords would cross
/// the network in clear text). `serve` logs each at WARN; `config check` prints each on stderr
/// prefixed `warning: `. A folder that cannot be read gives no warning (loading it reports that).
pub fn startup_warnings(common: &CommonConfig, serve: &ServeConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&common.keys_dir) {
        let mut open: Vec<(PathBuf, u32)> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("pem"))
            .filter_map(|p| {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&p).ok()?.permissions().mode() & 0o777;
                (mode & 0o077 != 0).then_some((p, mode))
            })
            .collect();
        open.sort();
        for (path, mode) in open {
            warnings.push(format!(
                "signing key {} is readable by group or others (mode {mode:03o}): run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    if let Ok(issuer) = common.issuer_for(&serve.bind)
        && !issuer.is_https()
        && !is_loopback_bind(&serve.bind)
    {
        warnings.push(format!(
            "issuer {} is http:// but the server listens on {}, beyond this machine: passwords \
             and tokens would cross the network unencrypted; put a TLS proxy in front and use an \
             https:// issuer (docs/deploy.md)",
            issuer.as_str(),
            serve.bind
        ));
    }
    warnings
}

/// Whether a `host:port` listen address is only reachable from this machine (`localhost`, or a
/// loopback IP literal such as `127.0.0.1` or `[::1]`).
pub fn is_loopback_bind(bind: &str) -> bool {
    let host = bind.rsplit_once(':').map_or(bind, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A validated issuer identifier (OIDC Core §2, RFC 8414 §2): https or http, no query, no
/// fragment, no trailing slash. Compared as an exact string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    /// Parses and normalises (drops one trailing `/`) an issuer URL.
    ///
    /// Errors: a human-readable message for a relative URL, another scheme, a query or a fragment.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("issuer {raw:?} is not a URL: {e}"))?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(format!("issuer {raw:?} must be an http or https URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "issuer {raw:?} must not have a query or fragment (OIDC Discovery §3)"
            ));
        }
        if url.host_str().is_none() {
            return Err(format!("issuer {raw:?} has no host"));
        }
        let s = url.as_str().trim_end_matches('/').to_owned();
        Ok(Self(s))
    }

    /// The issuer string, exactly as it appears in `iss`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute URL of an endpoint below the issuer; `path` starts with `/`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }

    /// Whether cookies must be `Secure` (the issuer is served over https).
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The path component of the issuer (`""` for a bare origin), under which the router is nested.
    pub fn path(&self) -> String {
        url::Url::parse(&self.0)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default()
    }
}

/// How a setting's value is written in the configuration file: as itself, or (for an optional
/// setting) as the value when present.
pub trait FileValue {
    /// The type of the value in the file.
    type File;
    /// The setting's value from the file's.
    fn from_file(v: Self::File) -> Self;
    /// The file's value from the setting's (`None`: not written).
    fn to_file(&self) -> Option<Self::File>;
}

macro_rules! plain_file_values {
    ($($t:ty),*) => {$(
        impl FileValue for $t {
            type File = $t;
            fn from_file(v: $t) -> Self {
                v
            }
            fn to_file(&self) -> Option<$t> {
                Some(self.clone())
            }
        }
    )*};
}
plain_file_values!(String, PathBuf, i64, u64, usize, bool, Vec<String>);

impl FileValue for Option<String> {
    type File = String;
    fn from_file(v: String) -> Self {
        Some(v)
    }
    fn to_file(&self) -> Option<String> {
        self.clone()
    }
}

/// The table of file settings: `section.name: type`, in the order `config check` prints them,
/// where `section` is the struct holding the setting (`common` or `serve`) and `name` its
/// field, which is also the file's key (the long flag with underscores).
macro_rules! file_settings {
    (@slot common, $common:ident, $serve:ident) => { Some(&mut *$common) };
    (@slot serve, $common:ident, $serve:ident) => { $serve.as_deref_mut() };
    (@read common, $common:ident, $serve:ident) => { $common };
    (@read serve, $common:ident, $serve:ident) => { $serve };
    ($($section:ident . $name:ident : $ty:ty),* $(,)?) => {
        /// The settings a configuration file may hold: the long flag names with underscores.
        /// Unknown keys are errors, so a typo cannot be silently ignored.
        #[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct FileConfig {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                pub $name: Option<<$ty as FileValue>::File>,
            )*
        }

        impl FileConfig {
            /// Sets each value the file holds on the setting it names, unless `given(name)`
            /// says a flag or an environment variable set that setting. `serve` is `None` for
            /// a command without serve settings.
            fn layer_onto(
                self,
                common: &mut CommonConfig,
                mut serve: Option<&mut ServeConfig>,
                given: impl Fn(&str) -> bool,
            ) {
                $(
                    if let (Some(slot), Some(v)) =
                        (file_settings!(@slot $section, common, serve), self.$name)
                        && !given(stringify!($name))
                    {
                        slot.$name = <$ty as FileValue>::from_file(v);
                    }
                )*
            }

            /// Every setting's current value.
            fn of(common: &CommonConfig, serve: &ServeConfig) -> Self {
                Self {
                    $(
                        $name: FileValue::to_file(
                            &file_settings!(@read $section, common, serve).$name,
                        ),
                    )*
                }
            }
        }
    };
}

file_settings! {
    common.issuer: Option<String>,
    serve.bind: String,
    common.database_url: String,
    common.keys_dir: PathBuf,
    common.db_acquire_timeout_ms: u64,
    serve.code_ttl_secs: i64,
    serve.access_token_ttl_secs: i64,
    serve.id_token_ttl_secs: i64,
    serve.refresh_token_idle_ttl_secs: i64,
    serve.refresh_token_absolute_ttl_secs: i64,
    serve.session_ttl_secs: i64,
    serve.shutdown_grace_secs: u64,
    serve.open_registration: bool,
    serve.trusted_proxies: Vec<String>,
    serve.proxy_header: String,
    serve.registration_scopes: String,
    serve.registration_grant_types: String,
    serve.header_read_timeout_secs: u64,
    serve.request_timeout_secs: u64,
    serve.max_connections: usize,
    serve.admin_bind: Option<String>,
    serve.allow_any_host: bool,
}

impl FileConfig {
    /// Reads and parses a TOML file.
    ///
    /// Errors: a message naming the file and, from the TOML parser, the key and the expected type.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Fills every setting still at its built-in default from the `--config` file named in
/// `common`: defaults < file < environment < flags. `matches` are the parsed command line, at
/// every level of subcommand; `serve` is `None` for commands without serve settings.
///
/// Errors: an unreadable file, a TOML error (it names the key and the expected type), or an
/// unknown key.
pub fn apply_file(
    matches: &clap::ArgMatches,
    common: &mut CommonConfig,
    serve: Option<&mut ServeConfig>,
) -> Result<(), String> {
    let Some(path) = common.config.clone() else {
        return Ok(());
    };
    let file = FileConfig::load(&path)?;
    // Every level of subcommand (`config check` is two).
    let mut levels = vec![matches];
    while let Some((_, m)) = levels.last().and_then(|m| m.subcommand()) {
        levels.push(m);
    }
    // A value counts as given when a flag or an environment variable gave it, wherever clap
    // recorded it (global flags may follow the subcommand).
    let given = |id: &str| {
        levels.iter().any(|m| {
            // value_source panics for ids a (sub)command does not define: ask only where
            // try_get_raw found the argument.
            !matches!(
                m.try_get_raw(id)
                    .ok()
                    .flatten()
                    .and_then(|_| m.value_source(id)),
                None | Some(clap::parser::ValueSource::DefaultValue)
            )
        })
    };
    file.layer_onto(common, serve, given);
    Ok(())
}

/// The effective configuration, as TOML, with the database password replaced by `***`, the
/// issuer as it will be used and the lists normalized.
///
/// Errors: the message of [`validate`].
pub fn effective_config(common: &CommonConfig, serve: &ServeConfig) -> Result<String, String> {
    validate(common, serve)?;
    let issuer = common.issuer_for(&serve.bind)?;
    let proxies = crate::client_addr::TrustedProxies::parse(&serve.trusted_proxies)?;
    let policy = crate::oauth::registration::RegistrationPolicy::parse(
        &serve.registration_scopes,
        &serve.registration_grant_types,
    )?;
    let effective = FileConfig {
        issuer: Some(issuer.as_str().to_owned()),
        database_url: Some(redacted_url(&common.database_url)),
        trusted_proxies: Some(proxies.entries()),
        proxy_header: Some(
            crate::client_addr::ProxyHeader::parse(&serve.proxy_header)?
                .as_str()
                .to_owned(),
        ),
        registration_scopes: Some(policy.scopes.join(" ")),
        registration_grant_types: Some(policy.grant_types.join(" ")),
        ..FileConfig::of(common, serve)
    };
    toml::to_string(&effective).map_err(|e| e.to_string())
}

/// `url` with its password replaced by `***`, for messages and `config check`.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_defaults_come_from_the_flags() {
        let d = ServeConfig::default();
        assert_eq!(d.bind, "127.0.0.1:8080");
        assert_eq!(d.code_ttl_secs, 60);
        assert_eq!(d.refresh_token_absolute_ttl_secs, 90 * 24 * 3600);
        assert_eq!(d.max_connections, 4096);
        assert!(d.trusted_proxies.is_empty() && d.admin_bind.is_none());
        assert!(!d.open_registration && !d.allow_any_host);
        assert_eq!(
            d.registration_scopes,
            crate::oauth::registration::DEFAULT_REGISTRATION_SCOPES
        );
    }

    #[test]
    fn validate_refuses_a_non_positive_lifetime() {
        let common = CommonConfig {
            config: None,
            database_url: "sqlite::memory:".into(),
            keys_dir: "certs".into(),
            issuer: None,
            db_acquire_timeout_ms: 3000,
        };
        let serve = ServeConfig {
            id_token_ttl_secs: 0,
            ..ServeConfig::default()
        };
        let e = validate(&common, &serve).expect_err("refused");
        assert!(e.contains("id_token_ttl_secs"), "{e}");
        assert_eq!(validate(&common, &ServeConfig::default()), Ok(()));
    }

    #[test]
    fn issuer_drops_trailing_slash_and_keeps_path() {
        let i = Issuer::parse("https://id.example.com/auth/").expect("valid");
        assert_eq!(i.as_str(), "https://id.example.com/auth");
        assert_eq!(i.path(), "/auth");
        assert_eq!(i.endpoint("/token"), "https://id.example.com/auth/token");
    }

    #[test]
    fn loopback_binds_are_recognised() {
        for bind in [
            "127.0.0.1:8080",
            "localhost:9000",
            "[::1]:8080",
            "127.0.0.2:1",
        ] {
            assert!(is_loopback_bind(bind), "{bind}");
        }
        for bind in [
            "0.0.0.0:8080",
            "[::]:8080",
            "192.0.2.1:80",
            "id.example.com:443",
        ] {
            assert!(!is_loopback_bind(bind), "{bind}");
        }
    }

    #[test]
    fn issuer_rejects_query_fragment_and_other_schemes() {
        assert!(Issuer::parse("https://id.example.com/?a=b").is_err());
        assert!(Issuer::parse("https://id.example.com/#x").is_err());
        assert!(Issuer::parse("ftp://id.example.com").is_err());
        assert!(Issuer::parse("/relative").is_err());
    }
}
