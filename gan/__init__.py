"""The models of face-mirror: a training core (core/), a bundle core (bundle/), one folder per
model kind (kinds/), image metrics."""
