//! Each rule of `Kernel`, per flavour, pinned on a kernel put in the state the rule speaks of:
//! the model's own tests, which catch a change of a rule the Linux replay cannot see (the BSDs'
//! rules, which this machine does not run) before the model checker proves anything with it.

use super::*;

/// A connection of `flavour` whose application wrote `written` segments, each side's receive
/// buffer `window` segments, and what it put on the wire.
fn wrote(flavour: Flavour, written: u8, window: u8) -> (Kernel, Wire) {
    let mut kernel = Kernel::new(flavour, window, window);
    let mut wire = Wire::default();
    kernel.write(written, &mut wire);
    (kernel, wire)
}

fn ack(received: u8, fin: bool, window_end: u8) -> Segment {
    Segment::Ack {
        received,
        fin,
        window_end,
    }
}

fn segments(wire: &Wire) -> Vec<Segment> {
    wire.iter().copied().collect()
}

/// One segment written and acknowledged, our FIN sent and acknowledged, the peer's FIN in:
/// TIME_WAIT, or CLOSED after LAST_ACK when the peer's FIN came first.
fn closed_both_ways(flavour: Flavour, peer_first: bool) -> Kernel {
    let (mut kernel, mut wire) = wrote(flavour, 1, 4);
    if peer_first {
        kernel.receive(Segment::Fin, &mut wire);
    }
    kernel.shutdown_write(&mut wire).expect("open");
    kernel.receive(ack(1, true, 5), &mut wire);
    if !peer_first {
        kernel.receive(Segment::Fin, &mut wire);
    }
    kernel
}

#[test]
fn flavours_are_named_as_the_cli_spells_them() {
    for flavour in Flavour::ALL {
        assert_eq!(Flavour::from_name(flavour.name()), Some(flavour));
        assert_eq!(flavour.to_string(), flavour.name());
    }
    assert_eq!(Flavour::from_name("windows"), None);
}

#[test]
fn an_ack_behind_an_ack_on_the_wire_replaces_it() {
    let mut wire = Wire::default();
    wire.push(ack(1, false, 2));
    wire.push(ack(2, false, 3));
    assert_eq!(segments(&wire), [ack(2, false, 3)]);
    wire.push(Segment::Data);
    wire.push(ack(3, false, 4));
    assert_eq!(wire.pop(), Some(ack(2, false, 3)));
    assert_eq!(wire.pop(), Some(Segment::Data));
    assert!(!wire.is_empty());
}

#[test]
fn the_send_queue_counts_the_fin_on_linux_only() {
    for (flavour, figure) in [
        (Flavour::Linux, 2),
        (Flavour::FreeBsd, 1),
        (Flavour::MacOs, 1),
    ] {
        let (mut kernel, mut wire) = wrote(flavour, 1, 1);
        kernel.shutdown_write(&mut wire).expect("open");
        assert_eq!(kernel.siocoutq(), 2, "{flavour}: SIOCOUTQ itself");
        assert_eq!(kernel.send_queue(), figure, "{flavour}");
    }
}

#[test]
fn after_a_reset_freebsd_drops_its_figure_where_linux_and_macos_keep_it() {
    for (flavour, figure, kept) in [
        (Flavour::Linux, 1, Some(1)),
        (Flavour::FreeBsd, 0, None),
        (Flavour::MacOs, 1, Some(1)),
    ] {
        let (mut kernel, mut wire) = wrote(flavour, 1, 1);
        kernel.receive(Segment::Rst, &mut wire);
        assert_eq!(kernel.send_queue(), figure, "{flavour}");
        assert_eq!(kernel.send_queue_after_the_end(), kept, "{flavour}");
    }
}

#[test]
fn freebsd_refuses_tcp_info_once_the_connection_is_over_and_macos_answers_closed() {
    let (mut freebsd, mut wire) = wrote(Flavour::FreeBsd, 1, 1);
    assert_eq!(freebsd.tcp_info(), Some(TcpState::Established));
    freebsd.receive(Segment::Rst, &mut wire);
    assert_eq!(freebsd.tcp_info(), None);
    assert_eq!(closed_both_ways(Flavour::FreeBsd, false).tcp_info(), None);
    let mut macos = closed_both_ways(Flavour::MacOs, false);
    assert_eq!(macos.tcp_info(), Some(TcpState::TimeWait));
    macos.receive(Segment::Rst, &mut wire);
    assert_eq!(
        macos.tcp_info(),
        Some(TcpState::TimeWait),
        "a RST in TIME_WAIT"
    );
}

