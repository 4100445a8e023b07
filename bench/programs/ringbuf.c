// expect: 0x0384d756 (checksum of run(); see bench.h)
/* Ring-buffer message queue: variable-length messages with a 4-byte header
 * (id, length) in a 512-byte byte ring, written by a producer and drained
 * by a consumer at different rates, with wrap-around copies: the shape of
 * an RTOS mailbox or a UART/IPC queue.
 * KAT: three messages come out in order, byte-exact. */
#include "bench.h"

#define RING 512

typedef struct {
    u8 data[RING];
    u32 head, tail; /* free-running indices */
} ring;

static u32 ring_free(const ring *r) { return RING - (r->head - r->tail); }

static void ring_write(ring *r, const u8 *p, u32 n) {
    for (u32 i = 0; i < n; i++) r->data[(r->head + i) & (RING - 1)] = p[i];
    r->head += n;
}

static void ring_read(ring *r, u8 *p, u32 n) {
    for (u32 i = 0; i < n; i++) p[i] = r->data[(r->tail + i) & (RING - 1)];
    r->tail += n;
}

static int send(ring *r, u16 id, const u8 *payload, u16 len) {
    if (ring_free(r) < 4u + len) return 0;
    u8 header[4] = {(u8)id, (u8)(id >> 8), (u8)len, (u8)(len >> 8)};
    ring_write(r, header, 4);
    ring_write(r, payload, len);
    return 1;
}

/* Returns the payload length, or -1 if the queue is empty. */
static int receive(ring *r, u16 *id, u8 *payload) {
    if (r->head == r->tail) return -1;
    u8 header[4];
    ring_read(r, header, 4);
    *id = (u16)(header[0] | header[1] << 8);
    u16 len = (u16)(header[2] | header[3] << 8);
    ring_read(r, payload, len);
    return len;
}

static ring queue;
static u8 message[128], received[128];

i32 BENCH_ENTRY(void) {
    queue.head = queue.tail = 0x1F0; /* start near the wrap point */
    static const u8 m1[5] = "hello", m2[1] = "!", m3[3] = "abc";
    if (!send(&queue, 1, m1, 5) || !send(&queue, 2, m2, 1) || !send(&queue, 3, m3, 3)) return BENCH_KAT_FAILED;
    u16 id;
    if (receive(&queue, &id, received) != 5 || id != 1 || !bench_memeq(received, m1, 5)) return BENCH_KAT_FAILED;
    if (receive(&queue, &id, received) != 1 || id != 2 || received[0] != '!') return BENCH_KAT_FAILED;
    if (receive(&queue, &id, received) != 3 || id != 3 || !bench_memeq(received, m3, 3)) return BENCH_KAT_FAILED;
    if (receive(&queue, &id, received) != -1) return BENCH_KAT_FAILED;

    u32 seed = 0x41B0u, h = 0;
    u16 next_id = 0, expect_id = 0;
    for (int round = 0; round < 1500; round++) {
        /* Producer: up to two messages per round; consumer: one. */
        for (int k = 0; k < 2; k++) {
            u16 len = (u16)(bench_rand(&seed) % 96);
            for (u16 i = 0; i < len; i++) message[i] = (u8)(next_id + i * 7);
            if (send(&queue, next_id, message, len)) next_id++;
        }
        int len = receive(&queue, &id, received);
        if (len >= 0) {
            if (id != expect_id) return BENCH_KAT_FAILED;
            for (int i = 0; i < len; i++)
                if (received[i] != (u8)(id + i * 7)) return BENCH_KAT_FAILED;
            expect_id++;
            h = bench_mix(h, (u32)id << 16 | (u32)len);
        }
    }
    return (i32)bench_mix(h, queue.head - queue.tail);
}
