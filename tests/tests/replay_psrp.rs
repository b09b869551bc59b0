//! Replays of pypsrp's recorded PSRP scenarios against `sessions::pssession`: the Windows side
//! comes from the recording, the client side is ours, and every request is compared with the
//! one pypsrp sent (headers as in `tests::replay`; bodies by kind and ids, since creationXml,
//! connectXml and Arguments carry CLIXML that need not be byte-identical).
//!
//! The runspace pool and pipeline ids, the scripts and the input objects are read from the
//! recorded requests and injected, so the recorded responses (which name those ids) fit.

use psrp::clixml::Value;
use psrp::fragment::Defragmenter;
use psrp::message::Message;
use psrp::messages::Payload;
use psrp::records::PowerShellPipeline;
use sessions::WsManClient;
use sessions::pssession::{DisconnectOptions, Invocation, InvokeOutput, PsSession, SessionOptions};
use tests::replay::pypsrp::{
    command_id_problem, compare_psrp_headers, connect_problem, enumerate_problem, options,
    receive_problem, send_streams_problem, shell_id_problem, step,
};
use tests::replay::{pypsrp_scenario, replay_with};
use uuid::Uuid;
use wsman::{Body, Envelope};

/// What pypsrp asked for in a scenario: pool ids in Create order, pipelines in Command order.
#[derive(Debug, Default)]
struct Recorded {
    pools: Vec<Uuid>,
    pipelines: Vec<RecordedPipeline>,
    /// The configuration of the first Create (from its resource URI).
    configuration: Option<String>,
    /// Whether the first Create asked for WINRS_NOPROFILE.
    no_profile: bool,
    /// Whether the scenario starts by reading the server's config (MaxEnvelopeSize).
    negotiates: bool,
}

#[derive(Debug)]
struct RecordedPipeline {
    id: Uuid,
    power_shell: PowerShellPipeline,
    input: Vec<Value>,
}