#[test]
fn the_state_follows_the_fins_sent_received_and_acknowledged() {
    let (mut kernel, mut wire) = wrote(Flavour::Linux, 0, 2);
    assert_eq!(kernel.tcp_state(), TcpState::Established);
    kernel.shutdown_write(&mut wire).expect("open");
    assert_eq!(kernel.tcp_state(), TcpState::FinWait1);
    kernel.receive(Segment::Fin, &mut wire);
    assert_eq!(kernel.tcp_state(), TcpState::Closing);
    kernel.receive(ack(0, true, 2), &mut wire);
    assert_eq!(kernel.tcp_state(), TcpState::TimeWait);
    let (mut second, mut wire) = wrote(Flavour::Linux, 0, 2);
    second.receive(Segment::Fin, &mut wire);
    assert_eq!(second.tcp_state(), TcpState::CloseWait);
    second.shutdown_write(&mut wire).expect("open");
    assert_eq!(second.tcp_state(), TcpState::LastAck);
    second.receive(ack(0, true, 2), &mut wire);
    assert_eq!(second.tcp_state(), TcpState::Closed);
    assert!(second.disconnected() && second.dead.is_none());
}

#[test]
fn a_reset_in_closing_or_last_ack_leaves_no_error_on_macos_alone() {
    for flavour in Flavour::ALL {
        let (mut kernel, mut wire) = wrote(flavour, 0, 2);
        kernel.receive(Segment::Fin, &mut wire);
        kernel.shutdown_write(&mut wire).expect("open");
        assert_eq!(kernel.tcp_state(), TcpState::LastAck);
        kernel.receive(Segment::Rst, &mut wire);
        let error = (flavour != Flavour::MacOs).then_some(SoError::Reset);
        assert_eq!(kernel.error, error, "{flavour}");
        assert_eq!(kernel.dead, Some(Dead::ResetByPeer));
    }
}

#[test]
fn linux_reads_the_eof_before_a_pending_error_the_bsds_the_error_first() {
    for flavour in Flavour::ALL {
        let (mut kernel, mut wire) = wrote(flavour, 1, 1);
        kernel.receive(Segment::Data, &mut wire);
        kernel.receive(Segment::Fin, &mut wire);
        kernel.receive(Segment::Rst, &mut wire);
        assert_eq!(
            kernel.app_read(&mut wire),
            Read::Data,
            "{flavour}: data first"
        );
        let second = kernel.app_read(&mut wire);
        if flavour == Flavour::Linux {
            assert_eq!(second, Read::Eof);
            assert_eq!(kernel.take_error(), Some(SoError::Reset), "left pending");
        } else {
            assert_eq!(second, Read::Error(SoError::Reset), "{flavour}");
            assert_eq!(kernel.app_read(&mut wire), Read::Eof, "{flavour}: then EOF");
        }
    }
}

#[test]
fn a_read_finds_nothing_then_the_error_once_then_eof() {
    let (mut kernel, mut wire) = wrote(Flavour::Linux, 1, 1);
    assert!(!kernel.readable());
    assert_eq!(kernel.app_read(&mut wire), Read::WouldBlock);
    kernel.receive(Segment::Rst, &mut wire);
    assert!(kernel.readable());
    assert_eq!(kernel.app_read(&mut wire), Read::Error(SoError::Reset));
    assert!(kernel.readable(), "a connection over stays readable");
    assert_eq!(kernel.app_read(&mut wire), Read::Eof);
}

#[test]
fn giving_up_sends_a_rst_on_the_bsds_and_not_on_linux() {
    for flavour in Flavour::ALL {
        let (mut kernel, _) = wrote(flavour, 2, 1);
        let mut wire = Wire::default();
        kernel.time_out(&mut wire);
        assert_eq!(kernel.error, Some(SoError::TimedOut));
        assert_eq!(kernel.discarded, 1, "{flavour}: the segment never sent");
        let rst = flavour != Flavour::Linux;
        assert_eq!(segments(&wire) == [Segment::Rst], rst, "{flavour}");
        assert_eq!(kernel.siocoutq(), 2, "{flavour}: the figure stays");
    }
}

