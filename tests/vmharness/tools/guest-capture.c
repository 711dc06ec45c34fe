/* guest-capture IFACE SECONDS: print every frame IFACE receives (not the ones it sends) for
 * SECONDS, one line each: "DST SRC ETHERTYPE[ SRCIP DSTIP]" (the IPv4 addresses of IPv4 and
 * ARP frames). For checks that a guest sees no other guest's unicast (nl80211-share.sh). */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void mac(const unsigned char *m) {
    printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void ip4(const unsigned char *a) { printf(" %u.%u.%u.%u", a[0], a[1], a[2], a[3]); }

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: guest-capture IFACE SECONDS\n");
        return 2;
    }
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd < 0) { perror("socket"); return 1; }
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = if_nametoindex(argv[1]);
    if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        perror("bind");
        return 1;
    }
    time_t end = time(NULL) + atoi(argv[2]);
    unsigned char buf[2048];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (time(NULL) < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        struct sockaddr_ll from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 14 || from.sll_pkttype == PACKET_OUTGOING) continue;
        unsigned type = buf[12] << 8 | buf[13];
        mac(buf);
        putchar(' ');
        mac(buf + 6);
        printf(" %04x", type);
        if (type == 0x0800 && n >= 34) { ip4(buf + 26); ip4(buf + 30); }
        if (type == 0x0806 && n >= 42) { ip4(buf + 28); ip4(buf + 38); }
        putchar('\n');
    }
    return 0;
}
