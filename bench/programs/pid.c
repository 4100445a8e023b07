// expect: 0x48f5686e (checksum of run(); see bench.h)
/* Fixed-point PID controller step (Q16.16 gains, integral clamping against
 * windup, output saturation, derivative on measurement) driving a simulated
 * first-order plant: a motor or heater control loop.
 * KAT: one P-only step: Kp = 2.0, setpoint 1000, measurement 400 -> 1200. */
#include "bench.h"

typedef struct {
    i32 kp, ki, kd;        /* Q16.16 */
    i32 integral;          /* Q16.16, clamped */
    i32 integral_limit;
    i32 previous;          /* last measurement */
    i32 out_min, out_max;
} pid_state;

static i32 mul_q16(i32 a, i32 b) { return (i32)(((i64)a * b) >> 16); }

static i32 clamp(i32 v, i32 lo, i32 hi) { return v < lo ? lo : v > hi ? hi : v; }

static i32 pid_step(pid_state *s, i32 setpoint, i32 measured) {
    i32 error = setpoint - measured;
    s->integral = clamp(s->integral + mul_q16(s->ki, error << 4), -s->integral_limit, s->integral_limit);
    i32 derivative = measured - s->previous;
    s->previous = measured;
    i32 out = mul_q16(s->kp, error) + (s->integral >> 4) - mul_q16(s->kd, derivative);
    return clamp(out, s->out_min, s->out_max);
}

i32 BENCH_ENTRY(void) {
    pid_state p = {2 << 16, 0, 0, 0, 1 << 20, 400, -100000, 100000};
    if (pid_step(&p, 1000, 400) != 1200) return BENCH_KAT_FAILED;

    pid_state s = {
        .kp = 0x14000,  /* 1.25 */
        .ki = 0x00800,  /* 0.03125 */
        .kd = 0x08000,  /* 0.5 */
        .integral = 0,
        .integral_limit = 50000 << 4,
        .previous = 0,
        .out_min = -4000,
        .out_max = 4000,
    };
    u32 seed = 0x9D9D9Du;
    i32 plant = 0, h = 0;
    for (int t = 0; t < 4000; t++) {
        i32 setpoint = (t / 500) % 2 ? 3000 : -1500;
        i32 noise = (i32)(bench_rand(&seed) & 63) - 32;
        i32 u = pid_step(&s, setpoint, plant + noise);
        /* First-order plant: x += (u - x) / 8, with a load disturbance. */
        plant += (u - plant) >> 3;
        if (t % 700 == 350) plant -= 800;
        h = (i32)bench_mix((u32)h, (u32)u);
    }
    return (i32)bench_mix((u32)h, (u32)plant);
}
