"""The projector: replays the journal through the session state machine into session rows."""
