// Properties of llmc/stats.c that need no oracle (the values themselves are checked against
// Python in tests/test_memorization.sh). Also runs under ASan/UBSan.
#include "llmc/stats.h"

#include <math.h>
#include <stdio.h>

static int failures = 0;
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void) {
    Estimate e = wilson_interval(0, 0, STATS_Z95);
    EXPECT(e.low == 0.0 && e.high == 1.0);
    e = wilson_interval(0, 20, STATS_Z95);
    EXPECT(e.value == 0.0 && e.low == 0.0 && e.high > 0.1 && e.high < 0.2);   // 0.161 for n = 20
    e = wilson_interval(20, 20, STATS_Z95);
    EXPECT(e.value == 1.0 && e.high == 1.0 && e.low > 0.8 && e.low < 0.9);
    for (size_t n = 1; n <= 60; n += 7)
        for (size_t s = 0; s <= n; s++) {
            e = wilson_interval(s, n, STATS_Z95);
            EXPECT(e.low <= e.value && e.value <= e.high && e.low >= 0.0 && e.high <= 1.0);
            Estimate mirror = wilson_interval(n - s, n, STATS_Z95); // symmetric around 1/2
            EXPECT(fabs(e.low - (1.0 - mirror.high)) < 1e-12);
        }

    double sorted[5] = {1, 2, 3, 4, 10};
    EXPECT(quantile_sorted(sorted, 5, 0.0) == 1.0);
    EXPECT(quantile_sorted(sorted, 5, 1.0) == 10.0);
    EXPECT(fabs(quantile_sorted(sorted, 5, 0.875) - 7.0) < 1e-12); // position 3.5: halfway 4..10

    double constant[6] = {2.5, 2.5, 2.5, 2.5, 2.5, 2.5};
    e = bootstrap_mean(constant, 6, 500, 0.95, 7);
    EXPECT(e.value == 2.5 && e.low == 2.5 && e.high == 2.5);
    double one = 3.0;
    e = bootstrap_mean(&one, 1, 500, 0.95, 7);
    EXPECT(e.low == 3.0 && e.high == 3.0);
    double x[8] = {0, 1, 0, 1, 1, 1, 0, 1};
    Estimate a = bootstrap_mean(x, 8, 1000, 0.95, 11), b = bootstrap_mean(x, 8, 1000, 0.95, 11);
    Estimate c = bootstrap_mean(x, 8, 1000, 0.95, 12);
    EXPECT(a.low == b.low && a.high == b.high);                        // seeded: reproducible
    EXPECT(a.low != c.low || a.high != c.high);                        // another seed, another draw
    EXPECT(a.value == 0.625 && a.low < 0.625 && a.high > 0.625 && a.low >= 0.0 && a.high <= 1.0);
    e = bootstrap_mean(x, 0, 100, 0.95, 1);
    EXPECT(isnan(e.value));

    if (failures) { fprintf(stderr, "%d failures\n", failures); return 1; }
    printf("stats checks passed\n");
    return 0;
}
