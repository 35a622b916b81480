/* What the benchmark programs (sockbench.c, trapfloor.c) share. Each defines BENCH_NAME first. */
#ifndef TSOR_BENCH_H
#define TSOR_BENCH_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A failed call ends the program: its name and errno on stderr, exit status 1. */
static void die(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", BENCH_NAME, what, strerror(errno));
  exit(1);
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}
#endif
