use uuid::Uuid;

use super::*;
use crate::messages::CreatePipeline;
use crate::records::{
    ApartmentState, Command, ErrorCategory, ErrorRecordParts, HostInfo, InformationRecord,
    InformationalRecord, PowerShellPipeline, ProgressRecord, ProgressRecordType,
    RemoteHostMethodId, RemoteStreamOptions,
};

fn create(no_input: bool) -> CreatePipeline {
    CreatePipeline {
        no_input,
        apartment_state: ApartmentState::UNKNOWN,
        remote_stream_options: RemoteStreamOptions::NONE,
        add_to_history: false,
        host_info: HostInfo::default(),
        power_shell: PowerShellPipeline::new(vec![Command::new("Get-Item", false)]),
        is_nested: false,
    }
}

/// A client and a server pipeline wired in memory.
fn pair(no_input: bool, room: usize) -> (Pipeline, Pipeline, usize) {
    let pool = RunspacePoolId(Uuid::from_u128(1));
    let id = PipelineId(Uuid::from_u128(2));
    let client = Pipeline::client(pool, id, create(no_input), ObjectId(10));
    let server = Pipeline::server(pool, id, ObjectId(1));
    (client, server, room)
}

fn drive(client: &mut Pipeline, server: &mut Pipeline, room: usize) {
    loop {
        let mut moved = false;
        while let Some(p) = client.poll_transmit(room) {
            server.receive(&p).unwrap();
            moved = true;
        }
        while let Some(p) = server.poll_transmit(room) {
            client.receive(&p).unwrap();
            moved = true;
        }
        if !moved {
            break;
        }
    }
}

fn events(p: &mut Pipeline) -> Vec<Event> {
    std::iter::from_fn(|| p.poll_event()).collect()
}

#[test]
fn run_with_input_output_records_and_a_host_call() {
    for room in [crate::fragment::MIN_ROOM, 200, 153_600] {
        let (mut client, mut server, room) = pair(false, room);
        client.start().unwrap();
        client.send_input(Value::from(1)).unwrap();
        client.send_input(Value::from("two")).unwrap();
        client.end_input().unwrap();
        drive(&mut client, &mut server, room);

        let got = events(&mut server);
        assert!(matches!(
            &got[0],
            Event::StateChanged(PsInvocationState::RUNNING, None)
        ));
        assert!(matches!(&got[1], Event::Created(c) if c.power_shell.cmds[0].cmd == "Get-Item"));
        assert_eq!(
            &got[2..],
            &[
                Event::Input(Value::from(1)),
                Event::Input(Value::from("two")),
                Event::EndOfInput
            ]
        );

        let records = [
            Payload::PipelineOutput(Value::from("out")),
            Payload::DebugRecord(InformationalRecord::new(InformationalRecord::DEBUG, "d")),
            Payload::VerboseRecord(InformationalRecord::new(InformationalRecord::VERBOSE, "v")),
            Payload::WarningRecord(InformationalRecord::new(InformationalRecord::WARNING, "w")),
            Payload::ProgressRecord(ProgressRecord {
                activity: "copy".into(),
                activity_id: 1,
                status_description: "half".into(),
                current_operation: None,
                parent_activity_id: -1,
                percent_complete: 50,
                record_type: ProgressRecordType::PROCESSING,
                seconds_remaining: -1,
            }),
            Payload::InformationRecord(InformationRecord::new(
                "info",
                "script",
                "2026-11-22T17:00:00.0000000+00:00",
                vec!["tag".into()],
                "user",
                "host",
                42,
            )),
        ];
        for r in records.clone() {
            server.write(r).unwrap();
        }
        let call = HostCall {
            call_id: 1,
            method: RemoteHostMethodId::READ_LINE,
            parameters: Vec::new(),
        };
        server.host_call(call.clone()).unwrap();
        drive(&mut client, &mut server, room);

        let got = events(&mut client);
        // StateChanged(Running) from start, then the streams in order, then the host call.
        assert!(matches!(
            &got[0],
            Event::StateChanged(PsInvocationState::RUNNING, None)
        ));
        assert_eq!(got[1], Event::Output(Value::from("out")));
        assert_eq!(got[2], Event::Record(records[1].clone()));
        assert_eq!(got[3], Event::Record(records[2].clone()));
        assert_eq!(got[4], Event::Record(records[3].clone()));
        assert_eq!(got[5], Event::Record(records[4].clone()));
        assert_eq!(got[6], Event::Record(records[5].clone()));
        assert_eq!(got[7], Event::HostCall(call));

        let response = HostResponse {
            call_id: 1,
            method: RemoteHostMethodId::READ_LINE,
            return_value: Some(Value::from("typed")),
            error: None,
        };
        client.host_response(response.clone()).unwrap();
        drive(&mut client, &mut server, room);
        assert_eq!(events(&mut server), vec![Event::HostResponse(response)]);

        server.finish(PsInvocationState::COMPLETED, None).unwrap();
        drive(&mut client, &mut server, room);
        assert_eq!(client.state(), PsInvocationState::COMPLETED);
        assert_eq!(
            events(&mut client),
            vec![Event::StateChanged(PsInvocationState::COMPLETED, None)]
        );
        // Nothing more may arrive for a finished pipeline.
        assert!(server.write(Payload::PipelineOutput(Value::Nil)).is_err());
    }
}

