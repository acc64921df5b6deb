/*
** augment_fma.h: the kernels reproduce ATen's FMA-contracted sums with
** fmaf, which is one instruction where the CPU has FMA and a libm call
** elsewhere (correctly rounded both ways: the same results).  FMA_CLONES
** gives a pixel loop an FMA clone chosen at load time.
*/
#ifndef AUGMENT_FMA_H
#define AUGMENT_FMA_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define FMA_CLONES
#endif

#endif
