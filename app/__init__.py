"""The live app: pipeline stages and threads, sources, sinks, the Qt window and offline reenact."""
