//! Each replayed trace as a packetdrill script (Cardwell et al., USENIX ATC 2013).
