/* Instantiates the kernel file named by LG_CPU_KERNELS (a string, e.g. "cpu_pool.inc")
 * once per element type: T is float, then double; NAME(x) appends _f32 or _f64; U is the
 * unsigned integer as wide as T (for branch-free selects). Include it where the
 * instantiations belong; it undefines what it defined, LG_CPU_KERNELS included. No include
 * guard, on purpose: each kernel file includes it once. */
#include <stdint.h>

#define T float
#define U uint32_t
#define NAME(x) x##_f32
#include LG_CPU_KERNELS
#undef T
#undef U
#undef NAME

#define T double
#define U uint64_t
#define NAME(x) x##_f64
#include LG_CPU_KERNELS
#undef T
#undef U
#undef NAME

#undef LG_CPU_KERNELS
