"""Animation of a photo: the preview, the paid HD result, and the worker side of both."""
