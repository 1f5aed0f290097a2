"""Downloads, by concern: where files may go (datadir), what earlier runs kept (partials), one
object's fetch (fetch), and many in parallel (pipeline)."""
