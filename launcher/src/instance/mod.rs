//! What runs on the instance: the cloud-init `user_data` that sets it up
//! ([`cloud_init`]), the lease agent and its deadline file ([`lease_agent`], including
//! the deadline rewrite `extend` runs over SSH), and the scripts in `assets/`.

pub mod cloud_init;
pub mod group;
pub mod lease_agent;

/// A long-running systemd service that reads `env_file` (systemd reads it as root, before
/// dropping to `user`) and restarts on failure; it runs as root when `user` is None.
pub fn systemd_service(
    description: &str,
    env_file: &str,
    exec: &str,
    restart_sec: u32,
    user: Option<&str>,
) -> String {
    let user = user
        .map(|u| format!("User={u}\nGroup={u}\n"))
        .unwrap_or_default();
    format!(
        "[Unit]\n\
         Description={description}\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         EnvironmentFile={env_file}\n\
         {user}\
         ExecStart={exec}\n\
         Restart=on-failure\n\
         RestartSec={restart_sec}\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}
