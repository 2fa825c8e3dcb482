"""pix2pix for face-mirror: networks, input pipeline, trainer, model bundle and image metrics."""
