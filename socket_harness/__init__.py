"""socket-harness: test any TCP service against the promises its target profile declares."""
