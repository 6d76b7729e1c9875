/* Minimal assertion for the native tests: report and count, keep going. */
#ifndef FW_TEST_CHECK_H
#define FW_TEST_CHECK_H

#include <stdio.h>

static int failures;
#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

#endif
