/* clock.h: the one monotonic clock, and the wall clock, for every subsystem.
 * Monotonic times measure durations and schedule ticks; wall-clock times are
 * what podgym writes and answers (epoch seconds). */
#ifndef PG_CLOCK_H
#define PG_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in seconds and in nanoseconds. */
double pg_mono(void);
int64_t pg_mono_ns(void);

/* CLOCK_REALTIME in epoch seconds and in nanoseconds. */
double pg_wall(void);
int64_t pg_wall_ns(void);

/* The CLOCK_REALTIME time s seconds from now, as pthread_cond_timedwait
 * takes its deadline. */
struct timespec pg_wall_after(double s);

/* Sleep for s seconds of the monotonic clock (through EINTR; s <= 0: none). */
void pg_sleep(double s);

#endif