fn recorded(stem: &str) -> Recorded {
    let file = pypsrp_scenario(stem);
    let mut out = Recorded::default();
    // Per command: its fragment stream (Arguments, then stdin Sends), in Command order.
    let mut streams: Vec<(Uuid, Defragmenter)> = Vec::new();
    // Servers speaking protocol 2.1 answer a Command with their own CommandId: server id →
    // the id the client chose.
    let mut aliases: Vec<(Uuid, Uuid)> = Vec::new();
    for ex in &file.exchanges {
        let Some(Ok(env)) = ex.request.as_deref().map(Envelope::decode) else {
            continue;
        };
        if out.pools.is_empty()
            && streams.is_empty()
            && matches!(env.body, Body::Get)
            && env.header.resource_uri.as_deref() == Some(wsman::ns::RESOURCE_CONFIG)
        {
            out.negotiates = true;
        }
        fn feed(
            streams: &mut [(Uuid, Defragmenter)],
            id: Uuid,
            chunks: Vec<Vec<u8>>,
            out: &mut Recorded,
        ) {
            let Some((_, d)) = streams.iter_mut().find(|(i, _)| *i == id) else {
                return;
            };
            for c in chunks {
                // A stream that does not continue the previous one starts afresh.
                if d.receive(&c).is_err() {
                    *d = Defragmenter::new();
                    if d.receive(&c).is_err() {
                        return;
                    }
                }
                while let Some(blob) = d.poll_message() {
                    let Ok(m) = Message::decode(&blob) else {
                        continue;
                    };
                    let Ok(p) = Payload::decode(m.message_type, &m.data) else {
                        continue;
                    };
                    match p {
                        Payload::CreatePipeline(c) => out.pipelines.push(RecordedPipeline {
                            id,
                            power_shell: c.power_shell,
                            input: Vec::new(),
                        }),
                        Payload::PipelineInput(v) => {
                            if let Some(p) = out.pipelines.iter_mut().find(|p| p.id == id) {
                                p.input.push(v);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        match &env.body {
            Body::Create(shell) => {
                if out.pools.is_empty() {
                    out.configuration = env
                        .header
                        .resource_uri
                        .as_deref()
                        .and_then(|u| u.strip_prefix(wsman::ns::RESOURCE_POWERSHELL_PREFIX))
                        .map(str::to_owned);
                    out.no_profile = env
                        .header
                        .options
                        .get("WINRS_NOPROFILE")
                        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                }
                if let Some(u) = shell
                    .shell_id_attr
                    .as_ref()
                    .and_then(|id| Uuid::parse_str(id.as_str()).ok())
                {
                    out.pools.push(u);
                }
            }
            Body::Command(line) => {
                let Some(id) = line
                    .command_id
                    .as_ref()
                    .and_then(|c| Uuid::parse_str(c.as_str()).ok())
                else {
                    continue;
                };
                streams.push((id, Defragmenter::new()));
                let reply = ex.response.as_deref().map(Envelope::decode);
                if let Some(Ok(Envelope {
                    body: Body::CommandResponse(server),
                    ..
                })) = reply
                    && let Ok(server) = Uuid::parse_str(server.as_str())
                {
                    aliases.push((server, id));
                }
                feed(
                    &mut streams,
                    id,
                    line.argument_bytes().unwrap_or_default(),
                    &mut out,
                );
            }
            Body::Send(send) => {
                for st in &send.streams {
                    let Some(id) = st
                        .command_id
                        .as_ref()
                        .and_then(|c| Uuid::parse_str(c.as_str()).ok())
                    else {
                        continue;
                    };
                    let id = aliases
                        .iter()
                        .find(|(server, _)| *server == id)
                        .map_or(id, |(_, client)| *client);
                    if st.name == "stdin" {
                        feed(&mut streams, id, vec![st.data.clone()], &mut out);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Header comparison (MaxEnvelopeSize aside, see [`compare_psrp_headers`]) plus a body
/// comparison by kind and ids.
fn compare_psrp(rec: &Envelope, ours: &Envelope) -> Vec<String> {
    let mut out = compare_psrp_headers(rec, ours);
    match (&rec.body, &ours.body) {
        (Body::Create(a), Body::Create(b)) => {
            out.extend(shell_id_problem(a, b));
            if a.input_streams != b.input_streams || a.output_streams != b.output_streams {
                out.push(format!(
                    "streams {:?}/{:?} instead of {:?}/{:?}",
                    b.input_streams, b.output_streams, a.input_streams, a.output_streams
                ));
            }
            if b.creation_xml.is_none() {
                out.push("no creationXml".into());
            }
        }
        (Body::Command(a), Body::Command(b)) => out.extend(command_id_problem(a, b)),
        (Body::Receive(a), Body::Receive(b)) => out.extend(receive_problem(a, b)),
        (Body::Send(a), Body::Send(b)) => out.extend(send_streams_problem(a, b)),
        (Body::Connect(a), Body::Connect(b)) => out.extend(connect_problem(a, b)),
        (Body::Enumerate(a), Body::Enumerate(b)) => out.extend(enumerate_problem(a, b)),
        (a, b) if a.kind() != b.kind() => {
            out.push(format!("body {} instead of {}", b.kind(), a.kind()));
        }
        (a, b) if a != b && !matches!(a, Body::Disconnect(_) | Body::Reconnect(_)) => {
            out.push(format!("body differs: {b:?} instead of {a:?}"));
        }
        _ => {}
    }
    out
}

fn session_options(pool: Option<&Uuid>) -> SessionOptions {
    let mut o = SessionOptions::default();
    o.runspace_pool_id = pool.copied();
    o
}

fn invocation(p: &RecordedPipeline) -> Invocation {
    let mut inv = Invocation::default();
    inv.commands = p.power_shell.cmds.clone();
    inv.input = p.input.clone();
    inv.pipeline_id = Some(p.id);
    inv
}

/// Open, run each recorded pipeline in turn, close.
async fn open_run_close(c: WsManClient, rec: Recorded) -> Result<Vec<InvokeOutput>, String> {
    if rec.negotiates {
        c.negotiate_max_envelope_size()
            .await
            .map_err(step("negotiate MaxEnvelopeSize"))?;
    }
    let mut options = session_options(rec.pools.first());
    if let Some(config) = &rec.configuration {
        options.configuration_name = config.clone();
    }
    options.no_profile = rec.no_profile;
    let mut s = PsSession::new(&c, "replay", options)
        .await
        .map_err(step("open"))?;
    let mut outs = Vec::new();
    for p in &rec.pipelines {
        outs.push(s.invoke(&invocation(p)).await.map_err(step("invoke"))?);
    }
    s.remove().await.map_err(step("close"))?;
    Ok(outs)
}

async fn scenario(stem: &str) -> Result<Vec<InvokeOutput>, String> {
    let rec = recorded(stem);
    let mut result = Err("driver did not run".to_owned());
    let r = replay_with(stem, options(), Box::new(compare_psrp), |c| async {
        result = open_run_close(c, rec).await;
        result.as_ref().map(|_| ()).map_err(Clone::clone)
    })
    .await;
    r.assert_passed();
    result
}

#[tokio::test]
async fn test_psrp_open_runspace() {
    let outs = scenario("test_psrp_open_runspace").await.expect("replay");
    assert!(outs.is_empty());
}

#[tokio::test]
async fn test_psrp_stream_output_invocation() {
    let outs = scenario("test_psrp_stream_output_invocation")
        .await
        .expect("replay");
    assert_eq!(outs.len(), 1);
    assert!(outs.iter().all(InvokeOutput::is_completed), "{outs:?}");
}

#[tokio::test]
async fn test_psrp_with_input() {
    let outs = scenario("test_psrp_with_input").await.expect("replay");
    assert!(outs.iter().all(|o| !o.output.is_empty()), "{outs:?}");
}

#[tokio::test]
async fn test_psrp_pshost_methods() {
    scenario("test_psrp_pshost_methods").await.expect("replay");
}

#[tokio::test]
async fn test_psrp_error_failed() {
    let outs = scenario("test_psrp_error_failed").await.expect("replay");
    assert!(
        outs.iter()
            .any(|o| !o.errors.is_empty() || !o.is_completed()),
        "{outs:?}"
    );
}

#[tokio::test]
async fn test_psrp_disconnect_runspaces() {
    let stem = "test_psrp_disconnect_runspaces";
    let rec = recorded(stem);
    let r = replay_with(stem, options(), Box::new(compare_psrp), |c| async move {
        // Open, disconnect, reconnect, disconnect; a second pool, disconnect; then as a new
        // client: enumerate, connect both, close both.
        let mut a = PsSession::new(&c, "replay", session_options(rec.pools.first()))
            .await
            .map_err(step("open 1"))?;
        a.disconnect(DisconnectOptions::default())
            .await
            .map_err(step("disconnect 1"))?;
        a.reconnect(None).await.map_err(step("reconnect 1"))?;
        a.disconnect(DisconnectOptions::default())
            .await
            .map_err(step("disconnect 1 again"))?;
        let mut b = PsSession::new(&c, "replay", session_options(rec.pools.get(1)))
            .await
            .map_err(step("open 2"))?;
        b.disconnect(DisconnectOptions::default())
            .await
            .map_err(step("disconnect 2"))?;
        let remote = PsSession::enumerate(&c).await.map_err(step("enumerate"))?;
        let mut connected = Vec::new();
        for r in &remote {
            connected.push(
                PsSession::connect(&c, "replay", r)
                    .await
                    .map_err(step("connect"))?,
            );
        }
        for s in connected {
            s.remove().await.map_err(step("close"))?;
        }
        Ok(())
    })
    .await;
    r.assert_passed();
}

/// Scenarios the generic driver (open, run each recorded pipeline, close) completes with
/// matching requests.
macro_rules! open_run_close_scenarios {
    ($($name:ident => $stem:literal,)*) => {$(
        #[tokio::test]
        async fn $name() {
            let outs = scenario($stem).await.expect("replay");
            assert_eq!(outs.len(), recorded($stem).pipelines.len());
        }
    )*};
}

open_run_close_scenarios! {
    test_psrp_stream_no_output_invocation => "test_psrp_stream_no_output_invocation",
    test_psrp_run_protocol_version_2_1 => "test_psrp_run_protocol_version_2.1",
    test_psrp_run_protocol_version_2_2 => "test_psrp_run_protocol_version_2.2",
    test_psrp_run_protocol_version_2_3 => "test_psrp_run_protocol_version_2.3",
    test_psrp_with_history => "test_psrp_with_history",
    test_psrp_with_no_history => "test_psrp_with_no_history",
    test_psrp_merge_commands => "test_psrp_merge_commands",
    test_psrp_no_profile => "test_psrp_no_profile",
    test_psrp_long_running_cmdlet => "test_psrp_long_running_cmdlet",
    test_psrp_small_msg_size => "test_psrp_small_msg_size",
    test_psrp_clear_commands => "test_psrp_clear_commands",
    test_psrp_application_args => "test_psrp_application_args",
    test_psrp_with_jea_configuration => "test_psrp_with_jea_configuration",
}
