"""The swap kind: the camera's aligned face becomes the target's (a shared-encoder autoencoder)."""