#[test]
fn a_fin_alone_waits_for_room_on_linux_and_goes_into_a_full_window_on_the_bsds() {
    for flavour in Flavour::ALL {
        let (mut kernel, mut wire) = wrote(flavour, 1, 1);
        kernel.receive(ack(1, false, 1), &mut wire);
        let mut out = Wire::default();
        kernel.shutdown_write(&mut out).expect("open");
        let goes = flavour != Flavour::Linux;
        assert_eq!(kernel.fin == Fin::Sent, goes, "{flavour}");
        kernel.receive(ack(1, false, 2), &mut out);
        assert_eq!(kernel.fin, Fin::Sent, "{flavour}: room lets it out");
    }
}

#[test]
fn on_linux_the_last_segment_carrying_the_fin_waits_for_room_for_both_or_the_probe() {
    let (mut kernel, mut wire) = wrote(Flavour::Linux, 2, 1);
    kernel.shutdown_write(&mut wire).expect("open");
    assert_eq!((kernel.sent, kernel.fin), (1, Fin::Queued));
    kernel.receive(ack(1, false, 2), &mut wire);
    assert_eq!(
        (kernel.sent, kernel.fin),
        (1, Fin::Queued),
        "held, data and all"
    );
    assert!(kernel.probe_due());
    let mut out = Wire::default();
    kernel.probe(&mut out);
    assert_eq!(segments(&out), [Segment::Data], "the data alone");
    assert_eq!((kernel.sent, kernel.fin), (2, Fin::Queued));
    assert!(!kernel.probe_due());
    kernel.receive(ack(2, false, 3), &mut out);
    assert_eq!(kernel.fin, Fin::Sent);
}

#[test]
fn the_probe_waits_while_anything_else_is_in_flight() {
    let (mut kernel, mut wire) = wrote(Flavour::Linux, 3, 2);
    kernel.shutdown_write(&mut wire).expect("open");
    kernel.receive(ack(1, false, 3), &mut wire);
    assert_eq!(kernel.sent, 2, "one more, the last held");
    assert!(!kernel.probe_due(), "the second segment is unacknowledged");
    kernel.receive(ack(2, false, 3), &mut wire);
    assert!(kernel.probe_due());
}

#[test]
fn on_linux_a_run_the_window_takes_whole_takes_the_fin_past_its_edge() {
    let (mut kernel, mut wire) = wrote(Flavour::Linux, 3, 1);
    kernel.shutdown_write(&mut wire).expect("open");
    kernel.receive(ack(1, false, 3), &mut wire);
    assert_eq!((kernel.sent, kernel.fin), (3, Fin::Sent));
    let (mut partly, mut wire) = wrote(Flavour::Linux, 4, 1);
    partly.shutdown_write(&mut wire).expect("open");
    partly.receive(ack(1, false, 3), &mut wire);
    assert_eq!(
        (partly.sent, partly.fin),
        (3, Fin::Queued),
        "a run cut by the window"
    );
}

#[test]
fn a_timeout_while_the_probe_is_due_sends_the_probe_first() {
    let (mut kernel, mut wire) = wrote(Flavour::Linux, 2, 1);
    kernel.shutdown_write(&mut wire).expect("open");
    kernel.receive(ack(1, false, 2), &mut wire);
    let mut out = Wire::default();
    kernel.time_out(&mut out);
    assert_eq!(segments(&out), [Segment::Data]);
    assert_eq!((kernel.discarded, kernel.dead), (0, Some(Dead::TimedOut)));
}

