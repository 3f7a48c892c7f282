"""Developer tools that are not part of the dimse package (PDU capture for golden tests)."""
