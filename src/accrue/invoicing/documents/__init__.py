"""Invoice documents: the PDF, the hosted page and its signed links."""
