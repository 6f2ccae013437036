"""The one exception type for mistakes a user can fix."""


class RayganError(Exception):
    """A user error: bad path, bad layout, bad config value. Its message is one actionable line."""