#[test]
fn failure_carries_the_error_record() {
    let (mut client, mut server, room) = pair(true, 153_600);
    client.start().unwrap();
    assert!(matches!(
        client.send_input(Value::Nil),
        Err(PipelineError::InvalidState { .. })
    ));
    drive(&mut client, &mut server, room);
    let error = ErrorRecord::new(ErrorRecordParts {
        exception_types: vec!["System.Exception".into()],
        message: "boom".into(),
        fully_qualified_error_id: "Boom".into(),
        target_object: Value::Nil,
        category: ErrorCategory::NOT_SPECIFIED,
        activity: String::new(),
        reason: "Exception".into(),
        target_name: String::new(),
        target_type: String::new(),
        details_message: None,
        script_stack_trace: None,
    });
    server.write(Payload::ErrorRecord(error.clone())).unwrap();
    server
        .finish(PsInvocationState::FAILED, Some(error.clone()))
        .unwrap();
    drive(&mut client, &mut server, room);
    let got = events(&mut client);
    assert_eq!(got[1], Event::Record(Payload::ErrorRecord(error.clone())));
    assert_eq!(
        got[2],
        Event::StateChanged(PsInvocationState::FAILED, Some(Box::new(error)))
    );
}

#[test]
fn stop_moves_through_stopping_to_stopped() {
    let (mut client, mut server, room) = pair(true, 1000);
    client.start().unwrap();
    drive(&mut client, &mut server, room);
    client.stop().unwrap();
    assert_eq!(client.state(), PsInvocationState::STOPPING);
    server.handle_stop().unwrap();
    server.finish(PsInvocationState::STOPPED, None).unwrap();
    drive(&mut client, &mut server, room);
    assert_eq!(client.state(), PsInvocationState::STOPPED);
}

#[test]
fn protocol_and_usage_errors() {
    let (mut client, mut server, _) = pair(false, 1000);
    // Server output before the pipeline exists on the client side.
    assert!(matches!(
        server.write(Payload::PipelineOutput(Value::Nil)),
        Err(PipelineError::InvalidState { .. })
    ));
    assert!(matches!(
        client.write(Payload::PipelineOutput(Value::Nil)),
        Err(PipelineError::WrongSide { .. })
    ));
    client.start().unwrap();
    assert!(matches!(
        client.start(),
        Err(PipelineError::InvalidState { .. })
    ));
    drive(&mut client, &mut server, 1000);
    assert!(matches!(
        server.write(Payload::PipelineInput(Value::Nil)),
        Err(PipelineError::NotAStream(MessageType::PIPELINE_INPUT))
    ));
    assert!(server.finish(PsInvocationState::RUNNING, None).is_err());
    // A message for another pipeline is refused.
    let stray = Message::new(
        Destination::CLIENT,
        MessageType::PIPELINE_OUTPUT,
        RunspacePoolId(Uuid::from_u128(1)),
        PipelineId(Uuid::from_u128(99)),
        b"<S>x</S>".to_vec(),
    );
    assert!(matches!(
        client.handle_message(stray),
        Err(PipelineError::Unexpected { .. })
    ));
}
