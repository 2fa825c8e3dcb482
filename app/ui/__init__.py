"""The live-mirror window's parts: views, controls, settings, the face recording and the status."""
