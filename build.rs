// A new migration must rebuild the binary that embeds it; `--version` names the commit.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    // The commit of a git checkout, for `sekimori --version`; "unknown" in a source tarball or
    // where git is missing.
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    // A build without the .git folder (a container build context) can name it instead.
    println!("cargo:rerun-if-env-changed=SEKIMORI_GIT_COMMIT");
    let commit = std::env::var("SEKIMORI_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SEKIMORI_GIT_COMMIT={commit}");
    // A commit moves HEAD (detached) or the branch HEAD names; watch only those, so staging
    // files or committing on another branch does not rebuild the crate.
    // A path that does not exist would make cargo rerun this script, and rebuild, every time.
    let watch = |path: String| {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    };
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        watch(format!("{dir}/HEAD"));
    }
    if let (Some(common), Some(branch)) = (
        git(&["rev-parse", "--git-common-dir"]),
        git(&["symbolic-ref", "-q", "HEAD"]),
    ) {
        watch(format!("{common}/{branch}"));
        watch(format!("{common}/packed-refs"));
    }
}
