//! EAPOL-Key frames (IEEE 802.11-2020 12.7.2): the messages of the 4-way and group-key handshakes.