#[test]
fn close_over_unread_data_resets_unless_both_sides_have_closed() {
    let (mut kernel, mut wire) = wrote(Flavour::Linux, 2, 1);
    kernel.receive(Segment::Data, &mut wire);
    assert!(kernel.resets_on_close());
    let mut out = Wire::default();
    kernel.close(&mut out);
    assert_eq!(
        (kernel.dead, kernel.discarded),
        (Some(Dead::ClosedOnUnread), 1)
    );
    assert_eq!(segments(&out), [Segment::Rst]);
    for peer_first in [false, true] {
        let mut over = closed_both_ways(Flavour::Linux, peer_first);
        over.received += 1;
        assert!(!over.resets_on_close());
        let mut out = Wire::default();
        over.close(&mut out);
        assert!(out.is_empty() && over.dead.is_none() && !over.fd_open);
    }
}

#[test]
fn data_after_close_is_answered_with_rst_and_a_closed_connection_answers_everything_so() {
    let (mut orphan, mut wire) = wrote(Flavour::Linux, 0, 1);
    orphan.close(&mut wire);
    let mut out = Wire::default();
    orphan.receive(Segment::Data, &mut out);
    assert_eq!(orphan.dead, Some(Dead::DataAfterClose));
    assert_eq!(segments(&out), [Segment::Rst]);
    let mut closed = closed_both_ways(Flavour::Linux, true);
    let mut out = Wire::default();
    closed.receive(ack(1, true, 6), &mut out);
    closed.receive(Segment::Rst, &mut out);
    assert_eq!(
        segments(&out),
        [Segment::Rst],
        "the ACK answered, the RST not"
    );
    let mut time_wait = closed_both_ways(Flavour::Linux, false);
    let mut out = Wire::default();
    time_wait.receive(ack(1, true, 6), &mut out);
    time_wait.receive(Segment::Rst, &mut out);
    assert!(
        out.is_empty() && time_wait.dead.is_none(),
        "TIME_WAIT takes both"
    );
}

#[test]
fn an_abort_resets_but_in_closing_or_last_ack_with_everything_sent_on_linux() {
    for flavour in Flavour::ALL {
        let (mut kernel, mut wire) = wrote(flavour, 0, 2);
        kernel.receive(Segment::Fin, &mut wire);
        kernel.shutdown_write(&mut wire).expect("open");
        let mut out = Wire::default();
        kernel.abort(&mut out);
        let quiet = flavour == Flavour::Linux;
        assert_eq!(out.is_empty(), quiet, "{flavour}");
        let dead = if quiet {
            Dead::AbortedQuietly
        } else {
            Dead::Aborted
        };
        assert_eq!(kernel.dead, Some(dead), "{flavour}");
    }
    let (mut established, _) = wrote(Flavour::Linux, 1, 1);
    let mut out = Wire::default();
    established.abort(&mut out);
    assert_eq!(segments(&out), [Segment::Rst]);
    let mut over = closed_both_ways(Flavour::Linux, false);
    let mut out = Wire::default();
    over.abort(&mut out);
    assert!(out.is_empty() && over.dead.is_none());
}

#[test]
fn shutdown_is_refused_once_the_connection_is_over_and_queues_one_fin() {
    let (mut kernel, mut wire) = wrote(Flavour::Linux, 0, 2);
    assert_eq!(kernel.shutdown_write(&mut wire), Ok(()));
    assert_eq!(kernel.shutdown_write(&mut wire), Ok(()));
    assert_eq!(
        segments(&wire)
            .iter()
            .filter(|&&s| s == Segment::Fin)
            .count(),
        1
    );
    for peer_first in [false, true] {
        let mut over = closed_both_ways(Flavour::Linux, peer_first);
        assert_eq!(over.shutdown_write(&mut wire), Err(NotConnected));
    }
    let (mut reset, mut wire) = wrote(Flavour::Linux, 0, 2);
    reset.receive(Segment::Rst, &mut wire);
    assert_eq!(reset.shutdown_write(&mut wire), Err(NotConnected));
}

#[test]
fn reading_acknowledges_and_opens_the_window() {
    let (mut kernel, mut wire) = wrote(Flavour::Linux, 0, 1);
    kernel.receive(Segment::Data, &mut wire);
    assert_eq!(segments(&wire), [ack(1, false, 1)]);
    assert_eq!(kernel.app_read(&mut wire), Read::Data);
    assert_eq!(
        wire.pop(),
        Some(ack(1, false, 2)),
        "the window update replaced it"
    );
}
