"""The face crops every face_crop kind trains on: two make-dataset folders as tight aligned face
crops, their outline masks, random warps, and the two people read once."""
