//! The WPA2 4-way and group-key handshakes (IEEE 802.11-2020 12.7.6, 12.7.7), supplicant and authenticator roles, sans-IO.
