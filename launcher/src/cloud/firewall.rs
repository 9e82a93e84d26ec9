//! The firewall ruleset a group launch creates before its first member and that the
//! launch's clean-up or `down` deletes with the group (API 1.8.3 `/firewall-rulesets`;
//! attached at launch, never afterwards). Named like the group (`gpu-session-<model>-<id>`).
//!
//! It holds Lambda's default inbound rules (SSH and ICMP from anywhere): the research
//! for issue 17 found the firewall filters Internet ingress only, not traffic between
//! instances on their private addresses, so the group's own ports are not opened here;
//! every port a member listens on is bound to loopback or its private address instead.

use std::time::Duration;

use gpu_session_lambda::{
    FirewallRule, FirewallRulesetCreateRequest, LambdaClient, LambdaError, NetworkProtocol,
};

/// Attempts at deleting a ruleset that members still hold (`firewall-ruleset-in-use`):
/// terminated instances release it only once Lambda lists them as terminated.
const DELETE_ATTEMPTS: u32 = 30;

/// The rules every group ruleset carries: Lambda's defaults for an instance without
/// rulesets (TCP 22 and ICMP from anywhere), so attaching it opens nothing new.
pub fn default_rules() -> Vec<FirewallRule> {
    vec![
        FirewallRule::tcp([22, 22], "0.0.0.0/0", "SSH (gpu-session)"),
        FirewallRule {
            protocol: NetworkProtocol::Icmp,
            port_range: None,
            source_network: "0.0.0.0/0".to_owned(),
            description: "ICMP (gpu-session)".to_owned(),
        },
    ]
}

/// Creates the group's ruleset named `name` in `region`. A create that may or may not
/// have happened (5xx, lost answer) is looked up by its unique name, never repeated.
pub async fn create(
    client: &LambdaClient,
    name: &str,
    region: &str,
) -> Result<String, LambdaError> {
    let request = FirewallRulesetCreateRequest {
        name: name.to_owned(),
        region: region.to_owned(),
        rules: default_rules(),
    };
    match client.create_firewall_ruleset(&request).await {
        Ok(ruleset) => Ok(ruleset.id),
        Err(e) if e.is_server_error() || e.is_connect() => {
            match find_named(client, name).await?.into_iter().next() {
                Some(id) => Ok(id),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Rulesets named `name` (a create whose answer never came may have made one).
pub async fn find_named(client: &LambdaClient, name: &str) -> Result<Vec<String>, LambdaError> {
    Ok(client
        .list_firewall_rulesets()
        .await?
        .into_iter()
        .filter(|r| r.name == name)
        .map(|r| r.id)
        .collect())
}

/// Deletes the ruleset once its instances are gone: while Lambda answers
/// `firewall-ruleset-in-use`, lists the instances (so terminating ones are seen to
/// finish) and tries again. `Ok(())` also when it no longer exists.
pub async fn delete_when_free(
    client: &LambdaClient,
    id: &str,
    pause: Duration,
    warn: &dyn Fn(&str),
) -> Result<(), LambdaError> {
    for attempt in 1..DELETE_ATTEMPTS {
        match client.delete_firewall_ruleset(id).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) if e.is_firewall_ruleset_in_use() => {}
            Err(e) => warn(&format!(
                "deleting firewall ruleset {id} failed (attempt {attempt} of {DELETE_ATTEMPTS}): {e}"
            )),
        }
        // Looking is what moves terminating instances on, in Lambda's answers.
        let _ = client.list_instances().await;
        tokio::time::sleep(pause).await;
    }
    match client.delete_firewall_ruleset(id).await {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Our rulesets for group `group_id` (named `gpu-session-...-<id>`), or every one of
/// ours when `group_id` is None.
pub async fn find_ours(
    client: &LambdaClient,
    group_id: Option<&str>,
) -> Result<Vec<(String, String)>, LambdaError> {
    Ok(client
        .list_firewall_rulesets()
        .await?
        .into_iter()
        .filter(|r| r.name.starts_with(crate::cloud::instances::NAME_PREFIX))
        .filter(|r| group_id.is_none_or(|id| r.name.rsplit('-').next() == Some(id)))
        .map(|r| (r.id, r.name))
        .collect())
}
