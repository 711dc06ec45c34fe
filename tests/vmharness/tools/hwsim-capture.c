/*
 * hwsim-capture: record every frame on the simulated air into a pcap file.
 *
 * mac80211_hwsim creates a monitor interface (hwsim0) on which the kernel
 * shows each frame any simulated radio transmits, prefixed with a radiotap
 * header (and without FCS). This tool opens an AF_PACKET socket on that
 * interface and writes what it reads as a classic pcap file with link type
 * 127 (LINKTYPE_IEEE802_11_RADIOTAP).
 *
 * Beacons are periodic and carry nothing new after the first, so only the
 * first KEEP_BEACONS beacons of each transmitter (addr2) are kept.
 *
 * usage: hwsim-capture IFACE SECONDS OUT.pcap
 * Stops after SECONDS or on SIGTERM/SIGINT; prints "CAPTURE: ready" once the
 * socket is bound and "CAPTURE: done frames=N kept=M" at the end.
 * Plain C, no libpcap: build with `cc -O2 -static`.
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEEP_BEACONS 2
#define MAX_TX 16

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void put32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); } /* host order = LE on x86 */
static void put16(FILE *f, uint16_t v) { fwrite(&v, 2, 1, f); }

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s IFACE SECONDS OUT.pcap\n", argv[0]); return 2; }
    int secs = atoi(argv[2]);
    unsigned idx = if_nametoindex(argv[1]);
    if (!idx) { perror(argv[1]); return 1; }
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (s < 0) { perror("socket"); return 1; }
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)idx };
    if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) { perror("bind"); return 1; }
    FILE *out = fopen(argv[3], "wb");
    if (!out) { perror(argv[3]); return 1; }
    /* pcap global header: magic, v2.4, thiszone, sigfigs, snaplen, linktype */
    put32(out, 0xa1b2c3d4); put16(out, 2); put16(out, 4);
    put32(out, 0); put32(out, 0); put32(out, 65535); put32(out, 127);
    fflush(out);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("CAPTURE: ready on %s (ifindex %u)\n", argv[1], idx);
    fflush(stdout);

    uint8_t seen_tx[MAX_TX][6];
    int seen_n[MAX_TX], ntx = 0;
    unsigned long frames = 0, kept = 0;
    unsigned char buf[65536];
    time_t end = time(NULL) + secs;
    while (!stop && time(NULL) < end) {
        struct pollfd p = { .fd = s, .events = POLLIN };
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t n = recv(s, buf, sizeof(buf), 0);
        if (n < 4) continue;
        frames++;
        size_t rt = buf[2] | (buf[3] << 8); /* radiotap it_len, little endian */
        if (rt + 16 <= (size_t)n && buf[rt] == 0x80) { /* beacon: fc type 0 subtype 8 */
            const uint8_t *ta = buf + rt + 10;
            int i;
            for (i = 0; i < ntx && memcmp(seen_tx[i], ta, 6) != 0; i++) {}
            if (i == ntx) {
                if (ntx == MAX_TX) continue;
                memcpy(seen_tx[ntx], ta, 6); seen_n[ntx] = 0; ntx++;
            }
            if (++seen_n[i] > KEEP_BEACONS) continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        put32(out, (uint32_t)ts.tv_sec); put32(out, (uint32_t)(ts.tv_nsec / 1000));
        put32(out, (uint32_t)n); put32(out, (uint32_t)n);
        fwrite(buf, 1, (size_t)n, out);
        fflush(out);
        kept++;
    }
    fclose(out);
    printf("CAPTURE: done frames=%lu kept=%lu\n", frames, kept);
    return 0;
}
