"""Animation engines: a still in, an H.264 MP4 and a JPEG thumbnail out (see `engines.base`)."""
