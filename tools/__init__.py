"""Lab tools for developers, run from the repository; not part of the installed product."""
