//! The unread count on the badge, from one source of truth: the server's
//! figure once it has said one (an `unread_count` frame, or the stats over
//! REST), moved by what happens here meanwhile; the local store's count
//! until then. Pure: the engine tells it what happened and does what it
//! answers.

/// What happened to the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The server said it, in order with its other frames.
    Frame(u64),
    /// The stats said it over REST. A documented server's socket says it in
    /// order with the notifications, so it is asked there instead.
    Rest(u64),
    /// New notifications on a server that sends no counts (legacy).
    Arrived(u64),
    /// One notification read here (kept in the outbox for the server).
    ReadHere,
    /// Everything read here.
    AllReadHere,
}

/// What the engine must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Show this count.
    Show(u64),
    /// Ask the socket for the count (`get_unread_count`); its frame follows.
    AskServer,
    /// The server has said nothing yet: show the store's own count.
    ShowLocal,
}

/// The count, as far as the server's last word and what happened since
/// tell.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unread {
    server: Option<u64>,
}

impl Unread {
    /// `counted_by_socket`: the socket is open to a server that answers
    /// `get_unread_count` (the documented consumer).
    pub fn on(&mut self, event: Event, counted_by_socket: bool) -> Action {
        match event {
            Event::Frame(n) => self.server = Some(n),
            Event::Rest(_) if counted_by_socket => return Action::AskServer,
            Event::Rest(n) => self.server = Some(n),
            Event::Arrived(k) => self.server = self.server.map(|u| u.saturating_add(k)),
            Event::ReadHere => self.server = self.server.map(|u| u.saturating_sub(1)),
            Event::AllReadHere => self.server = Some(0),
        }
        self.shown()
    }

    /// What to show now.
    pub fn shown(&self) -> Action {
        self.server.map_or(Action::ShowLocal, Action::Show)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_counts_until_the_server_has_said() {
        let mut u = Unread::default();
        assert_eq!(u.shown(), Action::ShowLocal);
        assert_eq!(u.on(Event::Arrived(2), false), Action::ShowLocal);
        assert_eq!(u.on(Event::ReadHere, false), Action::ShowLocal);
        assert_eq!(u.on(Event::Frame(5), true), Action::Show(5));
    }

    #[test]
    fn a_documented_socket_is_asked_rather_than_trusting_rest() {
        let mut u = Unread::default();
        u.on(Event::Frame(3), true);
        // A stats answer may be older than a frame already read.
        assert_eq!(u.on(Event::Rest(9), true), Action::AskServer);
        assert_eq!(u.shown(), Action::Show(3), "unchanged until the frame");
        assert_eq!(u.on(Event::Frame(4), true), Action::Show(4));
        // Without such a socket (legacy, or offline) REST is the word.
        assert_eq!(u.on(Event::Rest(9), false), Action::Show(9));
    }

    #[test]
    fn what_happens_here_moves_the_servers_figure_until_it_speaks_again() {
        let mut u = Unread::default();
        u.on(Event::Rest(2), false);
        assert_eq!(u.on(Event::Arrived(3), false), Action::Show(5));
        assert_eq!(u.on(Event::ReadHere, false), Action::Show(4));
        assert_eq!(u.on(Event::AllReadHere, false), Action::Show(0));
        assert_eq!(
            u.on(Event::ReadHere, false),
            Action::Show(0),
            "never below 0"
        );
        assert_eq!(
            u.on(Event::Arrived(u64::MAX), false),
            Action::Show(u64::MAX)
        );
        assert_eq!(
            u.on(Event::Arrived(1), false),
            Action::Show(u64::MAX),
            "saturates"
        );
        assert_eq!(
            u.on(Event::Frame(1), true),
            Action::Show(1),
            "the server's word wins"
        );
    }
}
